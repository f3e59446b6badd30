"""dagd.dask.get: Dask collections (delayed, array, bag) and raw graphs run
as one dagd job each, with results equal to Dask's local scheduler; a
task's exception raised in the caller with its original type; and the
conversion of a 100,000-task graph in seconds.
"""

import operator
import time

import pytest

dask = pytest.importorskip("dask")

import dagd  # noqa: E402
import dagd.dask  # noqa: E402
from dagd.v1 import job_service_pb2, types_pb2  # noqa: E402


@pytest.fixture
def scheduler(cluster):
    return dagd.dask.Scheduler(cluster.address).get


def inc(x):
    return x + 1


def test_delayed(scheduler):
    from dask import delayed

    parts = [delayed(inc)(i) for i in range(10)]
    total = delayed(sum)(parts)
    product = delayed(operator.mul)(total, delayed(lambda: 3)())
    assert dask.compute(product, total, scheduler=scheduler) == \
        dask.compute(product, total, scheduler="sync") == (165, 55)


def test_array(scheduler):
    np = pytest.importorskip("numpy")
    import dask.array as da

    x = da.arange(10_000, chunks=1_000).reshape(100, 100).rechunk(25)
    y = (x @ x.T + 1).mean(axis=0)
    tall = da.random.RandomState(0).random_sample((400, 20), chunks=(50, 20))
    z = da.linalg.qr(tall)[1]
    ours = dask.compute(y, z, x.sum(), scheduler=scheduler)
    local = dask.compute(y, z, x.sum(), scheduler="sync")
    for a, b in zip(ours, local):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # dask.config.set(scheduler=...) is the other line a Dask user changes.
    with dask.config.set(scheduler=scheduler):
        assert int(x[5, 5].compute()) == 505


def test_a_key_asked_for_that_other_tasks_read_is_kept(scheduler):
    np = pytest.importorskip("numpy")
    import dask.array as da

    # Chunks of 320 KB: over dagd's inline limit, held where made, and freed
    # once read unless asked for (the read of x failed NOT_FOUND).
    x = da.ones((400, 1000), chunks=(40, 1000))
    ours = dask.compute(x, x.sum(), scheduler=scheduler)
    np.testing.assert_array_equal(ours[0], np.ones((400, 1000)))
    assert ours[1] == 400_000


def test_bag(scheduler):
    import dask.bag as db

    words = db.from_sequence(["a b", "b c c", "d", "a"] * 25, npartitions=7)
    counts = words.map(str.split).flatten().frequencies()
    lengths = words.map(len).sum()
    ours = dask.compute(counts, lengths, scheduler=scheduler)
    local = dask.compute(counts, lengths, scheduler="sync")
    assert sorted(ours[0]) == sorted(local[0])
    assert ours[1] == local[1]


def test_raw_graph_with_aliases_literals_and_nested_keys(scheduler):
    dsk = {
        "one": 1,                                   # a literal
        "also-one": "one",                          # an alias of it
        ("x", 0): (operator.add, "also-one", 10),   # reads the alias
        ("x", 1): (sum, [("x", 0), "one", 100]),    # a list of keys
        "y": (inc, (inc, ("x", 1))),                # a nested task
        "z": "y",                                   # an alias to fetch
    }
    keys = [["z", ("x", 0)], "one"]
    assert scheduler(dsk, keys) == dask.get(dsk, keys) == ((114, 11), 1)
    assert scheduler(dsk, "one") == 1  # nothing to run: no job


def test_a_list_of_tasks_that_read_no_key_is_computed(scheduler):
    dsk = {
        "x": [(inc, 1), (inc, 2)],          # tasks in a list, no key read
        "y": (sum, "x"),                     # reads that list
        # How dask.delayed packs a list of a tuple and a dict.
        "t": [(tuple, [1, 2]), (dict, [["a", 1]])],
    }
    keys = ["x", "y", "t"]
    assert scheduler(dsk, keys) == dask.get(dsk, keys) == \
        ([2, 3], 5, [(1, 2), {"a": 1}])


def test_exception_is_raised_in_the_caller_with_its_type(scheduler):
    from dask import delayed

    def parse(text):
        return int(text)

    bad = delayed(parse)("not a number")
    with pytest.raises(ValueError) as raised:
        dask.compute(delayed(inc)(bad), scheduler=scheduler)
    assert "invalid literal for int() with base 10: 'not a number'" in \
        str(raised.value)
    assert "in parse" in str(raised.value.__cause__)

    missing = delayed(lambda d: d["absent"])({})
    with pytest.raises(KeyError) as raised_key:
        missing.compute(scheduler=scheduler)
    assert raised_key.value.args == ("absent",)


def part(data, i):
    return float(data[i::50].sum())


