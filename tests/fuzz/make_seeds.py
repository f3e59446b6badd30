#!/usr/bin/python3
"""Writes the seed inputs of the harnesses that read their input through
clang's FuzzedDataProvider (everything but job_file, whose seeds are job
files): tests/fuzz/corpus/{scheduler_messages,sigv4,s3_responses,
lambda_responses}/seed_*.

Each seed is spelled as the values its harness reads, in the order it reads
them; Input encodes them as FuzzedDataProvider decodes them (integers from
the end of the data, strings and the remaining bytes from the front). Run it
again after changing what a harness reads; inputs libFuzzer found (any other
file in the corpus) are left alone.

  /usr/bin/python3 tests/fuzz/make_seeds.py
"""

import os
import subprocess
import sys

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


class Input:
    """The bytes FuzzedDataProvider reads back as the values given."""

    def __init__(self) -> None:
        self.front = bytearray()  # strings, remaining bytes: read forwards
        self.back = bytearray()  # integers, in the order they are read

    def int_in_range(self, lo: int, hi: int, value: int, bits: int = 32) -> None:
        """ConsumeIntegralInRange<T>(lo, hi) with T of `bits` bits."""
        span = hi - lo
        rest = value - lo
        assert 0 <= rest <= span, (lo, hi, value)
        count, offset = 0, 0
        while offset < bits and (span >> offset) > 0:
            count += 1
            offset += 8
        for k in range(count):  # the first byte read is the most significant
            self.back.append((rest >> (8 * (count - 1 - k))) & 0xFF)

    def u8(self, value: int) -> None:
        self.int_in_range(0, 0xFF, value, 8)

    def u16(self, value: int) -> None:
        self.int_in_range(0, 0xFFFF, value, 16)

    def u32(self, value: int) -> None:
        self.int_in_range(0, 0xFFFFFFFF, value, 32)

    def u64(self, value: int) -> None:
        self.int_in_range(0, 2**64 - 1, value, 64)

    def boolean(self, value: bool) -> None:
        self.u8(1 if value else 0)

    def string(self, text, max_length: int) -> None:
        """ConsumeRandomLengthString(max_length)."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        assert len(data) <= max_length
        self.front += data.replace(b"\\", b"\\\\")
        if len(data) < max_length:
            self.front += b"\\;"  # a backslash and another byte end it

    def remaining(self, data) -> None:
        """ConsumeRemainingBytesAsString(): the last read."""
        self.front += data.encode() if isinstance(data, str) else bytes(data)

    def data(self) -> bytes:
        return bytes(self.front) + bytes(reversed(self.back))


# ---- scheduler_messages ---------------------------------------------------

SUBMIT, REGISTER, HEARTBEAT, STARTED, RESULT, DISCONNECT, CANCEL, ADVANCE, \
    TURN, QUERY, RELEASE, SHARES = range(12)
LAST_OP = SHARES
FNS = {"const": 0, "add": 1, "fail": 2, "sleep": 3, "rare": 4}


class Messages(Input):
    """The steps of scheduler_messages_fuzzer.cc."""

    def __init__(self, grants=False, max_result=False, recomputes=3,
                 bucket=False, keep=False, burst=False) -> None:
        super().__init__()
        self.boolean(grants)
        self.boolean(max_result)
        self.int_in_range(0, 3, recomputes)
        self.boolean(bucket)
        self.boolean(keep)
        self.boolean(burst)

    def step(self, op: int, jitter: int = 0) -> None:
        self.u8(jitter)
        self.int_in_range(0, LAST_OP, op)

    # A job of tasks (fn, inputs, after, flags, where): inputs and after
    # are indices of earlier tasks; flags as AddTask reads them (1 priority,
    # 2 two slots, 4 group "g", 8 retries, 16 label, 32 amount, 64
    # executor `where`: 0 pool:p, 1 lambda, 2 lambda:fn-x; 128 timeout).
    # Job flags: 1 max_parallelism, 2 continue_on_failure, 4 deadline, 8
    # tenant "a", 16 watched, 32 watched for its end.
    def submit(self, tasks, flags=0, priority=0, deadline=60) -> None:
        self.step(SUBMIT)
        self.int_in_range(1, 6, len(tasks))
        self.u8(flags)
        self.int_in_range(-1, 1, priority)
        if flags & 4:
            self.int_in_range(1, 120, deadline)
        for i, task in enumerate(tasks):
            fn, inputs, after, task_flags, where = (
                list(task) + ["", [], [], 0, 0][len(task):])
            self.int_in_range(0, 4, FNS[fn], 64)
            if i > 0:
                deps = 0
                for j in inputs:
                    deps |= 1 << j
                for j in after:
                    deps |= 1 << (j + 8)
                self.u16(deps)
            self.u8(task_flags)
            if task_flags & 64:
                self.int_in_range(0, 2, where)

    # Worker flags: bits 0-4 the functions offered (FNS order), 32 pool p,
    # 64 label, 128 amount, 256 grants, 512 an instance (holds results),
    # 1024 the Lambda dispatcher, 2048 foreign, 4096 reporting its held.
    def register(self, k=0, flags=0x1F, slots=2, running=(), held=()) -> None:
        self.step(REGISTER)
        self.int_in_range(0, 3, k)
        self.u16(flags)
        self.int_in_range(0, 4, slots)
        self.int_in_range(0, 3, len(running))
        for ref in running:
            self.ref(**ref)
        self.int_in_range(0, 3, len(held))
        for ref, key in held:
            self.ref(**ref)
            self.boolean(key is None)
            if key is not None:
                self.string(key, 16)

    # mode 0-2: the assignment sent[sent]; 3: it with `attempt`; 4: job
    # `seq`, `task`, `attempt`; 5: job id `job_id`. `sealed`: sealed for the
    # reporter, else `seal`.
    def ref(self, mode=0, sent=0, seq=1, task=0, attempt=1, sealed=False,
            seal=0, job_id="") -> None:
        self.int_in_range(0, 5, mode)
        self.u8(sent)
        self.u8(seq)
        self.int_in_range(0, 6, task)
        self.int_in_range(0, 4, attempt)
        self.boolean(sealed)
        self.u64(seal)
        if mode == 5:
            self.string(job_id, 8)

    # pick 0-5: connected worker `i`; 6: departed worker `i`; 7: unknown.
    def reporter(self, i=0, pick=0) -> None:
        self.int_in_range(0, 7, pick)
        self.u8(i)

    def heartbeat(self, worker=0, fetched=0, seconds=0) -> None:
        self.step(HEARTBEAT)
        self.int_in_range(0, 4, 1)
        self.u32(1000)
        self.u16(0)
        self.u32(fetched)
        self.u8(seconds)
        self.reporter(worker)

    def started(self, worker=0, **ref) -> None:
        self.step(STARTED)
        self.reporter(worker)
        self.ref(**ref)

    # kind 0 inline `data`, 1 held by the reporter, 2 held elsewhere, 3
    # bucket, 4 stored/output, 5 another bucket.
    def success(self, worker=0, pick=0, kind=0, data="1", size=10,
                content_type=None, **ref) -> None:
        self.step(RESULT)
        self.reporter(worker, pick)
        self.ref(**ref)
        self.u8(0)
        self.boolean(True)
        self.int_in_range(0, 5, 1, 64)
        self.boolean(True)
        self.boolean(content_type is None)
        if content_type is not None:
            self.string(content_type, 8)
        self.int_in_range(0, 5, kind)
        if kind == 0:
            self.string(data, 24)
            return
        self.int_in_range(0, 100, size, 64)
        self.u32(0x12345678)
        if kind == 2:
            self.int_in_range(0, 4, 3)
            self.boolean(True)
        elif kind == 3:
            self.boolean(True)
        elif kind == 4:
            self.boolean(False)

    def failure(self, worker=0, pick=0, error="boom", permanent=False,
                lost=(), **ref) -> None:
        self.step(RESULT)
        self.reporter(worker, pick)
        self.ref(**ref)
        self.u8(0)
        self.boolean(False)
        self.boolean(False)
        self.string(error, 16)
        self.boolean(permanent)
        self.int_in_range(0, 2, len(lost))
        for position in lost:
            self.int_in_range(0, 3, position)

    def disconnect(self, worker=0) -> None:
        self.step(DISCONNECT)
        self.u8(worker)

    def cancel(self, seq=1) -> None:
        self.step(CANCEL)
        self.u8(seq)

    def advance(self, ms) -> None:
        self.step(ADVANCE)
        self.int_in_range(0, 40000, ms, 64)

    def turn(self, keep=True) -> None:
        self.step(TURN)
        self.boolean(keep)

    def query(self, seq=1, task=0, what=0) -> None:
        self.step(QUERY)
        self.u8(seq)
        self.int_in_range(0, 6, task)
        self.int_in_range(0, 4, what)

    # share: bit 0 not named (a, b only), bits 1-2 weight - 1, bits 3-4 the
    # running-slots cap; others: bits 0-1 weight - 1, bits 2-3 the cap.
    def shares(self, a=0, b=0, others=0) -> None:
        self.step(SHARES)
        self.u8(a)
        self.u8(b)
        self.u8(others)

    def release(self, refs=()) -> None:
        self.step(RELEASE)
        self.int_in_range(0, 2, len(refs))
        for ref in refs:
            self.ref(**ref)
            self.int_in_range(0, 3, 0)


DIAMOND = [("const",), ("add", [0]), ("add", [0]), ("add", [1, 2])]


def scheduler_seeds():
    seeds = {}

    # A diamond on one worker, every task reported as it was sent.
    m = Messages()
    m.register(slots=2)
    m.submit(DIAMOND, flags=16)
    m.turn()
    m.started(sent=0)
    m.success(sent=0)
    m.turn()
    m.success(sent=1)
    m.success(sent=2)
    m.turn()
    m.success(sent=3)
    m.turn()
    m.query(seq=1, what=1)
    seeds["diamond"] = m

    # A failure retried after its backoff; a permanent one fails the job
    # and its downstream; continue_on_failure keeps the other branch.
    m = Messages()
    m.register(slots=4)
    m.submit([("fail", [], [], 8), ("add", [0])], flags=2)
    m.submit([("fail",), ("add", [0]), ("const",)], flags=2 | 32)
    m.turn()
    m.failure(sent=0)
    m.failure(sent=1, permanent=True)
    m.success(sent=2)
    m.advance(2500)
    m.turn()
    m.success(sent=3)
    m.turn()
    m.success(sent=4)
    m.turn()
    seeds["retry_and_fail"] = m

    # A worker lost mid-task: its tasks run elsewhere, and its late report
    # (from the departed worker) is dropped.
    m = Messages()
    m.register(k=0, slots=1)
    m.register(k=1, slots=1)
    m.submit([("sleep",), ("sleep",), ("add", [0, 1])])
    m.turn()
    m.disconnect(worker=0)
    m.turn()
    m.success(worker=0, pick=6, sent=0)
    m.success(worker=0, sent=1)
    m.success(worker=0, sent=2)
    m.turn()
    m.success(worker=0, sent=3)
    m.success(worker=0, sent=4)
    m.turn()
    seeds["worker_lost"] = m

    # Forged reports: another worker's attempt, a made-up attempt sealed
    # for the reporter (one from before a restart), a job id that is none.
    m = Messages()
    m.register(k=0, slots=2)
    m.register(k=1, slots=2)
    m.submit(DIAMOND)
    m.turn()
    m.success(worker=1, sent=0)
    m.success(worker=1, mode=4, seq=1, task=0, attempt=3, sealed=True)
    m.success(worker=0, mode=5, job_id="j1x")
    m.failure(worker=0, mode=3, sent=0, attempt=4, sealed=True)
    m.success(worker=0, pick=7, sent=0)
    m.turn()
    m.success(worker=0, mode=4, seq=1, task=1, attempt=1, sealed=True)
    m.turn()
    seeds["forged_reports"] = m

    # Results held by the workers that made them; the holder is lost and
    # what is still needed is made again; a lost input reported.
    m = Messages(grants=True, recomputes=1)
    m.register(k=0, flags=0x1F | 512 | 256, slots=1)
    m.submit(DIAMOND)
    m.turn()
    m.success(worker=0, kind=1, sent=0)
    m.register(k=1, flags=0x1F | 512, slots=2)
    m.turn()
    m.success(worker=0, kind=1, sent=1)
    m.failure(worker=1, sent=2, lost=[0])
    m.turn()
    m.disconnect(worker=0)
    m.heartbeat(worker=0, fetched=1 << 20, seconds=16)
    m.turn()
    m.success(worker=0, kind=1, sent=3)
    m.turn()
    m.success(worker=0, kind=1, sent=4)
    m.success(worker=0, kind=2, sent=5)
    m.turn()
    m.success(worker=0, kind=1, sent=6)
    m.turn()
    seeds["held_results_lost"] = m

    # Deadlines, cancels and workers that stop sending heartbeats.
    m = Messages()
    m.register(slots=1)
    m.submit([("sleep",), ("sleep", [0])], flags=4, deadline=5)
    m.submit([("sleep",), ("add", [0])], flags=16)
    m.turn()
    m.started(sent=0)
    m.cancel(seq=2)
    m.advance(6000)
    m.turn()
    m.success(sent=0)
    m.advance(31000)
    m.turn()
    m.cancel(seq=1)
    m.query(seq=1, what=0)
    seeds["deadline_cancel_timeout"] = m

    # Lambda: the dispatcher's worker, tasks for it, results in the bucket
    # (under the attempt's key, a try of it, and one that is not theirs),
    # and bursts of tasks for any worker.
    m = Messages(bucket=True, burst=True, max_result=True)
    m.register(k=0, flags=1024, slots=4)
    m.register(k=1, flags=0x1F, slots=1)
    m.submit([("const", [], [], 64, 1), ("add", [0], [], 64, 2),
              ("add", [0]), ("sleep",)])
    m.turn()
    m.success(worker=0, kind=3, sent=0)
    m.advance(1500)
    m.turn()
    m.success(worker=0, kind=3, sent=1)
    m.success(worker=0, kind=5, sent=2)
    m.success(worker=1, data="x" * 20, sent=3)
    m.turn()
    m.success(worker=0, kind=4, sent=4)
    m.turn()
    seeds["lambda_bucket_burst"] = m

    # A worker reconnects holding attempts and results of a job: it is
    # taken over where its seals say dagd gave them to it.
    m = Messages(keep=True)
    m.register(k=0, flags=0x1F | 512, slots=2)
    m.submit([("sleep",), ("sleep",), ("add", [0, 1])])
    m.turn()
    m.success(worker=0, kind=1, sent=0)
    m.disconnect(worker=0)
    m.register(k=0, flags=0x1F | 512 | 4096, slots=2,
               running=[dict(mode=0, sent=1)],
               held=[(dict(mode=0, sent=0), None),
                     (dict(mode=4, seq=1, task=2, attempt=1), "junk")])
    m.turn()
    m.success(worker=0, kind=1, sent=1)
    m.turn()
    m.success(worker=0, kind=1, sent=2)
    m.turn(keep=True)
    m.release([dict(mode=0, sent=2)])
    seeds["reconnect_takeover"] = m

    # Exclusive groups, max_parallelism, priorities, pools, labels and
    # amounts, grants ahead on a chain.
    m = Messages(grants=True)
    m.register(k=0, flags=0x1F | 32 | 64 | 128 | 256, slots=4)
    m.register(k=1, flags=0x1F | 256, slots=3)
    m.submit([("const", [], [], 4), ("const", [], [], 4 | 1),
              ("add", [0], [], 2 | 16), ("add", [2], [], 32 | 64, 0),
              ("add", [3]), ("add", [4], [1])], flags=1, priority=1)
    m.submit([("const",), ("add", [0]), ("add", [1]), ("add", [2])],
             priority=-1, flags=8)
    m.shares(a=(2 << 1) | (1 << 3), b=1, others=1 | (2 << 2))
    for rounds in range(4):
        m.turn()
        for i in range(3):
            m.success(worker=i % 2, sent=3 * rounds + i)
    m.turn()
    m.query(seq=2, task=3, what=3)
    seeds["groups_grants_pools"] = m

    return seeds


# ---- sigv4, s3_responses, lambda_responses --------------------------------

def sigv4_seeds():
    seeds = {}
    for name, slash, text in [
            ("uri_key", False, "results/j1/0/1 key with spaces+é/../~x"),
            ("uri_segment", True, "fn:alias/%2F"),
    ]:
        s = Input()
        s.int_in_range(0, 2, 0)
        s.boolean(slash)
        s.remaining(text)
        seeds[name] = s
    s = Input()
    s.int_in_range(0, 2, 1)
    params = [("Qualifier", "prod"), ("a b", "="), ("a b", "&"), ("", "")]
    s.int_in_range(0, 5, len(params), 64)
    for name, value in params:
        s.string(name, 12)
        s.string(value, 12)
    seeds["query"] = s
    for name, token, headers in [
            ("headers_ok", "session",
             ["Content-Type: application/json", "X-Amz-Invocation-Type: x"]),
            ("headers_removal", "", ["Accept:", "Host: h"]),
            ("headers_owned", "", ["Authorization: AWS4 x"]),
            ("headers_no_colon", "t", ["Content-Type;"]),
            ("headers_line_break", "", ["A: b\r\nAuthorization: c"]),
    ]:
        s = Input()
        s.int_in_range(0, 2, 2)
        s.string("AKID", 8)
        s.string("secret", 8)
        s.string(token, 8)
        s.string("us-east-1", 12)
        s.string("s3", 8)
        s.string('{"x": 1}', 32)
        s.int_in_range(0, 4, len(headers), 64)
        for header in headers:
            s.string(header, 48)
        seeds[name] = s
    return seeds


S3_ERRORS = {
    "no_such_key": (404, None, b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>results/j1/0/1</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"""),
    "signature": (403, None, b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKID</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256&#10;20240101T000000Z</StringToSign></Error>"""),
    "redirect": (301, None, b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>bucket.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>bucket</Bucket></Error>"""),
    "slow_down": (503, None, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate &amp; retry &lt;soon&gt;.</Message></Error>"),
    "head_no_body": (404, "NoSuchBucket", b""),
    "proxy_page": (502, None, b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"),
    "truncated": (500, None, b"<Error><Code>InternalError</Code><Message>We encountered an inter"),
    "not_utf8": (400, None, b"<Error><Code>InvalidArgument</Code><Message>bad \xff\xfe byte \xe2\x82</Message></Error>"),
}

CREDENTIALS = {
    "imds": b"""{
  "Code" : "Success",
  "LastUpdated" : "2024-01-01T00:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAEXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "IQoJb3JpZ2luX2VjEXAMPLE",
  "Expiration" : "2024-01-01T06:00:00Z"
}""",
    "ecs": b'{"AccessKeyId":"ASIA2","SecretAccessKey":"s","Token":"t","Expiration":"2024-01-01T06:00:00.123+01:00"}',
    "imds_failure": b'{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role"}',
    "bad_expiration": b'{"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"tomorrow"}',
    "not_json": b"<html>metadata service \xc3 unavailable</html>" + b"x" * 200,
}


def s3_seeds():
    seeds = {}
    for name, (status, code_header, body) in S3_ERRORS.items():
        s = Input()
        s.boolean(True)
        s.int_in_range(100, 599, status, 64)
        s.boolean(code_header is not None)
        if code_header is not None:
            s.string(code_header, 24)
        s.remaining(body)
        seeds["error_" + name] = s
    for name, body in CREDENTIALS.items():
        s = Input()
        s.boolean(False)
        s.remaining(body)
        seeds["credentials_" + name] = s
    return seeds


STATUSES = [200, 200, 200, 200, 400, 403, 404, 413, 429, 500, 502, 503]

LAMBDA_ANSWERS = {
    "result": (200, [], b'{"result":{"task":{"jobId":"j1","taskIndex":2,"attempt":1},"ok":true,"output":{"data":"NDI=","contentType":"application/json"},"startedUnixMs":"1700000000000","finishedUnixMs":"1700000000005"}}'),
    "result_by_ref": (200, [], b'{"result":{"ok":true},"outputRef":{"bucket":"bucket","key":"results/j1/2/1/try1","size":"9000000","crc32c":123,"contentType":"application/octet-stream"}}'),
    "function_error": (200, ["X-Amz-Function-Error: Unhandled\r\n"], b'{"errorType":"TaskFailedPermanently","errorMessage":"no such function \\u00e9"}'),
    "function_error_text": (200, ["x-amz-function-error: Handled\r\n"], b"Traceback (most recent call last): \xff"),
    "throttled": (429, ["x-amzn-ErrorType: TooManyRequestsException\r\n", "Retry-After: 3\r\n"], b'{"message":"Rate exceeded"}'),
    "retry_after_huge": (503, ["Retry-After: 9223372036854775807\r\n"], b""),
    "refused": (404, ["X-Amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/\r\n"], b'{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:1:function:fn-x"}'),
    "not_a_result": (200, ["HTTP/1.1 200 OK\r\n"], b'{"statusCode": 200, "body": "hello"}'),
}


# Assignments as dagd sends them, in protobuf's text format.
ASSIGNMENTS = {
    "plain": 'task { job_id: "j1" task_index: 2 attempt: 1 seal: 77 } '
             'task_id: "sum" fn: "add" args { struct_value { fields { key: "x" '
             'value { number_value: 1.5 } } } } inputs { data: "41" '
             'content_type: "application/json" } timeout_ms: 5000 slots: 1 '
             'lambda_function: "fn-x:prod"',
    "by_ref": 'task { job_id: "j3" task_index: 0 attempt: 2 } fn: "identity" '
              'inputs { } inputs { data: "\\377\\000" } input_refs { key: 0 '
              'value { bucket: "bucket" key: "results/j3/1/1" size: 9000000 } } '
              'code: "print(1)"',
}


def encode(message_type: str, text: str) -> bytes:
    """`text` (protobuf text format) as the binary dagd.v1 message."""
    root = os.path.dirname(os.path.dirname(CORPUS))
    proto = os.path.join(os.path.dirname(root), "proto")
    return subprocess.run(
        ["protoc", f"--encode=dagd.v1.{message_type}", "-I", proto,
         "-I", "/usr/include", "dagd/v1/worker_service.proto"],
        input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


def lambda_seeds():
    seeds = {}
    for name, text in ASSIGNMENTS.items():
        s = Input()
        s.int_in_range(0, 3, 0)
        s.boolean(True)
        s.u32(64 << 10)
        s.remaining(encode("Assignment", text))
        seeds["invocation_" + name] = s
    for name, (status, lines, body) in LAMBDA_ANSWERS.items():
        s = Input()
        s.int_in_range(0, 3, 1)
        s.int_in_range(0, 4, len(lines), 64)
        for line in lines:
            s.string(line, 96)
        s.boolean(True)
        s.int_in_range(0, len(STATUSES) - 1, STATUSES.index(status), 64)
        s.remaining(body)
        seeds["answer_" + name] = s
    return seeds


def main() -> int:
    harnesses = {
        "scheduler_messages": scheduler_seeds(),
        "sigv4": sigv4_seeds(),
        "s3_responses": s3_seeds(),
        "lambda_responses": lambda_seeds(),
    }
    for harness, seeds in harnesses.items():
        directory = os.path.join(CORPUS, harness)
        os.makedirs(directory, exist_ok=True)
        for name, seed in seeds.items():
            with open(os.path.join(directory, "seed_" + name), "wb") as f:
                f.write(seed.data())
        print(f"{harness}: {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
