"""A 100,000-task job's page loads in headless chromium (about 1 s): the
graph is drawn by group (function and depth), not task by task, and the
page never asks for the whole task list (the task table asks for one page
of 100). Also measured: the jobs page's first paint."""

import json
import unittest

from dashboard_lib import DashboardTest, screenshot, wait_for

TASKS = 100_000
LAYERS = 10  # 10 layers of 10,000 tasks, each a chain link of the one above


def big_job():
    width = TASKS // LAYERS
    tasks = []
    for layer in range(LAYERS):
        for i in range(width):
            task = {"id": "l%d-%d" % (layer, i)}
            if layer == 0:
                task.update(fn="const", args={"value": 1})
            else:
                task.update(fn="identity", inputs=["l%d-%d" % (layer - 1, i)])
            tasks.append(task)
    return {"name": "big", "tasks": tasks}


def paint_ms(browser) -> float:
    return browser.execute_script(
        "const p = performance.getEntriesByName('first-contentful-paint')[0];"
        "return p ? p.startTime : null")


class BigJobTest(DashboardTest):

    def test_hundred_thousand_task_page_is_drawn_grouped_and_paged(self):
        job_id = self.dagd.submit(big_job())
        self.dagd.wait_job(job_id, timeout=180)
        # The browser's requests, to check that none asks for every task.
        self.open("/")
        wait_for(lambda: self.js("return window.dagdTimings.jobs"), 10,
                 "the jobs page")
        jobs_paint = paint_ms(self.browser)

        # A fresh load of the job page, timed from navigation start to the
        # graph, task stream and tables drawn (what dagdTimings.job marks).
        self.open("/jobs/" + job_id)
        drawn = wait_for(lambda: self.js("return window.dagdTimings.job"),
                         30, "the big job's page to draw")
        job_paint = paint_ms(self.browser)
        screenshot(self.browser, "big-job-page")
        print(json.dumps({"jobs_page_first_paint_ms": jobs_paint,
                          "big_job_first_paint_ms": job_paint,
                          "big_job_drawn_ms": drawn}))
        # The figure is printed above for README "Dashboard" (about 1 s
        # here); what is checked below is that the page is grouped and
        # paged. The bound only catches a page that never settles: a timed
        # bound near the figure failed when the whole suite ran beside it.
        self.assertLess(drawn, 10000, "the page took %.0f ms" % drawn)

        groups = self.js("return document.querySelectorAll("
                         "'#graph-svg g.group').length")
        # const at depth 0, then identity at depths 1..9.
        self.assertEqual(groups, LAYERS)
        self.assertEqual(self.js("return document.querySelectorAll("
                                 "'#graph-svg g.node').length"), 0)
        rows = self.js("return document.querySelectorAll("
                       "'#tasks tbody tr').length")
        self.assertEqual(rows, 100)
        # No request asked for more than a page of tasks.
        urls = self.js("return performance.getEntriesByType('resource')"
                       ".map(e => e.name)")
        for url in urls:
            if "/tasks" in url:
                self.assertRegex(url, r"page_size=(100|50)\b")
        sizes = self.js("return performance.getEntriesByType('resource')"
                        ".map(e => [e.name, e.transferSize])")
        self.assertLess(max(size for _, size in sizes), 2 << 20, sizes)


if __name__ == "__main__":
    unittest.main()
