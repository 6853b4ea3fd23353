"""Targets on loopback for diagnostic checks: an HTTP server that counts hits, a tiny DNS server.

Both run in threads of the test process on free ports; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HttpTarget:
    """GET / -> 200, /missing -> 404, /slow -> 200 after `slow_seconds`; `hits` counts every path."""

    def __init__(self, slow_seconds: float = 3.0) -> None:
        self.hits: Counter[str] = Counter()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.hits[self.path] += 1
                if self.path == "/slow":
                    time.sleep(slow_seconds)  # the scenario: a target that answers late, by this much
                code = 404 if self.path == "/missing" else 200
                body = b"deskwatch test target\n"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HttpTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class DnsTarget:
    """Answers A queries for names in `records` (RFC 1035 over UDP); NXDOMAIN for anything else."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                return
            qid = struct.unpack("!H", data[:2])[0]
            labels, offset = [], 12
            while data[offset]:
                labels.append(data[offset + 1 : offset + 1 + data[offset]].decode())
                offset += data[offset] + 1
            question = data[12 : offset + 5]
            address = self.records.get(".".join(labels).lower())
            if address is None:
                reply = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
            else:
                answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
                reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
            self.sock.sendto(reply, addr)

    def __enter__(self) -> DnsTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
