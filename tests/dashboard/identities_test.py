"""The dashboard behind dagd's identities (--tokens_file): a page without a
token shows the token form, and a token typed into it (kept in the
dagd_token cookie) signs the page in; a read-only identity sees its
tenant's jobs with a tenant column but no cancel button, and neither lists
nor opens another tenant's job (the API answers it exactly as an unknown
job); a submitter sees the button and cancels; the API without a token is
a 401 with a JSON error while the page's files, /healthz and /metrics stay
open."""

import unittest
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By

from dashboard_lib import (Dagd, confirm_cancel, screenshot, start_browser,
                           stop_browser, wait_for)

TOKENS = {
    "alpha-read-token": "alpha read reader",
    "alpha-submit-token": "alpha submit ci",
    "beta-submit-token": "beta submit beta-ci",
    "ops-admin-token": "ops admin ops",
}


def long_job(name):
    # One worker slot: these run one after another for a minute, so the
    # job is unfinished for as long as the test looks at it.
    return {"name": name, "tasks": [
        {"id": "t%d" % i, "fn": "sleep", "args": {"ms": 3000}}
        for i in range(20)]}


class IdentitiesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dagd = Dagd(workers=1, slots=1, tokens=TOKENS,
                        token="ops-admin-token")
        try:
            cls.browser = start_browser()
        except BaseException:
            cls.dagd.stop()
            raise
        cls.beta_job = cls.dagd.submit(long_job("beta-job"),
                                       token="beta-submit-token")

    @classmethod
    def tearDownClass(cls):
        try:
            stop_browser(cls.browser)
        finally:
            cls.dagd.stop()

    def js(self, script, *args):
        return self.browser.execute_script(script, *args)

    def sign_in(self, token):
        """Signs out, then in with `token` through the page's form."""
        self.browser.get("about:blank")
        self.browser.get(self.dagd.url + "/")
        self.browser.delete_all_cookies()
        self.browser.get(self.dagd.url + "/#/")
        form = wait_for(lambda: self.browser.find_elements(By.ID, "token-input"),
                        10, "the token form")[0]
        form.send_keys(token)
        self.browser.find_element(By.ID, "token-submit").click()
        return wait_for(lambda: self.js(
            "const w = document.getElementById('whoami-text');"
            "return w && w.textContent"), 10, "the signed-in page")

    def open(self, fragment):
        self.browser.get("about:blank")
        self.browser.get(self.dagd.url + "/#" + fragment)

    def shown_cancel(self):
        return [b for b in self.browser.find_elements(By.ID, "cancel")
                if b.is_displayed()]

    def test_token_form_signs_in_and_a_reader_may_only_look(self):
        alpha_job = self.dagd.submit(long_job("alpha-job"),
                                     token="alpha-submit-token")
        # No cookie yet: the form, not a page.
        self.browser.get("about:blank")
        self.browser.get(self.dagd.url + "/")
        self.browser.delete_all_cookies()
        self.browser.get(self.dagd.url + "/#/")
        wait_for(lambda: self.browser.find_elements(By.ID, "token-form"), 10,
                 "the token form")
        screenshot(self.browser, "token-form")
        # An unknown token: the form again, saying why.
        self.browser.find_element(By.ID, "token-input").send_keys("nope")
        self.browser.find_element(By.ID, "token-submit").click()
        why = wait_for(lambda: self.js(
            "const w = document.getElementById('token-why');"
            "return w && w.textContent"), 10, "the form saying why")
        self.assertIn("unknown token", why)

        who = self.sign_in("alpha-read-token")
        self.assertIn("alpha", who)
        self.assertIn("read", who)
        cookie = self.browser.get_cookie("dagd_token")
        self.assertEqual(cookie["value"], "alpha-read-token")
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertEqual(cookie["path"], "/")

        # The jobs list: its tenant's job, with a tenant column; not beta's.
        row = '#jobs tr[data-job="%s"]' % alpha_job
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, row), 10,
                 "the tenant's job in the list")
        listed = self.js("return [...document.querySelectorAll('#jobs tr')]"
                         ".map(r => r.dataset.job)")
        self.assertNotIn(self.beta_job, listed)
        self.assertEqual(self.js(
            "return document.querySelector(arguments[0] + "
            "' td[data-tenant]').textContent", row), "alpha")
        self.assertIn("Tenant", self.js(
            "return document.querySelector('thead').textContent"))
        screenshot(self.browser, "jobs-page-reader")

        # Its job's page, unfinished, has no cancel button for a reader.
        self.open("/jobs/" + alpha_job)
        wait_for(lambda: self.js("return window.dagdTimings.job"), 20,
                 "the job page to draw")
        state = self.js("return document.getElementById('job-state')"
                        ".textContent")
        self.assertIn(state, ("PENDING", "RUNNING"))
        self.assertEqual(self.shown_cancel(), [])
        screenshot(self.browser, "job-page-reader")

        # Another tenant's job cannot be opened: the page says it is not
        # there, as for a job that never was.
        self.open("/jobs/" + self.beta_job)
        error = wait_for(lambda: self.js(
            "const e = document.getElementById('job-error');"
            "return e && e.textContent"), 10, "the job page's error")
        self.assertIn("no job '%s'" % self.beta_job, error)
        self.assertNotIn("beta", error.replace(self.beta_job, ""))

    def test_a_submitter_sees_the_cancel_button_and_cancels(self):
        job_id = self.dagd.submit(long_job("to-cancel"),
                                  token="alpha-submit-token")
        self.assertIn("submit", self.sign_in("alpha-submit-token"))
        self.open("/jobs/" + job_id)
        button = wait_for(self.shown_cancel, 10, "the cancel button")[0]
        screenshot(self.browser, "job-page-submitter")
        button.click()
        self.assertEqual(confirm_cancel(self.browser, self.dagd, job_id),
                         "CANCELLED")

    def test_the_api_needs_a_token_and_scopes_by_tenant(self):
        self.dagd.token, saved = None, self.dagd.token
        try:
            code, body = self.dagd.get_error("/api/jobs")
        finally:
            self.dagd.token = saved
        self.assertEqual(code, 401)
        self.assertEqual(body["error"]["status"], "UNAUTHENTICATED")
        # The page's files, /healthz and /metrics need none.
        for path in ("/", "/app.js", "/healthz", "/metrics"):
            with urllib.request.urlopen(self.dagd.url + path, timeout=10) as r:
                self.assertEqual(r.status, 200, path)
                if path == "/metrics":
                    text = r.read().decode()
                    self.assertNotIn(self.beta_job + '"', text)
                    for tenant in ("alpha", "beta"):
                        self.assertNotIn(tenant, text)
        # Another tenant's job is exactly an unknown one.
        hidden = self.dagd.get_error("/api/jobs/" + self.beta_job,
                                     token="alpha-read-token")
        unknown = self.dagd.get_error("/api/jobs/j999999",
                                      token="alpha-read-token")
        self.assertEqual(hidden[0], 404)
        self.assertEqual(
            hidden[1]["error"],
            dict(unknown[1]["error"], message=unknown[1]["error"]["message"]
                 .replace("j999999", self.beta_job)))
        for what in ("/graph", "/tasks", "/events"):
            self.assertEqual(self.dagd.get_error(
                "/api/jobs/" + self.beta_job + what,
                token="alpha-read-token")[0], 404, what)
        # A reader's cancel: 403 naming the role; another tenant's: 404.
        request = self.dagd.request("/api/jobs/%s/cancel" % self.beta_job,
                                    "POST", "alpha-read-token")
        request.add_header("X-Requested-By", "dagd-dashboard")
        try:
            urllib.request.urlopen(request, timeout=10)
            self.fail("a reader cancelled")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
        # An admin sees every tenant's, with the tenant.
        jobs = self.dagd.get("/api/jobs")["jobs"]
        self.assertIn(("beta", self.beta_job),
                      [(j["tenant"], j["id"]) for j in jobs])
        self.assertEqual(self.dagd.get("/api/whoami"), {
            "identities": True, "name": "token ops", "tenant": "ops",
            "role": "admin"})
        self.dagd.check_alive()


if __name__ == "__main__":
    unittest.main()
