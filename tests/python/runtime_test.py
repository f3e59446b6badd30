"""The python runtime end to end: dagd, a dagd-worker with --python, and
jobs in the job-file form (fn "python", args.function "module:function")
or built with dagd.Job (pickled code). Each test is one outcome: a result,
an exception with its traceback, an interpreter that dies (retried on a
new one), a timeout, a cancel, a 100 MB numpy result, and what a task
prints in the worker's log with the job and task ids.
"""

import os
import re

import pytest

import dagd
from dagd.v1 import types_pb2
from conftest import wait_for


def python_task(task_id, function, *, inputs=(), args=None, **fields):
    spec = {"id": task_id, "fn": "python", "inputs": list(inputs),
            "args": {"function": function}}
    if args is not None:
        spec["args"]["args"] = args
    spec.update(fields)
    return spec


def test_result_of_a_module_function_and_of_pickled_code(client):
    job = {"tasks": [
        {"id": "two", "fn": "const", "args": {"value": 2}},
        python_task("five", "pytasks:add", inputs=["two"], args=[3]),
        python_task("json", "pytasks:add", inputs=["five", "five"],
                    args=None)]}
    job["tasks"][2]["args"]["output"] = "json"
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_SUCCEEDED, status
    assert client.result(job_id, "five") == 5
    payload, content_type = client.result_payload(job_id, "json")
    assert (bytes(payload), content_type) == (b"10", "application/json")

    built = dagd.Job("pickled")
    base = built.call(lambda: {"base": 40})
    answer = built.call(lambda d, extra: d["base"] + extra, base, extra=2)
    assert client.run(built, timeout=120) == {answer.id: 42}


def test_exception_fails_the_task_with_its_traceback(client):
    job_id = client.submit({"tasks": [
        python_task("bad", "pytasks:fail", args=["no such customer"])]})
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_FAILED
    (failure,) = status.failures
    assert failure.task_id == "bad"
    assert failure.text.startswith("ValueError: no such customer\n"
                                   "Traceback (most recent call last):")
    assert 'pytasks.py", line' in failure.text
    assert "in fail" in failure.text
    with pytest.raises(dagd.TaskFailed) as raised:
        client.result(job_id, "bad")
    assert "ValueError: no such customer" in raised.value.error


def test_a_dead_interpreter_fails_the_attempt_and_is_replaced(
        client, cluster, tmp_path):
    marker = str(tmp_path / "crashed")
    job_id = client.submit({"tasks": [python_task(
        "crash", "pytasks:crash_once", args=[marker],
        retry={"max_attempts": 2, "initial_backoff": "0.01s"})]})
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_SUCCEEDED, status
    with open(marker) as f:
        crashed_pid = int(f.read())
    assert client.result(job_id, "crash") != crashed_pid
    first, second = client.task(job_id, "crash").attempts
    assert ("the Python interpreter (pid %d) died while running the task: "
            "exit status 3" % crashed_pid) in first.error
    assert second.error == ""
    assert "interpreter pid %d ended during the task" % crashed_pid in \
        cluster.log("py-worker")


def test_timeout_kills_the_interpreter(client, tmp_path):
    pid_file = str(tmp_path / "pid")
    job_id = client.submit({"tasks": [python_task(
        "slow", "pytasks:record_pid_and_sleep", args=[pid_file, 600],
        timeout="1s")]})
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_FAILED
    assert "timed out after 1000 ms" in status.failures[0].text
    with open(pid_file) as f:
        assert_gone(int(f.read()))
    # The next task gets a live interpreter.
    assert_python_runs(client)


def test_cancel_kills_the_interpreter(client, tmp_path):
    pid_file = str(tmp_path / "pid")
    job_id = client.submit({"tasks": [python_task(
        "slow", "pytasks:record_pid_and_sleep", args=[pid_file, 600])]})
    wait_for(lambda: os.path.exists(pid_file), 60, "the task to start")
    assert client.cancel(job_id)
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_CANCELLED
    with open(pid_file) as f:
        assert_gone(int(f.read()))
    assert_python_runs(client)


def test_a_100_mb_numpy_result_and_input(client):
    np = pytest.importorskip("numpy")
    job = dagd.Job("big")
    big = job.call("pytasks:ones", 100)
    summary = job.call("pytasks:array_summary", big)
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=300)
    assert status.state == types_pb2.JOB_SUCCEEDED, status
    # The consumer got it as a writable array, without a copy in Python.
    assert client.result(job_id, summary) == {
        "sum": 100 * (1 << 20) / 8, "bytes": 100 << 20, "writable": True}
    # `big` was freed on its worker once consumed; as a job's output, an
    # array stays held there and is read through dagd.
    out = dagd.Job("big-out")
    big = out.call("pytasks:ones", 100)
    job_id = client.submit(out)
    assert client.wait(job_id, timeout=300).state == types_pb2.JOB_SUCCEEDED
    array = client.result(job_id, big)
    assert isinstance(array, np.ndarray)
    assert array.nbytes == 100 << 20
    assert array.flags.writeable
    assert float(array.sum()) == array.size


def test_prints_go_to_the_worker_log_with_job_and_task_ids(client, cluster):
    job_id = client.submit({"tasks": [
        python_task("talk", "pytasks:chatty", args=[7])]})
    assert client.wait(job_id, timeout=120).state == types_pb2.JOB_SUCCEEDED
    log = cluster.log("py-worker")
    assert re.search(r"job %s task talk: python stdout: hello from a task 7"
                     % job_id, log), log[-3000:]
    assert "job %s task talk: python stderr: and a warning" % job_id in log


def test_the_worker_advertises_the_python_runtime(client):
    from dagd.v1 import job_service_pb2

    workers = client._stub.ListWorkers(job_service_pb2.ListWorkersRequest(),
                                       timeout=10).workers
    (worker,) = [w for w in workers if w.name == "py-worker"]
    assert list(worker.runtimes)[-1] == "python"
    assert "python" in worker.functions


def assert_gone(pid):
    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie is gone too: only its parent's wait is missing. The
        # process may also end between the kill and the read.
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except (FileNotFoundError, ProcessLookupError):
            return True
    wait_for(gone, 30, "interpreter pid %d to end" % pid)


def assert_python_runs(client):
    job_id = client.submit({"tasks": [python_task("pid", "pytasks:pid")]})
    assert client.wait(job_id, timeout=120).state == types_pb2.JOB_SUCCEEDED
    assert client.result(job_id, "pid") > 0
