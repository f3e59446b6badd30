"""deploy.lambda_zip: deploy/lambda/build-zip.sh packages dagd-worker and a
plugin into a zip that keeps its file modes; its `bootstrap`, unzipped into a
temporary directory and started with nothing but AWS_LAMBDA_RUNTIME_API, as
Lambda starts a custom runtime, serves a fake Runtime API on 127.0.0.1:
a builtin, the bundled plugin's function, an `exec` task (whose child runs on
the machine's own libraries: no LD_LIBRARY_PATH leaks to it) and a failing
task are each answered at .../response or .../error. While it runs, its
/proc/PID/maps shows that the loader, the C library and libstdc++ come from
the unzipped lib/ folder. It exits 1 once the Runtime API fails.

Usage: lambda_zip_test.py --worker=BIN --plugin=LIB.so
"""

import argparse
import base64
import http.server
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import zipfile

from deploy_lib import DEPLOY, LOOPBACK, Failure, run_main

BUILD_ZIP = os.path.join(DEPLOY, "lambda", "build-zip.sh")
WAIT = 60  # seconds


class FakeRuntimeApi:
    """Hands out `invocations` (request id -> LambdaInvocation JSON) on
    GET .../invocation/next and records each POST. Once they are all handed
    out, the next GET waits until release(), then gets a 500."""

    def __init__(self, invocations):
        self.queue = list(invocations)
        self.posts = []  # (path, Lambda-Runtime-Function-Error-Type, body)
        self.cond = threading.Condition()
        self.released = False
        self.waiting = False  # a GET waits for release()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body=b"{}", headers=()):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404)
                with api.cond:
                    if not api.queue:
                        api.waiting = True
                        api.cond.notify_all()
                        api.cond.wait_for(lambda: api.released, WAIT)
                        return self.reply(500, b'{"errorMessage": "done"}')
                    request_id, body = api.queue.pop(0)
                self.reply(200, body.encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", "9999999999999"),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:123456789012:function:dagd")])

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8", "replace")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
                with api.cond:
                    api.posts.append((self.path, error_type, body))
                    api.cond.notify_all()
                self.reply(202, b'{"status": "OK"}')

        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoint(self):
        return "%s:%d" % (LOOPBACK, self.server.server_address[1])

    def wait_until_idle(self):
        """True once every invocation is answered and the next GET waits."""
        with self.cond:
            return self.cond.wait_for(lambda: self.waiting, WAIT)

    def release(self):
        with self.cond:
            self.released = True
            self.cond.notify_all()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def invocation(fn, args=None, inputs=(), job="j1", index=0):
    assignment = {"task": {"jobId": job, "taskIndex": index, "attempt": 1},
                  "taskId": "t%d" % index, "fn": fn,
                  "inputs": [{"data": base64.b64encode(i.encode()).decode(),
                              "contentType": "application/json"} for i in inputs]}
    if args is not None:
        assignment["args"] = args
    return json.dumps({"assignment": assignment})


def build_and_unzip(worker, plugin, tmp):
    archive = os.path.join(tmp, "dagd-worker-lambda.zip")
    r = subprocess.run([BUILD_ZIP, "--worker=" + worker, "--plugin=" + plugin,
                        "--output=" + archive], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=WAIT)
    if r.returncode != 0:
        raise Failure("build-zip.sh failed:\n" + r.stdout.decode())
    print(r.stdout.decode().strip())
    root = os.path.join(tmp, "task")  # Lambda's /var/task
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        plugin_name = "plugins/" + os.path.basename(plugin)
        for name in ["bootstrap", "bin/dagd-worker", "lib/ld-linux-x86-64.so.2",
                     "lib/libc.so.6", "lib/libstdc++.so.6", "lib/libcurl.so.4",
                     "certs/ca-certificates.crt",
                     plugin_name]:
            if name not in names:
                raise Failure("the zip has no %s; it has %s" % (name, sorted(names)))
        # Lambda keeps the modes stored in the zip: these must be executable.
        for name in ["bootstrap", "bin/dagd-worker", "lib/ld-linux-x86-64.so.2"]:
            mode = z.getinfo(name).external_attr >> 16
            if mode & 0o555 != 0o555:
                raise Failure("%s is stored with mode %o, not executable" % (name, mode))
        for info in z.infolist():
            path = z.extract(info, root)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                os.chmod(path, stat.S_IMODE(mode))
    return root


