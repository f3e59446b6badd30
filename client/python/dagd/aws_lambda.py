"""dagd's Python tasks on AWS Lambda: a handler for Lambda's Python runtime.

Deploy the ``dagd`` package (and what the tasks import) as a function of
the Python runtime with the handler ``dagd.aws_lambda.handler``, and send
Python tasks to it with ``"executor": "lambda:FUNCTION"`` (or make it
dagd's ``--lambda_function``). It takes the same invocation as dagd-worker's
custom runtime, a ``dagd.v1.LambdaInvocation`` in proto3 JSON, runs the
task's function (fn ``python``) as a worker's interpreter would, and
answers a ``dagd.v1.LambdaResult``. deploy/lambda/README.md has the whole
of it.

Failures are raised, so that Lambda reports them as function errors whose
``errorType`` dagd reads: ``TaskFailed`` (dagd may retry the attempt),
``TaskFailedPermanently`` (it will not: ``dagd.PermanentError``, bad args,
code that cannot be found, an input that does not decode) and
``InvalidInvocation`` (not a payload dagd sends).

Inputs and outputs too large to travel in the invocation go through dagd's
S3 bucket, named by ``DAGD_S3_BUCKET`` and ``DAGD_S3_PREFIX`` (and
``DAGD_S3_ENDPOINT`` for an S3-compatible service), with boto3, which
Lambda's Python runtime includes. Sizes and CRC-32C are checked on the way
in and recorded on the way out.

The handler needs only the standard library (and boto3 for S3): the rest of
the package (the client, gRPC) is not imported.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from dagd import crc32c
from dagd.execute import TaskCaller

# A task still running this long before the invocation's deadline is
# stopped, so that dagd gets its failure rather than Lambda's bare timeout.
DEADLINE_MARGIN_S = 1.0
# Lambda's limit on a response, and room for the answer around the output.
MAX_RESPONSE_BYTES = 6291556
_ANSWER_OVERHEAD = 4096


class InvalidInvocation(Exception):
    """The event is not a LambdaInvocation dagd would send."""


class TaskFailed(Exception):
    """The task failed; another attempt may succeed."""


class TaskFailedPermanently(Exception):
    """The task failed in a way another attempt cannot fix."""


class _StoreError(Exception):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class _Stopped(BaseException):
    """Raised in the task when its time is up; a BaseException, so that
    the task's own ``except Exception`` does not swallow it."""


def _field(message: Dict[str, Any], json_name: str, proto_name: str,
           default: Any = None) -> Any:
    """A field of a proto3 JSON object, under either of its names."""
    if json_name in message:
        return message[json_name]
    return message.get(proto_name, default)


def _uint(message: Dict[str, Any], json_name: str, proto_name: str,
          where: str) -> int:
    raw = _field(message, json_name, proto_name, 0)
    try:
        number = int(raw)  # 64-bit integers are strings in proto3 JSON
    except (TypeError, ValueError):
        raise InvalidInvocation("%s.%s must be an integer, got %r" %
                                (where, json_name, raw))
    if number < 0:
        raise InvalidInvocation("%s.%s must not be negative" %
                                (where, json_name))
    return number


def _bytes(message: Dict[str, Any], name: str, where: str) -> bytearray:
    """A bytes field, writable: a numpy array decoded from it is a view of
    it, as on a worker (where a task must still not change an input in
    place: the next task there may be given the same object)."""
    raw = message.get(name, "")
    try:
        return bytearray(base64.b64decode(raw, validate=True) if raw else b"")
    except (TypeError, ValueError):
        raise InvalidInvocation("%s.%s is not base64" % (where, name))


