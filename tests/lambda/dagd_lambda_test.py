"""dagd dispatching to the test Lambda service, end to end: the real dagd
(--lambda_function=dagd, --lambda_endpoint at the service), the real
dagd-worker both as a long-running worker (for tasks without an executor)
and as the Lambda function's bootstrap, and dagctl submitting the jobs and
reading their tasks. Each test shows one outcome of an invocation:

  mixed jobs        worker -> Lambda -> worker, results passed through
  throttling        429 with Retry-After is retried, not counted as an attempt
  function errors   a failed attempt naming the errorType, then a retry
  timeouts          a task's `timeout` ends its Lambda attempt; a slow
                    start past it does not
  cancels           a cancelled invocation holds its exclusive group
                    until it answers
  other 4xx         the task fails for good, naming the AWS error type
  credentials       from a container-credentials endpoint (ECS) instead of
                    the environment
  a crash           an invocation in flight when dagd is killed runs again

    python3 tests/lambda/dagd_lambda_test.py --dagd=build/bin/dagd \
        --worker=build/bin/dagd-worker --dagctl=build/bin/dagctl [-v]

Everything listens on 127.0.0.1 on ports it picks; waits are on conditions
with deadlines, never fixed sleeps.
"""

import argparse
import datetime
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_service  # noqa: E402
from testlib import control, stats, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BINS = {}  # dagd, worker, dagctl: set from the command line
FUNCTION = "dagd"
WORKER_NAME = "plain-worker"
# The service also accepts requests carrying this token (temporary
# credentials, as the container endpoint of test 6 hands out).
SESSION_TOKEN = "dagd-test-session-token"
CONTAINER_AUTH = "dagd-test-container-authorization"


def clean_env(**extra):
    """This process's environment without any AWS_ setting, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    env.update(extra)
    return env


class Processes:
    """Processes of one fixture, each logging to a file in `tmp`; stopped by
    pid (SIGTERM, then SIGKILL) in reverse order of start."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []  # (name, Popen, log path)
        self.killed = []  # the same, of those kill() ended

    def start(self, name, argv, env=None, log_name=None):
        log = os.path.join(self.tmp, (log_name or name) + ".log")
        with open(log, "wb") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env,
                                 cwd=self.tmp)
        self.procs.append((name, p, log))
        return p

    def kill(self, name):
        """SIGKILL to `name`, which is then no longer one of these (its log
        stays in `tmp`)."""
        for entry in self.procs:
            if entry[0] == name:
                entry[1].kill()
                entry[1].wait()
                self.procs.remove(entry)
                self.killed.append(entry)
                return
        raise AssertionError("no process " + name)

    def check_alive(self):
        for name, p, _ in self.procs:
            if p.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (
                    name, p.returncode, self.log(name)))

    def log(self, name):
        for n, _, log in self.procs:
            if n == name:
                with open(log, "rb") as f:
                    return f.read().decode("utf-8", "replace")[-6000:]
        return ""

    def stop(self):
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

    def dump(self):
        for name, p, log in self.killed + self.procs:
            with open(log, "rb") as f:
                text = f.read().decode("utf-8", "replace")[-6000:]
            sys.stderr.write("---- %s (pid %d) ----\n%s\n" % (
                name, p.pid, text.rstrip() or "(empty)"))


def read_port(path, procs, timeout=30):
    def ready():
        procs.check_alive()
        try:
            with open(path) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None
    return wait_for(ready, timeout, "the port in " + path)


