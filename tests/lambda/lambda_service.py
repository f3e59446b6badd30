#!/usr/bin/env python3
"""A test AWS Lambda: the Invoke API, SigV4-checked, running a real bootstrap.

    python3 tests/lambda/lambda_service.py --port 0 --port_file F \\
        --bootstrap PATH [--functions echo,other] [--timeout_s 30] ...

Serves on 127.0.0.1 only:
  POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=Q]
      FunctionName: `echo`, `echo:live`, `123456789012:function:echo[:Q]`
      or `arn:aws:lambda:us-east-1:123456789012:function:echo[:Q]` (the
      path segment percent-encoded, as AWS clients send it). Qualifiers:
      $LATEST, version 1, and the --aliases (default `live`).
      X-Amz-Invocation-Type: RequestResponse (default), Event (202 at once),
      DryRun (204). Signed with SigV4 (sigv4.py) by the test key
      AKIDDAGDTEST / dagd-test-secret, region us-east-1, service lambda,
      optionally with the --session_token.
  POST /_control   JSON, unsigned; any of these keys, applied in this order:
      {"reset": true}       forget queued faults and zero the stats
      {"kill_idle": true}   stop idle bootstraps: the next start is cold
      {"timeout_s": 2.5, "concurrency": 4}   change the configuration
      {"faults": [F, ...]}  queue faults; each answers the next `count`
                            (default 1) invocations, in the order queued:
        {"type": "throttle", "retry_after": 2}  429 TooManyRequestsException
                                                (retry_after null: no header)
        {"type": "service_error", "status": 500|502|503,
         "error_type": "ServiceException"}      that status, nothing runs
        {"type": "function_error", "error_type": "E", "message": "m"}
                                 200 + X-Amz-Function-Error: Unhandled
        {"type": "slow", "delay_ms": 500}  the function starts that late
                                 (the delay counts against its timeout)
        {"type": "oversize"}     runs, then answers as a response over 6 MB
        {"type": "flood", "bytes": N}  runs, then answers 200 with N bytes
                                 (more than Lambda ever sends: a broken
                                 endpoint or proxy)
        {"type": "crash"}        the bootstrap is SIGKILLed as it takes the
                                 invocation: Runtime.ExitError
      Answers {"faults_pending": N}.
  GET /_stats      JSON counts: invocations (Invoke requests received),
      status {"200": n, ...}, signature_failures, function_errors by
      errorType, api_errors by x-amzn-ErrorType, bootstrap_starts, cold_starts, warm_starts, in_flight,
      max_concurrent, sandboxes (live bootstraps), faults_pending, and
      recent: the last 200 invocations (function, qualifier, status,
      function_error, error_type, payload_bytes, cold, sandbox).

Lambda's behaviour reproduced: a request body over 6291456 bytes gets 413
RequestEntityTooLargeException; a function response over 6291556 bytes
gets 200 + X-Amz-Function-Error and Function.ResponseSizeTooLarge (and the
runtime a 413); a function past its timeout gets Sandbox.Timedout and its
bootstrap is killed; a bootstrap that exits holding an invocation gives
Runtime.ExitError; more than --concurrency invocations at once get 429.
Bootstrap output goes to this process's stderr, prefixed by the sandbox.
Each bootstrap gets its own Runtime API port (as each Lambda execution
environment has its own endpoint), a clean environment (AWS_LAMBDA_*,
_HANDLER, AWS_REGION, the test key as AWS_ACCESS_KEY_ID/SECRET[/SESSION_
TOKEN], plus --env), and its directory as working directory. Not modelled:
presigned (query-string) SigV4, X-Amz-Log-Type: Tail, versions other than
$LATEST and 1, reaping idle bootstraps by time (use kill_idle), and the
concurrency limit for Event invocations (they always run).
kill -USR1 dumps every thread's stack to stderr.
"""

import argparse
import dataclasses
import faulthandler
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import http_common  # noqa: E402
import sandbox  # noqa: E402
import sigv4  # noqa: E402

