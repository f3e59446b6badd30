"""dagd.Client and dagd.Job against a real dagd with a --python worker:
submit (a dict, a JobSpec, a Job), wait, watch, cancel, results as Python
objects, failures as exceptions, and wait riding through a restart of dagd.
"""

import contextlib
import os
import threading
import time
from concurrent import futures

import grpc
import pytest

import dagd
import dagd.client
from dagd.v1 import job_service_pb2, job_service_pb2_grpc, types_pb2
from conftest import Cluster, wait_for

# An exception in a thread of gRPC's (such as "Channel closed" from a
# connectivity poll the client left behind) fails the test.
pytestmark = pytest.mark.filterwarnings(
    "error::pytest.PytestUnhandledThreadExceptionWarning")


def square(x):
    return x * x


def test_submit_a_dict_and_read_json_results(client):
    job_id = client.submit({"name": "tiny", "tasks": [
        {"id": "a", "fn": "const", "args": {"value": 1}},
        {"id": "b", "fn": "const", "args": {"value": 2}},
        {"id": "sum", "fn": "add", "inputs": ["a", "b"]}]})
    assert job_id.startswith("j")
    status = client.wait(job_id, timeout=60)
    assert status.state == types_pb2.JOB_SUCCEEDED
    assert status.name == "tiny"
    assert client.result(job_id, "sum") == 3
    assert [t.task_id for t in client.tasks(job_id)] == ["a", "b", "sum"]


def test_tasks_reads_every_page(client):
    """ListTasks answers 10,000 tasks a page: tasks() reads them all."""
    n = 10001
    job_id = client.submit({"tasks": [
        {"id": "t%d" % i, "fn": "never"} for i in range(n)]})
    try:
        tasks = client.tasks(job_id)
        assert len(tasks) == n
        assert tasks[0].task_id == "t0"
        assert tasks[-1].task_id == "t%d" % (n - 1)
    finally:
        client.cancel(job_id)


def test_a_result_streams_for_as_long_as_it_takes(client):
    """call_timeout bounds reaching dagd, not moving a large result: with
    it far below the stream's time, the whole result still comes."""
    size = 64 << 20
    job_id = client.submit({"tasks": [
        {"id": "big", "fn": "bytes", "args": {"size": size}}]})
    assert client.wait(job_id, timeout=60).state == types_pb2.JOB_SUCCEEDED
    saved = client.call_timeout
    client.call_timeout = 0.05
    try:
        data, _ = client.result_payload(job_id, "big")
    finally:
        client.call_timeout = saved
    assert len(data) == size


def test_job_builder_passes_outputs_by_position_and_in_containers(client):
    job = dagd.Job("squares")
    squares = [job.call(square, i) for i in range(5)]
    total = job.call(sum, squares)  # a list of tasks: one input each
    nested = job.call(lambda d: d["first"] + d["rest"][1],
                      {"first": squares[1], "rest": (squares[0], squares[4])})
    named = job.call("pytasks:add", squares[2], 100)  # module:function form
    # Builtins speak JSON: a Python task feeding one returns JSON.
    as_json = job.call(square, squares[3]).set(output="json")
    builtin = job.task("add", inputs=[as_json], args={"value": 0.5})
    results = client.run(job, timeout=120)
    assert results == {total.id: 30, nested.id: 17, named.id: 104,
                       builtin.id: 81.5}
    assert total.id == "sum-5"


def test_tasks_in_namedtuples_and_ordered_dicts_are_inputs(client):
    import collections

    from pytasks import Point

    job = dagd.Job("containers")
    a = job.call(square, 3)
    b = job.call(square, 4)
    point = job.call(lambda p: (type(p).__name__, p.x + p.y), Point(a, b))
    ordered = job.call(lambda d: (type(d).__name__, list(d.items())),
                       collections.OrderedDict([("b", b), ("a", a)]))
    assert [t.id for t in point._inputs] == [a.id, b.id]
    results = client.run(job, timeout=120)
    assert results[point.id] == ("Point", 25)
    assert results[ordered.id] == ("OrderedDict", [("b", 16), ("a", 9)])


def test_outputs_are_the_tasks_no_task_takes_as_an_input():
    # A task others only wait for (after) is an output too, as dagd keeps
    # it (README "Outputs are kept by dagd"): run() left it out.
    from dagd.client import _sinks

    job = dagd.Job("outputs")
    setup = job.task("const", args={"value": 1})
    made = job.task("const", args={"value": 2})
    used = job.task("add", inputs=[made], after=[setup])
    assert [t.id for t in job.sinks()] == [setup.id, used.id]
    spec = job.spec()
    assert _sinks(spec) == [setup.id, used.id]
    # A task marked an output (a job file's "output": true) is one, though
    # others read it.
    spec.tasks[1].output = True
    assert _sinks(spec) == [setup.id, made.id, used.id]


