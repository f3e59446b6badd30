"""Fixtures of the Python tests: a real dagd and dagd-worker --python on
127.0.0.1 ports they pick, and the dagd package of this build.

ctest runs each test file with Debian's python3 and pytest, with
DAGD_BIN, DAGD_WORKER_BIN and PYTHONPATH (build/python and this folder,
so that workers import the tasks defined here) set by tests/python's
CMakeLists.txt. Waits are on conditions with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Callable, List, Optional, Tuple

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_for(condition: Callable[[], object], timeout: float, what: str):
    """Polls condition() until it is true and returns its value;
    AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" %
                                 (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def binary(name: str) -> str:
    path = os.environ.get(name)
    if not path:
        pytest.skip("%s is not set (run through ctest)" % name)
    return path


class Cluster:
    """dagd and its workers, each logging to a file in a temp folder;
    stopped by pid (SIGTERM, then SIGKILL), workers first."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.procs: List[Tuple[str, subprocess.Popen, str]] = []
        self.address = ""

    def _start(self, name: str, argv: List[str]) -> subprocess.Popen:
        log = os.path.join(self.tmp, name + ".log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.tmp)
        self.procs.append((name, proc, log))
        return proc

    def start_dagd(self, *flags: str, listen: str = "127.0.0.1:0") -> None:
        """Starts dagd (again, after stop_dagd) and waits for its port."""
        port_file = os.path.join(self.tmp, "dagd.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self._start("dagd", [binary("DAGD_BIN"), "--listen=" + listen,
                             "--port_file=" + port_file,
                             "--data_dir=" + os.path.join(self.tmp, "data"),
                             "--metrics_listen=", *flags])

        def port() -> Optional[int]:
            self.check_alive()
            try:
                with open(port_file) as f:
                    text = f.read().strip()
            except FileNotFoundError:
                return None
            return int(text) if text else None

        self.address = "127.0.0.1:%d" % wait_for(port, 30, "dagd's port")

    def kill_dagd(self) -> None:
        """kill -9 of dagd; its data dir stays for the next start_dagd."""
        for i, (name, proc, _) in enumerate(self.procs):
            if name == "dagd":
                proc.kill()
                proc.wait()
                del self.procs[i]
                return

    def start_worker(self, name: str, *flags: str) -> subprocess.Popen:
        return self._start(name, [binary("DAGD_WORKER_BIN"),
                                  "--coordinator=" + self.address,
                                  "--name=" + name, *flags])

    def wait_for_workers(self, client, count: int) -> None:
        from dagd.v1 import job_service_pb2

        def ready():
            self.check_alive()
            answer = client._stub.ListWorkers(
                job_service_pb2.ListWorkersRequest(), timeout=10)
            return sum("python" in w.runtimes for w in answer.workers) >= count

        wait_for(ready, 60, "%d Python workers" % count)

    def check_alive(self) -> None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" %
                                     (name, proc.returncode, self.log(name)))

    def log(self, name: str) -> str:
        for n, _, path in self.procs:
            if n == name:
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace")
        return ""

    def print_logs(self) -> None:
        """The end of each process's log, for a fixture that failed."""
        for name, _, _ in self.procs:
            print("---- %s ----\n%s" % (name, self.log(name)[-6000:]))

    def stop(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []


@pytest.fixture(scope="module")
def cluster():
    """dagd and one worker with --python and 2 slots (so 2 interpreters)."""
    tmp = tempfile.mkdtemp(prefix="dagd-python-test-")
    running = Cluster(tmp)
    try:
        running.start_dagd()
        running.start_worker("py-worker", "--python", "--slots=2")
        import dagd

        with dagd.Client(running.address) as client:
            running.wait_for_workers(client, 1)
        yield running
    except BaseException:
        running.print_logs()
        raise
    finally:
        running.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def client(cluster):
    import dagd

    with dagd.Client(cluster.address, call_timeout=60) as c:
        yield c
