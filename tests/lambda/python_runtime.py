#!/usr/bin/python3
"""A stand-in for AWS Lambda's Python runtime, as the test Lambda service's
bootstrap: what the managed runtime does for a function whose handler is
`_HANDLER` ("package.module.function"), over the Runtime API at
AWS_LAMBDA_RUNTIME_API.

  * imports the handler once; an import failure is posted to /init/error;
  * for each invocation (GET .../invocation/next), calls
    handler(event, context) with the JSON payload decoded and a context
    whose get_remaining_time_in_millis() counts down to the deadline;
  * posts the returned value as JSON to .../response, or an exception as
    {"errorMessage": str(e), "errorType": the exception class's name,
    "stackTrace": [...]} to .../error, with the
    Lambda-Runtime-Function-Error-Type header set to that name.

Run by the service (tests/lambda/lambda_service.py --bootstrap=THIS
--handler=dagd.aws_lambda.handler).
"""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

PREFIX = "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.invoked_function_arn = headers.get(
            "Lambda-Runtime-Invoked-Function-Arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self._deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def error_body(error):
    return json.dumps({
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }).encode()


def post(conn, path, body, error_type=None):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["Lambda-Runtime-Function-Error-Type"] = error_type
    conn.request("POST", PREFIX + path, body, headers)
    conn.getresponse().read()


def load_handler():
    module_name, _, function = os.environ["_HANDLER"].rpartition(".")
    return getattr(importlib.import_module(module_name), function)


def main():
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    conn = http.client.HTTPConnection(host, int(port))
    try:
        handler = load_handler()
    except Exception as error:
        post(conn, "/init/error", error_body(error), type(error).__name__)
        return 1
    while True:
        conn.request("GET", PREFIX + "/invocation/next")
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            return 0  # the sandbox is stopping
        context = Context(response.headers)
        request_id = context.aws_request_id
        try:
            answer = json.dumps(handler(json.loads(payload), context))
        except Exception as error:
            post(conn, "/invocation/%s/error" % request_id,
                 error_body(error), type(error).__name__)
            continue
        post(conn, "/invocation/%s/response" % request_id, answer.encode())


if __name__ == "__main__":
    sys.exit(main())