def test_a_watch_refused_to_the_end_says_so_not_that_dagd_was_lost():
    import grpc
    from dagd.client import _Outage

    class Refused(grpc.RpcError):
        def __init__(self, code):
            self._code = code

        def code(self):
            return self._code

        def details(self):
            return "too many reads waiting"

    with pytest.raises(dagd.DagdError, match="refused again and again"):
        _Outage(0).lost(Refused(grpc.StatusCode.RESOURCE_EXHAUSTED))
    with pytest.raises(dagd.DagdError, match="could not be reached"):
        _Outage(0).lost(Refused(grpc.StatusCode.UNAVAILABLE))
    # Unreachable once in the outage: a lost connection, whatever came last.
    outage = _Outage(0.05)
    outage.lost(Refused(grpc.StatusCode.UNAVAILABLE))
    with pytest.raises(dagd.DagdError, match="could not be reached"):
        while True:
            outage.lost(Refused(grpc.StatusCode.RESOURCE_EXHAUSTED))


def test_tasks_where_they_would_not_be_replaced_are_refused():
    import collections

    job = dagd.Job("refused")
    a = job.call(square, 3)
    with pytest.raises(TypeError, match="dict key"):
        job.call(print, {a: 1})
    with pytest.raises(TypeError, match="inside a defaultdict"):
        job.call(print, collections.defaultdict(list, k=a))


def test_a_task_in_a_container_the_job_does_not_look_into_is_refused():
    import collections

    job = dagd.Job("refused")
    a = job.call(square, 3)
    # Pickled as it was, the function would get the Task and run before it.
    with pytest.raises(TypeError, match="cannot be passed inside"):
        job.call(print, collections.deque([a]))
    with pytest.raises(TypeError, match="cannot be passed inside"):
        job.call(print, [collections.deque([a])])


def test_output_is_a_format_and_job_output_marks_an_output():
    from dagd.client import _sinks

    job = dagd.Job("marked")
    a = job.call(square, 3)
    with pytest.raises(ValueError, match="job_output=True"):
        a.set(output=True)
    b = job.call(square, a)
    a.set(job_output=True)
    spec = job.spec()
    assert spec.tasks[0].output and not spec.tasks[1].output
    assert _sinks(spec) == [a.id, b.id]


def test_after_is_read_once_and_checked():
    job = dagd.Job("after")
    a = job.call(square, 2)
    b = job.call(square, 3).set(after=iter([a]))
    assert list(job.spec().tasks[1].after) == [a.id]
    assert list(job.spec().tasks[1].after) == [a.id], "the iterator ran out"
    with pytest.raises(ValueError, match="another job"):
        b.set(after=[dagd.Job().call(square, 1)])
    with pytest.raises(TypeError, match="after takes Tasks"):
        b.set(after=["square-0"])


def test_task_options_reach_the_spec():
    job = dagd.Job("opts", priority=3, max_parallelism=2)
    first = job.call(square, 2).set(id="first", retries=2, timeout=1.5,
                                    priority=7, output="json")
    second = job.call(square, first).set(after=[first], executor="pool:x")
    spec = job.spec()
    assert (spec.priority, spec.max_parallelism) == (3, 2)
    one, two = spec.tasks
    assert (one.id, one.fn, one.priority) == ("first", "python", 7)
    assert one.retry.max_attempts == 3
    assert one.timeout.ToMilliseconds() == 1500
    assert one.args.struct_value["output"] == "json"
    assert one.code  # the pickled call
    assert list(two.inputs) == ["first"] and list(two.after) == ["first"]
    assert two.executor == "pool:x"
    assert second.id == "square-1"
    with pytest.raises(TypeError, match="unknown task option"):
        first.set(retires=1)
    with pytest.raises(ValueError, match="another job"):
        dagd.Job().call(square, first)
    with pytest.raises(TypeError, match="first positional"):
        job.call("pytasks:add", 1, first)


def test_watch_yields_snapshot_task_events_and_the_end(client, tmp_path):
    # The first task waits for a gate the test opens once the watch has
    # begun: however slow the machine, both tasks succeed during the watch.
    gate = str(tmp_path / "gate")
    job = dagd.Job("watched")
    first = job.call("pytasks:wait_for_file", gate, 3)
    second = job.call(square, first)
    job_id = client.submit(job)
    watch = client.watch(job_id, timeout=120)
    events = [next(watch)]
    assert events[0].HasField("snapshot")
    open(gate, "w").close()
    events.extend(watch)
    assert events[-1].HasField("finished")
    assert events[-1].finished.state == types_pb2.JOB_SUCCEEDED
    succeeded = [e.task.task_id for e in events if e.HasField("task")
                 and e.task.state == types_pb2.TASK_SUCCEEDED]
    assert sorted(succeeded) == sorted([first.id, second.id])
    assert client.result(job_id, second) == 9