MAX_REQUEST_BYTES = 6291456  # RequestResponse payload limit
MAX_EVENT_BYTES = 262144  # Event payload limit
TEST_ACCESS_KEY_ID = "AKIDDAGDTEST"
TEST_SECRET = "dagd-test-secret"
TEST_REGION = "us-east-1"
TEST_ACCOUNT = "123456789012"
INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations/?")
FAULT_TYPES = ("throttle", "service_error", "function_error", "slow",
               "oversize", "crash", "flood")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
QUALIFIER_PATTERN = re.compile(r"\$LATEST|[a-zA-Z0-9_-]{1,128}")


@dataclasses.dataclass
class Config:
    bootstrap: str
    functions: tuple = ("echo",)
    aliases: tuple = ("live",)
    timeout_s: float = 30.0
    concurrency: int = 10
    port: int = 0
    access_key_id: str = TEST_ACCESS_KEY_ID
    secret_access_key: str = TEST_SECRET
    session_token: str = ""
    region: str = TEST_REGION
    account: str = TEST_ACCOUNT
    max_skew_s: int = 300
    handler: str = ""
    memory_mb: int = 128
    env: dict = dataclasses.field(default_factory=dict)
    quiet: bool = False
    verbose: bool = False


class Stats:
    """Counters served at /_stats. Thread-safe."""

    RECENT = 200

    def __init__(self):
        self._lock = threading.Lock()
        self._in_flight = 0  # not reset: those invocations are still running
        self.reset()

    def reset(self):
        with self._lock:
            self._counts = {"invocations": 0, "signature_failures": 0,
                            "bootstrap_starts": 0, "cold_starts": 0,
                            "warm_starts": 0, "max_concurrent": 0}
            self._status = {}
            self._errors = {}  # function errors (200) by errorType
            self._api_errors = {}  # 4xx/5xx by x-amzn-ErrorType
            self._recent = []

    def add(self, name, n=1):
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def admit(self, limit):
        """Counts one more invocation running; False past `limit`."""
        with self._lock:
            if limit is not None and self._in_flight >= limit:
                return False
            self._in_flight += 1
            self._counts["max_concurrent"] = max(
                self._counts["max_concurrent"], self._in_flight)
            return True

    def release(self):
        with self._lock:
            self._in_flight -= 1

    def record(self, status, record):
        with self._lock:
            key = str(status)
            self._status[key] = self._status.get(key, 0) + 1
            t = record.get("error_type")
            if t:
                errors = self._errors if record.get("function_error") \
                    else self._api_errors
                errors[t] = errors.get(t, 0) + 1
            self._recent.append(record)
            del self._recent[:-self.RECENT]

    def snapshot(self):
        with self._lock:
            out = dict(self._counts)
            out.update(status=dict(self._status),
                       function_errors=dict(self._errors),
                       api_errors=dict(self._api_errors),
                       in_flight=self._in_flight,
                       recent=list(self._recent))
            return out


