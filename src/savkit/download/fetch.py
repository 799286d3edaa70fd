"""HTTP transfer with requests: sizes announced before the run, and a file fetched into a ``.part`` file that
resumes with a Range request (also after kill -9), retrying drops, timeouts and 5xx with exponential backoff.

A 403 or 410 from a signed CDN link means the links expired: :class:`LinksExpired`, which stops the whole run.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import requests
import urllib3

from savkit import __version__
from savkit.download.links import Link

CHUNK = 1 << 20
_EXPIRED = (403, 410)
_TRANSIENT_STATUS = (408, 429)


class LinksExpired(Exception):
    """The server refused a signed link (403/410): every link of the file has expired."""

    def __init__(self, name: str, status: int) -> None:
        super().__init__(f"HTTP {status} for {name}")
        self.name, self.status = name, status


class FetchFailed(Exception):
    """The file cannot be fetched (a 404, or retries exhausted); the message is the one-line reason."""


class Stopped(Exception):
    """The run is stopping (links expired elsewhere, or interrupted); the partial file is kept for resuming."""


class _Transient(Exception):
    """A drop, a timeout, a 5xx or a short body: worth another try after a pause."""


class RetryPolicy(NamedTuple):
    """How hard to try: ``retries`` consecutive failures without progress, pauses ``delay`` x 2^k up to ``max_delay``."""

    retries: int = 8
    delay: float = 1.0
    max_delay: float = 60.0
    connect_timeout: float = 30.0
    read_timeout: float = 60.0

    def pause(self, failures: int) -> float:
        return min(self.max_delay, self.delay * 2 ** (failures - 1))

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


def make_session(workers: int = 4) -> requests.Session:
    """A session keeping one connection per worker; bodies are asked for as they are (no compression)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=max(workers, 1) + 2)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept-Encoding": "identity", "User-Agent": f"savkit/{__version__}"})
    return session


def get_text(url: str, session: requests.Session | None = None, policy: RetryPolicy | None = None) -> str:
    """A small text file (the links file itself), or a SavkitError saying why not."""
    from savkit.errors import SavkitError

    try:
        response = (session or make_session()).get(url, timeout=(policy or RetryPolicy()).timeout)
    except requests.RequestException as exc:
        raise SavkitError(
            f"{url}: cannot fetch the links file ({type(exc).__name__}): check the URL"
        ) from None
    if response.status_code != 200:
        raise SavkitError(f"{url}: cannot fetch the links file (HTTP {response.status_code}): check the URL")
    return response.text


def probe_size(session: requests.Session, link: Link, policy: RetryPolicy, tries: int = 3) -> int | None:
    """The size the server announces (HEAD, else a one-byte range), None if it does not say (or does not answer:
    the transfer itself will retry)."""
    for attempt in range(1, tries + 1):
        try:
            response = session.head(link.url, allow_redirects=True, timeout=policy.timeout)
            if response.status_code in _EXPIRED:
                raise LinksExpired(link.name, response.status_code)
            if response.status_code == 200 and "Content-Length" in response.headers:
                return int(response.headers["Content-Length"])
            if response.status_code < 500:
                return _ranged_size(session, link, policy)
        except (requests.RequestException, ValueError):
            pass
        if attempt < tries:
            time.sleep(policy.pause(attempt))
    return None


def open_with_size(
    session: requests.Session, link: Link, start: int, policy: RetryPolicy, tries: int = 3
) -> tuple[int | None, requests.Response | None]:
    """The file's GET from byte ``start``, its headers read but not its body, and the size they announce: the
    transfer goes on reading this same response (:func:`fetch`'s ``opened``), with no request of its own for the
    size. ``(None, None)`` when the server does not answer (the transfer itself will retry)."""
    for attempt in range(1, tries + 1):
        try:
            response = _get(session, link, start, policy)
        except requests.RequestException:
            response = None
        if response is not None:
            status = response.status_code
            if status in _EXPIRED:
                response.close()
                raise LinksExpired(link.name, status)
            if status < 500 and status not in _TRANSIENT_STATUS:
                return announced_size(response), response
            response.close()
        if attempt < tries:
            time.sleep(policy.pause(attempt))
    return None, None