def test_cancel_ends_a_running_job(client, tmp_path):
    pid_file = str(tmp_path / "pid")
    job = dagd.Job("cancelled")
    job.call("pytasks:record_pid_and_sleep", pid_file, 600)
    job_id = client.submit(job)
    wait_for(lambda: os.path.exists(pid_file), 60, "the task to start")
    assert client.cancel(job_id) is True
    assert client.wait(job_id, timeout=60).state == types_pb2.JOB_CANCELLED
    assert client.cancel(job_id) is False  # already over


def test_a_failed_job_raises_with_the_task_error(client):
    job = dagd.Job("fails")
    bad = job.call(lambda: 1 / 0)
    job.call(square, bad)
    with pytest.raises(dagd.JobFailed) as raised:
        client.run(job, timeout=120)
    assert raised.value.status.state == types_pb2.JOB_FAILED
    assert "ZeroDivisionError: division by zero" in str(raised.value)
    assert "task %s" % bad.id in str(raised.value)


def test_permanent_error_is_not_retried(client):
    def refuse():
        raise dagd.PermanentError("never")

    job = dagd.Job("permanent")
    task = job.call(refuse).set(retries=3)
    job_id = client.submit(job)
    assert client.wait(job_id, timeout=120).state == types_pb2.JOB_FAILED
    assert len(client.task(job_id, task.id).attempts) == 1


def test_bad_input_is_an_rpc_error_naming_the_task(client):
    with pytest.raises(dagd.client.RpcError) as raised:
        client.submit({"tasks": [{"id": "a", "fn": "add", "inputs": ["x"]}]})
    assert raised.value.code.name == "INVALID_ARGUMENT"
    assert "'a'" in raised.value.details
    with pytest.raises(dagd.client.RpcError) as missing:
        client.status("j999999")
    assert missing.value.code.name == "NOT_FOUND"


def test_wait_rides_through_a_restart_of_dagd(tmp_path):
    running = Cluster(str(tmp_path))
    try:
        running.start_dagd("--recovery_grace=0s")
        port = running.address.rsplit(":", 1)[1]
        running.start_worker("restart-worker", "--python", "--slots=1")
        with dagd.Client(running.address, reconnect_timeout=60) as client:
            running.wait_for_workers(client, 1)
            marker = str(tmp_path / "go")
            job = dagd.Job("across a restart")
            job.call(wait_for_file, marker)
            job_id = client.submit(job)
            finished = {}
            waiter = threading.Thread(target=lambda: finished.update(
                status=client.wait(job_id, timeout=120)))
            waiter.start()
            wait_for(lambda: client.status(job_id).state ==
                     types_pb2.JOB_RUNNING, 60, "the job to run")
            # kill -9 and restart dagd on its port and data dir while
            # wait() waits; the worker keeps running the task meanwhile.
            running.kill_dagd()
            running.start_dagd("--recovery_grace=0s",
                               listen="127.0.0.1:" + port)
            open(marker, "w").close()
            waiter.join(timeout=120)
            assert finished["status"].state == types_pb2.JOB_SUCCEEDED
    finally:
        running.stop()


def test_submit_with_a_request_id_outlasts_call_timeout(tmp_path):
    running = Cluster(str(tmp_path))
    try:
        running.start_dagd()
        port = running.address.rsplit(":", 1)[1]
        running.kill_dagd()
        # dagd is down for longer than a call may wait: the submission is
        # sent again until dagd is back (it raised DEADLINE_EXCEEDED after
        # its first call_timeout).
        with dagd.Client(running.address, call_timeout=1.0,
                         reconnect_timeout=60) as client:
            submitted = {}

            def submit():
                try:
                    submitted["id"] = client.submit(
                        {"name": "late", "tasks": [
                            {"id": "a", "fn": "const", "args": {"value": 1}}]},
                        request_id="late-1")
                except Exception as error:  # shown by the assert below
                    submitted["error"] = error

            submitter = threading.Thread(target=submit)
            submitter.start()
            time.sleep(2.5)  # past call_timeout, dagd still down
            running.start_dagd(listen="127.0.0.1:" + port)
            submitter.join(timeout=60)
            assert "id" in submitted, submitted
            again = client.submit({"name": "late", "tasks": [
                {"id": "a", "fn": "const", "args": {"value": 1}}]},
                request_id="late-1")
            assert again == submitted["id"]
    finally:
        running.stop()


