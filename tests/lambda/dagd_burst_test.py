"""dagd bursting to Lambda when its workers are full, end to end, with the
harness of dagd_lambda_test.py: the test Lambda service running the real
dagd-worker as the function (--lambda_function=dagd), a dagd dispatching to
it, one long-running dagd-worker with a single slot, and dagctl.

A `sleep` task (the hog) takes the worker's only slot; then a job of plain
tasks (no executor, labels or amounts; `const` and `add`, so their results
can be checked) is submitted. The hog sleeps 10 s where the tasks should
burst (it is cancelled once they have), 1.2 s where they should wait:

  with --lambda_burst     each of them, once it has waited
                          --lambda_burst_after (200ms) with the worker full,
                          runs on Lambda: its attempt is the dispatcher's
                          (`lambda`), the service counts the invocations,
                          the results are right, and the hog still holds
                          the worker
  the same, with tasks    tasks with an executor ("pool:default"), labels or
  that need a worker      amounts wait for the worker although a plain task
                          of the same job, ready as long, burst
  without --lambda_burst  (still --lambda_burst_after=200ms) they wait for
                          the worker, well past 200ms, and run there; the
                          service sees no invocation

    python3 -B tests/lambda/dagd_burst_test.py --dagd=build/bin/dagd \
        --worker=build/bin/dagd-worker --dagctl=build/bin/dagctl [-v]
    ctest -R lambda.burst --output-on-failure   (from the build directory)

Everything listens on 127.0.0.1 on ports it picks; waits are on conditions
with deadlines, never fixed sleeps.
"""

import functools
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dagd_lambda_test  # noqa: E402
import lambda_service  # noqa: E402
from dagd_lambda_test import (  # noqa: E402
    FUNCTION, WORKER_NAME, LambdaCluster, clean_env, parse_time)
from testlib import stats, wait_for  # noqa: E402

BURST_AFTER_FLAG = "--lambda_burst_after=200ms"
BURST_AFTER_S = 0.2
# What the dispatcher's attempts name as their worker.
LAMBDA_WORKER = "lambda"
# Timestamps of dagd (assigned_at) and of the worker or function
# (finished_at) come from different processes on this host.
CLOCK_SLACK_S = 0.01

# Plain tasks, any worker could run them: four roots, then two tasks each
# waiting for the one before (their inputs pass through Lambda).
PLAIN_JOB = {"name": "plain", "tasks": [
    *({"id": "p%d" % i, "fn": "const", "args": {"value": i + 1}}
      for i in range(4)),
    {"id": "sum", "fn": "add", "inputs": ["p%d" % i for i in range(4)],
     "args": {"value": 1}},
    {"id": "total", "fn": "add", "inputs": ["sum"], "args": {"value": 100}}]}
PLAIN_RESULTS = {"p0": 1, "p1": 2, "p2": 3, "p3": 4, "sum": 11, "total": 111}


class BurstCluster(LambdaCluster):
    """A LambdaCluster (keys in the environment) whose dagd also gets
    `dagd_flags`, and whose worker has one slot and `worker_flags`."""

    def __init__(self, dagd_flags, worker_flags=()):
        self.worker_flags = ["--slots=1", *worker_flags]
        super().__init__(clean_env(
            AWS_ACCESS_KEY_ID=lambda_service.TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=lambda_service.TEST_SECRET),
            dagd_args=dagd_flags)

    def _start(self, *args):
        # LambdaCluster's worker command line is fixed: ours go at its end
        # (the last of a repeated flag wins, so its --slots=4 goes).
        start = self.procs.start

        def start_with_flags(name, argv, env=None, log_name=None):
            if name == "worker":
                argv = argv + self.worker_flags
            return start(name, argv, env, log_name)

        self.procs.start = start_with_flags
        super()._start(*args)

    def submit(self, job):
        """Submits `job` without waiting; its id."""
        path = os.path.join(self.tmp, "%s.json" % job["name"])
        with open(path, "w") as f:
            json.dump(job, f)
        return self.dagctl("submit", path).stdout.strip()

    def job(self, job_id):
        """The JobStatus as proto3 JSON."""
        return json.loads(self.dagctl("-o", "json", "status", job_id).stdout)

    def workers(self):
        """{name: WorkerInfo as proto3 JSON}."""
        out = self.dagctl("-o", "json", "workers").stdout
        return {w["name"]: w for line in out.splitlines() if line
                for w in json.loads(line).get("workers", [])}


