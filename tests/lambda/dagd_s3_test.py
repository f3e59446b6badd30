"""Results too large to travel inline, through S3, end to end: the real
dagd (--s3_bucket, --s3_endpoint at s3rver), the real dagd-worker both as a
long-running worker and as the Lambda function's bootstrap under the test
Lambda service, dagctl, and s3rver (tests/s3/s3rver-sigv4.js, which checks
every SigV4 signature) as S3.

  worker results     an output over --inline_max_bytes is written to S3 by
                     the worker; the next task reads it from there; dagctl
                     result streams it through dagd in ranged reads;
                     ListTasks says where it is; deleting the job deletes
                     the object; a changed object is refused (CRC-32C)
  Lambda large I/O   a large input reaches a Lambda task by reference and
                     its large output comes back by reference
  over 6 MB          an invocation whose inline inputs exceed Lambda's
                     payload limit sends them through S3 for the one call
  a cancel           the output of an invocation cancelled while it ran
                     is deleted once it answers
  a crash            an invocation dagd lost in a crash and its rerun
                     write their outputs under keys of their own

    python3 tests/lambda/dagd_s3_test.py --dagd=build/bin/dagd \\
        --worker=build/bin/dagd-worker --dagctl=build/bin/dagctl [-v]

Everything listens on 127.0.0.1 on ports it picks; waits are on conditions
with deadlines, never fixed sleeps.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dagd_lambda_test  # noqa: E402
import lambda_service  # noqa: E402
import sigv4  # noqa: E402
from dagd_lambda_test import LambdaCluster, Processes, clean_env, read_port  # noqa: E402
from testlib import control, request, stats, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
S3_DIR = os.path.join(os.path.dirname(HERE), "s3")
BUCKET = "dagd-results"
PREFIX = "dagd/"
KEY_ID = lambda_service.TEST_ACCESS_KEY_ID
SECRET = lambda_service.TEST_SECRET


class S3rver:
    """s3rver on 127.0.0.1 accepting the Lambda service's test key, with
    BUCKET created; a tiny signed client for checking what is stored."""

    def __init__(self, tmp, procs):
        node = shutil.which("node")
        script = os.path.join(S3_DIR, "s3rver-sigv4.js")
        installed = os.path.join(S3_DIR, "node_modules", "s3rver")
        if node is None or not os.path.isdir(installed):
            raise AssertionError(
                "s3rver is not installed (no node, or no %s): run "
                "deploy/install-deps.sh, which installs nodejs and runs "
                "`npm ci` in tests/s3" % installed)
        port_file = os.path.join(tmp, "s3.port")
        procs.start("s3rver", [
            node, script, "--directory", os.path.join(tmp, "s3"),
            "--port", "0", "--port-file", port_file,
            "--access-key", "%s:%s" % (KEY_ID, SECRET), "--bucket", BUCKET],
            env=clean_env())
        self.port = read_port(port_file, procs)
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def _get(self, path_and_query):
        url = self.endpoint + path_and_query
        headers = sigv4.sign_request(
            "GET", url, {}, b"", KEY_ID, SECRET,
            lambda_service.TEST_REGION, "s3", content_sha256_header=True)
        return request(self.port, "GET", path_and_query, b"", headers)

    def put(self, key, body):
        path = "/%s/%s" % (BUCKET, urllib.parse.quote(key))
        headers = sigv4.sign_request(
            "PUT", self.endpoint + path, {}, body, KEY_ID, SECRET,
            lambda_service.TEST_REGION, "s3", content_sha256_header=True)
        r = request(self.port, "PUT", path, body, headers)
        if r.status != 200:
            raise AssertionError("PUT %s: HTTP %d %r" % (key, r.status,
                                                         r.body[:300]))

    def get(self, key):
        """The object's bytes, or None when there is none."""
        r = self._get("/%s/%s" % (BUCKET, urllib.parse.quote(key)))
        if r.status == 404:
            return None
        if r.status != 200:
            raise AssertionError("GET %s: HTTP %d %r" % (key, r.status,
                                                         r.body[:300]))
        return r.body

    def keys(self, prefix=""):
        r = self._get("/%s?list-type=2&prefix=%s" % (
            BUCKET, urllib.parse.quote(prefix, safe="")))
        if r.status != 200:
            raise AssertionError("ListObjectsV2: HTTP %d %r" % (r.status,
                                                                 r.body[:300]))
        root = ET.fromstring(r.body)
        return sorted(e.text for e in root.iter() if e.tag.endswith("Key"))