def wait_for_file(path):
    import time

    deadline = time.monotonic() + 120
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


class _FakeJobs(job_service_pb2_grpc.JobServiceServicer):
    """WatchJob of job j1 as a script of streams: each a list of events,
    then a status code to end with (None: end after them)."""

    def __init__(self, streams, clock=None):
        self.streams = list(streams)
        self.watches = 0
        self.clock = clock

    def WatchJob(self, request, context):
        events, code, *held = self.streams[self.watches]
        self.watches += 1
        for event in events:
            yield event
        if held:  # the stream stays open this long (on the fake clock)
            self.clock.now += held[0]
        if code is not None:
            context.abort(code, "scripted end")


def _snapshot():
    return job_service_pb2.JobEvent(snapshot=types_pb2.JobStatus(
        job_id="j1", state=types_pb2.JOB_RUNNING))


def _finished():
    return job_service_pb2.JobEvent(finished=types_pb2.JobStatus(
        job_id="j1", state=types_pb2.JOB_SUCCEEDED))


class _Clock:
    """dagd.client's time, moved only by its pauses, which it records."""

    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.pauses.append(round(seconds, 3))
        self.now += seconds


@contextlib.contextmanager
def _fake_dagd(fake, **options):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    job_service_pb2_grpc.add_JobServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with dagd.Client("127.0.0.1:%d" % port, **options) as client:
            yield client
    finally:
        server.stop(None)


def test_a_watch_dagd_closed_for_its_slow_reader_goes_on(monkeypatch):
    # dagd ends a watch whose reader fell 8 MiB behind with
    # RESOURCE_EXHAUSTED: the watch starts again from a new snapshot, as
    # after a restart (it raised).
    task = job_service_pb2.JobEvent(task=job_service_pb2.TaskEvent(
        task_id="a", state=types_pb2.TASK_SUCCEEDED))
    fake = _FakeJobs([([_snapshot(), task],
                       grpc.StatusCode.RESOURCE_EXHAUSTED),
                      ([_snapshot(), _finished()], None)])
    monkeypatch.setattr(dagd.client, "time", _Clock())
    with _fake_dagd(fake) as client:
        kinds = [event.WhichOneof("event") for event in client.watch("j1")]
    assert kinds == ["snapshot", "task", "snapshot", "finished"]
    assert fake.watches == 2


def test_watches_that_break_after_their_snapshot_are_paced(monkeypatch):
    # A proxy that passes calls but breaks streams: each new watch gets its
    # snapshot and breaks. The pauses double (they stayed at 0.1 s, a
    # snapshot resetting them).
    fake = _FakeJobs([([_snapshot()], grpc.StatusCode.UNAVAILABLE)] * 4 +
                     [([_snapshot(), _finished()], None)])
    clock = _Clock()
    monkeypatch.setattr(dagd.client, "time", clock)
    with _fake_dagd(fake) as client:
        status = client.wait("j1")
    assert status.state == types_pb2.JOB_SUCCEEDED
    assert clock.pauses == [0.1, 0.2, 0.4, 0.8]


def test_watches_that_break_after_their_snapshot_are_given_up_on(monkeypatch):
    # A snapshot does not start the outage over: the watch ends when it
    # has lasted reconnect_timeout (it went on for ever).
    fake = _FakeJobs([([_snapshot()], grpc.StatusCode.UNAVAILABLE)] * 20)
    clock = _Clock()
    monkeypatch.setattr(dagd.client, "time", clock)
    with _fake_dagd(fake, reconnect_timeout=1.0) as client:
        with pytest.raises(dagd.DagdError, match="reconnect_timeout"):
            client.wait("j1")
    assert clock.pauses == [0.1, 0.2, 0.4, 0.3]
    assert fake.watches == 5


def test_a_watch_stream_that_held_ends_the_outage(monkeypatch):
    # A wait's streams bring the snapshot alone: one that held an hour
    # before it broke ended the outage, and the next loss starts another
    # with its whole budget and pauses from the first (it gave up at once).
    clock = _Clock()
    fake = _FakeJobs([([_snapshot()], grpc.StatusCode.UNAVAILABLE),
                      ([_snapshot()], grpc.StatusCode.UNAVAILABLE, 3600.0),
                      ([_snapshot(), _finished()], None)], clock)
    monkeypatch.setattr(dagd.client, "time", clock)
    with _fake_dagd(fake, reconnect_timeout=60.0) as client:
        assert client.wait("j1").state == types_pb2.JOB_SUCCEEDED
    assert clock.pauses == [0.1, 0.1]
