"""Independent clients against the test Lambda service: Debian's awscli
(botocore's SigV4, which URI-encodes the function name's path segment a
second time for the canonical request) and curl's --aws-sigv4 (the way a
libcurl-based invoker signs). A signature these compute must verify, and
the function's output must come back.

    python3 tests/lambda/clients_test.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_service  # noqa: E402
import testlib  # noqa: E402


def find_aws():
    """Debian's awscli; a pyenv shim on PATH may be another, or broken."""
    if os.access("/usr/bin/aws", os.X_OK):
        return "/usr/bin/aws"
    return shutil.which("aws")


class ClientsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        config = lambda_service.Config(
            bootstrap=testlib.write_bootstrap(self.tmp.name), quiet=True)
        self.service = lambda_service.LambdaService(config).start()
        self.endpoint = self.service.endpoint

    def tearDown(self):
        self.service.stop()
        self.tmp.cleanup()

    def aws_invoke(self, function, payload, secret=lambda_service.TEST_SECRET,
                   extra=()):
        aws = find_aws()
        if not aws:
            self.skipTest("awscli is not installed (deploy/install-deps.sh "
                          "installs it)")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=lambda_service.TEST_ACCESS_KEY_ID,
                   AWS_SECRET_ACCESS_KEY=secret,
                   AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_PAGER="", HOME=self.tmp.name)
        out = os.path.join(self.tmp.name, "out.json")
        r = subprocess.run(
            [aws, "lambda", "invoke", "--endpoint-url", self.endpoint,
             "--region", "us-east-1", "--function-name", function,
             "--cli-binary-format", "raw-in-base64-out", "--payload",
             payload, *extra, out],
            env=env, capture_output=True, text=True, timeout=60)
        output = None
        if r.returncode == 0:
            with open(out) as f:
                output = f.read()
        return r, output

    def test_awscli(self):
        r, output = self.aws_invoke("echo", '{"x":1}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(output), {"x": 1})
        self.assertEqual(json.loads(r.stdout)["StatusCode"], 200)
        # An ARN with an alias: ':' travels as %3A and is signed as %253A.
        r, output = self.aws_invoke(
            "arn:aws:lambda:us-east-1:123456789012:function:echo:live",
            '{"y":2}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(output), {"y": 2})
        self.assertEqual(json.loads(r.stdout)["ExecutedVersion"], "1")
        r, _ = self.aws_invoke("echo", '{"x":1}', secret="wrong")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("InvalidSignatureException", r.stderr)
        stats = testlib.stats(self.service.port)
        self.assertEqual(stats["signature_failures"], 1)
        self.assertEqual(stats["status"], {"200": 2, "403": 1})

    def curl(self, path, body_file, *extra):
        curl = shutil.which("curl")
        if not curl:
            self.skipTest("curl is not installed")
        r = subprocess.run(
            [curl, "-sS", "--aws-sigv4", "aws:amz:us-east-1:lambda",
             "--user", "%s:%s" % (lambda_service.TEST_ACCESS_KEY_ID,
                                  lambda_service.TEST_SECRET),
             "-H", "Content-Type: application/json", "--data-binary",
             "@" + body_file, "-w", "\n%{http_code}", *extra,
             self.endpoint + path],
            capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code), body

    def test_curl_aws_sigv4(self):
        small = os.path.join(self.tmp.name, "small.json")
        with open(small, "w") as f:
            f.write('{"x": 1}')
        code, body = self.curl(testlib.invoke_path("echo"), small)
        self.assertEqual((code, json.loads(body)), (200, {"x": 1}))
        # One query parameter, already in canonical form, signs the same
        # either way (curl 7.88 neither re-encodes nor sorts the query).
        code, body = self.curl(testlib.invoke_path("echo", "live"), small)
        self.assertEqual((code, json.loads(body)), (200, {"x": 1}))
        # Over 1 MB curl sends Expect: 100-continue; over 6 MB the answer
        # is 413 before the body is sent.
        big = os.path.join(self.tmp.name, "big.json")
        with open(big, "w") as f:
            f.write(json.dumps("b" * 2000000))
        code, body = self.curl(testlib.invoke_path("echo"), big)
        self.assertEqual((code, len(body)), (200, 2000002))
        with open(big, "w") as f:
            f.write(json.dumps("b" * 7000000))
        code, body = self.curl(testlib.invoke_path("echo"), big)
        self.assertEqual(code, 413)
        self.assertIn(b"Request must be smaller than 6291456 bytes", body)


if __name__ == "__main__":
    unittest.main()
