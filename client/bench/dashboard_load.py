#!/usr/bin/python3
"""What open dashboard pages cost dagd: runs `dagbench --shape=wide` on a
fresh dagd (a new data dir, 2 local workers) with no page open and with
--pages open, alternately, --rounds times, and prints dagd's CPU seconds
(user + system, from /proc/PID/stat) over each run. A fresh dagd each time,
so that RocksDB compactions of earlier runs' jobs fall in neither.

A page here is what the browser's page asks of dagd, without a browser (20
headless chromiums would take the 2 cores dagd is measured on):
  - half are jobs pages: one event stream of /api/events, read as it comes;
  - half are job pages of the newest job: its event stream
    (/api/jobs/ID/events), and on each update at most once a second the
    page's four reads (graph, task stream, failed tasks, a page of tasks),
    moving to each newer job as it appears on /api/events.

Usage (from the build directory):
  ../client/bench/dashboard_load.py --dagd=bin/dagd --dagbench=bin/dagbench \
      --pages=20 --repeat=10 --rounds=3
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Callable, List


def cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / 100.0  # USER_HZ


def events(url: str, stop: threading.Event, on_event: Callable[[str, str], None]):
    """Reads a server-sent event stream until `stop`; calls on_event(name,
    data) per event."""
    try:
        with urllib.request.urlopen(url, timeout=60) as stream:
            name = ""
            for raw in stream:
                if stop.is_set():
                    return
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    on_event(name, line[6:])
    except OSError:
        pass


class JobPage:
    """Follows the newest job like an open job page."""

    def __init__(self, base: str, stop: threading.Event):
        self.base = base
        self.stop = stop
        self.job = ""
        self.last_reads = 0.0
        self.reads = 0

    def follow(self, job_id: str) -> None:
        if job_id == self.job:
            return
        self.job = job_id
        threading.Thread(target=events, daemon=True, args=(
            "%s/api/jobs/%s/events" % (self.base, job_id), self.stop,
            lambda name, data, j=job_id: self.update(j, data))).start()

    def update(self, job_id: str, data: str) -> None:
        if job_id != self.job or time.monotonic() - self.last_reads < 1.0:
            return
        self.last_reads = time.monotonic()
        for path in ("graph", "stream", "tasks?state=FAILED&page_size=50",
                     "tasks?page_size=100"):
            try:
                urllib.request.urlopen("%s/api/jobs/%s/%s" % (
                    self.base, job_id, path), timeout=60).read()
                self.reads += 1
            except OSError:
                pass


class Dagd:
    """A fresh dagd with 2 local workers on ports it picks."""

    def __init__(self, binary: str):
        self.tmp = tempfile.mkdtemp(prefix="dagd-dashboard-load-")
        port_file = os.path.join(self.tmp, "port")
        log = os.path.join(self.tmp, "dagd.log")
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "--listen=127.0.0.1:0", "--port_file=" + port_file,
                 "--metrics_listen=127.0.0.1:0", "--local_workers=2",
                 "--data_dir=" + os.path.join(self.tmp, "data")],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            text = open(log).read()
            match = re.search(r"metrics and /healthz on port (\d+)", text)
            grpc = open(port_file).read().strip() if os.path.exists(
                port_file) else ""
            if match and grpc:
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("dagd did not start:\n" + text)
            time.sleep(0.1)
        self.http = "127.0.0.1:" + match.group(1)
        self.grpc = "127.0.0.1:" + grpc
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(args, pages: int) -> float:
    dagd = Dagd(args.dagd)
    try:
        return measure(args, dagd, pages)
    finally:
        dagd.stop()


def measure(args, dagd: Dagd, pages: int) -> float:
    base = "http://" + dagd.http
    stop = threading.Event()
    job_pages: List[JobPage] = [JobPage(base, stop) for _ in range(pages // 2)]

    def on_jobs(name: str, data: str) -> None:
        jobs = json.loads(data)["jobs"]
        if jobs:
            for page in job_pages:
                page.follow(jobs[0]["id"])

    for i in range(pages - len(job_pages)):
        threading.Thread(target=events, daemon=True, args=(
            base + "/api/events", stop,
            on_jobs if i == 0 else (lambda n, d: None))).start()
    time.sleep(1)  # the streams open
    before = cpu_seconds(dagd.pid)
    start = time.monotonic()
    subprocess.run([args.dagbench, "--server=" + dagd.grpc, "--shape=wide",
                    "--wait_workers=2", "--repeat=%d" % args.repeat],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    used = cpu_seconds(dagd.pid) - before
    stop.set()
    reads = sum(p.reads for p in job_pages)
    print("pages=%d dagd_cpu_s=%.2f wall_s=%.2f page_reads=%d" %
          (pages, used, wall, reads), flush=True)
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dagd", required=True)
    parser.add_argument("--dagbench", required=True)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    totals = {0: [], args.pages: []}
    for _ in range(args.rounds):
        for pages in (0, args.pages):
            totals[pages].append(run(args, pages))
    for pages, runs in totals.items():
        runs.sort()
        print("pages=%d median dagd_cpu_s=%.2f" % (pages, runs[len(runs) // 2]))


if __name__ == "__main__":
    main()
