"""Helpers for the tests of the test Lambda service (and for dagd's tests).

A test bootstrap, a signed Invoke client, and waiting on a condition with a
deadline (never a fixed sleep).
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_service  # noqa: E402
import sigv4  # noqa: E402

# A custom runtime in Python speaking the Runtime API. It echoes the payload,
# unless the payload is an object asking for something else:
#   {"sleep": S}      sleep S seconds, then echo
#   {"exit": N}       exit with status N while holding the invocation
#   {"fail": "msg"}   post /error with errorType TestError
#   {"repeat": N}     answer a JSON string of N 'a's (N + 2 bytes)
#   {"env": "NAME"}   answer {"value": $NAME}
#   {"context": 1}    answer the Runtime API headers, pid and function name
# With INIT_FAIL set in its environment it posts /init/error and exits.
ECHO_BOOTSTRAP = r'''#!%(python)s
import json, os, sys, time, urllib.request
api = "http://%%s/2018-06-01/runtime" %% os.environ["AWS_LAMBDA_RUNTIME_API"]

def post(path, body, headers=None):
    req = urllib.request.Request(api + path, data=body, method="POST",
                                 headers=headers or {})
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as e:
        sys.stderr.write("runtime API said %%d to %%s\n" %% (e.code, path))

if os.environ.get("INIT_FAIL"):
    post("/init/error", json.dumps({"errorType": "TestInitError",
         "errorMessage": "init failed on purpose"}).encode(),
         {"Lambda-Runtime-Function-Error-Type": "TestInitError"})
    sys.exit(1)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        headers = dict(r.headers)
        body = r.read()
    try:
        ask = json.loads(body)
    except ValueError:
        ask = None
    if not isinstance(ask, dict):
        ask = {}
    if "sleep" in ask:
        time.sleep(ask["sleep"])
    if "exit" in ask:
        os._exit(ask["exit"])
    if "fail" in ask:
        post("/invocation/%%s/error" %% rid, json.dumps(
            {"errorType": "TestError", "errorMessage": ask["fail"]}).encode(),
            {"Lambda-Runtime-Function-Error-Type": "TestError"})
        continue
    if "repeat" in ask:
        body = json.dumps("a" * ask["repeat"]).encode()
    elif "env" in ask:
        body = json.dumps({"value": os.environ.get(ask["env"])}).encode()
    elif "context" in ask:
        body = json.dumps({"headers": headers, "pid": os.getpid(),
            "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}).encode()
    post("/invocation/%%s/response" %% rid, body)
'''


def write_bootstrap(directory, name="bootstrap"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(ECHO_BOOTSTRAP % {"python": sys.executable})
    os.chmod(path, 0o755)
    return path


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers,
                                         self.body[:300])


def invoke_path(function, qualifier=None):
    path = "/2015-03-31/functions/%s/invocations" % urllib.parse.quote(
        function, safe="")
    if qualifier is not None:
        path += "?Qualifier=" + urllib.parse.quote(qualifier, safe="")
    return path


def invoke(port, function, payload, qualifier=None, headers=None,
           access_key=lambda_service.TEST_ACCESS_KEY_ID,
           secret=lambda_service.TEST_SECRET,
           region=lambda_service.TEST_REGION,
           session_token=None, conn=None, now=None, tamper=None):
    """A SigV4-signed Invoke; payload is bytes or a JSON-able object.

    tamper(headers, body) may change the signed request before it is sent.
    """
    body = payload if isinstance(payload, bytes) else json.dumps(
        payload).encode()
    path = invoke_path(function, qualifier)
    url = "http://127.0.0.1:%d%s" % (port, path)
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    signed = sigv4.sign_request("POST", url, all_headers, body, access_key,
                                secret, region, "lambda", session_token, now)
    if tamper:
        body = tamper(signed, body)
    return request(port, "POST", path, body, signed, conn)


def request(port, method, path, body=b"", headers=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        if own:
            conn.close()


def control(port, **kwargs):
    r = request(port, "POST", "/_control", json.dumps(kwargs).encode(),
                {"Content-Type": "application/json"})
    if r.status != 200:
        raise AssertionError("/_control said %d: %s" % (r.status, r.body))
    return r.json()


def stats(port):
    return request(port, "GET", "/_stats").json()


def wait_for(condition, timeout, what):
    """Polls condition() until true (returned); AssertionError at timeout."""
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


def assert_function_error(test, r, error_type):
    """Checks that `r` is Lambda's answer to a function error of
    `error_type` (200 with X-Amz-Function-Error); returns its message."""
    test.assertEqual(r.status, 200, r)
    test.assertEqual(r.headers.get("x-amz-function-error"), "Unhandled", r)
    test.assertEqual(r.json()["errorType"], error_type, r)
    return r.json()["errorMessage"]