def dump_logs_on_failure(test):
    """Shows what dagd, the worker and the service logged if `test` fails."""
    @functools.wraps(test)
    def run(self):
        try:
            test(self)
        except BaseException:
            self.cluster.procs.dump()
            raise
    return run


class BurstTestBase(unittest.TestCase):
    """One cluster per class (dagd's flags from DAGD_FLAGS); each test
    starts with the service's stats reset and the worker idle."""

    DAGD_FLAGS = ()
    WORKER_FLAGS = ()

    @classmethod
    def setUpClass(cls):
        cls.cluster = BurstCluster(cls.DAGD_FLAGS, cls.WORKER_FLAGS)
        cls.port = cls.cluster.service_port

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    # Borrowed, not inherited (with DagdLambdaTest's tests and fixture):
    # setUp waits for no invocation in flight and resets the service's
    # stats; run_job submits, waits, checks the exit code and returns (job
    # id, tasks). (Not imported by name: unittest would run its tests here.)
    _harness = dagd_lambda_test.DagdLambdaTest
    setUp = _harness.setUp
    run_job = _harness.run_job
    assertAttempts = _harness.assertAttempts

    def tearDown(self):
        # A hog still running is cancelled, so that the next test (or the
        # worker's drain at the end) does not wait for it.
        for job_id in getattr(self, "hogs", []):
            self.cluster.dagctl("cancel", job_id, check=False)
        wait_for(lambda: self.worker().get("busySlots", 0) == 0, 30,
                 "the worker to be idle")

    def worker(self):
        return self.cluster.workers()[WORKER_NAME]

    def task(self, job_id, task_id):
        return self.cluster.tasks(job_id)[task_id]

    def occupy_worker(self, ms):
        """Submits a job whose one `sleep` task (the hog) takes the worker's
        only slot for `ms`; its id, once the worker has it."""
        job_id = self.cluster.submit({"name": "hog", "tasks": [
            {"id": "hog", "fn": "sleep", "args": {"ms": ms}}]})
        self.hogs = getattr(self, "hogs", []) + [job_id]

        def running():
            self.cluster.procs.check_alive()
            hog = self.task(job_id, "hog")
            return hog["state"] == "TASK_RUNNING" and hog
        hog = wait_for(running, 30, "the worker to run the hog")
        self.assertEqual(hog["worker"], WORKER_NAME, hog)
        worker = self.worker()
        self.assertEqual(worker["slots"], 1, worker)
        self.assertEqual(worker.get("busySlots"), 1, worker)
        return job_id

    def assertResults(self, job_id, tasks, want):
        self.assertEqual(sorted(tasks), sorted(want))
        for task_id, value in want.items():
            self.assertEqual(tasks[task_id]["state"], "TASK_SUCCEEDED",
                             tasks[task_id])
            self.assertEqual(self.cluster.result(job_id, task_id), value)

    def assertRanOn(self, tasks, worker):
        for task in tasks.values():
            self.assertAttempts(task, 1)
            self.assertEqual(task["attempts"][0]["worker"], worker, task)
            self.assertEqual(task["worker"], worker, task)


