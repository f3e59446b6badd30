"""The test Lambda service, driven by signed requests: each behaviour that
dagd's Lambda dispatcher will meet, shown once with a real bootstrap
process (testlib.ECHO_BOOTSTRAP) behind the Runtime API.

    python3 tests/lambda/lambda_service_test.py [-v] [TestCase.test_name]
"""

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_service  # noqa: E402
import testlib  # noqa: E402
from testlib import control, invoke, stats, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_REQUEST = lambda_service.MAX_REQUEST_BYTES
MAX_RESPONSE = lambda_service.sandbox.MAX_RESPONSE_BYTES


def read(path):
    try:
        with open(path) as f:
            return f.read()
    # A /proc file whose process ends between the open and the read raises
    # ProcessLookupError (ESRCH): it is gone, as if never there.
    except (FileNotFoundError, ProcessLookupError):
        return ""


def alive(pid):
    """True while pid exists and is not a zombie."""
    stat = read("/proc/%d/stat" % pid)
    return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"


class ServiceTest(unittest.TestCase):
    """One service (echo and other, 5 s timeout) per test."""

    config = {}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        bootstrap = testlib.write_bootstrap(self.tmp.name)
        args = dict(bootstrap=bootstrap, functions=("echo", "other"),
                    timeout_s=5.0, quiet=True)
        args.update(self.config)
        self.service = lambda_service.LambdaService(
            lambda_service.Config(**args)).start()
        self.port = self.service.port

    def tearDown(self):
        self.service.stop()
        self.tmp.cleanup()

    def assertFunctionError(self, r, error_type):
        return testlib.assert_function_error(self, r, error_type)

    def assertApiError(self, r, status, error_type):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("x-amzn-errortype"), error_type, r)
        self.assertIn("message", r.json())


class InvokeTest(ServiceTest):

    def test_echo(self):
        r = invoke(self.port, "echo", {"x": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"x": 1})
        self.assertEqual(r.headers["x-amz-executed-version"], "$LATEST")
        self.assertNotIn("x-amz-function-error", r.headers)
        s = stats(self.port)
        self.assertEqual(s["invocations"], 1)
        self.assertEqual(s["status"], {"200": 1})
        self.assertEqual((s["bootstrap_starts"], s["cold_starts"]), (1, 1))

    def test_runtime_api_headers_and_environment(self):
        ctx = invoke(self.port, "echo", {"context": 1}).json()
        h = {k.lower(): v for k, v in ctx["headers"].items()}
        self.assertEqual(ctx["function"], "echo")
        self.assertEqual(h["lambda-runtime-invoked-function-arn"],
                         "arn:aws:lambda:us-east-1:123456789012:function:echo")
        self.assertRegex(h["lambda-runtime-aws-request-id"],
                         r"^[0-9a-f-]{36}$")
        left_ms = int(h["lambda-runtime-deadline-ms"]) - time.time() * 1000
        self.assertTrue(0 < left_ms <= 5000, left_ms)
        for name, want in (("AWS_REGION", "us-east-1"), ("_HANDLER", "echo"),
                           ("AWS_ACCESS_KEY_ID", "AKIDDAGDTEST")):
            r = invoke(self.port, "echo", {"env": name})
            self.assertEqual(r.json(), {"value": want}, name)

    def test_warm_start_reuses_the_bootstrap(self):
        first = invoke(self.port, "echo", {"context": 1}).json()
        second = invoke(self.port, "echo", {"context": 1}).json()
        self.assertEqual(first["pid"], second["pid"])
        other = invoke(self.port, "other", {"context": 1}).json()
        self.assertNotEqual(other["pid"], first["pid"])
        self.assertEqual(other["function"], "other")
        s = stats(self.port)
        self.assertEqual((s["bootstrap_starts"], s["cold_starts"],
                          s["warm_starts"]), (2, 2, 1))
        control(self.port, kill_idle=True)
        third = invoke(self.port, "echo", {"context": 1}).json()
        self.assertNotEqual(third["pid"], first["pid"])

    def test_keep_alive_connection(self):
        conn = testlib.http.client.HTTPConnection("127.0.0.1", self.port)
        for i in range(5):
            r = invoke(self.port, "echo", {"i": i}, conn=conn)
            self.assertEqual(r.json(), {"i": i})
        conn.close()

    def test_qualifiers_and_arns(self):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
        for name, qualifier, version in (
                ("echo", "live", "1"), ("echo", "$LATEST", "$LATEST"),
                ("echo:live", None, "1"), (arn, None, "$LATEST"),
                (arn + ":live", None, "1"), (arn + ":1", "1", "1"),
                ("123456789012:function:echo", None, "$LATEST")):
            r = invoke(self.port, name, {"context": 1}, qualifier)
            self.assertEqual(r.status, 200, (name, r))
            self.assertEqual(r.headers["x-amz-executed-version"], version)
            want_arn = arn + (":" + (qualifier or name.split(":")[-1])
                              if qualifier or name.endswith(("live", ":1"))
                              else "")
            got = {k.lower(): v for k, v in r.json()["headers"].items()}
            self.assertEqual(got["lambda-runtime-invoked-function-arn"],
                             want_arn, name)
        self.assertApiError(invoke(self.port, "echo:live", {}, "other"), 400,
                            "InvalidParameterValueException")
        self.assertApiError(invoke(self.port, "nope", {}), 404,
                            "ResourceNotFoundException")
        self.assertApiError(invoke(self.port, "echo", {}, "nope"), 404,
                            "ResourceNotFoundException")
        self.assertApiError(invoke(self.port, arn.replace("us-east-1",
                                                          "eu-west-1"), {}),
                            404, "ResourceNotFoundException")
        self.assertApiError(invoke(self.port, "bad name!", {}), 400,
                            "ValidationException")

    def test_invocation_types(self):
        r = invoke(self.port, "echo", {}, headers={
            "X-Amz-Invocation-Type": "DryRun"})
        self.assertEqual((r.status, r.body), (204, b""))
        r = invoke(self.port, "echo", {"e": 1}, headers={
            "X-Amz-Invocation-Type": "Event"})
        self.assertEqual((r.status, r.body), (202, b""))
        wait_for(lambda: stats(self.port)["cold_starts"] == 1, 10,
                 "the Event invocation to run")
        self.assertApiError(
            invoke(self.port, "echo", {}, headers={
                "X-Amz-Invocation-Type": "Later"}), 400, "ValidationException")

    def test_payload_must_be_json(self):
        self.assertApiError(invoke(self.port, "echo", b"{not json"), 400,
                            "InvalidRequestContentException")