class LambdaCluster:
    """The test Lambda service, a dagd dispatching to it, and optionally one
    dagd-worker for the tasks that have no executor."""

    def __init__(self, dagd_env, with_worker=True, service_port=None,
                 dagd_args=(), worker_env=None, function_env=None):
        """dagd_args: more dagd flags; worker_env: the worker's environment
        (default clean_env()); function_env: {K: V} for the function."""
        self.tmp = tempfile.mkdtemp(prefix="dagd-lambda-test.")
        self.procs = Processes(self.tmp)
        try:
            self._start(dagd_env, with_worker, service_port, list(dagd_args),
                        worker_env or clean_env(), function_env or {})
        except BaseException:
            self.stop(dump=True)
            raise

    def _start(self, dagd_env, with_worker, service_port, dagd_args,
               worker_env, function_env):
        if service_port is None:
            port_file = os.path.join(self.tmp, "lambda.port")
            self.procs.start("lambda_service", [
                sys.executable, "-B", os.path.join(HERE, "lambda_service.py"),
                "--port=0", "--port_file=" + port_file,
                "--bootstrap=" + BINS["worker"], "--functions=" + FUNCTION,
                "--timeout_s=30", "--session_token=" + SESSION_TOKEN] +
                ["--env=%s=%s" % kv for kv in sorted(function_env.items())],
                env=clean_env())
            service_port = read_port(port_file, self.procs)
        self.service_port = service_port
        self.dagd_argv = [
            BINS["dagd"], "--listen=127.0.0.1:0",
            "--data_dir=" + os.path.join(self.tmp, "data"),
            "--metrics_listen=127.0.0.1:0", "--lambda_function=" + FUNCTION,
            "--lambda_allowed_functions=nosuchfunction",
            "--lambda_endpoint=http://127.0.0.1:%d" % service_port,
            "--aws_region=" + lambda_service.TEST_REGION] + dagd_args
        self.dagd_env = dagd_env
        self.dagd_starts = 0
        self._start_dagd()
        if with_worker:
            self.procs.start("worker", [
                BINS["worker"], "--coordinator=" + self.server, "--slots=4",
                "--name=" + WORKER_NAME], env=worker_env)
            wait_for(lambda: WORKER_NAME in self.dagctl("workers").stdout,
                     30, "the worker to register")

    def _start_dagd(self):
        """Starts dagd (again: on the same data directory) as "dagd", its
        port file and log new for each start."""
        self.dagd_starts += 1
        port_file = os.path.join(self.tmp, "dagd-%d.port" % self.dagd_starts)
        self.procs.start("dagd", self.dagd_argv + ["--port_file=" + port_file],
                         env=self.dagd_env,
                         log_name="dagd-%d" % self.dagd_starts)
        self.server = "127.0.0.1:%d" % read_port(port_file, self.procs)

    def crash_dagd(self):
        """Kills dagd with SIGKILL, as a crash would, and starts it again on
        the same data directory (its address changes)."""
        self.procs.kill("dagd")
        self._start_dagd()

    def stop(self, dump=False):
        if dump:
            self.procs.dump()
        self.procs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dagctl(self, *args, check=True, timeout=60):
        r = subprocess.run([BINS["dagctl"], "--server=" + self.server] +
                           list(args), capture_output=True, text=True,
                           timeout=timeout, env=clean_env())
        if check and r.returncode not in (0, 1):
            raise AssertionError("dagctl %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def run_job(self, job, timeout=60):
        """Submits `job` and waits for its end: (job id, dagctl exit code)."""
        path = os.path.join(self.tmp, "job-%f.json" % time.monotonic())
        with open(path, "w") as f:
            json.dump(job, f)
        r = self.dagctl("submit", path, "--wait", timeout=timeout)
        job_id = r.stdout.splitlines()[0].strip()
        return job_id, r.returncode

    def tasks(self, job_id):
        """{task id: TaskStatus as proto3 JSON}."""
        out = self.dagctl("-o", "json", "tasks", job_id).stdout
        tasks = {}
        for line in out.splitlines():  # ListTasksResponse pages
            for t in json.loads(line).get("tasks", []) if line else []:
                tasks[t["taskId"]] = t
        return tasks

    def result(self, job_id, task):
        return json.loads(self.dagctl("result", job_id, task).stdout)


class ClusterTestCase(unittest.TestCase):
    """A test on `cls.cluster` (a LambdaCluster the class starts once):
    on a failure, what its processes logged is shown, the killed ones'
    too, before the class stops them."""

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            self.cluster.procs.dump()
        return out


class DagdLambdaTest(ClusterTestCase):
    """One service, dagd and worker for all tests (keys in the environment);
    each test starts with the service's faults and stats reset."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = LambdaCluster(clean_env(
            AWS_ACCESS_KEY_ID=lambda_service.TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=lambda_service.TEST_SECRET))
        cls.port = cls.cluster.service_port

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        # An invocation of the test before still running would count here.
        wait_for(lambda: stats(self.port)["in_flight"] == 0, 30,
                 "the service to finish the invocations of the last test")
        control(self.port, reset=True)

    def run_job(self, job, want_exit):
        job_id, code = self.cluster.run_job(job)
        tasks = self.cluster.tasks(job_id)
        self.assertEqual(code, want_exit, json.dumps(tasks, indent=1))
        return job_id, tasks

    def assertAttempts(self, task, n):
        self.assertEqual(len(task.get("attempts", [])), n,
                         json.dumps(task, indent=1))

    def test_mixed_job_runs_on_worker_and_lambda(self):
        job = {"name": "mixed", "tasks": [
            {"id": "a", "fn": "const", "args": {"value": 20}},
            {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1},
             "executor": "lambda"},
            {"id": "c", "fn": "add", "inputs": ["b"], "args": {"value": 100}},
            # More plain tasks than the worker has slots: none may go to
            # Lambda, whose dispatcher has far more room.
            *({"id": "p%d" % i, "fn": "const", "args": {"value": i}}
              for i in range(8)),
            {"id": "q", "fn": "add", "inputs": ["p%d" % i for i in range(8)],
             "executor": "lambda:" + FUNCTION}]}
        job_id, tasks = self.run_job(job, 0)
        self.assertEqual(self.cluster.result(job_id, "b"), 21)
        self.assertEqual(self.cluster.result(job_id, "c"), 121)
        self.assertEqual(self.cluster.result(job_id, "q"), 28)
        for task in tasks.values():
            self.assertEqual(task["state"], "TASK_SUCCEEDED", task)
            self.assertAttempts(task, 1)
            want = "lambda" if task["taskId"] in ("b", "q") else WORKER_NAME
            self.assertEqual(task["worker"], want, task)
        s = stats(self.port)
        self.assertEqual(s["invocations"], 2, s)
        self.assertEqual(s["status"], {"200": 2}, s)
        self.assertEqual(s["signature_failures"], 0, s)
        self.assertEqual({r["function"] for r in s["recent"]}, {FUNCTION}, s)

    def test_throttled_invocation_is_retried_without_an_attempt(self):
        control(self.port, faults=[{"type": "throttle", "retry_after": 1,
                                    "count": 2}])
        started = time.monotonic()
        job_id, tasks = self.run_job({"name": "throttled", "tasks": [
            {"id": "t", "fn": "const", "args": {"value": 7},
             "executor": "lambda"}]}, 0)
        elapsed = time.monotonic() - started
        self.assertEqual(self.cluster.result(job_id, "t"), 7)
        self.assertAttempts(tasks["t"], 1)
        self.assertEqual(tasks["t"]["attempts"][0].get("error", ""), "")
        s = stats(self.port)
        self.assertEqual(s["invocations"], 3, s)
        self.assertEqual(s["status"], {"429": 2, "200": 1}, s)
        self.assertEqual(s["api_errors"], {"TooManyRequestsException": 2}, s)
        # Retry-After: 1 was honoured, twice.
        self.assertGreaterEqual(elapsed, 2.0)

    def test_function_error_fails_the_attempt_then_retries(self):
        control(self.port, faults=[{"type": "function_error",
                                    "error_type": "InjectedError",
                                    "message": "the first try breaks"}])
        job_id, tasks = self.run_job({"name": "function-error", "tasks": [
            {"id": "f", "fn": "const", "args": {"value": 5},
             "executor": "lambda",
             "retry": {"max_attempts": 2, "initial_backoff": "0.1s"}}]}, 0)
        self.assertEqual(self.cluster.result(job_id, "f"), 5)
        f = tasks["f"]
        self.assertAttempts(f, 2)
        self.assertIn("InjectedError", f["attempts"][0]["error"])
        self.assertIn("the first try breaks", f["attempts"][0]["error"])
        self.assertEqual(f["attempts"][1].get("error", ""), "")
        s = stats(self.port)
        self.assertEqual(s["invocations"], 2, s)
        self.assertEqual(s["function_errors"], {"InjectedError": 1}, s)

    def test_failing_function_uses_up_its_attempts(self):
        job_id, tasks = self.run_job({"name": "fail", "tasks": [
            {"id": "bad", "fn": "fail", "args": {"message": "no luck"},
             "executor": "lambda",
             "retry": {"max_attempts": 2, "initial_backoff": "0.1s"}}]}, 1)
        bad = tasks["bad"]
        self.assertEqual(bad["state"], "TASK_FAILED", bad)
        self.assertAttempts(bad, 2)
        for attempt in bad["attempts"]:
            self.assertIn("TaskFailed", attempt["error"])
            self.assertIn("no luck", attempt["error"])
        self.assertEqual(stats(self.port)["function_errors"],
                         {"TaskFailed": 2})

    def test_timeout_ends_the_lambda_attempt(self):
        job_id, tasks = self.run_job({"name": "timeout", "tasks": [
            {"id": "slow", "fn": "sleep", "args": {"ms": 3000},
             "executor": "lambda", "timeout": "1s",
             "retry": {"max_attempts": 2, "initial_backoff": "0.1s"}}]}, 1)
        slow = tasks["slow"]
        self.assertEqual(slow["state"], "TASK_FAILED", slow)
        self.assertAttempts(slow, 2)
        for attempt in slow["attempts"]:
            # The function's own report (dagd-worker ended the task), which
            # dagd waits for a grace period past the timeout.
            self.assertIn("TaskFailed: timed out after 1000 ms",
                          attempt["error"])
            run = (parse_time(attempt["finishedAt"]) -
                   parse_time(attempt["startedAt"])).total_seconds()
            # Ended by the timeout, not by the 3 s sleep.
            self.assertLess(run, 2.9, attempt)
            self.assertGreaterEqual(run, 0.9, attempt)
        self.assertEqual(stats(self.port)["invocations"], 2)

    def test_a_slow_start_past_the_timeout_is_waited_for(self):
        # Started 12 s late (a cold start, or inputs read from S3): more
        # than the task's 1 s timeout and dagd's 10 s grace, which bound
        # the task's run on Lambda and not the invocation (dagd gave up at
        # 11 s and failed the attempt while the function went on).
        control(self.port, faults=[{"type": "slow", "delay_ms": 12000}])
        job_id, tasks = self.run_job({"name": "cold", "tasks": [
            {"id": "c", "fn": "const", "args": {"value": 3},
             "executor": "lambda", "timeout": "1s"}]}, 0)
        self.assertAttempts(tasks["c"], 1)
        self.assertEqual(self.cluster.result(job_id, "c"), 3)
        self.assertEqual(stats(self.port)["invocations"], 1)

    def test_a_cancelled_invocation_holds_its_group_until_it_ends(self):
        path = os.path.join(self.cluster.tmp, "hog.json")
        with open(path, "w") as f:
            json.dump({"name": "hog", "tasks": [
                {"id": "s", "fn": "sleep", "args": {"ms": 2000},
                 "executor": "lambda", "exclusive_group": "g"}]}, f)
        hog = self.cluster.dagctl("submit", path).stdout.split()[0]
        wait_for(lambda: stats(self.port)["in_flight"] == 1, 30,
                 "the invocation to start")
        self.cluster.dagctl("cancel", hog)
        # Nothing stops an invocation that has begun: the group's next task
        # waits for its answer (it was invoked beside it).
        job_id, tasks = self.run_job({"name": "next", "tasks": [
            {"id": "n", "fn": "const", "args": {"value": 1},
             "executor": "lambda", "exclusive_group": "g"}]}, 0)
        s = stats(self.port)
        self.assertEqual(s["invocations"], 2, s)
        self.assertEqual(s["max_concurrent"], 1, s)
        self.assertEqual(self.cluster.tasks(hog)["s"]["state"],
                         "TASK_CANCELLED")

    def test_unknown_function_fails_for_good(self):
        job_id, tasks = self.run_job({"name": "no-such-function", "tasks": [
            {"id": "x", "fn": "const", "args": {"value": 1},
             "executor": "lambda:nosuchfunction",
             "retry": {"max_attempts": 3, "initial_backoff": "0.1s"}}]}, 1)
        x = tasks["x"]
        self.assertEqual(x["state"], "TASK_FAILED", x)
        self.assertAttempts(x, 1)  # permanent: not retried
        self.assertIn("ResourceNotFoundException", x["error"])
        self.assertIn("nosuchfunction", x["error"])
        s = stats(self.port)
        self.assertEqual(s["invocations"], 1, s)
        self.assertEqual(s["status"], {"404": 1}, s)


class DagdLambdaCrashTest(ClusterTestCase):
    """dagd killed with SIGKILL while a task's Lambda invocation is in
    flight (README, Guarantees: Lambda is not on the roster). The
    invocation runs to its end, its answer goes to the dead dagd, and the
    restarted dagd invokes the task again: two invocations, one job that
    succeeds."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = LambdaCluster(clean_env(
            AWS_ACCESS_KEY_ID=lambda_service.TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=lambda_service.TEST_SECRET),
            with_worker=False)
        cls.port = cls.cluster.service_port

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_task_in_flight_on_lambda_runs_again_after_a_crash(self):
        path = os.path.join(self.cluster.tmp, "crash.json")
        with open(path, "w") as f:
            json.dump({"name": "crash", "tasks": [
                {"id": "s", "fn": "sleep", "args": {"ms": 1500},
                 "executor": "lambda"},
                {"id": "t", "fn": "add", "inputs": ["s"],
                 "args": {"value": 4}}]}, f)
        # t has no executor and there is no worker: it never runs, and the
        # job stays unfinished for the test to read.
        job_id = self.cluster.dagctl("submit", path).stdout.split()[0]
        wait_for(lambda: stats(self.port)["in_flight"] == 1, 30,
                 "the invocation of s to start")
        self.cluster.crash_dagd()
        wait_for(lambda: stats(self.port)["invocations"] == 2, 30,
                 "the restarted dagd to invoke s again")

        def s_done():
            return self.cluster.tasks(job_id)["s"]["state"] == "TASK_SUCCEEDED"
        wait_for(s_done, 30, "s to succeed after the restart")
        # The service answered both: the first ran to its end, its answer
        # going to the killed dagd.
        wait_for(lambda: stats(self.port)["status"].get("200") == 2, 30,
                 "the service to answer both invocations")
        s = stats(self.port)
        self.assertEqual(s["invocations"], 2, s)
        self.assertEqual(s["status"], {"200": 2}, s)
        self.assertEqual(self.cluster.tasks(job_id)["t"]["state"], "TASK_READY")