def test_a_large_literal_read_by_many_tasks_is_in_the_job_once(scheduler):
    np = pytest.importorskip("numpy")
    from dask import delayed
    from dask.base import collections_to_dsk

    # delayed(array): a key whose value is the array, read by 50 tasks.
    data = np.arange(131_072, dtype=float)  # 1 MiB
    shared = delayed(data)
    total = delayed(sum)([delayed(part)(shared, i) for i in range(50)])
    dsk = collections_to_dsk([total], optimize_graph=True)
    spec = dagd.dask.convert(dsk, total.__dask_keys__()).spec
    # Pickled into each reader, it made a 50 MiB job.
    assert spec.ByteSize() < 2 * data.nbytes
    literal = [t for t in spec.tasks if t.id == shared.key]
    assert literal and not literal[0].inputs
    readers = [t for t in spec.tasks if shared.key in t.inputs]
    assert len(readers) == 50
    assert total.compute(scheduler=scheduler) == \
        total.compute(scheduler="sync")
    # Small, or read by one task: pickled into its readers, no task.
    dsk = {"small": 7, "big": np.ones(20_000),
           "a": (operator.add, "small", 1), "b": (operator.mul, "small", 2),
           "c": (np.sum, "big")}
    ids = {t.id for t in dagd.dask.convert(dsk, ["a", "b", "c"]).spec.tasks}
    assert ids == {"a", "b", "c"}
    # Asked for, it is the caller's already.
    graph = dagd.dask.convert({"big": data, "s": (np.sum, "big"),
                               "m": (np.max, "big")}, ["big", "s", "m"])
    assert "big" not in graph.task_of and graph.literals["big"] is data
    assert scheduler({"big": data, "s": (np.sum, "big"),
                      "m": (np.max, "big")}, ["big", "s", "m"])[1:] == \
        (data.sum(), data.max())


def data_size(holder):
    return len(holder.data)


def test_a_large_literal_pickled_by_value_stays_in_its_readers(scheduler):
    class Local:  # pickled by value: a worker could not pickle it again
        def __init__(self):
            self.data = b"x" * 100_000

    dsk = {"big": Local(), "a": (data_size, "big"), "b": (data_size, "big")}
    graph = dagd.dask.convert(dsk, ["a", "b"], retries=2)
    assert {t.id for t in graph.spec.tasks} == {"a", "b"}
    assert scheduler(dsk, ["a", "b"]) == (100_000, 100_000)
    # One that can travel by name is shared, and retried as the others.
    dsk["big"] = b"y" * 100_000
    dsk["a"] = (len, "big")
    dsk["b"] = (len, "big")
    graph = dagd.dask.convert(dsk, ["a", "b"], retries=2)
    tasks = {t.id: t for t in graph.spec.tasks}
    assert set(tasks) == {"a", "b", "big"}
    assert tasks["big"].retry.max_attempts == 3
    assert scheduler(dsk, ["a", "b"]) == (100_000, 100_000)


def test_an_error_cut_in_the_middle_is_rebuilt_with_its_type():
    # The worker keeps an error's start and end (worker/python_runtime.cc):
    # for a long message the traceback's first line is cut out.
    error = ("ValueError: " + "x" * 2000 + "\n... (48000 bytes cut) ...\n" +
             "x" * 100 + '\n  File "t.py", line 1, in f\nValueError: xx')
    rebuilt = dagd.dask.rebuild_exception(error)
    assert isinstance(rebuilt, ValueError)
    assert str(rebuilt).startswith("x" * 2000)
    assert "t.py" in str(rebuilt.__cause__)


def test_graphs_of_newer_dask_task_objects_are_refused():
    # Dask 2024.12 on: values of dask._task_spec classes, which would read
    # as literals (each key's value its own Task object).
    task = type("Task", (), {"__module__": "dask._task_spec"})()
    with pytest.raises(TypeError, match="dask._task_spec"):
        dagd.dask.convert({"a": task}, "a")


def test_keys_become_ids_and_dask_order_becomes_priorities():
    dsk = {"a": (inc, 1), ("b", 0): (inc, "a"), ("b", 1): (inc, "a"),
           "c": (operator.add, ("b", 0), ("b", 1))}
    graph = dagd.dask.convert(dsk, "c")
    tasks = {t.id: t for t in graph.spec.tasks}
    assert sorted(tasks) == ["('b', 0)", "('b', 1)", "a", "c"]
    assert sorted(tasks["c"].inputs) == ["('b', 0)", "('b', 1)"]
    assert list(tasks["('b', 1)"].inputs) == ["a"]
    from dask.order import order

    ranks = order(dsk)
    for key, task in zip(dsk, graph.spec.tasks):
        assert task.priority == -ranks[key]
    assert graph.task_of == {"c": "c"}