class SignatureTest(ServiceTest):
    config = {"session_token": "dagd-test-token"}

    def test_wrong_secret(self):
        r = invoke(self.port, "echo", {}, secret="not-the-secret")
        self.assertApiError(r, 403, "InvalidSignatureException")
        self.assertIn("signature we calculated does not match",
                      r.json()["message"])
        s = stats(self.port)
        self.assertEqual(s["signature_failures"], 1)
        self.assertEqual(s["status"], {"403": 1})
        self.assertEqual(s["api_errors"], {"InvalidSignatureException": 1})
        self.assertEqual(s["function_errors"], {})
        self.assertEqual(s["bootstrap_starts"], 0)

    def test_other_failures(self):
        def body_changed(headers, body):
            return b'{"x": 2}'

        def unsigned_header(headers, body):
            headers["X-Amz-Invocation-Type"] = "DryRun"  # not signed: fine
            return body

        def host_changed(headers, body):
            headers["Host"] = "127.0.0.1:1"
            return body

        old = datetime.datetime.now(datetime.timezone.utc) - \
            datetime.timedelta(minutes=6)
        cases = (
            (dict(access_key="AKIDUNKNOWN"), 403,
             "UnrecognizedClientException"),
            (dict(tamper=body_changed), 403, "InvalidSignatureException"),
            (dict(tamper=host_changed), 403, "InvalidSignatureException"),
            (dict(now=old), 403, "InvalidSignatureException"),
            (dict(region="us-west-2"), 403, "InvalidSignatureException"),
            (dict(session_token="stolen"), 403, "UnrecognizedClientException"),
        )
        for kwargs, status, error_type in cases:
            r = invoke(self.port, "echo", {"x": 1}, **kwargs)
            self.assertApiError(r, status, error_type)
        r = testlib.request(self.port, "POST", testlib.invoke_path("echo"),
                            b"{}")
        self.assertApiError(r, 403, "MissingAuthenticationTokenException")
        r = invoke(self.port, "echo", {"x": 1}, tamper=unsigned_header)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(stats(self.port)["signature_failures"],
                         len(cases) + 1)

    def test_session_token_and_content_hash_header(self):
        r = invoke(self.port, "echo", {"x": 1},
                   session_token="dagd-test-token")
        self.assertEqual(r.json(), {"x": 1})
        r = invoke(self.port, "echo", {"x": 1}, headers={
            "x-amz-content-sha256": testlib.sigv4.sha256_hex(b'{"x": 1}')})
        self.assertEqual(r.json(), {"x": 1})
        r = invoke(self.port, "echo", {"x": 1}, headers={
            "x-amz-content-sha256": testlib.sigv4.sha256_hex(b"other")})
        self.assertEqual(r.status, 400, r)


