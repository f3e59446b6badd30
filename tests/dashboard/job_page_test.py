"""The job page of a small job draws its graph as one SVG node per task,
coloured by state, and its task stream as one bar per attempt (a flaky
task's failed first attempt is a bar marked failed); failed tasks are
listed with their errors; the cancel button cancels a running job."""

import unittest

from selenium.webdriver.common.by import By

from dashboard_lib import DashboardTest, confirm_cancel, screenshot, wait_for


class JobPageTest(DashboardTest):

    def test_graph_has_a_node_per_task_and_stream_a_bar_per_attempt(self):
        tasks = [{"id": "src", "fn": "const", "args": {"value": 1}}]
        for i in range(8):
            tasks.append({"id": "work%d" % i, "fn": "sleep", "inputs": ["src"],
                          "args": {"ms": 50 + 20 * i}})
        # Fails once, then succeeds: two attempts, the first failed.
        tasks.append({"id": "flaky", "fn": "flaky", "inputs": ["src"],
                      "args": {"failures": 1, "value": 2},
                      "retry": {"maxAttempts": 3, "initialBackoff": "0.05s"}})
        tasks.append({"id": "broken", "fn": "fail", "inputs": ["src"],
                      "args": {"message": "broken on purpose"}})
        tasks.append({"id": "sum", "fn": "add",
                      "inputs": ["work%d" % i for i in range(8)] + ["flaky"]})
        job_id = self.dagd.submit({"name": "small", "tasks": tasks,
                                   "continueOnFailure": True})
        self.dagd.wait_job(job_id)
        listed = self.dagd.get("/api/jobs/%s/tasks?page_size=1000" % job_id)
        attempts = sum(t["attempts"] for t in listed["tasks"])
        self.assertEqual(attempts, len(tasks) + 1)  # flaky ran twice

        self.open("/jobs/" + job_id)
        wait_for(lambda: self.js("return window.dagdTimings.job"), 20,
                 "the job page to draw")
        nodes = self.js("return [...document.querySelectorAll("
                        "'#graph-svg g.node')].map(n => n.dataset.task)")
        self.assertEqual(sorted(nodes), sorted(t["id"] for t in tasks))
        states = self.js("return Object.fromEntries([...document."
                         "querySelectorAll('#graph-svg g.node')].map("
                         "n => [n.dataset.task, n.dataset.state]))")
        self.assertEqual(states["broken"], "FAILED")
        self.assertEqual(states["sum"], "SUCCEEDED")

        bars = self.js("return [...document.querySelectorAll("
                       "'#stream-svg rect.bar')].map(b => "
                       "[b.dataset.task, b.dataset.attempt, "
                       "b.classList.contains('failed')])")
        self.assertEqual(len(bars), attempts)
        self.assertIn(["flaky", "1", True], bars)
        self.assertIn(["flaky", "2", False], bars)
        self.assertIn(["broken", "1", True], bars)

        # Read in one script: the table may be redrawn between two calls.
        failed = self.js("return document.getElementById('failed-tasks')"
                         ".textContent")
        self.assertIn("broken on purpose", failed)
        # A finished job has nothing to cancel.
        self.assertFalse(self.browser.find_element(By.ID, "cancel")
                         .is_displayed())
        screenshot(self.browser, "job-page")

    def test_cancel_button_cancels_a_running_job(self):
        # Trust is not built yet: every page shows the button; with Trust,
        # a read-only identity must not see it (see the README).
        job_id = self.dagd.submit({"name": "long", "tasks": [
            {"id": "t%d" % i, "fn": "sleep", "args": {"ms": 2000}}
            for i in range(20)]})
        self.open("/jobs/" + job_id)
        button = wait_for(
            lambda: [b for b in self.browser.find_elements(By.ID, "cancel")
                     if b.is_displayed()], 10, "the cancel button")[0]
        button.click()
        self.assertEqual(confirm_cancel(self.browser, self.dagd, job_id),
                         "CANCELLED")


if __name__ == "__main__":
    unittest.main()