def announced_size(response: requests.Response) -> int | None:
    """The whole file's size by a GET's response: a 200's Content-Length, a 206's or 416's Content-Range total."""
    try:
        if response.status_code in (206, 416):  # a 416's is ``bytes */total``
            total = response.headers.get("Content-Range", "").rpartition("/")[2].strip()
            return None if total in ("", "*") else int(total)
        if response.status_code == 200 and "Content-Length" in response.headers:
            return int(response.headers["Content-Length"])
    except ValueError:
        pass
    return None


def _get(session: requests.Session, link: Link, start: int, policy: RetryPolicy) -> requests.Response:
    """A streaming GET from byte ``start`` (a Range request unless 0): the headers are read, the body is not."""
    headers = {"Range": f"bytes={start}-"} if start else {}
    return session.get(link.url, headers=headers, stream=True, timeout=policy.timeout)


def _ranged_size(session: requests.Session, link: Link, policy: RetryPolicy) -> int | None:
    with session.get(
        link.url, headers={"Range": "bytes=0-0"}, stream=True, timeout=policy.timeout
    ) as response:
        if response.status_code in _EXPIRED:
            raise LinksExpired(link.name, response.status_code)
        if response.status_code == 206:
            return _content_range(response)[2]
        if response.status_code == 200 and "Content-Length" in response.headers:
            return int(response.headers["Content-Length"])
    return None


def _content_range(response: requests.Response) -> tuple[int, int, int | None]:
    """(first, last, total) of a 206's ``Content-Range: bytes first-last/total``."""
    unit_range = response.headers.get("Content-Range", "").removeprefix("bytes ").strip()
    span, _, total = unit_range.partition("/")
    first, _, last = span.partition("-")
    return int(first), int(last), (None if total in ("", "*") else int(total))