class _Invocation:
    """What the handler needs of a LambdaInvocation, checked."""

    def __init__(self, event: Any):
        if isinstance(event, (bytes, str)):
            try:
                event = json.loads(event)
            except ValueError as error:
                raise InvalidInvocation("the payload is not JSON: %s" % error)
        if not isinstance(event, dict):
            raise InvalidInvocation("the payload is not a dagd.v1."
                                    "LambdaInvocation (a JSON object)")
        assignment = event.get("assignment")
        if not isinstance(assignment, dict):
            raise InvalidInvocation("the invocation has no assignment")
        self.task_ref = assignment.get("task") or {}
        self.job_id = str(_field(self.task_ref, "jobId", "job_id", ""))
        self.task_id = str(_field(assignment, "taskId", "task_id", "")) or (
            "#%s" % _field(self.task_ref, "taskIndex", "task_index", 0))
        self.name = "job '%s' task '%s'" % (self.job_id, self.task_id)
        self.fn = assignment.get("fn", "")
        if not self.fn:
            raise InvalidInvocation("%s: the assignment names no function "
                                    "(fn)" % self.name)
        self.args = assignment.get("args")
        self.code = _bytes(assignment, "code", "assignment") or None
        self.timeout_ms = _uint(assignment, "timeoutMs", "timeout_ms",
                                "assignment")
        self.inputs: List[Tuple[bytearray, str]] = []
        for i, payload in enumerate(assignment.get("inputs") or []):
            self.inputs.append((
                _bytes(payload, "data", "inputs[%d]" % i),
                _field(payload, "contentType", "content_type", "")))
        self.input_refs: Dict[int, Dict[str, Any]] = {}
        refs = _field(event, "inputRefs", "input_refs", {}) or {}
        for position, ref in refs.items():
            if not str(position).isdigit() or int(position) >= len(
                    self.inputs):
                raise InvalidInvocation(
                    "%s: input_refs names input #%s but the task has %d "
                    "inputs" % (self.name, position, len(self.inputs)))
            if not ref.get("key"):
                raise InvalidInvocation("%s: input_refs[%s] has no key" %
                                        (self.name, position))
            self.input_refs[int(position)] = ref
        self.output_ref = _field(event, "outputRef", "output_ref", {}) or {}
        if self.output_ref.get("bucket") and not self.output_ref.get("key"):
            raise InvalidInvocation("%s: output_ref names bucket '%s' but "
                                    "no key" % (self.name,
                                                self.output_ref["bucket"]))
        self.inline_max_bytes = _uint(event, "inlineMaxBytes",
                                      "inline_max_bytes", "invocation")


class S3Store:
    """dagd's bucket, through boto3: objects at DAGD_S3_PREFIX + key, with
    their CRC-32C in the metadata as dagd's own processes write it."""

    def __init__(self, bucket: str, prefix: str, endpoint: str,
                 region: str):
        import boto3
        import botocore.config

        self.bucket = bucket
        self.prefix = prefix
        options: Dict[str, Any] = {"region_name": region or None}
        if endpoint:
            options["endpoint_url"] = endpoint
            options["config"] = botocore.config.Config(
                s3={"addressing_style": "path"})
        self._client = boto3.client("s3", **options)

    def describe(self) -> str:
        return "s3://%s/%s" % (self.bucket, self.prefix)

    def get(self, key: str) -> Tuple[bytearray, str, Optional[int]]:
        def read() -> Tuple[bytearray, str, Optional[int]]:
            answer = self._client.get_object(Bucket=self.bucket,
                                             Key=self.prefix + key)
            data = _read_all(answer["Body"], answer.get("ContentLength"))
            recorded = (answer.get("Metadata") or {}).get("crc32c", "")
            try:
                crc: Optional[int] = int(recorded, 16)
            except ValueError:  # not written by dagd: nothing to check
                crc = None
            return data, answer.get("ContentType", ""), crc

        return self._call(read, "GET", key)

    def put(self, key: str, data: bytes, content_type: str,
            crc: int) -> None:
        self._call(lambda: self._client.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=data,
            ContentType=content_type or "application/octet-stream",
            Metadata={"crc32c": "%08x" % crc}), "PUT", key)

    def _call(self, request: Any, verb: str, key: str) -> Any:
        import botocore.exceptions

        where = "S3 %s %s key '%s'" % (verb, self.describe(), key)
        try:
            return request()
        except botocore.exceptions.ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode", 0)
            code = error.response.get("Error", {}).get("Code", "")
            raise _StoreError("%s: HTTP %s %s" % (where, status, code),
                              permanent=not _passing(code, status))
        except (botocore.exceptions.NoCredentialsError,
                botocore.exceptions.ParamValidationError) as error:
            raise _StoreError("%s: %s" % (where, error), permanent=True)
        except botocore.exceptions.BotoCoreError as error:
            # The connection: refused, reset, timed out, cut mid-stream.
            raise _StoreError("%s: %s" % (where, error), permanent=False)


def _read_all(body: Any, size: Optional[int]) -> bytearray:
    """The whole body into one writable buffer, a chunk at a time, so that
    a large object is not held twice. A broken stream raises (botocore)."""
    if size is None:
        return bytearray(body.read())
    data = bytearray(size)
    got = 0
    with memoryview(data) as view:
        while True:
            chunk = body.read(1 << 20)
            if not chunk:
                break
            if got + len(chunk) > size:  # more than announced: the size
                # check that follows names the difference
                return data[:got] + chunk + body.read()
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
    return data if got == size else data[:got]


