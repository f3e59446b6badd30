"""The Lambda deployment zip against the test Lambda service: the package
deploy/lambda/build-zip.sh makes from the built dagd-worker, unzipped into
a temporary directory (file modes kept, as Lambda keeps them), is the
--bootstrap of lambda_service.py, run as its own process. SigV4-signed
Invoke requests (testlib.invoke, the test key) carrying
dagd.v1.LambdaInvocation (proto3 JSON) then get:
  * `add` of two inline inputs: 200, no X-Amz-Function-Error, and a
    dagd.v1.LambdaResult whose output is their sum, for the invoked task;
  * `fail`: 200, X-Amz-Function-Error, errorType TaskFailed and the
    task's message;
both on one warm sandbox started from the zip's `bootstrap`.
So: the deployment zip builds, and its bootstrap runs a task against the
test service.

    python3 tests/lambda/deployment_zip_test.py \
        --worker=build/bin/dagd-worker
"""

import argparse
import base64
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from testlib import invoke, stats, wait_for  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_ZIP = os.path.join(REPO, "deploy", "lambda", "build-zip.sh")
SERVICE = os.path.join(HERE, "lambda_service.py")
WORKER = None  # set from --worker
WAIT = 60  # seconds; the test takes a few


def json_payload(value):
    return {"data": base64.b64encode(json.dumps(value).encode()).decode(),
            "contentType": "application/json"}


def invocation(task_id, fn, args=None, inputs=(), index=0):
    assignment = {"task": {"jobId": "j1", "taskIndex": index, "attempt": 1},
                  "taskId": task_id, "fn": fn,
                  "inputs": [json_payload(v) for v in inputs]}
    if args is not None:
        assignment["args"] = args
    return {"assignment": assignment}


def unzip(archive, root):
    """Extracts archive into root with the modes stored in it."""
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            path = z.extract(info, root)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                os.chmod(path, stat.S_IMODE(mode))


class DeploymentZipTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dagd-lambda-deployment-zip.")
        archive = os.path.join(cls.tmp, "dagd-worker-lambda.zip")
        r = subprocess.run([BUILD_ZIP, "--worker=" + WORKER,
                            "--output=" + archive],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=WAIT)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("build-zip.sh failed (exit %d):\n%s"
                                 % (r.returncode, r.stdout.decode()))
        cls.root = os.path.join(cls.tmp, "task")  # Lambda's /var/task
        unzip(archive, cls.root)
        cls.bootstrap = os.path.join(cls.root, "bootstrap")

        port_file = os.path.join(cls.tmp, "port")
        cls.log_path = os.path.join(cls.tmp, "service.log")
        with open(cls.log_path, "w") as log:
            cls.service = subprocess.Popen(
                [sys.executable, "-B", SERVICE, "--port", "0",
                 "--port_file", port_file, "--bootstrap", cls.bootstrap,
                 "--functions", "dagd", "--timeout_s", "10"],
                stdout=log, stderr=log)
        try:
            wait_for(lambda: os.path.exists(port_file)
                     or cls.service.poll() is not None, WAIT,
                     "lambda_service.py's port file")
            if cls.service.poll() is not None:
                raise AssertionError("lambda_service.py exited %d:\n%s"
                                     % (cls.service.returncode, cls.log()))
            with open(port_file) as f:
                cls.port = int(f.read())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.service.poll() is None:
            cls.service.terminate()  # it stops its bootstraps
            try:
                cls.service.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.service.kill()
                cls.service.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def log(cls):
        with open(cls.log_path, errors="replace") as f:
            return f.read()

    def test_01_the_zip_holds_an_executable_bootstrap(self):
        for name in ["bootstrap", "bin/dagd-worker",
                     "lib/ld-linux-x86-64.so.2"]:
            path = os.path.join(self.root, name)
            self.assertTrue(os.access(path, os.X_OK),
                            "%s is not executable once unzipped" % name)

    def test_02_add_of_two_inline_inputs(self):
        r = invoke(self.port, "dagd",
                   invocation("sum", "add", inputs=[2, 40], index=3))
        self.assertEqual(r.status, 200, "%r\nservice log:\n%s"
                         % (r, self.log()))
        self.assertNotIn("x-amz-function-error", r.headers, r)
        result = r.json()["result"]
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["task"],
                         {"jobId": "j1", "taskIndex": 3, "attempt": 1})
        self.assertEqual(
            json.loads(base64.b64decode(result["output"]["data"])), 42)

    def test_03_failing_task_is_a_function_error(self):
        r = invoke(self.port, "dagd",
                   invocation("f", "fail", {"message": "no luck"}, index=4))
        self.assertEqual(r.status, 200, "%r\nservice log:\n%s"
                         % (r, self.log()))
        self.assertEqual(r.headers.get("x-amz-function-error"), "Unhandled",
                         r)
        self.assertEqual(r.json()["errorType"], "TaskFailed", r)
        self.assertEqual(r.json()["errorMessage"], "no luck", r)

    def test_04_one_sandbox_from_the_zip(self):
        # Runs last (unittest sorts by name): both invocations above, signed
        # and accepted, ran on one bootstrap started from the zip.
        s = stats(self.port)
        self.assertEqual(s["signature_failures"], 0, s)
        self.assertEqual(s["bootstrap_starts"], 1, "%s\n%s" % (s, self.log()))


def main():
    global WORKER
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True,
                        help="the dagd-worker binary")
    args, rest = parser.parse_known_args()
    WORKER = os.path.abspath(args.worker)
    if platform.machine() != "x86_64":
        print("SKIP: build-zip.sh packages x86_64 only")
        sys.exit(77)
    for tool in ("zip", "ldd"):
        if shutil.which(tool) is None:
            print("SKIP: build-zip.sh needs %s, which is not installed" % tool)
            sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