class PartFile:
    """A file being fetched: ``written`` bytes on disk, readers woken when the bytes they wait for are there (or
    when it restarts from zero, finishes or aborts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = threading.Condition()
        self.written = path.stat().st_size if path.exists() else 0
        self.generation = 0  # bumped when the file restarts from zero; readers start over
        self.finished = False
        self.aborted = False
        self._wanted = math.inf  # the least size a reader waits for

    def wait_for(self, end: int, check: Callable[[], None]) -> int:
        """Wait until the file holds ``end`` bytes or is finished (``check`` raises to stop); return its size."""
        with self.changed:
            while self.written < end and not self.finished:
                check()
                self._wanted = min(self._wanted, end)
                self.changed.wait()
            check()
            return self.written

    def grow(self, count: int) -> None:
        with self.changed:
            self.written += count
            if self.written >= self._wanted:
                self._wanted = math.inf  # woken readers that still wait say again what for
                self.changed.notify_all()

    def restart(self) -> None:
        with self.changed:
            self.path.write_bytes(b"")
            self.written = 0
            self.generation += 1
            self.changed.notify_all()

    def finish(self, aborted: bool = False) -> None:
        with self.changed:
            self.finished, self.aborted = True, aborted
            self.changed.notify_all()


def fetch(
    session: requests.Session,
    link: Link,
    part: PartFile,
    size: int | None,
    stop: threading.Event,
    policy: RetryPolicy,
    on_bytes: Callable[[int], None],
    on_retry: Callable[[str], None],
    opened: tuple[int, requests.Response] | None = None,
) -> int:
    """Fetch ``link`` into ``part`` from where it stands (Range), retrying; return the final size.

    ``opened``: a GET already sent (``open_with_size``) and the byte it started at: the first attempt reads its body
    if it starts where ``part`` stands, else closes it."""
    failures = 0
    while True:
        if stop.is_set():
            if opened is not None:
                opened[1].close()
            raise Stopped()
        before = part.written
        if size is not None and before > size:
            part.restart()
        try:
            response, opened = _usable(opened, part.written), None
            if _transfer(session, link, part, size, stop, policy, on_bytes, response):
                return part.written
            raise _Transient(f"the body ended at byte {part.written:,} of {size:,}")
        except _Transient as exc:
            reason = str(exc)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = _failure_reason(exc)
        failures = 1 if part.written > before else failures + 1
        if failures > policy.retries:
            raise FetchFailed(f"gave up after {policy.retries} retries: {reason}")
        on_retry(
            f"{link.name}: {reason}; retrying in {policy.pause(failures):g} s from byte {part.written:,}"
        )
        if stop.wait(policy.pause(failures)):
            raise Stopped()


def _usable(opened: tuple[int, requests.Response] | None, start: int) -> requests.Response | None:
    """The GET sent ahead if it starts at ``start`` (else it is closed, unread)."""
    if opened is None:
        return None
    if opened[0] == start:
        return opened[1]
    opened[1].close()
    return None


def _failure_reason(exc: BaseException) -> str:
    timeouts = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    return "timed out" if isinstance(exc, timeouts) else f"connection dropped ({type(exc).__name__})"


def _transfer(
    session: requests.Session,
    link: Link,
    part: PartFile,
    size: int | None,
    stop: threading.Event,
    policy: RetryPolicy,
    on_bytes: Callable[[int], None],
    response: requests.Response | None = None,
) -> bool:
    """One request from byte ``part.written`` (or ``response``, sent from there already); True when complete."""
    start = part.written
    if size is not None and start == size:
        if response is not None:
            response.close()
        return True
    if response is None:
        response = _get(session, link, start, policy)
    with response:
        status = response.status_code
        if status in _EXPIRED:
            raise LinksExpired(link.name, status)
        if status == 416 and size is not None and start >= size:
            return True
        if status >= 500 or status in _TRANSIENT_STATUS or status == 416:
            if status == 416:
                part.restart()
            raise _Transient(f"HTTP {status}")
        if status not in (200, 206):
            raise FetchFailed(f"HTTP {status} {response.reason or ''}".strip())
        if status == 200 and start:
            part.restart()  # the server ignored the range: take the whole body
        elif status == 206 and _content_range(response)[0] != part.written:
            part.restart()
            raise _Transient("the server answered another range")
        _stream_body(response, part, stop, on_bytes)
    return size is None or part.written >= size


def _stream_body(
    response: requests.Response, part: PartFile, stop: threading.Event, on_bytes: Callable[[int], None]
) -> None:
    fd = os.open(part.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for chunk in _body_chunks(response):
            _write_all(fd, chunk, part.path)
            part.grow(len(chunk))
            on_bytes(len(chunk))
            if stop.is_set():
                raise Stopped()
    finally:
        os.close(fd)


def _body_chunks(response: requests.Response) -> Iterator[bytes | memoryview]:
    """The body as it arrives, undecoded: whatever the socket holds, up to 1 MiB (filling fixed 1 MiB buffers first
    made the transfer 2x slower than curl on a loaded machine). Each chunk is valid until the next is asked for.

    A body of announced length (what CDNs send) is read from the buffered socket reader of the http.client response
    under requests, into one reused buffer: requests' ``read1`` returns a new bytes object per read, whose pages the
    allocator gave back to the kernel and took again, in many runs the whole file's worth (263,000 page faults per GB
    against 4,850 here, and up to twice the CPU time). Any other body (chunked, or ending when the server closes)
    goes through requests.
    """
    source = getattr(response.raw, "_fp", None)  # the http.client.HTTPResponse
    reader, remaining = getattr(source, "fp", None), getattr(source, "length", None)
    if getattr(source, "chunked", True) or not isinstance(remaining, int) or not hasattr(reader, "readinto1"):
        while chunk := response.raw.read1(CHUNK, decode_content=False):
            yield chunk
        return
    buffer = memoryview(bytearray(CHUNK))
    while remaining > 0:
        count = reader.readinto1(buffer[: min(CHUNK, remaining)])
        if not count:
            return  # the server closed early: the caller resumes from here
        remaining -= count
        yield buffer[:count]


def _write_all(fd: int, data: bytes | memoryview, path: Path) -> None:
    """Write all of ``data``; a full disk is the file's failure, not a network drop to retry."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise FetchFailed(f"cannot write {path}: {exc.strerror or exc}") from None