def _crc32c_table():
    table = []
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as dagd records it."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def big_string(n, seed):
    """A JSON string value of about n bytes that does not repeat simply."""
    parts, size, i = [], 0, 0
    while size < n:
        parts.append("%s-%d." % (seed, i * 7919 % 1000003))
        size += len(parts[-1])
        i += 1
    return "".join(parts)[:n]


class S3Cluster(LambdaCluster):
    def __init__(self, inline_max_bytes):
        self.s3_tmp = tempfile.mkdtemp(prefix="dagd-s3-test.")
        self.s3_procs = Processes(self.s3_tmp)
        try:
            self.s3 = S3rver(self.s3_tmp, self.s3_procs)
        except BaseException:
            self.s3_procs.dump()
            self.s3_procs.stop()
            raise
        keys = dict(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET)
        super().__init__(
            clean_env(**keys),
            dagd_args=["--s3_bucket=" + BUCKET, "--s3_prefix=" + PREFIX,
                       "--s3_endpoint=" + self.s3.endpoint,
                       "--inline_max_bytes=%d" % inline_max_bytes],
            worker_env=clean_env(AWS_REGION=lambda_service.TEST_REGION,
                                 **keys),
            function_env={"DAGD_S3_BUCKET": BUCKET, "DAGD_S3_PREFIX": PREFIX,
                          "DAGD_S3_ENDPOINT": self.s3.endpoint})

    def stop(self, dump=False):
        super().stop(dump)
        if dump:
            self.s3_procs.dump()
        self.s3_procs.stop()
        shutil.rmtree(self.s3_tmp, ignore_errors=True)

    def read_result(self, job_id, task, *options):
        """dagctl result: (exit code, stdout bytes, stderr)."""
        r = subprocess.run([dagd_lambda_test.BINS["dagctl"],
                            "--server=" + self.server, *options, "result",
                            job_id, task],
                           capture_output=True, timeout=60, env=clean_env())
        return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")

    def raw_result(self, job_id, task):
        code, out, err = self.read_result(job_id, task)
        if code != 0:
            raise AssertionError("dagctl result %s %s: %s" % (job_id, task,
                                                              err))
        return out


class ClusterTest(unittest.TestCase):
    INLINE_MAX = 64 << 10

    @classmethod
    def setUpClass(cls):
        cls.cluster = S3Cluster(cls.INLINE_MAX)
        cls.s3 = cls.cluster.s3

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        # Each test counts the service's invocations from zero.
        port = self.cluster.service_port
        wait_for(lambda: stats(port)["in_flight"] == 0, 30,
                 "the invocations of the last test to end")
        control(port, reset=True)

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            self.cluster.procs.dump()
            self.cluster.s3_procs.dump()
        return out

    def run_job(self, job):
        job_id, code = self.cluster.run_job(job, timeout=120)
        tasks = self.cluster.tasks(job_id)
        self.assertEqual(code, 0, tasks)
        return job_id, tasks

    def assertStoredAt(self, job_id, tasks, task, index, attempt=1,
                       suffix=""):
        """The task's result is in S3 under its attempt's key, as dagd
        says: the attempt's key, its writer's name (16 hex digits: the
        worker process, or the dagd run for Lambda) and `suffix`."""
        meta = tasks[task].get("result", {})
        location = meta.get("location", "")
        self.assertRegex(location, r"^s3://%s/%s$" % (BUCKET, re.escape(
            "%sresults/%s/%d/%d/" % (PREFIX, job_id, index, attempt)) +
            "[0-9a-f]{16}" + re.escape(suffix)), tasks[task])
        key = location[len("s3://%s/" % BUCKET):]
        body = self.s3.get(key)
        self.assertIsNotNone(body, "no object at " + key)
        self.assertEqual(int(meta["sizeBytes"]), len(body))
        self.assertEqual(meta["crc32c"], crc32c(body))
        return key, body