class FaultQueue:
    """Faults queued by /_control, handed out one per invocation."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queue = []  # [fault dict, remaining count]

    def add(self, faults):
        checked = [check_fault(f) for f in faults]
        with self._lock:
            for f in checked:
                self._queue.append([f, f["count"]])
            return self.pending_locked()

    def pop(self):
        with self._lock:
            if not self._queue:
                return None
            entry = self._queue[0]
            entry[1] -= 1
            if entry[1] == 0:
                self._queue.pop(0)
            return entry[0]

    def clear(self):
        with self._lock:
            self._queue = []

    def pending(self):
        with self._lock:
            return self.pending_locked()

    def pending_locked(self):
        return sum(n for _, n in self._queue)


def check_fault(fault):
    """A fault dict with defaults filled in; ValueError says what is wrong."""
    if not isinstance(fault, dict) or fault.get("type") not in FAULT_TYPES:
        raise ValueError("each fault needs a type, one of %s; got %r" %
                         (", ".join(FAULT_TYPES), fault))
    f = dict(fault)
    f.setdefault("count", 1)
    if not isinstance(f["count"], int) or f["count"] < 1:
        raise ValueError("fault count must be a positive integer: %r" % fault)
    if f["type"] == "throttle":
        f.setdefault("retry_after", 1)
        if f["retry_after"] is not None and not (
                isinstance(f["retry_after"], int) and f["retry_after"] >= 0):
            raise ValueError("retry_after must be whole seconds or null")
    if f["type"] == "service_error":
        f.setdefault("status", 500)
        if f["status"] not in (500, 502, 503, 504):
            raise ValueError("service_error status must be 500, 502, 503 or "
                             "504: %r" % fault)
    if f["type"] == "slow":
        delay = f.get("delay_ms")
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ValueError("slow needs delay_ms >= 0: %r" % fault)
    return f


class ApiError(Exception):
    """An Invoke API error: HTTP status, x-amzn-ErrorType and message."""

    def __init__(self, status, error_type, message, extra=None,
                 headers=None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def throttled(retry_after, reason):
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return ApiError(429, "TooManyRequestsException", "Rate Exceeded.",
                    {"Reason": reason}, headers)


class LambdaService:
    """The Invoke API server, its faults and stats, and the sandbox pool.

    start() binds 127.0.0.1:config.port and serves on background threads;
    stop() kills every bootstrap. Usable as a context manager.
    """

    def __init__(self, config):
        self.config = config
        self.stats = Stats()
        self.faults = FaultQueue()
        self.pool = sandbox.SandboxPool(config, self.stats)
        self._stopping = threading.Event()
        self._server = None
        http_common.Handler.verbose = config.verbose

    def start(self):
        self._server = http_common.Server(self.config.port, InvokeHandler,
                                          self)
        threading.Thread(target=self._server.serve_forever, args=(0.05,),
                         name="invoke-api", daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self.pool.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.port

    @property
    def endpoint(self):
        return "http://%s:%d" % (http_common.LOOPBACK, self.port)

    def control(self, request):
        if not isinstance(request, dict):
            raise ValueError("the control body is a JSON object")
        unknown = set(request) - {"reset", "kill_idle", "faults",
                                  "timeout_s", "concurrency"}
        if unknown:
            raise ValueError("unknown control keys: %s" % sorted(unknown))
        faults = request.get("faults", [])
        if not isinstance(faults, list):
            raise ValueError("faults is a list")
        for f in faults:
            check_fault(f)  # all or nothing
        if request.get("reset"):
            self.faults.clear()
            self.stats.reset()
        if request.get("kill_idle"):
            self.pool.kill_idle()
        if "timeout_s" in request:
            self.config.timeout_s = float(request["timeout_s"])
        if "concurrency" in request:
            self.config.concurrency = int(request["concurrency"])
        self.faults.add(faults)
        return {"faults_pending": self.faults.pending()}

    def stats_snapshot(self):
        out = self.stats.snapshot()
        out["sandboxes"] = self.pool.live_count()
        out["faults_pending"] = self.faults.pending()
        return out

    # ---------------------------------------------------------- invoking

    def resolve(self, raw_name, query_qualifier):
        """(function, qualifier or None, executed version, invoked ARN)."""
        cfg = self.config
        parts = raw_name.split(":")
        if raw_name.startswith("arn:"):
            if len(parts) not in (7, 8) or parts[2] != "lambda" or \
                    parts[5] != "function":
                raise self._invalid_name(raw_name)
            region, account, name = parts[3], parts[4], parts[6]
            qualifier = parts[7] if len(parts) == 8 else None
        elif len(parts) in (3, 4) and parts[1] == "function":
            region, account, name = cfg.region, parts[0], parts[2]
            qualifier = parts[3] if len(parts) == 4 else None
        elif len(parts) in (1, 2):
            region, account, name = cfg.region, cfg.account, parts[0]
            qualifier = parts[1] if len(parts) == 2 else None
        else:
            raise self._invalid_name(raw_name)
        if not NAME_PATTERN.fullmatch(name) or (
                qualifier is not None and
                not QUALIFIER_PATTERN.fullmatch(qualifier)):
            raise self._invalid_name(raw_name)
        if query_qualifier is not None:
            if qualifier is not None and qualifier != query_qualifier:
                raise ApiError(400, "InvalidParameterValueException",
                               "The derived qualifier from the function name "
                               "does not match the specified qualifier.")
            qualifier = query_qualifier
        arn = "arn:aws:lambda:%s:%s:function:%s" % (region, account, name)
        if qualifier is not None:
            arn += ":" + qualifier
        if region != cfg.region or account != cfg.account or \
                name not in cfg.functions:
            raise ApiError(404, "ResourceNotFoundException",
                           "Function not found: %s" % arn)
        if qualifier in (None, "$LATEST"):
            version = "$LATEST"
        elif qualifier == "1" or qualifier in cfg.aliases:
            version = "1"
        else:
            raise ApiError(404, "ResourceNotFoundException",
                           "Function not found: %s" % arn)
        return name, qualifier, version, arn

    @staticmethod
    def _invalid_name(raw):
        return ApiError(
            400, "ValidationException",
            "1 validation error detected: Value '%s' at 'functionName' "
            "failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}("
            "-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)"
            "(:(\\$LATEST|[a-zA-Z0-9-_]+))?" % raw)

    def run(self, inv, fault):
        """Runs inv on a bootstrap (fault permitting) and returns its Outcome.

        The caller has admitted it (Stats.admit) and releases it.
        """
        if fault and fault["type"] == "function_error":
            return sandbox.function_error(
                fault.get("error_type", "InjectedError"),
                fault.get("message", "injected by /_control"))
        if fault and fault["type"] == "slow":
            delay = fault["delay_ms"] / 1000.0
            self._stopping.wait(min(delay, inv.deadline - time.monotonic()))
            if time.monotonic() >= inv.deadline:
                return inv.timed_out()
        if fault and fault["type"] == "crash":
            inv.crash_on_pickup = True
        sb = self.pool.assign(inv)
        self.stats.add("cold_starts" if inv.cold else "warm_starts")
        if not inv.wait(inv.deadline - time.monotonic()):
            if inv.finish(inv.timed_out()):
                self.pool.kill(sb)
        outcome = inv.outcome
        if fault and fault["type"] == "flood":
            outcome = sandbox.Outcome(200, b"x" * fault.get("bytes", 16 << 20))
        if fault and fault["type"] == "oversize" and \
                not outcome.function_error:
            size = max(len(outcome.body), sandbox.MAX_RESPONSE_BYTES + 1)
            outcome = sandbox.function_error(
                "Function.ResponseSizeTooLarge",
                "Response payload size (%d bytes) exceeded maximum allowed "
                "payload size (%d bytes)." % (size,
                                              sandbox.MAX_RESPONSE_BYTES))
        return outcome


class InvokeHandler(http_common.Handler):
    """The Invoke API and the /_control and /_stats test hooks."""

    @property
    def service(self):
        return self.server.owner

    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it, as AWS does.
        if int(self.headers.get("Content-Length") or 0) > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._refuse_large_body(read=False)
            return False
        return super().handle_expect_100()

    def do_GET(self):
        path, _ = self.split_path()
        if path == "/_stats":
            return self.send_json(200, self.service.stats_snapshot())
        self._send_error(ApiError(404, "UnknownOperationException",
                                  "Unknown operation GET %s" % path))

    def do_POST(self):
        path, query = self.split_path()
        try:
            body = self.read_body(MAX_REQUEST_BYTES)
        except http_common.BodyTooLarge:
            return self._refuse_large_body()
        if path == "/_control":
            try:
                answer = self.service.control(json.loads(body or b"{}"))
            except (ValueError, TypeError) as e:
                return self.send_json(400, {"message": str(e)})
            return self.send_json(200, answer)
        m = INVOKE_PATH.fullmatch(path)
        if not m:
            return self._send_error(ApiError(
                404, "UnknownOperationException",
                "Unknown operation POST %s" % path))
        self.service.stats.add("invocations")
        record = {"function": None, "qualifier": None, "payload_bytes":
                  len(body), "status": None, "function_error": None,
                  "error_type": None}
        try:
            self._invoke(m.group(1), query, body, record)
        except ApiError as e:
            record.update(status=e.status, error_type=e.error_type)
            self.service.stats.record(e.status, record)
            self._send_error(e)

    def _refuse_large_body(self, read=True):
        length = int(self.headers.get("Content-Length") or 0)
        self.service.stats.add("invocations")
        self.service.stats.record(413, {
            "status": 413, "error_type": "RequestEntityTooLargeException",
            "payload_bytes": length})
        if read and length and length <= 4 * MAX_REQUEST_BYTES:
            self.rfile.read(length)  # keep the connection usable
        else:
            self.close_connection = True
        self._send_error(ApiError(
            413, "RequestEntityTooLargeException",
            "Request must be smaller than %d bytes for the InvokeFunction "
            "operation" % MAX_REQUEST_BYTES))

    def _verify(self, path, query, body):
        cfg = self.service.config
        try:
            sigv4.verify_request(
                self.command, path, query, self.headers.items(), body,
                {cfg.access_key_id: cfg.secret_access_key}, cfg.region,
                "lambda",
                session_tokens=[cfg.session_token] if cfg.session_token
                else [], max_skew_s=cfg.max_skew_s)
        except sigv4.SignatureError as e:
            self.service.stats.add("signature_failures")
            raise ApiError(e.status, e.error_type, e.message)

    def _invoke(self, raw_name, query, body, record):
        svc = self.service
        path, _ = self.split_path()
        self._verify(path, query, body)
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        name, qualifier, version, arn = svc.resolve(
            urllib.parse.unquote(raw_name), params.get("Qualifier"))
        record.update(function=name, qualifier=qualifier)
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise ApiError(400, "ValidationException",
                           "1 validation error detected: Value '%s' at "
                           "'invocationType' failed to satisfy constraint: "
                           "Member must satisfy enum value set: [Event, "
                           "RequestResponse, DryRun]" % kind)
        if kind == "Event" and len(body) > MAX_EVENT_BYTES:
            raise ApiError(413, "RequestEntityTooLargeException",
                           "%d byte payload is too large for the Event "
                           "invocation type (limit %d bytes)" % (
                               len(body), MAX_EVENT_BYTES))
        try:
            json.loads(body or b"{}")
        except ValueError as e:
            raise ApiError(400, "InvalidRequestContentException",
                           "Could not parse request body into json: %s" % e)
        if kind == "DryRun":
            return self._answer(204, b"", {}, record)
        inv = sandbox.Invocation(name, qualifier, arn, body or b"{}",
                                 svc.config.timeout_s,
                                 self.headers.get("X-Amz-Client-Context"))
        headers = {"x-amzn-RequestId": inv.request_id,
                   "X-Amz-Executed-Version": version}
        fault = svc.faults.pop()
        self._apply_refusals(fault)
        if kind == "Event":
            svc.stats.admit(None)
            threading.Thread(target=self._run_event, args=(inv, fault),
                             daemon=True).start()
            return self._answer(202, b"", headers, record)
        if not svc.stats.admit(svc.config.concurrency):
            raise throttled(
                None, "ReservedFunctionConcurrentInvocationLimitExceeded")
        try:
            outcome = svc.run(inv, fault)
        finally:
            svc.stats.release()
        record.update(cold=inv.cold, sandbox=inv.sandbox and inv.sandbox.id,
                      request_id=inv.request_id)
        headers["Content-Type"] = "application/json"
        if outcome.function_error:
            headers["X-Amz-Function-Error"] = outcome.function_error
            record.update(function_error=outcome.function_error,
                          error_type=outcome.error_type)
        self._answer(outcome.status, outcome.body, headers, record)

    def _apply_refusals(self, fault):
        """Faults that answer before anything runs."""
        if not fault:
            return
        if fault["type"] == "throttle":
            raise throttled(fault["retry_after"], fault.get(
                "reason", "ReservedFunctionConcurrentInvocationLimitExceeded"))
        if fault["type"] == "service_error":
            raise ApiError(fault["status"],
                           fault.get("error_type", "ServiceException"),
                           fault.get("message", "injected by /_control"))

    def _run_event(self, inv, fault):
        try:
            self.service.run(inv, fault)
        finally:
            self.service.stats.release()

    def _answer(self, status, body, headers, record):
        record["status"] = status
        self.service.stats.record(status, record)
        self.send(status, headers, body)

    def _send_error(self, e):
        headers = {"x-amzn-ErrorType": e.error_type}
        headers.update(e.headers)
        body = {"Type": "Service" if e.status >= 500 else "User",
                "message": e.message}
        body.update(e.extra)
        self.send_json(e.status, body, headers)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="A test AWS Lambda on 127.0.0.1: the Invoke API (SigV4 "
        "checked) running a bootstrap through the Runtime API, with fault "
        "injection at POST /_control and counts at GET /_stats.")
    p.add_argument("--port", type=int, default=0,
                   help="Invoke API port (0: any free one)")
    p.add_argument("--port_file",
                   help="write the bound Invoke API port here once serving")
    p.add_argument("--bootstrap", required=True,
                   help="executable speaking the Lambda Runtime API")
    p.add_argument("--functions", default="echo",
                   help="comma-separated function names (default: echo)")
    p.add_argument("--aliases", default="live",
                   help="comma-separated aliases every function has")
    p.add_argument("--timeout_s", type=float, default=30.0,
                   help="function timeout in seconds (default 30)")
    p.add_argument("--concurrency", type=int, default=10,
                   help="invocations at once before 429 (default 10)")
    p.add_argument("--session_token", default="",
                   help="also accept requests carrying this "
                   "X-Amz-Security-Token; given to bootstraps too")
    p.add_argument("--max_skew_s", type=int, default=300,
                   help="clock skew allowed in X-Amz-Date (default 300)")
    p.add_argument("--handler", default="",
                   help="_HANDLER for the bootstrap (default: function name)")
    p.add_argument("--memory_mb", type=int, default=128)
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="extra bootstrap environment variable (repeatable)")
    p.add_argument("--quiet", action="store_true",
                   help="drop bootstrap output instead of copying to stderr")
    p.add_argument("--verbose", action="store_true",
                   help="log every HTTP request")
    args = p.parse_args(argv)
    if not os.access(args.bootstrap, os.X_OK):
        p.error("--bootstrap %s is not an executable file" % args.bootstrap)
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            p.error("--env wants K=V, got %r" % item)
        env[key] = value
    return Config(
        bootstrap=args.bootstrap,
        functions=tuple(f for f in args.functions.split(",") if f),
        aliases=tuple(a for a in args.aliases.split(",") if a),
        timeout_s=args.timeout_s, concurrency=args.concurrency,
        port=args.port, session_token=args.session_token,
        max_skew_s=args.max_skew_s, handler=args.handler,
        memory_mb=args.memory_mb, env=env, quiet=args.quiet,
        verbose=args.verbose), args.port_file


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


class StopSignals:
    """SIGTERM and SIGINT, heard by the main thread whichever thread the
    kernel delivers them to: the C-level handler writes to a socket the
    main thread reads (a Python handler alone runs only once the main
    thread wakes, which a blocked wait never does)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self._read, write = socket.socketpair()
        write.setblocking(False)
        self._write = write  # kept open for the handler
        for signum in self.SIGNALS:
            signal.signal(signum, lambda *_: None)
        signal.set_wakeup_fd(write.fileno())

    def wait(self):
        while not any(b in self.SIGNALS for b in self._read.recv(64)):
            pass


def main(argv):
    config, port_file = parse_args(argv)
    faulthandler.register(signal.SIGUSR1)  # kill -USR1: dump every thread
    stop = StopSignals()
    service = LambdaService(config).start()
    if port_file:
        write_port_file(port_file, service.port)
    sys.stderr.write("lambda_service: Invoke API on %s, functions %s, "
                     "bootstrap %s\n" % (service.endpoint,
                                         ",".join(config.functions),
                                         config.bootstrap))
    sys.stderr.flush()
    stop.wait()
    service.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