def check_maps(pid, root):
    """The loader and the C++ and C libraries of `pid` come from root/lib."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    lib = os.path.join(root, "lib") + "/"
    for name in ["ld-linux-x86-64.so.2", "libc.so.6", "libstdc++.so.6"]:
        paths = {line.split()[-1] for line in maps.splitlines()
                 if line.rstrip().endswith("/" + name)}
        if not paths:
            raise Failure("%s is not mapped into the worker:\n%s" % (name, maps))
        if paths != {lib + name}:
            raise Failure("%s is mapped from %s, not from %s" % (name, paths, lib))


def check_answers(posts):
    by_path = {path: (error_type, body) for path, error_type, body in posts}
    prefix = "/2018-06-01/runtime/invocation/"

    def result(request_id):
        key = prefix + request_id + "/response"
        if key not in by_path:
            raise Failure("no response for %s; posts: %s" % (request_id, posts))
        answer = json.loads(by_path[key][1])["result"]
        return base64.b64decode(answer["output"]["data"]).decode()

    for request_id, want in [("builtin", "3"), ("plugin", '"LAMBDA"'),
                             ("exec", '"unset"')]:
        got = result(request_id).rstrip("\n")  # exec keeps echo's newline
        if got != want:
            raise Failure("%s answered %r, not %r" % (request_id, got, want))
    key = prefix + "failing/error"
    if key not in by_path or by_path[key][0] != "TaskFailed":
        raise Failure("no TaskFailed error for the failing task; posts: %s" % posts)
    error = json.loads(by_path[key][1])
    if error != {"errorType": "TaskFailed", "errorMessage": "no luck"}:
        raise Failure("the failing task's error body is %s" % error)


def serve_with_bootstrap(root, plugin):
    api = FakeRuntimeApi([
        ("builtin", invocation("add", {"value": 1}, ["2"])),
        ("plugin", invocation("upper", {"text": "lambda"}, index=1)),
        ("exec", invocation("exec", {"argv": [
            "/bin/sh", "-c", 'echo "\\"${LD_LIBRARY_PATH:-unset}\\""']}, index=2)),
        ("failing", invocation("fail", {"message": "no luck"}, index=3)),
    ])
    # What Lambda gives a custom runtime, and no more.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin",
           "AWS_LAMBDA_RUNTIME_API": api.endpoint(),
           "LAMBDA_TASK_ROOT": root,
           "DAGD_WORKER_ARGS": "--log_format=json"}
    log_path = os.path.join(os.path.dirname(root), "bootstrap.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([os.path.join(root, "bootstrap")], cwd=root,
                                   env=env, stdout=log, stderr=log)
    try:
        if not api.wait_until_idle():
            raise Failure("the bootstrap did not answer the 4 invocations in %d s; "
                          "posts: %s; log:\n%s" % (WAIT, api.posts, open(log_path).read()))
        check_maps(process.pid, root)
        api.release()
        code = process.wait(timeout=WAIT)
        log_text = open(log_path).read()
        if code != 1 or "exiting: GET /invocation/next: HTTP 500" not in log_text:
            raise Failure("after the Runtime API failed, the bootstrap exited %d "
                          "(want 1, saying why); log:\n%s" % (code, log_text))
        check_answers(api.posts)
        for line in log_text.splitlines():
            json.loads(line)  # --log_format=json came through DAGD_WORKER_ARGS
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        api.close()
    print("bootstrap answered %d invocations on its own loader and libraries"
          % len(api.posts))


def check_bad_worker(tmp):
    r = subprocess.run([BUILD_ZIP, "--worker=" + os.path.join(tmp, "missing"),
                        "--output=" + os.path.join(tmp, "x.zip")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    if r.returncode == 0 or b"no dagd-worker binary at" not in r.stdout:
        raise Failure("build-zip.sh with a missing binary: exit %d, %s"
                      % (r.returncode, r.stdout.decode()))


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--worker", required=True)
    p.add_argument("--plugin", required=True)
    a = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="dagd-lambda-zip-test.")
    try:
        check_bad_worker(tmp)
        root = build_and_unzip(os.path.abspath(a.worker), os.path.abspath(a.plugin), tmp)
        serve_with_bootstrap(root, a.plugin)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
