"""Execution environments: bootstrap processes and the Runtime API they poll.

Each sandbox is one bootstrap process with its own Runtime API endpoint
(AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT), as on Lambda, where every execution
environment has its own: that is how the service knows which process held
an invocation when a process exits. A sandbox runs one invocation at a
time; the pool reuses an idle one (warm start) before starting another
(cold start).

Threads: HTTP handler threads of the Runtime API servers, one monitor
thread per process (waits for its exit), one log thread per process, and
the Invoke API threads that call SandboxPool.assign/kill. Every field of
every Sandbox is guarded by SandboxPool.lock.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import http_common

RUNTIME_PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6291556  # Lambda's synchronous response limit
READ_CAP = 64 << 20

_SIGNAL_NAMES = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated",
                 signal.SIGSEGV: "segmentation fault",
                 signal.SIGABRT: "aborted", signal.SIGINT: "interrupt"}


class Outcome:
    """What the Invoke API answers for one invocation."""

    def __init__(self, status, body=b"", function_error=None, headers=None):
        self.status = status
        self.body = body
        self.function_error = function_error  # X-Amz-Function-Error
        self.headers = headers or {}

    @property
    def error_type(self):
        if not self.function_error:
            return None
        try:
            return json.loads(self.body).get("errorType")
        except (ValueError, AttributeError):
            return None


def function_error(error_type, message, extra=None):
    body = {"errorType": error_type, "errorMessage": message}
    body.update(extra or {})
    return Outcome(200, json.dumps(body).encode(), "Unhandled")


class Invocation:
    """One Invoke call on its way through a sandbox. Thread-safe."""

    def __init__(self, function, qualifier, arn, payload, timeout_s,
                 client_context=None):
        self.request_id = str(uuid.uuid4())
        self.function = function
        self.qualifier = qualifier
        self.arn = arn
        self.payload = payload
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.deadline_ms = int((time.time() + timeout_s) * 1000)
        self.client_context = client_context
        self.crash_on_pickup = False  # fault: kill the process at /next
        self.sandbox = None
        self.cold = False
        self.outcome = None
        self._lock = threading.Lock()
        self._done = threading.Event()

    def finish(self, outcome):
        """Sets the outcome unless one was set first; True if this one won."""
        with self._lock:
            if self._done.is_set():
                return False
            self.outcome = outcome
            self._done.set()
            return True

    def done(self):
        return self._done.is_set()

    def wait(self, timeout):
        return self._done.wait(max(0.0, timeout))

    def timed_out(self):
        return function_error(
            "Sandbox.Timedout",
            "RequestId: %s Error: Task timed out after %.2f seconds" % (
                self.request_id, self.timeout_s))


class Sandbox:
    """One bootstrap process and its Runtime API server."""

    def __init__(self, pool, sid, function):
        self.pool = pool
        self.id = sid
        self.function = function
        self.proc = None
        self.mailbox = None  # assigned, not yet handed out by /next
        self.current = None  # handed out, not yet answered
        self.initialized = False  # has called /next
        self.dead = False
        self.changed = threading.Condition(pool.lock)
        self.server = http_common.Server(0, RuntimeHandler, self)
        threading.Thread(target=self.server.serve_forever, args=(0.05,),
                         name="runtime-%s" % sid, daemon=True).start()

    @property
    def idle(self):
        return not self.dead and self.mailbox is None and self.current is None

    def pending(self):
        return self.current or self.mailbox


class SandboxPool:
    """Starts, reuses and reaps sandboxes. Thread-safe."""

    def __init__(self, config, stats):
        self.config = config
        self.stats = stats
        self.lock = threading.Lock()
        self._sandboxes = {}  # id -> Sandbox, live ones only
        self._next_id = 1

    def assign(self, inv):
        """Gives `inv` to an idle sandbox of its function, or a new one."""
        with self.lock:
            for sb in self._sandboxes.values():
                if sb.function == inv.function and sb.idle:
                    sb.mailbox = inv
                    inv.sandbox = sb
                    sb.changed.notify_all()
                    return sb
            sid = "sb%d" % self._next_id
            self._next_id += 1
        sb = Sandbox(self, sid, inv.function)
        with self.lock:
            sb.mailbox = inv
            inv.sandbox = sb
            inv.cold = True
            self._sandboxes[sid] = sb
        self._start(sb)
        return sb

    def _start(self, sb):
        cfg = self.config
        env = bootstrap_env(cfg, sb.function, sb.server.port, sb.id)
        self.stats.add("bootstrap_starts")
        try:
            sb.proc = subprocess.Popen(
                [cfg.bootstrap], env=env,
                cwd=os.path.dirname(os.path.abspath(cfg.bootstrap)),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            with self.lock:
                inv = sb.pending()
                self._bury(sb)
            if inv:
                inv.finish(function_error(
                    "Runtime.InvalidEntrypoint",
                    "RequestId: %s Error: Couldn't find valid bootstrap(s): "
                    "[%s]: %s" % (inv.request_id, cfg.bootstrap, e)))
            return
        threading.Thread(target=self._forward_log, args=(sb,),
                         daemon=True).start()
        threading.Thread(target=self._monitor, args=(sb,),
                         daemon=True).start()

    def _forward_log(self, sb):
        for line in sb.proc.stdout:
            if not self.config.quiet:
                sys.stderr.write("[%s %s] %s" % (
                    sb.function, sb.id, line.decode(errors="replace")))
        sb.proc.stdout.close()

    def _monitor(self, sb):
        code = sb.proc.wait()
        with self.lock:
            inv = sb.pending()
            initialized = sb.initialized
            self._bury(sb)
        if inv is None:
            return
        if code < 0:
            why = "signal: %s" % _SIGNAL_NAMES.get(-code, str(-code))
        else:
            why = "exit status %d" % code
        if not initialized and code == 0:
            message = "RequestId: %s Error: Runtime exited without " \
                      "providing a reason" % inv.request_id
        else:
            message = "RequestId: %s Error: Runtime exited with error: %s" % (
                inv.request_id, why)
        inv.finish(function_error("Runtime.ExitError", message))

    def _bury(self, sb):
        """Marks sb dead and forgets it. Caller holds self.lock."""
        if not sb.dead:
            sb.dead = True
            self._sandboxes.pop(sb.id, None)
            sb.changed.notify_all()
            threading.Thread(target=_close_server, args=(sb.server,),
                             daemon=True).start()

    def kill(self, sb):
        """Ends sb's process (SIGKILL); the monitor finishes what it held."""
        with self.lock:
            self._bury(sb)
        if sb.proc and sb.proc.poll() is None:
            try:
                os.killpg(sb.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_idle(self):
        with self.lock:
            idle = [sb for sb in self._sandboxes.values() if sb.idle]
        for sb in idle:
            self.kill(sb)
        return len(idle)

    def stop(self):
        with self.lock:
            everyone = list(self._sandboxes.values())
        for sb in everyone:
            self.kill(sb)
        for sb in everyone:
            if sb.proc:
                sb.proc.wait()

    def live_count(self):
        with self.lock:
            return len(self._sandboxes)

    # Runtime API side, called from sb's handler threads.

    def next_invocation(self, sb):
        """Blocks until sb has an invocation; None once sb is dead."""
        with self.lock:
            sb.initialized = True
            if sb.current is not None:
                # A runtime that asks again without answering: as Lambda
                # does, the invocation it held is lost with an error.
                stale, sb.current = sb.current, None
                stale.finish(function_error(
                    "Runtime.InvalidResponse",
                    "RequestId: %s Error: Runtime asked for the next "
                    "invocation without answering this one" %
                    stale.request_id))
            while True:
                while sb.mailbox is None and not sb.dead:
                    sb.changed.wait()
                if sb.dead:
                    return None
                inv, sb.mailbox = sb.mailbox, None
                if not inv.done():
                    sb.current = inv
                    return inv

    def answer(self, sb, request_id, outcome):
        """Finishes sb's current invocation; an error string if it can't."""
        with self.lock:
            inv = sb.current
            if sb.dead or inv is None or inv.request_id != request_id:
                return "InvalidRequestID"
            sb.current = None
            sb.changed.notify_all()
        inv.finish(outcome)
        return None

    def init_failed(self, sb, outcome):
        with self.lock:
            inv = sb.pending()
        if inv:
            inv.finish(outcome)
        self.kill(sb)


def _close_server(server):
    server.shutdown()
    server.server_close()


def bootstrap_env(cfg, function, port, sid):
    """A clean environment, as Lambda gives a custom runtime."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": "%s:%d" % (http_common.LOOPBACK, port),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + function,
        "AWS_LAMBDA_LOG_STREAM_NAME": "[$LATEST]" + sid,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": cfg.handler or function,
        "AWS_REGION": cfg.region,
        "AWS_DEFAULT_REGION": cfg.region,
        "AWS_ACCESS_KEY_ID": cfg.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cfg.secret_access_key,
        "LAMBDA_TASK_ROOT": os.path.dirname(os.path.abspath(cfg.bootstrap)),
        "LAMBDA_RUNTIME_DIR": os.path.dirname(os.path.abspath(cfg.bootstrap)),
    }
    if cfg.session_token:
        env["AWS_SESSION_TOKEN"] = cfg.session_token
    env.update(cfg.env)
    return env


_RESPONSE = re.compile(RUNTIME_PREFIX +
                       r"/invocation/([^/]+)/(response|error)")


class RuntimeHandler(http_common.Handler):
    """The Lambda Runtime API of one sandbox (server.owner)."""

    def do_GET(self):
        path, _ = self.split_path()
        if path != RUNTIME_PREFIX + "/invocation/next":
            return self._not_found()
        sb = self.server.owner
        inv = sb.pool.next_invocation(sb)
        if inv is None:
            self.close_connection = True
            return self.send_json(500, {"errorType": "Runtime.Shutdown",
                                        "errorMessage": "sandbox stopped"})
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.arn,
            "Lambda-Runtime-Trace-Id": "Root=1-%08x-%s;Sampled=0" % (
                int(time.time()), inv.request_id.replace("-", "")[:24]),
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        if inv.crash_on_pickup:
            # Killed holding the invocation, before it can answer: the
            # process never sees the body below.
            sb.pool.kill(sb)
        self.send(200, headers, inv.payload)

    def do_POST(self):
        path, _ = self.split_path()
        sb = self.server.owner
        try:
            body = self.read_body(READ_CAP)
        except http_common.BodyTooLarge:
            self.close_connection = True
            body = None
        if path == RUNTIME_PREFIX + "/init/error":
            self.send_json(202, {"status": "OK"})
            return sb.pool.init_failed(sb, self._error_outcome(body))
        m = _RESPONSE.fullmatch(path)
        if not m:
            return self._not_found()
        request_id, kind = m.groups()
        if kind == "error":
            outcome = self._error_outcome(body)
        elif body is None or len(body) > MAX_RESPONSE_BYTES:
            size = "over %d" % READ_CAP if body is None else len(body)
            outcome = function_error(
                "Function.ResponseSizeTooLarge",
                "Response payload size (%s bytes) exceeded maximum allowed "
                "payload size (%d bytes)." % (size, MAX_RESPONSE_BYTES))
        else:
            outcome = Outcome(200, body)
        problem = sb.pool.answer(sb, request_id, outcome)
        if problem:
            return self.send_json(400, {
                "errorType": problem,
                "errorMessage": "Invalid request ID: %s" % request_id})
        if outcome.error_type == "Function.ResponseSizeTooLarge":
            return self.send_json(413, {
                "errorType": "RequestEntityTooLarge",
                "errorMessage": "Exceeded maximum allowed payload size "
                                "(%d bytes)." % MAX_RESPONSE_BYTES})
        self.send_json(202, {"status": "OK"})

    def _error_outcome(self, body):
        header_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        try:
            obj = json.loads(body) if body else None
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            obj = {"errorType": header_type or "Runtime.Unknown",
                   "errorMessage": (body or b"").decode(errors="replace")}
            body = json.dumps(obj).encode()
        return Outcome(200, body, "Unhandled")

    def _not_found(self):
        self.send_json(404, {"errorType": "InvalidRoute",
                             "errorMessage": "no such Runtime API route: %s"
                             % self.path})
