"""What the dashboard's browser tests share: a real dagd with local workers
on 127.0.0.1 ports it picks, jobs submitted with dagctl, and a headless
Debian chromium driven by chromium-driver through python3-selenium.

ctest runs each test file with /usr/bin/python3 (Debian's, which has
selenium) and sets DAGD_BIN, DAGCTL_BIN and DAGD_ARTIFACTS (where the
screenshots go: build/test-artifacts/dashboard/). Waits are on conditions
with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional

# Known to work headless as root in a container, with no network beyond
# loopback and nothing written outside the fresh profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
]


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Polls condition() until it returns something true; AssertionError
    naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" %
                                 (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def env_path(name: str) -> str:
    path = os.environ.get(name)
    if not path:
        raise unittest.SkipTest("%s is not set (run through ctest)" % name)
    return path


def token_hash(token: str) -> str:
    """What a tokens file lists for `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


class Dagd:
    """dagd with --local_workers, its HTTP port (dashboard) and gRPC port
    read from its log and port file; stopped with SIGTERM, then SIGKILL.

    `tokens` ({token: "TENANT ROLE [NAME]"}) become its --tokens_file, and
    `token` is what get(), get_error() and submit() present. `tls` (a
    (cert, key, ca) of PEM paths) serves both ports over TLS only."""

    def __init__(self, *flags: str, workers: int = 2, slots: int = 2,
                 tokens: Optional[Dict[str, str]] = None,
                 token: Optional[str] = None,
                 tls: Optional[tuple] = None):
        self.tmp = tempfile.mkdtemp(prefix="dagd-dashboard-test-")
        self.token = token
        self.tls = tls
        self.ssl = ssl.create_default_context(cafile=tls[2]) if tls else None
        flags = list(flags)
        if tokens:
            path = os.path.join(self.tmp, "tokens")
            with open(path, "w") as f:
                for secret, who in tokens.items():
                    f.write("%s %s\n" % (token_hash(secret), who))
            flags.append("--tokens_file=" + path)
        if tls:
            flags += ["--tls_cert=" + tls[0], "--tls_key=" + tls[1]]
        self.log_path = os.path.join(self.tmp, "dagd.log")
        port_file = os.path.join(self.tmp, "dagd.port")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [env_path("DAGD_BIN"), "--listen=127.0.0.1:0",
                 "--port_file=" + port_file,
                 "--metrics_listen=127.0.0.1:0",
                 "--data_dir=" + os.path.join(self.tmp, "data"),
                 "--local_workers=%d" % workers,
                 "--local_worker_slots=%d" % slots, *flags],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.tmp)

        def ports() -> Optional[bool]:
            self.check_alive()
            try:
                with open(port_file) as f:
                    grpc_port = f.read().strip()
            except FileNotFoundError:
                return None
            match = re.search(r"metrics and /healthz on port (\d+)", self.log())
            if not grpc_port or not match:
                return None
            self.address = "127.0.0.1:" + grpc_port
            self.url = ("https" if tls else "http") + "://127.0.0.1:" + \
                match.group(1)
            return True

        wait_for(ports, 30, "dagd's ports")
        wait_for(lambda: len(self.get("/api/workers")["workers"]) >= workers,
                 30, "%d local workers" % workers)

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError("dagd exited with %s:\n%s" %
                                 (self.proc.returncode, self.log()[-4000:]))

    def request(self, path: str, method: str = "GET",
                token: Optional[str] = None) -> urllib.request.Request:
        """A request of `path` with `token` (else the default one)."""
        request = urllib.request.Request(self.url + path, method=method)
        token = token or self.token
        if token:
            request.add_header("Authorization", "Bearer " + token)
        return request

    def get(self, path: str, token: Optional[str] = None) -> Dict[str, Any]:
        with urllib.request.urlopen(self.request(path, token=token),
                                    timeout=30, context=self.ssl) as r:
            return json.loads(r.read())

    def get_error(self, path: str, method: str = "GET",
                  token: Optional[str] = None):
        """(HTTP code, JSON body) of a request that must fail."""
        request = self.request(path, method, token)
        try:
            with urllib.request.urlopen(request, timeout=30,
                                        context=self.ssl) as r:
                raise AssertionError("%s answered %d, not an error" %
                                     (path, r.status))
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def submit(self, spec: Dict[str, Any],
               token: Optional[str] = None) -> str:
        """Submits a job (the JSON job file format) with dagctl, as `token`
        (else the default one); its id."""
        path = os.path.join(self.tmp, "job-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump(spec, f)
        flags = []
        if token or self.token:
            flags.append("--token=" + (token or self.token))
        if self.tls:
            flags.append("--tls_ca=" + self.tls[2])
        out = subprocess.run(
            [env_path("DAGCTL_BIN"), "--server=" + self.address, *flags,
             "submit", path], check=True, capture_output=True, text=True,
            timeout=120)
        return out.stdout.strip().splitlines()[-1]

    def wait_job(self, job_id: str, timeout: float = 120) -> Dict[str, Any]:
        def final():
            job = self.get("/api/jobs/" + job_id)
            return job if job["state"] in ("SUCCEEDED", "FAILED",
                                           "CANCELLED") else None
        return wait_for(final, timeout, "job %s to finish" % job_id)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_browser():
    """A headless chromium on a fresh profile, through chromium-driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="dagd-chromium-")
    options.add_argument("--user-data-dir=" + profile)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    driver.dagd_profile = profile
    return driver


def stop_browser(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.dagd_profile, ignore_errors=True)


def screenshot(driver, name: str) -> str:
    """Saves the page as DAGD_ARTIFACTS/NAME.png; the path."""
    folder = os.environ.get("DAGD_ARTIFACTS") or tempfile.gettempdir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".png")
    driver.save_screenshot(path)
    return path


def confirm_cancel(browser, dagd: "Dagd", job_id: str) -> str:
    """After a click on the cancel button: accepts the confirmation, waits
    for the page to show CANCELLED, and returns the state the API gives."""
    from selenium.common.exceptions import NoAlertPresentException

    def confirm_box():
        try:
            return browser.switch_to.alert
        except NoAlertPresentException:
            return None

    wait_for(confirm_box, 10, "the confirmation").accept()
    wait_for(lambda: browser.execute_script(
        "const s = document.getElementById('job-state');"
        "return s && s.textContent === 'CANCELLED'"), 20,
        "the page to show CANCELLED")
    return dagd.get("/api/jobs/" + job_id)["state"]


def chain_job(name: str, tasks: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"name": name, "tasks": tasks}


class DashboardTest(unittest.TestCase):
    """One dagd and one browser per test class."""

    dagd_flags: List[str] = []
    workers = 2

    @classmethod
    def setUpClass(cls) -> None:
        cls.dagd = Dagd(*cls.dagd_flags, workers=cls.workers)
        try:
            cls.browser = start_browser()
        except BaseException:
            cls.dagd.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            stop_browser(cls.browser)
        finally:
            cls.dagd.stop()

    def open(self, fragment: str) -> None:
        """Loads the page afresh: going from one #fragment to another
        would only change the route, keeping the last page's timings."""
        self.browser.get("about:blank")
        self.browser.get(self.dagd.url + "/#" + fragment)

    def js(self, script: str, *args: Any) -> Any:
        return self.browser.execute_script(script, *args)