# S3 error codes another attempt may get past, and those it will not, as
# dagd-worker's store classifies them (storage/s3_errors.cc); other codes
# go by their HTTP status.
_PASSING_CODES = frozenset({
    "BadDigest", "XAmzContentSHA256Mismatch", "SlowDown", "RequestTimeout",
    "InternalError", "ServiceUnavailable", "OperationAborted"})
_LASTING_CODES = frozenset({
    "NoSuchKey", "NoSuchBucket", "InvalidAccessKeyId",
    "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "RequestTimeTooSkewed", "AccessDenied",
    "AllAccessDisabled", "AccountProblem", "PermanentRedirect",
    "AuthorizationHeaderMalformed"})


def _passing(code: str, status: int) -> bool:
    if code in _PASSING_CODES:
        return True
    if code in _LASTING_CODES:
        return False
    return status == 429 or status >= 500


_caller = TaskCaller()  # one per sandbox: imported functions are kept
_store: Optional[S3Store] = None


def _object_store() -> Optional[S3Store]:
    global _store
    bucket = os.environ.get("DAGD_S3_BUCKET", "")
    if not bucket:
        return None
    if _store is None:
        try:
            _store = S3Store(bucket, os.environ.get("DAGD_S3_PREFIX", ""),
                             os.environ.get("DAGD_S3_ENDPOINT", ""),
                             os.environ.get("AWS_REGION", ""))
        except ImportError as error:  # boto3 is in Lambda's runtime
            raise _StoreError("DAGD_S3_BUCKET is set but boto3 cannot be "
                              "imported (%s): add it to the function's "
                              "package" % error, permanent=True)
    return _store


def _usable_store(ref: Dict[str, Any], what: str) -> S3Store:
    store = _object_store()
    if store is None:
        raise _StoreError(
            "%s goes through the object store (bucket '%s'), but this Lambda "
            "function has none: set DAGD_S3_BUCKET (and DAGD_S3_PREFIX) in "
            "its environment to the bucket dagd uses" %
            (what, ref.get("bucket", "")), permanent=True)
    if ref.get("bucket") and ref["bucket"] != store.bucket:
        raise _StoreError(
            "%s is in bucket '%s', but this Lambda function's object store "
            "is %s: set its DAGD_S3_BUCKET to the bucket dagd uses" %
            (what, ref["bucket"], store.describe()), permanent=True)
    return store


def _fetch_inputs(invocation: _Invocation) -> None:
    for position in sorted(invocation.input_refs):
        ref = invocation.input_refs[position]
        what = "input #%d" % position
        store = _usable_store(ref, what)
        data, content_type, recorded = store.get(ref["key"])
        size = int(ref.get("size", 0))
        crc = crc32c.value(data)
        expected = int(ref.get("crc32c", 0))  # 0: not recorded
        if len(data) != size or (expected and crc != expected) or (
                recorded is not None and recorded != crc):
            raise _StoreError(
                "%s from %s key '%s': %d bytes with crc32c %08x, but dagd "
                "recorded %d bytes with crc32c %08x" %
                (what, store.describe(), ref["key"], len(data), crc, size,
                 expected), permanent=False)
        invocation.inputs[position] = (
            data, _field(ref, "contentType", "content_type", "") or
            content_type)


def _store_output(invocation: _Invocation, data: bytes,
                  content_type: str) -> Dict[str, Any]:
    limit = invocation.inline_max_bytes
    what = "the output (%d bytes, over the inline limit of %d bytes)" % (
        len(data), limit)
    target = invocation.output_ref
    if not target.get("bucket"):
        raise _StoreError(
            "%s cannot be stored: dagd has no object store for it "
            "(output_ref is empty); give dagd an object store (S3) or make "
            "the output smaller" % what, permanent=True)
    store = _usable_store(target, what)
    crc = crc32c.value(data)
    store.put(target["key"], data, content_type, crc)
    return {"bucket": target["bucket"], "key": target["key"],
            "size": str(len(data)), "crc32c": crc,
            "contentType": content_type}


