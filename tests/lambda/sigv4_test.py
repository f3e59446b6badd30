"""sigv4.py against AWS's published example signatures, so the service's
verifier and the tests' signer are not only checked against each other.

    python3 tests/lambda/sigv4_test.py
"""

import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sigv4  # noqa: E402

SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
EMPTY = sigv4.sha256_hex(b"")


def suite_signature(path, query):
    creq, missing = sigv4.canonical_request(
        "GET", path, query, [("Host", "example.amazonaws.com"),
                             ("X-Amz-Date", SUITE_DATE)],
        ["host", "x-amz-date"], EMPTY)
    assert not missing
    return sigv4.signature(SUITE_SECRET, SUITE_DATE, "us-east-1", "service",
                           creq)


class PublishedExamplesTest(unittest.TestCase):

    def test_signature_v4_test_suite(self):
        # aws-sig-v4-test-suite: get-vanilla, get-vanilla-query-order-key-case.
        self.assertEqual(suite_signature("/", ""), "5fa00fa31553b73ebf1942676e"
                         "86291e8372ff2a2260956d9b8aae1d763fbf31")
        self.assertEqual(suite_signature("/", "Param2=value2&Param1=value1"),
                         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3"
                         "219ec94cdf2500")

    def test_s3_get_object_example(self):
        # The S3 API reference's "GET Object" example (its canonical URI
        # has nothing to encode, so S3's single encoding does not matter).
        creq, _ = sigv4.canonical_request(
            "GET", "/test.txt", "", [
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY),
                ("x-amz-date", "20130524T000000Z")],
            ["host", "range", "x-amz-content-sha256", "x-amz-date"], EMPTY)
        self.assertEqual(
            sigv4.signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                            "20130524T000000Z", "us-east-1", "s3", creq),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


class CanonicalFormTest(unittest.TestCase):

    def test_uri_is_encoded_once_more_than_on_the_wire(self):
        self.assertEqual(
            sigv4.canonical_uri("/2015-03-31/functions/arn%3Aaws%3Alambda/x"),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/x")
        self.assertEqual(sigv4.canonical_uri("/a:b/c d"), "/a%3Ab/c%20d")
        self.assertEqual(sigv4.canonical_uri("/a/./b/../c//d/"), "/a/c/d/")
        self.assertEqual(sigv4.canonical_uri(""), "/")

    def test_query_sorted_and_encoded(self):
        self.assertEqual(sigv4.canonical_query("b=2&a=%24LATEST&a=1&c"),
                         "a=%24LATEST&a=1&b=2&c=")
        self.assertEqual(sigv4.canonical_query("q=a b&r=x%2By"),
                         "q=a%20b&r=x%2By")

    def test_header_values_trimmed(self):
        text, missing = sigv4.canonical_headers(
            [("X-A", "  one   two "), ("x-a", "three"), ("Host", "h")],
            ["host", "x-a", "x-b"])
        self.assertEqual(text, "host:h\nx-a:one two,three\n")
        self.assertEqual(missing, ["x-b"])

    def test_sign_then_verify(self):
        now = datetime.datetime(2024, 1, 2, 3, 4, 5,
                                tzinfo=datetime.timezone.utc)
        url = "http://127.0.0.1:9/2015-03-31/functions/echo/invocations"
        headers = sigv4.sign_request("POST", url, {"Content-Type": "a/b"},
                                     b"{}", "K", "S", "us-east-1", "lambda",
                                     now=now)
        sigv4.verify_request("POST", "/2015-03-31/functions/echo/invocations",
                             "", list(headers.items()), b"{}", {"K": "S"},
                             "us-east-1", "lambda", now=now)
        with self.assertRaises(sigv4.SignatureError) as e:
            sigv4.verify_request(
                "POST", "/2015-03-31/functions/echo/invocations", "",
                list(headers.items()), b"{}", {"K": "other"}, "us-east-1",
                "lambda", now=now)
        self.assertEqual(e.exception.error_type, "InvalidSignatureException")


if __name__ == "__main__":
    unittest.main()
