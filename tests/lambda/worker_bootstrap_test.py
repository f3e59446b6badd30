"""dagd-worker as the bootstrap of the test Lambda service: signed Invoke
requests carrying dagd.v1.LambdaInvocation (proto3 JSON) run `const` and
`add` through the worker's Lambda runtime loop (worker/lambda_runtime.cc)
and come back as dagd.v1.LambdaResult; failures come back as the function
errors dagd's Lambda dispatcher must tell apart.

    python3 tests/lambda/worker_bootstrap_test.py \
        --worker=build/bin/dagd-worker
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_service  # noqa: E402
import testlib  # noqa: E402
from testlib import control, invoke, stats  # noqa: E402

WORKER = None  # set from --worker


def json_payload(value):
    return {"data": base64.b64encode(json.dumps(value).encode()).decode(),
            "contentType": "application/json"}


def invocation(task_id, fn, args=None, inputs=(), index=0, timeout_ms=0):
    assignment = {"task": {"jobId": "j1", "taskIndex": index, "attempt": 1},
                  "taskId": task_id, "fn": fn,
                  "inputs": [json_payload(v) for v in inputs]}
    if args is not None:
        assignment["args"] = args
    if timeout_ms:
        assignment["timeoutMs"] = str(timeout_ms)
    return {"assignment": assignment}


def output_of(response):
    result = response.json()["result"]
    assert result["ok"], result
    return json.loads(base64.b64decode(result["output"]["data"]))


class WorkerBootstrapTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        config = lambda_service.Config(bootstrap=WORKER, functions=("dagd",),
                                       timeout_s=10.0, quiet=True)
        self.service = lambda_service.LambdaService(config).start()
        self.port = self.service.port

    def tearDown(self):
        self.service.stop()
        self.tmp.cleanup()

    def assertFunctionError(self, r, error_type):
        return testlib.assert_function_error(self, r, error_type)

    def test_const_and_add_on_one_warm_worker(self):
        r = invoke(self.port, "dagd", invocation("a", "const", {"value": 1}))
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("x-amz-function-error", r.headers)
        a = output_of(r)
        b = output_of(invoke(self.port, "dagd",
                             invocation("b", "const", {"value": 2}, index=1)))
        r = invoke(self.port, "dagd",
                   invocation("sum", "add", inputs=[a, b], index=2))
        self.assertEqual(output_of(r), 3)
        self.assertEqual(r.json()["result"]["task"],
                         {"jobId": "j1", "taskIndex": 2, "attempt": 1})
        s = stats(self.port)
        self.assertEqual((s["bootstrap_starts"], s["warm_starts"]), (1, 2))

    def test_task_failures(self):
        message = self.assertFunctionError(
            invoke(self.port, "dagd", invocation("f", "fail",
                                                 {"message": "nope"})),
            "TaskFailed")
        self.assertEqual(message, "nope")
        message = self.assertFunctionError(
            invoke(self.port, "dagd", invocation("s", "add", inputs=["x"])),
            "TaskFailedPermanently")
        self.assertIn("not a number", message)
        self.assertFunctionError(invoke(self.port, "dagd", [1]),
                                 "InvalidInvocation")
        self.assertEqual(stats(self.port)["bootstrap_starts"], 1)

    def test_task_cancelled_before_the_lambda_deadline(self):
        # The worker cancels a task a margin (1 s) before the invocation's
        # deadline, so its failure reaches dagd instead of Sandbox.Timedout.
        control(self.port, timeout_s=3)
        message = self.assertFunctionError(
            invoke(self.port, "dagd", invocation("z", "sleep", {"ms": 60000})),
            "TaskFailed")
        self.assertIn("cancel", message.lower())

    def test_worker_killed_mid_invocation(self):
        control(self.port, faults=[{"type": "crash"}])
        message = self.assertFunctionError(
            invoke(self.port, "dagd", invocation("a", "const", {"value": 1})),
            "Runtime.ExitError")
        self.assertIn("signal: killed", message)
        r = invoke(self.port, "dagd", invocation("a", "const", {"value": 1}))
        self.assertEqual(output_of(r), 1)
        self.assertEqual(stats(self.port)["bootstrap_starts"], 2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True,
                        help="the dagd-worker binary")
    args, rest = parser.parse_known_args()
    WORKER = os.path.abspath(args.worker)
    unittest.main(argv=[sys.argv[0]] + rest)