class WorkerResultsTest(ClusterTest):
    def test_large_result_travels_through_s3_and_is_deleted_with_its_job(self):
        # Over 2 MiB: dagctl result streams it in three ranged reads.
        value = big_string(2500 << 10, "w")
        job_id, tasks = self.run_job({"name": "large", "tasks": [
            {"id": "big", "fn": "const", "args": {"value": value}},
            {"id": "copy", "fn": "identity", "inputs": ["big"]},
            {"id": "small", "fn": "const", "args": {"value": 1}}]})
        big_key, body = self.assertStoredAt(job_id, tasks, "big", 0)
        copy_key, _ = self.assertStoredAt(job_id, tasks, "copy", 1)
        self.assertEqual(tasks["small"]["result"]["location"], "inline")
        self.assertEqual(tasks["small"]["result"]["crc32c"], crc32c(b"1"))
        # The worker wrote the JSON output; dagctl reads it through dagd.
        self.assertEqual(body, self.cluster.raw_result(job_id, "big"))
        self.assertEqual(self.cluster.result(job_id, "copy"), value)
        self.assertEqual(self.s3.keys(PREFIX + "results/" + job_id + "/"),
                         sorted([big_key, copy_key]))

        self.cluster.dagctl("delete", job_id)
        wait_for(lambda: not self.s3.keys(PREFIX + "results/" + job_id + "/"),
                 30, "the deleted job's objects to go")

    def test_changed_object_is_data_loss_on_every_read(self):
        value = big_string(1500 << 10, "c")
        job_id, tasks = self.run_job({"name": "changed", "tasks": [
            {"id": "big", "fn": "const", "args": {"value": value}}]})
        key, body = self.assertStoredAt(job_id, tasks, "big", 0)
        # Same size, one byte different, past the first chunk.
        changed = bytearray(body)
        changed[-10] ^= 1
        self.s3.put(key, bytes(changed))
        code, out, err = self.cluster.read_result(job_id, "big")
        self.assertNotEqual(code, 0)
        self.assertIn("CRC-32C", err)
        self.assertEqual(len(out), len(body))  # streamed, then refused
        code, _, err = self.cluster.read_result(job_id, "big", "-o", "json")
        self.assertNotEqual(code, 0)
        self.assertIn("CRC-32C", err)


class LambdaLargeIoTest(ClusterTest):
    def test_large_input_and_output_of_a_lambda_task(self):
        value = big_string(200 << 10, "l")
        job_id, tasks = self.run_job({"name": "lambda-large", "tasks": [
            {"id": "make", "fn": "const", "args": {"value": value}},
            {"id": "on_lambda", "fn": "identity", "inputs": ["make"],
             "executor": "lambda"},
            {"id": "back", "fn": "identity", "inputs": ["on_lambda"]}]})
        self.assertEqual(tasks["on_lambda"]["worker"], "lambda")
        self.assertEqual(tasks["back"]["worker"], dagd_lambda_test.WORKER_NAME)
        # Lambda's function wrote its output to S3 itself.
        _, body = self.assertStoredAt(job_id, tasks, "on_lambda", 1)
        self.assertEqual(body, self.cluster.raw_result(job_id, "make"))
        self.assertEqual(self.cluster.result(job_id, "back"), value)
        # Both ways by reference: the invocation and its answer were small.
        recent = stats(self.cluster.service_port)["recent"]
        self.assertEqual(len(recent), 1, recent)
        self.assertLess(recent[0]["payload_bytes"], 64 << 10, recent)


    def test_each_try_of_a_retried_call_writes_its_own_key(self):
        # A 5xx may come from a call that ran: the retry must not write
        # where a late first try could overwrite it.
        control(self.cluster.service_port,
                faults=[{"type": "service_error", "status": 503}])
        value = big_string(100 << 10, "r")
        job_id, tasks = self.run_job({"name": "lambda-retry", "tasks": [
            {"id": "on_lambda", "fn": "const", "args": {"value": value},
             "executor": "lambda"}]})
        self.assertStoredAt(job_id, tasks, "on_lambda", 0, suffix="/try1")
        self.assertEqual(self.cluster.result(job_id, "on_lambda"), value)
        self.assertEqual(stats(self.cluster.service_port)["status"],
                         {"503": 1, "200": 1})


    def test_a_retry_moves_only_the_output_key_not_the_args(self):
        # Job ids are predictable: a task's args may hold the text of its
        # own output key, which the retry must leave as it is.
        control(self.cluster.service_port,
                faults=[{"type": "service_error", "status": 503}])
        keys = ["results/j%d/0/1" % n for n in range(1, 200)]
        value = {"keys": keys, "pad": big_string(100 << 10, "k")}
        job_id, tasks = self.run_job({"name": "lambda-retry-args", "tasks": [
            {"id": "on_lambda", "fn": "const", "args": {"value": value},
             "executor": "lambda"}]})
        self.assertIn("results/%s/0/1" % job_id, keys)
        self.assertStoredAt(job_id, tasks, "on_lambda", 0, suffix="/try1")
        self.assertEqual(self.cluster.result(job_id, "on_lambda"), value)

    def test_an_answer_larger_than_lambda_sends_fails_the_attempt(self):
        control(self.cluster.service_port,
                faults=[{"type": "flood", "bytes": 16 << 20}])
        job_id, code = self.cluster.run_job({"name": "lambda-flood", "tasks": [
            {"id": "on_lambda", "fn": "const", "args": {"value": 1},
             "executor": "lambda"}]}, timeout=120)
        self.assertNotEqual(code, 0)
        task = self.cluster.tasks(job_id)["on_lambda"]
        self.assertEqual(task["state"], "TASK_FAILED", task)
        self.assertIn("Lambda's answer is over", json.dumps(task))