class FailureTest(ServiceTest):

    def test_function_error(self):
        message = self.assertFunctionError(
            invoke(self.port, "echo", {"fail": "boom"}), "TestError")
        self.assertEqual(message, "boom")
        # The bootstrap survives its function's error: a warm start.
        self.assertEqual(invoke(self.port, "echo", {"y": 1}).json(), {"y": 1})
        self.assertEqual(stats(self.port)["bootstrap_starts"], 1)

    def test_timeout_kills_the_bootstrap(self):
        pid = invoke(self.port, "echo", {"context": 1}).json()["pid"]
        control(self.port, timeout_s=0.5)  # after the cold start
        started = time.monotonic()
        message = self.assertFunctionError(
            invoke(self.port, "echo", {"sleep": 30}), "Sandbox.Timedout")
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("Task timed out after 0.50 seconds", message)
        wait_for(lambda: not alive(pid), 10, "the timed-out bootstrap to die")
        r = invoke(self.port, "echo", {"context": 1})
        self.assertNotEqual(r.json()["pid"], pid)
        self.assertEqual(stats(self.port)["function_errors"],
                         {"Sandbox.Timedout": 1})

    def test_bootstrap_exit(self):
        message = self.assertFunctionError(
            invoke(self.port, "echo", {"exit": 3}), "Runtime.ExitError")
        self.assertIn("Runtime exited with error: exit status 3", message)
        self.assertEqual(invoke(self.port, "echo", {"z": 1}).json(), {"z": 1})
        self.assertEqual(stats(self.port)["bootstrap_starts"], 2)

    def test_request_size_limit(self):
        # A JSON string of exactly the limit runs (and echoes: the response
        # limit is 100 bytes higher); one byte more is refused.
        at_limit = b'"' + b"a" * (MAX_REQUEST - 2) + b'"'
        r = invoke(self.port, "echo", at_limit)
        self.assertEqual((r.status, len(r.body)), (200, MAX_REQUEST))
        r = invoke(self.port, "echo", b'"' + b"a" * (MAX_REQUEST - 1) + b'"')
        self.assertApiError(r, 413, "RequestEntityTooLargeException")
        self.assertIn("Request must be smaller than 6291456 bytes",
                      r.json()["message"])

    def test_oversized_body_refused_before_it_is_sent(self):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1"
                      b"\r\nHost: x\r\nContent-Length: 7000000\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            answer = s.recv(65536).decode()
        self.assertTrue(answer.startswith("HTTP/1.1 413"), answer)
        self.assertIn("RequestEntityTooLargeException", answer)

    def test_response_size_limit(self):
        r = invoke(self.port, "echo", {"repeat": MAX_RESPONSE - 2})
        self.assertEqual((r.status, len(r.body)), (200, MAX_RESPONSE))
        message = self.assertFunctionError(
            invoke(self.port, "echo", {"repeat": MAX_RESPONSE - 1}),
            "Function.ResponseSizeTooLarge")
        self.assertEqual(
            message, "Response payload size (6291557 bytes) exceeded maximum "
            "allowed payload size (6291556 bytes).")

    def test_init_error(self):
        self.service.config.env = {"INIT_FAIL": "1"}
        message = self.assertFunctionError(invoke(self.port, "echo", {}),
                                           "TestInitError")
        self.assertEqual(message, "init failed on purpose")

    def test_concurrency_limit(self):
        control(self.port, concurrency=2, timeout_s=1)
        results = []

        def slow():
            results.append(invoke(self.port, "echo", {"sleep": 30}))

        threads = [threading.Thread(target=slow) for _ in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: stats(self.port)["in_flight"] == 2, 10,
                 "two invocations in flight")
        r = invoke(self.port, "echo", {})
        self.assertApiError(r, 429, "TooManyRequestsException")
        self.assertEqual(r.json()["Reason"],
                         "ReservedFunctionConcurrentInvocationLimitExceeded")
        for t in threads:  # until they time out
            t.join()
        s = stats(self.port)
        self.assertEqual((s["max_concurrent"], s["bootstrap_starts"]), (2, 2))


