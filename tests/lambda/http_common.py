"""HTTP/1.1 plumbing shared by the Invoke API and the Runtime API servers.

Keep-alive connections (libcurl and botocore reuse them), bodies framed by
Content-Length or chunked transfer coding, and a server that binds
127.0.0.1 only and serves each connection on its own daemon thread.
"""

import http.server
import json
import sys

LOOPBACK = "127.0.0.1"


class BodyTooLarge(Exception):
    """A body past the reader's hard cap; the connection must be closed."""


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port, handler_class, owner):
        super().__init__((LOOPBACK, port), handler_class)
        self.owner = owner

    def handle_error(self, request, client_address):
        # A peer that went away (a killed bootstrap, a client that gave up)
        # is routine here; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def port(self):
        return self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dagd-test-lambda"
    sys_version = ""
    verbose = False

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("lambda_service: %s\n" % (fmt % args))

    def split_path(self):
        path, _, query = self.path.partition("?")
        return path, query

    def read_body(self, cap):
        """The request body, or raises BodyTooLarge past `cap` bytes."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(cap)
        length = int(self.headers.get("Content-Length") or 0)
        if length > cap:
            raise BodyTooLarge()
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, cap):
        parts = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0",
                       16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > cap:
                raise BodyTooLarge()
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def send(self, status, headers=None, body=b""):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, obj, headers=None):
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        self.send(status, all_headers, json.dumps(obj).encode())
