"""With --tls_cert and --tls_key, dagd's HTTP port (dashboard, /metrics,
/healthz) serves HTTPS only: /healthz answers over https checked against
the CA that signed dagd's certificate (made with the openssl CLI for each
run), the dashboard's API too with a token, plain http on the same port
gets no answer, and a client that does not trust the CA refuses it. The
gRPC port keeps serving TLS to dagctl."""

import http.client
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

from dashboard_lib import Dagd


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=60)


def make_pki(folder):
    """A CA and a certificate it signs for 127.0.0.1: (cert, key, ca)."""
    p = lambda name: os.path.join(folder, name)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=test-ca", "-keyout", p("ca.key"), "-out", p("ca.pem"))
    with open(p("ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=dagd",
            "-keyout", p("dagd.key"), "-out", p("dagd.csr"))
    openssl("x509", "-req", "-days", "2", "-in", p("dagd.csr"), "-CA",
            p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-extfile",
            p("ext"), "-out", p("dagd.pem"))
    return p("dagd.pem"), p("dagd.key"), p("ca.pem")


class HttpsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="dagd-https-test-")
        cls.dagd = Dagd(workers=0, tokens={"t0ken": "alpha submit ci"},
                        token="t0ken", tls=make_pki(cls.pki))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.dagd.stop()
        finally:
            shutil.rmtree(cls.pki, ignore_errors=True)

    def test_healthz_and_the_api_over_https_with_the_ca(self):
        self.assertTrue(self.dagd.url.startswith("https://"))
        with urllib.request.urlopen(self.dagd.url + "/healthz", timeout=10,
                                    context=self.dagd.ssl) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"ok")
        self.assertEqual(self.dagd.get("/api/whoami")["tenant"], "alpha")
        # dagctl over the gRPC port's TLS; the job shows over https.
        job_id = self.dagd.submit({"tasks": [
            {"id": "a", "fn": "const", "args": {"value": 1}}]})
        self.assertEqual(self.dagd.get("/api/jobs/" + job_id)["id"], job_id)

    def test_plain_http_on_the_port_fails(self):
        port = int(self.dagd.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            answer = connection.getresponse().status
        except (http.client.HTTPException, OSError):
            answer = None  # no HTTP answer at all: what is wanted
        finally:
            connection.close()
        self.assertIsNone(answer, "plain http got an HTTP answer")

    def test_a_client_that_does_not_trust_the_ca_refuses_it(self):
        with self.assertRaises(urllib.error.URLError) as refused:
            urllib.request.urlopen(self.dagd.url + "/healthz", timeout=10,
                                   context=ssl.create_default_context())
        self.assertIsInstance(refused.exception.reason, ssl.SSLError)


if __name__ == "__main__":
    unittest.main()
