"""A local HTTP file server for the download tests and benchmark: 127.0.0.1 only, HEAD and Range requests, every
request recorded, and faults injected per file (dropped connection, a status code, a short body, a corrupt byte,
a slow transfer)."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """One injected fault, used by the next GET of its file: ``kind`` is ``status`` (answer ``status``),
    ``drop`` (reset the connection after ``at`` bytes), ``short`` (close cleanly after ``at`` bytes) or
    ``corrupt`` (flip the byte at offset ``at``)."""

    kind: str
    at: int = 0
    status: int = 500


@dataclass(frozen=True)
class Request:
    method: str
    name: str
    range: str | None


class FileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, Path], rate: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.rate = rate  # bytes per second per response, None = as fast as possible
        self.ranges = True  # False: ignore Range headers (answer 200 with the whole file), as some servers do
        self.lengths = True  # False: no Content-Length; a body ends when the server closes the connection
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def url(self, name: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}" + (f"?{query}" if query else "")

    def gets(self, name: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.name == name]

    def next_fault(self, name: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(name)
            return queue.pop(0) if queue else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as CDNs send: with Nagle, the body waited for the ACK of the headers, which a client delays
    # (~40 ms) on a reused keep-alive connection: a stall per response that only clients reusing connections paid
    disable_nagle_algorithm = True
    server: FileServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        name = urlsplit(self.path).path.lstrip("/")
        with self.server.lock:
            self.server.requests.append(Request(self.command, name, self.headers.get("Range")))
        path = self.server.files.get(name)
        if path is None:
            self.send_error(404)
            return
        fault = self.server.next_fault(name) if body else None
        if fault is not None and fault.kind == "status":
            self.send_error(fault.status)
            return
        size = path.stat().st_size
        start, end = self._range(size)
        if start is None:
            self.send_response(200)
            start, end = 0, size - 1
        else:
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if self.server.lengths:
            self.send_header("Content-Length", str(end - start + 1))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            self._body(path, start, end + 1, fault)

    def _range(self, size: int) -> tuple[int | None, int]:
        header = self.headers.get("Range", "")
        if not header.startswith("bytes=") or not self.server.ranges:
            return None, size - 1
        first, _, last = header.removeprefix("bytes=").partition("-")
        return int(first), min(int(last), size - 1) if last else size - 1

    def _body(self, path: Path, start: int, stop: int, fault: Fault | None) -> None:
        if fault is None and self.server.rate is None:
            with open(path, "rb") as source:
                self.connection.sendfile(source, start, stop - start)
            return
        cut = start + fault.at if fault is not None and fault.kind in ("drop", "short") else stop
        with open(path, "rb") as source:
            source.seek(start)
            position = start
            while position < min(stop, cut):
                data = bytearray(source.read(min(65536, min(stop, cut) - position)))
                if (
                    fault is not None
                    and fault.kind == "corrupt"
                    and position <= fault.at < position + len(data)
                ):
                    data[fault.at - position] ^= 0xFF
                self.wfile.write(data)
                position += len(data)
                if self.server.rate:
                    time.sleep(len(data) / self.server.rate)
        if cut < stop:
            self.wfile.flush()
            if fault.kind == "drop":  # an abrupt reset (RST), as a dropped connection looks to the client
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True


@contextmanager
def serve(files: dict[str, Path], rate: float | None = None) -> Iterator[FileServer]:
    server = FileServer(files, rate)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def links_file(path: Path, server: FileServer, names: list[str], expires: int | None = None) -> Path:
    """A links file as the SA-V download page gives it, with ``oe=`` (hex expiry) in each URL."""
    expires = int(time.time()) + 86400 if expires is None else expires
    rows = ["file_name\tcdn_link"]
    rows += [f"{name}\t{server.url(name, f'_nc_ht=x&oh=00_abc&oe={expires:X}')}" for name in names]
    path.write_text("\n".join(rows) + "\n")
    return path