class FaultTest(ServiceTest):

    def test_throttle_then_success(self):
        self.assertEqual(control(self.port, faults=[
            {"type": "throttle", "retry_after": 2, "count": 2}]),
            {"faults_pending": 2})
        for _ in range(2):
            r = invoke(self.port, "echo", {"x": 1})
            self.assertApiError(r, 429, "TooManyRequestsException")
            self.assertEqual(r.headers["retry-after"], "2")
        self.assertEqual(invoke(self.port, "echo", {"x": 1}).json(), {"x": 1})
        s = stats(self.port)
        self.assertEqual(s["status"], {"429": 2, "200": 1})
        self.assertEqual(s["bootstrap_starts"], 1)

    def test_each_fault_in_queue_order(self):
        control(self.port, faults=[
            {"type": "service_error", "status": 500},
            {"type": "service_error", "status": 502},
            {"type": "service_error", "status": 503},
            {"type": "function_error", "error_type": "Injected",
             "message": "m"},
            {"type": "oversize"},
            {"type": "crash"},
            {"type": "slow", "delay_ms": 300},
            {"type": "throttle", "retry_after": None}])
        for status in (500, 502, 503):
            self.assertApiError(invoke(self.port, "echo", {}), status,
                                "ServiceException")
        self.assertEqual(self.assertFunctionError(
            invoke(self.port, "echo", {}), "Injected"), "m")
        self.assertFunctionError(invoke(self.port, "echo", {}),
                                 "Function.ResponseSizeTooLarge")
        message = self.assertFunctionError(invoke(self.port, "echo", {}),
                                           "Runtime.ExitError")
        self.assertIn("signal: killed", message)
        started = time.monotonic()
        self.assertEqual(invoke(self.port, "echo", {"s": 1}).json(), {"s": 1})
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        r = invoke(self.port, "echo", {})
        self.assertApiError(r, 429, "TooManyRequestsException")
        self.assertNotIn("retry-after", r.headers)
        self.assertEqual(invoke(self.port, "echo", {"x": 1}).status, 200)
        s = stats(self.port)
        self.assertEqual(s["status"], {"500": 1, "502": 1, "503": 1,
                                       "200": 5, "429": 1})
        self.assertEqual(s["function_errors"]["Runtime.ExitError"], 1)
        self.assertEqual(s["faults_pending"], 0)

    def test_slow_past_the_timeout(self):
        control(self.port, timeout_s=0.2,
                faults=[{"type": "slow", "delay_ms": 5000}])
        self.assertFunctionError(invoke(self.port, "echo", {}),
                                 "Sandbox.Timedout")

    def test_bad_control_requests(self):
        for body in ({"faults": [{"type": "nope"}]}, {"bogus": 1},
                     {"faults": [{"type": "slow"}]},
                     {"faults": [{"type": "service_error", "status": 404}]}):
            r = testlib.request(self.port, "POST", "/_control",
                                json.dumps(body).encode())
            self.assertEqual(r.status, 400, body)
        self.assertEqual(stats(self.port)["faults_pending"], 0)

    def test_reset(self):
        invoke(self.port, "echo", {})
        control(self.port, reset=True, faults=[{"type": "throttle"}])
        s = stats(self.port)
        self.assertEqual((s["invocations"], s["faults_pending"]), (0, 1))


class CommandLineTest(unittest.TestCase):

    def test_port_file_and_sigterm(self):
        with tempfile.TemporaryDirectory() as tmp:
            bootstrap = testlib.write_bootstrap(tmp)
            port_file = os.path.join(tmp, "port")
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "lambda_service.py"),
                 "--port", "0", "--port_file", port_file, "--bootstrap",
                 bootstrap, "--functions", "echo,add", "--quiet"],
                stderr=subprocess.PIPE)
            try:
                port = int(wait_for(lambda: read(port_file), 20,
                                    "the port file"))
                r = invoke(port, "add", {"context": 1})
                self.assertEqual(r.json()["function"], "add")
                pid = r.json()["pid"]
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    _, err = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    self.fail("the service ignored SIGTERM for 30 s")
            self.assertEqual(proc.returncode, 0, err)
            self.assertIn(b"Invoke API on http://127.0.0.1:%d" % port, err)
            self.assertFalse(alive(pid), "the bootstrap outlived the service")

    def test_usage_errors(self):
        r = subprocess.run([sys.executable,
                            os.path.join(HERE, "lambda_service.py"),
                            "--bootstrap", "/nonexistent"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not an executable file", r.stderr)


if __name__ == "__main__":
    unittest.main()
