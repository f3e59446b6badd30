"""Open event streams never starve /healthz: with every allowed stream
open (--dashboard_max_streams=3), /healthz still answers at once, one more
stream is refused with 429 and a JSON error, and a stream's slot is free
again once its client goes away."""

import json
import socket
import time
import unittest
import urllib.request

from dashboard_lib import Dagd, wait_for


def open_stream(url: str, path: str) -> socket.socket:
    host, port = url.replace("http://", "").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream"
                  "\r\n\r\n" % (path, host)).encode())
    return sock


def read_head(sock: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


class StreamsTest(unittest.TestCase):

    def setUp(self):
        self.dagd = Dagd("--dashboard_max_streams=3", workers=1)

    def tearDown(self):
        self.dagd.stop()

    def test_healthz_answers_with_every_stream_open_and_extra_refused(self):
        streams = [open_stream(self.dagd.url, "/api/events") for _ in range(3)]
        for sock in streams:
            self.assertIn("text/event-stream", read_head(sock))
        start = time.monotonic()
        with urllib.request.urlopen(self.dagd.url + "/healthz", timeout=5) as r:
            self.assertEqual(r.read(), b"ok")
        self.assertLess(time.monotonic() - start, 1.0)

        extra = open_stream(self.dagd.url, "/api/events")
        head = read_head(extra)
        self.assertTrue(head.startswith("HTTP/1.1 429"), head)
        extra.close()
        with urllib.request.urlopen(self.dagd.url + "/api/jobs", timeout=5) as r:
            self.assertIn("jobs", json.loads(r.read()))

        streams.pop().close()

        def reopened():
            sock = open_stream(self.dagd.url, "/api/events")
            head = read_head(sock)
            if "text/event-stream" in head:
                streams.append(sock)
                return True
            sock.close()
            return False

        # The closed client is noticed at the stream's next write
        # (a keepalive at the latest).
        wait_for(reopened, 40, "a stream slot to free up")
        for sock in streams:
            sock.close()


if __name__ == "__main__":
    unittest.main()