def parse_time(text):
    """An RFC 3339 timestamp as proto3 JSON writes it (Z, 0-9 decimals)."""
    text = text.rstrip("Z")
    whole, _, frac = text.partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return t + datetime.timedelta(microseconds=int((frac + "000000")[:6]))


class ContainerCredentials(http.server.ThreadingHTTPServer):
    """The ECS container credentials endpoint on 127.0.0.1: answers GET
    /credentials with the test key, a session token and an Expiration an
    hour ahead, to requests carrying the expected Authorization header;
    401 to others. Counts both."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ContainerCredentialsHandler)
        self.lock = threading.Lock()
        self.served = 0
        self.refused = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d/credentials" % self.server_address[1]


class ContainerCredentialsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        if self.path != "/credentials" or \
                self.headers.get("Authorization") != CONTAINER_AUTH:
            with server.lock:
                server.refused += 1
            return self._send(401, {"message": "bad Authorization or path"})
        with server.lock:
            server.served += 1
        expiration = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(hours=1)
        self._send(200, {
            "AccessKeyId": lambda_service.TEST_ACCESS_KEY_ID,
            "SecretAccessKey": lambda_service.TEST_SECRET,
            "Token": SESSION_TOKEN,
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ")})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ContainerCredentialsTest(unittest.TestCase):
    """dagd without keys in its environment, finding them at a container
    credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)."""

    def setUp(self):
        self.endpoint = ContainerCredentials()
        threading.Thread(target=self.endpoint.serve_forever, args=(0.05,),
                         daemon=True).start()
        self.cluster = LambdaCluster(clean_env(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=self.endpoint.url,
            AWS_CONTAINER_AUTHORIZATION_TOKEN=CONTAINER_AUTH),
            with_worker=False)

    def tearDown(self):
        self.cluster.stop()
        self.endpoint.shutdown()
        self.endpoint.server_close()

    def test_lambda_task_signed_with_container_credentials(self):
        job_id, code = self.cluster.run_job({"name": "ecs", "tasks": [
            {"id": "a", "fn": "const", "args": {"value": 3},
             "executor": "lambda"},
            {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 4},
             "executor": "lambda"}]})
        if code != 0:
            self.cluster.procs.dump()
        self.assertEqual(code, 0, self.cluster.tasks(job_id))
        self.assertEqual(self.cluster.result(job_id, "b"), 7)
        s = stats(self.cluster.service_port)
        self.assertEqual(s["status"], {"200": 2}, s)
        self.assertEqual(s["signature_failures"], 0, s)
        # Fetched once and cached: they are good for an hour.
        self.assertEqual((self.endpoint.served, self.endpoint.refused), (1, 0))


def main():
    """Runs the tests of the script being run (this one or one that imports
    it) with --dagd, --worker and --dagctl from the command line."""
    parser = argparse.ArgumentParser()
    for name in ("dagd", "worker", "dagctl"):
        parser.add_argument("--" + name, required=True)
    args, rest = parser.parse_known_args()
    for name in ("dagd", "worker", "dagctl"):
        BINS[name] = os.path.abspath(getattr(args, name))
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