class _Timer:
    """Stops the task (raises _Stopped in it) at the earlier of its own
    timeout and the invocation's deadline less the margin. Signals reach
    only the main thread, where Lambda's runtime calls the handler; called
    from another thread, the task runs unbounded."""

    def __init__(self, timeout_ms: int, context: Any):
        self.reason = ""
        limits = []
        if timeout_ms:
            limits.append((timeout_ms / 1000.0,
                           "timed out after %d ms" % timeout_ms))
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            left = remaining() / 1000.0 - DEADLINE_MARGIN_S
            limits.append((max(left, 0.001), "cancelled %g s before the "
                           "Lambda invocation's deadline: give the Lambda "
                           "function a timeout longer than the task needs" %
                           DEADLINE_MARGIN_S))
        self._limit = min(limits) if limits else None
        self._armed = False

    def __enter__(self) -> "_Timer":
        if self._limit is None or (threading.current_thread() is not
                                   threading.main_thread()):
            return self
        self._previous = signal.signal(signal.SIGALRM, self._fire)
        self._armed = True  # before the timer runs: __exit__ must undo it
        signal.setitimer(signal.ITIMER_REAL, self._limit[0])
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._armed:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
            finally:
                signal.signal(signal.SIGALRM, self._previous)

    def _fire(self, signum: int, frame: Any) -> None:
        self.reason = self._limit[1]
        raise _Stopped(self.reason)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _log(invocation: _Invocation, text: str) -> None:
    print("dagd: job %s task %s: %s" % (invocation.job_id,
                                         invocation.task_id, text),
          file=sys.stderr, flush=True)


def _failed(error_text: str, permanent: bool) -> Exception:
    return (TaskFailedPermanently if permanent else TaskFailed)(error_text)


def _error_text(reply: Dict[str, Any]) -> str:
    """A Python task's failure as dagd-worker words it."""
    message, trace = reply.get("message", ""), reply.get("traceback", "")
    if not trace:
        return message
    if not message:
        return ("%s\n%s" % (reply.get("type", ""), trace)).rstrip("\n")
    return ("%s: %s\n%s" % (reply.get("type", ""), message,
                            trace)).rstrip("\n")


def handler(event: Any, context: Any) -> Dict[str, Any]:
    """Runs the Python task of one dagd invocation; see the module's text."""
    try:
        invocation = _Invocation(event)
    except (AttributeError, TypeError, KeyError) as error:  # wrong shapes
        raise InvalidInvocation("the payload is not a dagd.v1.LambdaInvocation"
                                " in proto3 JSON: %s" % error)
    if invocation.fn != "python":
        raise TaskFailedPermanently(
            "%s: this Lambda function is dagd's Python handler and runs fn "
            "'python' only, not '%s': send other functions to dagd-worker's "
            "Lambda function" % (invocation.name, invocation.fn))
    started = _now_ms()
    _log(invocation, "attempt %s" % _field(invocation.task_ref, "attempt",
                                           "attempt", 1))
    try:
        _fetch_inputs(invocation)
    except _StoreError as error:
        raise _failed(str(error), error.permanent)
    timer = _Timer(invocation.timeout_ms, context)
    try:
        with timer:
            reply, frames = _caller.call(invocation.args, invocation.code,
                                         invocation.inputs)
    except _Stopped:  # fired between the call's end and the timer's
        reply, frames = {"kind": "error", "message": timer.reason}, []
    if reply["kind"] == "error":
        text = timer.reason or _error_text(reply)
        _log(invocation, "failed: %s" % (text.splitlines() or [""])[0])
        raise _failed(text, reply.get("permanent", False) and
                      not timer.reason)
    data = b"".join(memoryview(frame).cast("B") for frame in frames)
    content_type = reply["content_type"]
    result: Dict[str, Any] = {"task": invocation.task_ref, "ok": True}
    answer: Dict[str, Any] = {"result": result}
    if invocation.inline_max_bytes and len(data) > invocation.inline_max_bytes:
        try:
            answer["outputRef"] = _store_output(invocation, data,
                                                content_type)
        except _StoreError as error:
            raise _failed(str(error), error.permanent)
        result["output"] = {"contentType": content_type}
    else:
        encoded = base64.b64encode(data).decode("ascii")
        if len(encoded) + _ANSWER_OVERHEAD > MAX_RESPONSE_BYTES:
            # Lambda would refuse the answer and dagd would try again.
            raise TaskFailedPermanently(
                "the result is %d bytes, %d in base64, more than Lambda "
                "accepts as a response (%d bytes): give dagd an object store "
                "(S3) so that larger outputs go there" % (
                    len(data), len(encoded), MAX_RESPONSE_BYTES))
        result["output"] = {"data": encoded, "contentType": content_type}
    result["startedUnixMs"] = str(started)
    result["finishedUnixMs"] = str(_now_ms())
    _log(invocation, "succeeded after %d ms, %d bytes%s" % (
        _now_ms() - started, len(data),
        " stored at key '%s'" % invocation.output_ref["key"]
        if "outputRef" in answer else ""))
    return answer