def test_views_are_computed_inside_the_tasks_that_read_them(scheduler):
    np = pytest.importorskip("numpy")
    import dask.array as da
    from dask.base import collections_to_dsk

    x = da.random.RandomState(1).random_sample((60, 40), chunks=(20, 40)) + 1
    # x.T read twice: Dask keeps its blocks as tasks of their own.
    gram = x.T @ x + x.T.sum()
    # The graph dask.compute hands a scheduler: optimized, as Dask does.
    dsk = collections_to_dsk([gram], optimize_graph=True)
    assert any(str(key).startswith("('transpose") for key in dsk)
    ids = [t.id for t in dagd.dask.convert(dsk, gram.__dask_keys__())
           .spec.tasks]
    assert ids and not [i for i in ids if "transpose" in i], ids
    np.testing.assert_allclose(
        dask.compute(gram, scheduler=scheduler)[0],
        dask.compute(gram, scheduler="sync")[0], rtol=1e-12)
    # A view asked for is a task still: its value is the answer.
    dsk = collections_to_dsk([x.T], optimize_graph=True)
    ids = [t.id for t in dagd.dask.convert(dsk, x.T.__dask_keys__())
           .spec.tasks]
    assert len([i for i in ids if "transpose" in i]) == 3, ids
    np.testing.assert_array_equal(x.T.compute(scheduler=scheduler),
                                  x.T.compute(scheduler="sync"))


def load(n, scale=1.0):
    import numpy

    return numpy.arange(n * n, dtype=float).reshape(n, n) * scale


def test_only_views_are_inlined(scheduler):
    np = pytest.importorskip("numpy")
    from dask.optimization import SubgraphCallable
    from dask.utils import apply

    dsk = {
        # A call with keyword arguments (Dask's apply), read four times.
        "a": (apply, load, [3], (dict, [["scale", 2.0]])),
        "t": (np.transpose, "a"),  # a view of it: inlined into "d"
        "s": (np.sum, "a"),
        "m": (np.max, "a"),
        "d": (np.dot, "t", "a"),
        # A transpose of a computation, and a fused one: each computes.
        "twice": (np.transpose, (load, 3)),
        "u": (np.add, "twice", "twice"),
        "fused": (SubgraphCallable({"o": (np.transpose, (load, "_0"))}, "o",
                                   ("_0",)), 3),
        "v": (np.add, "fused", "fused"),
    }
    keys = ["s", "m", "d", "u", "v"]
    ids = {t.id for t in dagd.dask.convert(dsk, keys).spec.tasks}
    assert ids == {"a", "s", "m", "d", "twice", "u", "fused", "v"}
    for ours, local in zip(scheduler(dsk, keys), dask.get(dsk, keys)):
        np.testing.assert_array_equal(ours, local)


def test_a_100000_task_graph_converts_in_seconds():
    width = 50_000
    dsk = {("x", i): (operator.add, i, 1) for i in range(width)}
    level = [("x", i) for i in range(width)]
    n = 0
    while len(level) > 1:
        pairs = []
        for i in range(0, len(level) - 1, 2):
            dsk[("s", n)] = (operator.add, level[i], level[i + 1])
            pairs.append(("s", n))
            n += 1
        level = pairs + level[len(pairs) * 2:]
    assert len(dsk) >= 99_999
    start = time.monotonic()
    graph = dagd.dask.convert(dsk, level[0])
    took = time.monotonic() - start
    assert len(graph.spec.tasks) == len(dsk)
    # About 5 s here; generous for a loaded CI machine.
    assert took < 60, took


def test_get_reads_dagd_server(cluster, monkeypatch):
    monkeypatch.setenv("DAGD_SERVER", cluster.address)
    assert dagd.dask.get({"a": (inc, 41)}, "a") == 42


def test_a_job_that_is_cancelled_raises(cluster, scheduler, tmp_path):
    import os
    import threading

    from conftest import wait_for

    marker = str(tmp_path / "started")

    def block():
        open(marker, "w").close()
        time.sleep(600)

    client = dagd.Client(cluster.address)
    failure = {}

    def run():
        try:
            scheduler({"blocked": (block,)}, "blocked")
        except Exception as error:  # what the caller sees
            failure["error"] = error

    caller = threading.Thread(target=run)
    caller.start()
    wait_for(lambda: os.path.exists(marker), 60, "the task to start")
    jobs = client._stub.ListJobs(job_service_pb2.ListJobsRequest(),
                                 timeout=10).jobs
    (job,) = [j for j in jobs if j.state == types_pb2.JOB_RUNNING]
    client.cancel(job.job_id)
    caller.join(timeout=60)
    assert isinstance(failure["error"], dagd.JobFailed)
    assert "CANCELLED" in str(failure["error"])