class LambdaCancelTest(ClusterTest):
    def test_the_output_of_a_cancelled_invocation_is_deleted(self):
        # Cancelled while it runs (it starts 2 s late): dagd waits for its
        # answer, and deletes the output it stored, which nobody will read.
        port = self.cluster.service_port
        control(port, faults=[{"type": "slow", "delay_ms": 2000}])
        path = os.path.join(self.cluster.tmp, "cancelled.json")
        with open(path, "w") as f:
            json.dump({"name": "cancelled", "tasks": [
                {"id": "on_lambda", "fn": "const",
                 "args": {"value": big_string(100 << 10, "c")},
                 "executor": "lambda"}]}, f)
        job_id = self.cluster.dagctl("submit", path).stdout.split()[0]
        wait_for(lambda: stats(port)["in_flight"] == 1, 30,
                 "the invocation to start")
        self.cluster.dagctl("cancel", job_id)
        wait_for(lambda: stats(port)["in_flight"] == 0, 30,
                 "the invocation to end")
        self.assertEqual(stats(port)["status"], {"200": 1})
        prefix = "%sresults/%s/" % (PREFIX, job_id)
        wait_for(lambda: not self.s3.keys(prefix), 30,
                 "the cancelled call's output to be deleted")


class LambdaCrashTest(ClusterTest):
    def test_an_invocation_a_crash_lost_writes_apart_from_its_rerun(self):
        # The first invocation starts 3 s late; dagd is killed meanwhile, and
        # the restarted dagd invokes the attempt again under the same number
        # (it had not stored it). Both write the output: under one key, the
        # lost invocation's late write replaced the one dagd recorded.
        port = self.cluster.service_port
        control(port, faults=[{"type": "slow", "delay_ms": 3000}])
        value = big_string(100 << 10, "z")
        path = os.path.join(self.cluster.tmp, "lost.json")
        with open(path, "w") as f:
            json.dump({"name": "lost", "tasks": [
                {"id": "on_lambda", "fn": "const", "args": {"value": value},
                 "executor": "lambda"}]}, f)
        job_id = self.cluster.dagctl("submit", path).stdout.split()[0]
        wait_for(lambda: stats(port)["in_flight"] == 1, 30,
                 "the first invocation to start")
        self.cluster.crash_dagd()
        r = self.cluster.dagctl("watch", job_id, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for(lambda: stats(port)["in_flight"] == 0, 30,
                 "the lost invocation to end")
        self.assertEqual(stats(port)["invocations"], 2)
        written = self.s3.keys("%sresults/%s/0/1" % (PREFIX, job_id))
        self.assertEqual(len(written), 2, written)
        self.assertStoredAt(job_id, self.cluster.tasks(job_id), "on_lambda", 0)
        self.assertEqual(self.cluster.result(job_id, "on_lambda"), value)


class OversizeInvocationTest(ClusterTest):
    # Worker results stay inline up to 8 MiB: a 7 MB input makes the
    # invocation too large for Lambda.
    INLINE_MAX = 8 << 20

    def test_inputs_over_lambdas_limit_go_through_s3_for_the_call(self):
        value = big_string(7 << 20, "o")
        job_id, tasks = self.run_job({"name": "oversize", "tasks": [
            {"id": "make", "fn": "const", "args": {"value": value}},
            {"id": "on_lambda", "fn": "identity", "inputs": ["make"],
             "executor": "lambda"}]})
        self.assertEqual(tasks["make"]["result"]["location"], "inline")
        self.assertStoredAt(job_id, tasks, "on_lambda", 1)
        self.assertEqual(self.cluster.result(job_id, "on_lambda"), value)
        recent = stats(self.cluster.service_port)["recent"]
        self.assertEqual(len(recent), 1, recent)
        self.assertLess(recent[0]["payload_bytes"], 64 << 10, recent)
        # The input went up for the one call and is gone after it.
        wait_for(lambda: not self.s3.keys(PREFIX + "inputs/"), 30,
                 "the call's input object to be deleted")


if __name__ == "__main__":
    dagd_lambda_test.main()
