"""The jobs page is live: a job submitted while the page is open appears
in the table, and its row reaches 100% and SUCCEEDED, with no reload (a
marker set on the page's window before the submission is still there at
the end, which a reload would have wiped). Also: the state filter shows
only jobs in that state, the workers page lists each worker with its
slots, and the API answers bad input with a 4xx JSON error naming the
field."""

import unittest

from selenium.webdriver.common.by import By

from dashboard_lib import DashboardTest, screenshot, wait_for


class JobsPageTest(DashboardTest):

    def test_submitted_job_appears_and_succeeds_without_reload(self):
        self.open("/")
        wait_for(lambda: self.js("return window.dagdTimings.jobs"), 10,
                 "the jobs table's first paint")
        self.js("window.notReloaded = true;")
        # Long enough that the page sees it running first: 40 tasks of
        # 150 ms on 4 slots.
        tasks = [{"id": "t%d" % i, "fn": "sleep", "args": {"ms": 150}}
                 for i in range(40)]
        job_id = self.dagd.submit({"name": "live-job", "tasks": tasks})
        row = '#jobs tr[data-job="%s"]' % job_id
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, row), 10,
                 "the new job's row")
        seen = set()

        def succeeded():
            state = self.js(
                "const r = document.querySelector(arguments[0]);"
                "return r && r.dataset.state + ' ' + "
                "r.querySelector('[data-progress]').dataset.progress;", row)
            seen.add(state)
            return state == "SUCCEEDED 100"

        try:
            wait_for(succeeded, 60, "the job's row to show SUCCEEDED at 100%")
        except AssertionError as e:
            raise AssertionError("%s; the row showed %s" % (e, seen))
        screenshot(self.browser, "jobs-page")
        self.assertTrue(self.js("return window.notReloaded === true"),
                        "the page reloaded")
        # It went through a state before the end, seen live.
        self.assertTrue(any(not s.startswith("SUCCEEDED") for s in seen if s),
                        "the row never showed the job unfinished: %s" % seen)

    def test_state_filter_shows_only_that_state(self):
        ok = self.dagd.submit({"name": "fine", "tasks": [
            {"id": "a", "fn": "const", "args": {"value": 1}}]})
        bad = self.dagd.submit({"name": "broken", "tasks": [
            {"id": "a", "fn": "fail", "args": {"message": "no"}}]})
        self.dagd.wait_job(ok)
        self.dagd.wait_job(bad)
        self.open("/?state=FAILED")

        def rows():
            return self.js("return [...document.querySelectorAll('#jobs tr')]"
                           ".map(r => r.dataset.job + ':' + r.dataset.state)")

        shown = wait_for(lambda: bad + ":FAILED" in rows() and rows(), 10,
                         "the failed job under the FAILED filter")
        self.assertNotIn(ok + ":SUCCEEDED", shown)
        self.assertTrue(all(r.endswith(":FAILED") for r in shown), shown)

    def test_workers_page_lists_each_worker_with_its_slots(self):
        self.open("/workers")
        def rows():
            found = self.js("return [...document.querySelectorAll("
                            "'#workers tr')].map(r => r.textContent)")
            return found if len(found) == 2 else None

        rows = wait_for(rows, 10, "two worker rows")
        for name in ("local-1", "local-2"):
            self.assertTrue(any(name in row and "/ 2" in row for row in rows),
                            rows)
        screenshot(self.browser, "workers-page")

    def test_workers_page_shows_each_workers_tasks_per_second(self):
        self.open("/workers")
        self.dagd.submit({"name": "rate", "tasks": [
            {"id": "s%d" % i, "fn": "sleep", "args": {"ms": 100}}
            for i in range(100)]})

        def busy_rate():
            rates = self.js("return [...document.querySelectorAll("
                            "'#workers td.tasks-rate')].map(c => c.textContent)")
            numbers = [float(r) for r in rates if r not in ("", "-")]
            return numbers if numbers and max(numbers) > 0 else None

        rates = wait_for(busy_rate, 20, "a worker's tasks per second")
        # Two workers of 2 slots running 100 ms tasks: at most 40 a second.
        self.assertLessEqual(max(rates), 40.0 * 1.5, rates)

    def test_bad_input_gets_a_4xx_naming_the_field(self):
        cases = [
            ("/api/jobs/j999999", "GET", 404, "job_id"),
            ("/api/jobs/not-a-job/tasks", "GET", 404, "job_id"),
            ("/api/jobs?page_token=zz", "GET", 400, "page_token"),
            ("/api/jobs?state=SLEEPING", "GET", 400, "state"),
            ("/api/jobs?page_size=0", "GET", 400, "page_size"),
            ("/api/jobs?colour=red", "GET", 400, "colour"),
            ("/api/jobs/j1/tasks?page_token=-3", "GET", 400, "page_token"),
            ("/api/jobs/j1/tasks?state=DONE", "GET", 400, "state"),
            ("/api/jobs/j999999/events", "GET", 404, "job_id"),
            ("/api/jobs/j1/cancel", "GET", 405, "method"),
            ("/api/jobs/j1/cancel", "POST", 403, "X-Requested-By"),
        ]
        self.dagd.wait_job(self.dagd.submit({"name": "one", "tasks": [
            {"id": "a", "fn": "const", "args": {"value": 1}}]}))
        for path, method, code, field in cases:
            with self.subTest(path=path):
                got, body = self.dagd.get_error(path, method)
                self.assertEqual(got, code, body)
                self.assertEqual(body["error"]["field"], field, body)
                self.assertTrue(body["error"]["message"], body)
        self.dagd.check_alive()


if __name__ == "__main__":
    unittest.main()
