"""dagd.aws_lambda, the handler for AWS Lambda's Python runtime, end to end:
the real dagd dispatching Python tasks (fn "python") to the test Lambda
service (tests/lambda/lambda_service.py), whose bootstrap is a stand-in for
Lambda's Python runtime (tests/lambda/python_runtime.py) calling
dagd.aws_lambda.handler; s3rver as dagd's S3 bucket; a dagd-worker
--python for the tasks that do not go to Lambda. Each test is one outcome:
results of named and pickled functions passed between Lambda and a worker,
a raised exception (retryable, or permanent), large numpy arrays in and out
through S3, a task's timeout and the invocation's deadline, a function that
is not Python, and a payload dagd would not send.
"""

import os
import sys
import shutil
import tempfile

import pytest

import dagd
from dagd import crc32c
from dagd.v1 import types_pb2

SOURCE_DIR = os.environ.get("DAGD_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LAMBDA_TESTS = os.path.join(SOURCE_DIR, "tests", "lambda")
sys.path.insert(0, LAMBDA_TESTS)

import lambda_service  # noqa: E402
from dagd_lambda_test import Processes, clean_env, read_port  # noqa: E402
from dagd_s3_test import BUCKET, KEY_ID, PREFIX, SECRET, S3rver  # noqa: E402
from testlib import control, invoke, stats  # noqa: E402

from conftest import binary  # noqa: E402

FUNCTION = "dagd-python"
TIMEOUT_S = 8  # the function's timeout


class LambdaSetup:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = Processes(tmp)
        self.s3 = S3rver(tmp, self.procs)
        keys = dict(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
                    AWS_REGION=lambda_service.TEST_REGION)
        python_path = os.environ["PYTHONPATH"]
        port_file = os.path.join(tmp, "lambda.port")
        self.procs.start("lambda_service", [
            sys.executable, "-B", os.path.join(LAMBDA_TESTS,
                                               "lambda_service.py"),
            "--port=0", "--port_file=" + port_file,
            "--bootstrap=" + os.path.join(LAMBDA_TESTS, "python_runtime.py"),
            "--functions=" + FUNCTION,
            "--handler=dagd.aws_lambda.handler",
            "--timeout_s=%d" % TIMEOUT_S,
            "--env=PYTHONPATH=" + python_path,
            "--env=PYTHONDONTWRITEBYTECODE=1",
            "--env=DAGD_S3_BUCKET=" + BUCKET,
            "--env=DAGD_S3_PREFIX=" + PREFIX,
            "--env=DAGD_S3_ENDPOINT=" + self.s3.endpoint], env=clean_env())
        self.service_port = read_port(port_file, self.procs)
        dagd_port = os.path.join(tmp, "dagd.port")
        self.procs.start("dagd", [
            binary("DAGD_BIN"), "--listen=127.0.0.1:0",
            "--port_file=" + dagd_port,
            "--data_dir=" + os.path.join(tmp, "data"), "--metrics_listen=",
            "--lambda_function=" + FUNCTION,
            "--lambda_endpoint=http://127.0.0.1:%d" % self.service_port,
            "--aws_region=" + lambda_service.TEST_REGION,
            "--s3_bucket=" + BUCKET, "--s3_prefix=" + PREFIX,
            "--s3_endpoint=" + self.s3.endpoint,
            "--inline_max_bytes=65536"], env=clean_env(**keys))
        self.address = "127.0.0.1:%d" % read_port(dagd_port, self.procs)
        self.procs.start("worker", [
            binary("DAGD_WORKER_BIN"), "--coordinator=" + self.address,
            "--name=py-worker", "--python", "--slots=2"],
            env=clean_env(PYTHONPATH=python_path, **keys))

    def invocations(self):
        return stats(self.service_port)["invocations"]

    def function_errors(self):
        return stats(self.service_port).get("function_errors", {})


@pytest.fixture(scope="module")
def setup():
    tmp = tempfile.mkdtemp(prefix="dagd-python-lambda-test-")
    running = None
    try:
        running = LambdaSetup(tmp)
        yield running
    except BaseException:
        if running is not None:
            running.procs.dump()
        raise
    finally:
        if running is not None:
            running.procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def client(setup):
    control(setup.service_port, reset=True, timeout_s=TIMEOUT_S)
    with dagd.Client(setup.address, call_timeout=60) as c:
        yield c


def on_lambda(task, **options):
    return task.set(executor="lambda", **options)


def wait_failed(client, job_id):
    status = client.wait(job_id, timeout=120)
    assert status.state == types_pb2.JOB_FAILED, status
    (failure,) = status.failures
    return failure.text


def test_named_and_pickled_functions_pass_results_to_and_from_a_worker(
        setup, client):
    job = dagd.Job("mixed")
    five = on_lambda(job.call("pytasks:add", 2, 3))
    fifty = on_lambda(job.call(lambda x: x * 10, five))
    both = job.call(lambda a, b: {"sum": a + b}, five, fifty)  # a worker
    back = on_lambda(job.call(lambda d: sorted(d.items()), both))
    job_id = client.submit(job)
    assert client.wait(job_id, timeout=120).state == \
        types_pb2.JOB_SUCCEEDED
    assert client.result(job_id, five.id) == 5
    assert client.result(job_id, fifty.id) == 50
    assert client.result(job_id, back.id) == [("sum", 55)]
    assert setup.invocations() == 3
    assert setup.function_errors() == {}


def test_an_exception_fails_the_attempt_with_its_type_and_traceback(
        setup, client):
    job = dagd.Job("raises")
    on_lambda(job.call("pytasks:fail", "no such customer"), id="bad",
              retries=1)
    text = wait_failed(client, client.submit(job))
    assert "ValueError: no such customer\nTraceback (most recent call " \
        "last):" in text, text
    assert 'pytasks.py", line' in text and "in fail" in text, text
    # Retryable: both attempts ran.
    assert setup.function_errors() == {"TaskFailed": 2}


def test_a_permanent_error_is_not_retried(setup, client):
    def refuse():
        raise dagd.PermanentError("bad input")

    job = dagd.Job("permanent")
    on_lambda(job.call(refuse), id="refuse", retries=3)
    text = wait_failed(client, client.submit(job))
    assert "dagd.errors.PermanentError: bad input" in text, text
    assert setup.function_errors() == {"TaskFailedPermanently": 1}


def test_large_numpy_arrays_go_through_s3_both_ways(setup, client):
    job = dagd.Job("arrays")
    made = on_lambda(job.call("pytasks:ones", 3), id="made")  # 3 MiB
    on_lambda(job.call("pytasks:array_summary", made), id="on-lambda")
    job.call("pytasks:array_summary", made).set(id="on-worker")
    job_id = client.submit(job)
    assert client.wait(job_id, timeout=120).state == \
        types_pb2.JOB_SUCCEEDED
    expected = {"sum": 3.0 * (1 << 20) / 8, "bytes": 3 << 20,
                "writable": True}
    assert client.result(job_id, "on-lambda") == expected
    assert client.result(job_id, "on-worker") == expected
    assert client.result(job_id, "made").sum() == expected["sum"]
    stored = [key for key in setup.s3.keys(PREFIX + "results/")]
    assert any(job_id in key for key in stored), stored
    # Each invocation's payload stayed small: the array went by reference.
    recent = stats(setup.service_port)["recent"]
    assert max(r["payload_bytes"] for r in recent) < 64 << 10, recent


def test_a_tasks_timeout_stops_it(setup, client):
    job = dagd.Job("timeout")
    on_lambda(job.call("time:sleep", 60), id="sleepy", timeout=1)
    text = wait_failed(client, client.submit(job))
    assert "timed out after 1000 ms" in text, text


def test_a_task_near_the_invocations_deadline_is_stopped_first(
        setup, client):
    control(setup.service_port, timeout_s=2.5)
    job = dagd.Job("deadline")
    on_lambda(job.call("time:sleep", 60), id="sleepy")
    text = wait_failed(client, client.submit(job))
    assert "before the Lambda invocation's deadline" in text, text
    # The handler answered: Lambda itself never timed the function out.
    assert "Sandbox.Timedout" not in setup.function_errors()


def test_a_function_other_than_python_fails_for_good(setup, client):
    job = dagd.Job("not-python")
    job.task("const", args={"value": 1}, executor="lambda", retries=2)
    text = wait_failed(client, client.submit(job))
    assert "runs fn 'python' only, not 'const'" in text, text
    assert setup.function_errors() == {"TaskFailedPermanently": 1}


def test_a_payload_dagd_would_not_send_is_refused(setup, client):
    answer = invoke(setup.service_port, FUNCTION, {"assignment": {
        "task": {"jobId": "j"}, "taskId": "t"}})
    assert answer.json()["errorType"] == "InvalidInvocation"
    assert "names no function" in answer.json()["errorMessage"]
    answer = invoke(setup.service_port, FUNCTION, [1, 2])
    assert answer.json()["errorType"] == "InvalidInvocation"


def test_crc32c_in_python_matches_the_crc32c_package():
    import random

    assert crc32c.python_value(b"123456789") == 0xE3069283
    data = random.Random(7).randbytes(100_003)
    assert crc32c.python_value(data) == crc32c.value(data)
    assert crc32c.FAST  # Debian's python3-crc32c, from install-deps.sh


def python_invocation(function, args=(), **event):
    """A LambdaInvocation of fn python, as dagd would send it."""
    invocation = {"assignment": {
        "task": {"jobId": "direct", "taskIndex": 0, "attempt": 1},
        "taskId": "t", "fn": "python",
        "args": {"function": function, "args": list(args)}}}
    invocation.update(event)
    return invocation


def test_an_input_whose_bytes_are_not_what_dagd_recorded_is_refused(setup):
    body = b"\x80\x04K\x07."  # a pickle of 7, its CRC-32C not 1234
    setup.s3.put(PREFIX + "inputs/direct/0", body)
    payload = python_invocation("builtins:abs", inputRefs={"0": {
        "bucket": BUCKET, "key": "inputs/direct/0", "size": str(len(body)),
        "crc32c": 1234, "contentType": "application/x-python-pickle"}})
    payload["assignment"]["inputs"] = [{}]
    answer = invoke(setup.service_port, FUNCTION, payload).json()
    assert answer["errorType"] == "TaskFailed", answer  # may pass next time
    assert "but dagd recorded %d bytes with crc32c 000004d2" % len(body) in \
        answer["errorMessage"], answer
    # The same object with its right CRC-32C is read and used.
    payload["inputRefs"]["0"]["crc32c"] = crc32c.value(body)
    payload["assignment"]["args"]["output"] = "json"
    answer = invoke(setup.service_port, FUNCTION, payload).json()
    assert answer["result"]["ok"], answer


def test_an_output_lambda_could_not_answer_fails_for_good(setup):
    # No inline limit (dagd without a store): 5 MiB is over 6 MB in base64.
    answer = invoke(setup.service_port, FUNCTION,
                    python_invocation("pytasks:ones", [5])).json()
    assert answer["errorType"] == "TaskFailedPermanently", answer
    assert "more than Lambda accepts as a response" in \
        answer["errorMessage"], answer


def test_a_payload_of_the_wrong_shape_is_refused(setup):
    payload = python_invocation("builtins:abs")
    payload["assignment"]["inputs"] = [7]
    answer = invoke(setup.service_port, FUNCTION, payload).json()
    assert answer["errorType"] == "InvalidInvocation", answer