class BurstTest(BurstTestBase):
    """--lambda_burst --lambda_burst_after=200ms; the worker also has a label
    and an amount, for the tasks that must not burst."""

    DAGD_FLAGS = ("--lambda_burst", BURST_AFTER_FLAG)
    WORKER_FLAGS = ("--labels=zone=a", "--resources=mem=4")

    @dump_logs_on_failure
    def test_plain_tasks_burst_to_lambda_while_the_worker_is_full(self):
        hog_job = self.occupy_worker(10000)
        job_id, tasks = self.run_job(PLAIN_JOB, 0)
        self.assertResults(job_id, tasks, PLAIN_RESULTS)
        self.assertRanOn(tasks, LAMBDA_WORKER)
        # The worker was full all along: the hog still has it.
        hog = self.task(hog_job, "hog")
        self.assertEqual(hog["state"], "TASK_RUNNING", hog)
        self.assertAttempts(hog, 1)
        # Each went to Lambda only after --lambda_burst_after from when it
        # was ready; its job's submission and its inputs' end come no later.
        submitted = parse_time(self.cluster.job(job_id)["submittedAt"])
        for task in tasks.values():
            ready = max([submitted] + [
                parse_time(tasks[i]["attempts"][0]["finishedAt"])
                for i in task.get("inputs", [])])
            waited = (parse_time(task["attempts"][0]["assignedAt"]) -
                      ready).total_seconds()
            self.assertGreaterEqual(waited, BURST_AFTER_S - CLOCK_SLACK_S,
                                    task)
        s = stats(self.port)
        self.assertEqual(s["invocations"], len(PLAIN_RESULTS), s)
        self.assertEqual(s["status"], {"200": len(PLAIN_RESULTS)}, s)
        self.assertEqual(s["signature_failures"], 0, s)
        self.assertEqual({r["function"] for r in s["recent"]}, {FUNCTION}, s)

    @dump_logs_on_failure
    def test_tasks_needing_a_worker_do_not_burst(self):
        hog_job = self.occupy_worker(10000)
        job_id = self.cluster.submit({"name": "constrained", "tasks": [
            {"id": "plain", "fn": "const", "args": {"value": 1}},
            {"id": "pooled", "fn": "const", "args": {"value": 2},
             "executor": "pool:default"},
            {"id": "labelled", "fn": "const", "args": {"value": 3},
             "resources": {"labels": {"zone": "a"}}},
            {"id": "sized", "fn": "const", "args": {"value": 4},
             "resources": {"amounts": {"mem": 1}}}]})
        # The plain task bursts once it has waited 200ms; the others were
        # ready as long, in the same job, and still wait.
        wait_for(lambda: self.task(job_id, "plain")["state"] ==
                 "TASK_SUCCEEDED", 30, "the plain task to burst")
        tasks = self.cluster.tasks(job_id)
        self.assertRanOn({"plain": tasks["plain"]}, LAMBDA_WORKER)
        for task_id in ("pooled", "labelled", "sized"):
            self.assertEqual(tasks[task_id]["state"], "TASK_READY",
                             tasks[task_id])
            self.assertEqual(tasks[task_id].get("attempts", []), [],
                             tasks[task_id])
        # The worker freed, they run there.
        self.cluster.dagctl("cancel", hog_job)
        wait_for(lambda: self.cluster.job(job_id)["state"] not in
                 ("JOB_PENDING", "JOB_RUNNING"), 30, "the constrained job")
        tasks = self.cluster.tasks(job_id)
        self.assertResults(job_id, tasks, {"plain": 1, "pooled": 2,
                                           "labelled": 3, "sized": 4})
        self.assertRanOn({"plain": tasks.pop("plain")}, LAMBDA_WORKER)
        self.assertRanOn(tasks, WORKER_NAME)
        s = stats(self.port)
        self.assertEqual(s["invocations"], 1, s)


class NoBurstTest(BurstTestBase):
    """--lambda_burst_after=200ms without --lambda_burst: no burst."""

    DAGD_FLAGS = (BURST_AFTER_FLAG,)

    @dump_logs_on_failure
    def test_without_burst_plain_tasks_wait_for_the_worker(self):
        hog_job = self.occupy_worker(1200)
        job_id, tasks = self.run_job(PLAIN_JOB, 0)
        self.assertResults(job_id, tasks, PLAIN_RESULTS)
        self.assertRanOn(tasks, WORKER_NAME)
        hog = self.task(hog_job, "hog")
        self.assertEqual(hog["state"], "TASK_SUCCEEDED", hog)
        # They waited with the worker full, long enough to have burst, and
        # started only once the hog had left it.
        hog_end = parse_time(hog["attempts"][0]["finishedAt"])
        submitted = parse_time(self.cluster.job(job_id)["submittedAt"])
        self.assertGreaterEqual((hog_end - submitted).total_seconds(),
                                2 * BURST_AFTER_S)
        for task in tasks.values():
            assigned = parse_time(task["attempts"][0]["assignedAt"])
            self.assertGreaterEqual(
                (assigned - hog_end).total_seconds(), -CLOCK_SLACK_S, task)
        s = stats(self.port)
        self.assertEqual(s["invocations"], 0, s)


if __name__ == "__main__":
    dagd_lambda_test.main()
