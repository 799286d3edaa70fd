"""``download``: the whole run: checks before any byte, checksum lists first, then the files in parallel threads,
each fetched, verified and unpacked at once, with a marker per finished file so that a re-run does only the rest.

State lives in ``OUT/.savkit-download/``: ``NAME.part`` (the bytes so far), ``NAME.extract/`` (the unpacking),
``NAME.placing`` (a verified extraction being renamed into place) and ``NAME.done`` (the marker).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from savkit.download.extract import (
    STATE_DIR,
    MemberFilter,
    Restarted,
    extract_stream,
    hash_part,
    place,
    plan_placement,
)
from savkit.download.fetch import (
    FetchFailed,
    LinksExpired,
    PartFile,
    RetryPolicy,
    Stopped,
    fetch,
    make_session,
    open_with_size,
    probe_size,
)
from savkit.download.links import (
    FRESH_LINKS,
    Link,
    check_not_expired,
    checksum_kind,
    extract_root,
    parse_checksums,
    read_links,
    select,
)
from savkit.errors import SavkitError
from savkit.io.atomic import write_text_atomic
from savkit.io.lock import locked_folder

DEFAULT_WORKERS = 4


class DownloadProgress:
    """What a run reports as it goes (called from worker threads); the CLI draws bars from it. No-ops here."""

    def planned(self, files: int, total_bytes: int, done_bytes: int) -> None:
        """The run is about to fetch ``files`` files of ``total_bytes``, ``done_bytes`` of them already on disk."""

    def file_started(self, name: str, size: int | None, done: int) -> None:
        """A file starts (or starts over): ``done`` of its ``size`` bytes are already there."""

    def advanced(self, name: str, count: int) -> None:
        """``count`` more bytes of ``name`` arrived (negative when a corrupt copy is thrown away)."""

    def file_ended(self, name: str) -> None:
        """``name`` is finished, skipped, failed or stopped."""

    def warned(self, message: str) -> None:
        """Something the user should know (a refused tar member, a checksum mismatch, a retry)."""


class _Record:
    """Plain records (not dataclasses: ``dataclasses`` imports ``inspect``, a few ms of every run's start-up)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class FileResult(_Record):
    """How one file of the links file ended: ``done``, ``skipped`` (complete before), ``failed`` or ``stopped``."""

    def __init__(
        self,
        name: str,
        status: str,
        bytes: int = 0,
        verified: str | None = None,
        extracted: bool = False,
        reason: str = "",
    ) -> None:
        self.name, self.status, self.bytes = name, status, bytes
        self.verified, self.extracted, self.reason = verified, extracted, reason


class DownloadReport(_Record):
    """Every selected file's result, the warnings, the wall time and, if the links expired mid-run, why."""

    def __init__(self) -> None:
        self.files: list[FileResult] = []
        self.warnings: list[str] = []
        self.seconds = 0.0
        self.expired: str | None = None

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.files)

    @property
    def fetched_bytes(self) -> int:
        return sum(result.bytes for result in self.files)

    @property
    def ok(self) -> bool:
        return not any(result.status in ("failed", "stopped") for result in self.files)


def download(
    links: str | os.PathLike,
    out: str | os.PathLike,
    only: str | None = None,
    workers: int = DEFAULT_WORKERS,
    keep_tars: bool = False,
    extract: bool = True,
    progress: DownloadProgress | None = None,
    policy: RetryPolicy | None = None,
) -> DownloadReport:
    """Fetch, verify and unpack the files of an SA-V links file (a path or URL) into ``out``.

    Bad input (malformed links file, unknown ``only`` name, expired links, too little disk space) raises a
    SavkitError before anything is fetched. Per-file problems end in the report, never stopping the other files,
    except expired links (a 403/410), which stop the run cleanly, keeping everything complete.
    """
    if workers < 1:
        raise SavkitError(f"--workers {workers}: give at least 1")
    started = time.perf_counter()
    policy = policy or RetryPolicy()
    session = make_session(workers)
    selected = select(read_links(links, session), only)
    run = _Run(Path(out), session, policy, progress or DownloadProgress(), keep_tars, extract)
    try:
        with locked_folder(run.out):
            run.execute(selected, workers)
    finally:
        session.close()
    run.report.seconds = time.perf_counter() - started
    return run.report


class _Run:
    """One run's shared state: where things go, the stop signal, the checksums, the report."""

    def __init__(
        self,
        out: Path,
        session: requests.Session,
        policy: RetryPolicy,
        progress: DownloadProgress,
        keep_tars: bool,
        extract: bool,
    ) -> None:
        self.out, self.state = out, out / STATE_DIR
        self.session, self.policy, self.progress = session, policy, progress
        self.keep_tars, self.extract = keep_tars, extract
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sums: dict[str, dict[str, str]] = {"sha256": {}, "md5": {}}
        self.report = DownloadReport()
        self.opened: dict[str, tuple[int, requests.Response]] = {}  # GETs sent for their size, bodies unread

    # -- the run --------------------------------------------------------------------------------------------------

    def execute(self, links: list[Link], workers: int) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        to_fetch, local = [], []
        for link in links:
            skipped = self._already_done(link)
            if skipped is not None:
                self.report.files.append(skipped)
            elif self._unpacks_locally(link):
                local.append(link)
            else:
                to_fetch.append(link)
        check_not_expired(to_fetch)
        try:
            sizes = self._sizes(to_fetch, workers)
            self._check_disk(to_fetch, sizes, workers)
            self._fetch_all(links, to_fetch, local, sizes, workers)
        finally:
            for _, response in self.opened.values():
                response.close()
        order = {link.name: index for index, link in enumerate(links)}
        self.report.files.sort(key=lambda result: order[result.name])

    def _fetch_all(
        self,
        links: list[Link],
        to_fetch: list[Link],
        local: list[Link],
        sizes: dict[str, int | None],
        workers: int,
    ) -> None:
        """The checksum lists first (so that every file they list is verified), then the rest in parallel."""
        parts = sum(self._part(link).stat().st_size for link in to_fetch if self._part(link).exists())
        self.progress.planned(len(to_fetch) + len(local), sum(size or 0 for size in sizes.values()), parts)
        checksum_lists = [link for link in to_fetch if checksum_kind(link.name)]
        for link in checksum_lists:
            self.report.files.append(self._run_file(link, sizes.get(link.name)))
        self._load_checksums(links)
        others = local + [link for link in to_fetch if link not in checksum_lists]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="savkit-download") as pool:
            futures = [pool.submit(self._run_file, link, sizes.get(link.name)) for link in others]
            try:
                self.report.files.extend(future.result() for future in futures)
            except BaseException:
                self.stop.set()
                raise

    def _unpacks_locally(self, link: Link) -> bool:
        """Nothing to fetch: a verified extraction waits to be placed, or a verified tar waits to be unpacked."""
        if self._state_path(link, ".placing").exists():
            return True
        marker = self._read_marker(link)
        return marker is not None and self._unpacks(link) and (self.out / link.name).is_file()

    def _sizes(self, links: list[Link], workers: int) -> dict[str, int | None]:
        """The sizes the server announces, before any byte of any file is read; a 403/410 means the links expired.

        One file: its own GET, whose body is read only after the disk check (``self.opened``), so no request is
        spent on the size. Several: a HEAD each, in parallel, since every size is needed before the first starts.
        """
        try:
            if len(links) == 1:
                [link] = links
                part = self._part(link)
                start = part.stat().st_size if part.exists() else 0
                size, response = open_with_size(self.session, link, start, self.policy)
                if response is not None:
                    self.opened[link.name] = (start, response)
                return {link.name: size}
            with ThreadPoolExecutor(max_workers=workers) as pool:
                sizes = list(pool.map(lambda link: probe_size(self.session, link, self.policy), links))
        except LinksExpired as exc:
            raise SavkitError(f"the server refused the links ({exc}): {FRESH_LINKS}") from None
        return {link.name: size for link, size in zip(links, sizes, strict=True)}

    def _check_disk(self, links: list[Link], sizes: dict[str, int | None], workers: int) -> None:
        """Enough free space for what remains: tars still to fetch, their unpacked contents, and, for tars deleted
        after unpacking, the ``workers`` largest in flight at once."""
        remaining, unpacked, transient = 0, 0, []
        for link in links:
            size = sizes.get(link.name)
            if size is None:
                continue
            part = self._part(link)
            missing = max(0, size - (part.stat().st_size if part.exists() else 0))
            if self._unpacks(link):
                unpacked += size
                if not self.keep_tars:
                    transient.append(missing)
                    continue
            remaining += missing
        needed = remaining + unpacked + sum(sorted(transient, reverse=True)[:workers])
        free = shutil.disk_usage(self.state).free
        if needed > free:
            raise SavkitError(
                f"{self.out}: needs about {needed / 1e9:,.1f} GB free for the selected files, "
                f"{free / 1e9:,.1f} GB available: free some space, choose another OUT or select fewer files (--only)"
            )

    def _load_checksums(self, links: list[Link]) -> None:
        for link in links:
            kind = checksum_kind(link.name)
            path = self.out / link.name
            if kind and path.is_file():
                self.sums[kind].update(parse_checksums(path.read_text(encoding="utf-8", errors="replace")))

    # -- one file ---------------------------------------------------------------------------------------------------

    def _run_file(self, link: Link, size: int | None) -> FileResult:
        """Fetch, verify and unpack one file; every ending becomes a result (expired links also stop the run)."""
        if self.stop.is_set():
            return FileResult(link.name, "stopped", reason="not started: the run stopped")
        try:
            return self._get_file(link, size)
        except LinksExpired as exc:
            self.stop.set()
            with self.lock:
                self.report.expired = (
                    self.report.expired or f"the server refused the links ({exc}): {FRESH_LINKS}"
                )
            return FileResult(link.name, "stopped", reason=f"links expired ({exc}); the partial file is kept")
        except Stopped:
            return FileResult(
                link.name, "stopped", reason="the run stopped; the partial file is kept for the next run"
            )
        except (FetchFailed, SavkitError) as exc:
            return FileResult(link.name, "failed", reason=str(exc))
        except OSError as exc:
            return FileResult(link.name, "failed", reason=f"{type(exc).__name__}: {exc}")
        finally:
            self.progress.file_ended(link.name)

    def _get_file(self, link: Link, size: int | None) -> FileResult:
        journal = self._state_path(link, ".placing")
        if journal.exists():  # a verified extraction was being renamed into place when the run was killed
            return self._finish_placing(link, json.loads(journal.read_text()))
        marker = self._read_marker(link)
        if marker is not None and not marker["extracted"] and (self.out / link.name).is_file():
            return self._unpack_local(link, marker)
        if (self.keep_tars or not self._unpacks(link)) and (self.out / link.name).exists():
            raise SavkitError(
                f"{self.out / link.name} exists and savkit download did not write it: move it away"
            )
        algorithm, expected = self._expected(link.name)
        fetched = 0
        for attempt in (1, 2):
            outcome = self._fetch_and_consume(link, size, algorithm)
            fetched += outcome.fetched
            if expected is None or outcome.digest == expected:
                break
            self._discard(link)
            self.progress.advanced(link.name, -outcome.size)
            if attempt == 2:
                raise FetchFailed(f"{algorithm} mismatch twice (expected {expected}, got {outcome.digest})")
            self._warn(
                f"{link.name}: {algorithm} mismatch (expected {expected}, got {outcome.digest}); fetching it again"
            )
        if outcome.error:
            raise FetchFailed(f"verified, but cannot unpack: {outcome.error}")
        result = FileResult(link.name, "done", fetched, verified=algorithm if expected else None)
        return self._finish(link, result, outcome, algorithm, expected)

    def _finish(self, link: Link, result: FileResult, outcome: _Outcome, algorithm, expected) -> FileResult:
        marker = {
            "name": link.name,
            "size": outcome.size,
            "digest": f"{algorithm}:{expected}" if expected else None,
        }
        if self._unpacks(link):
            try:
                moves = plan_placement(self._extract_dir(link), self.out, extract_root(link.name))
            except SavkitError as exc:  # the complete .part stays: the next run unpacks it without fetching
                shutil.rmtree(self._extract_dir(link), ignore_errors=True)
                raise SavkitError(
                    f"{exc} (the verified tar is kept; nothing will be fetched again)"
                ) from None
            write_text_atomic(self._state_path(link, ".placing"), json.dumps({**marker, "placed": moves}))
            return self._finish_placing(link, {**marker, "placed": moves}, result)
        self._keep_tar(link)
        self._write_marker(link, {**marker, "extracted": False, "placed": []})
        return result

    def _finish_placing(self, link: Link, marker: dict, result: FileResult | None = None) -> FileResult:
        """Rename the verified extraction into OUT, then mark the file done and drop (or keep) the tar."""
        place(self._extract_dir(link), self.out, marker["placed"])
        shutil.rmtree(self._extract_dir(link), ignore_errors=True)
        if self.keep_tars and self._part(link).exists():
            self._keep_tar(link)
        self._write_marker(link, {**marker, "extracted": True})
        self._part(link).unlink(missing_ok=True)
        self._state_path(link, ".placing").unlink(missing_ok=True)
        result = result or FileResult(
            link.name, "done", verified=(marker.get("digest") or ":").split(":")[0] or None
        )
        result.extracted = True
        return result

    def _unpack_local(self, link: Link, marker: dict) -> FileResult:
        """A tar fetched and verified by an earlier run (``--no-extract``, or a placement clash): unpack it now."""
        tar = self.out / link.name
        part = PartFile(tar)
        part.finish()
        self.progress.file_started(link.name, part.written, part.written)
        error = self._consume(part, link, None).error
        if error:
            raise FetchFailed(f"cannot unpack {tar}: {error}")
        moves = plan_placement(self._extract_dir(link), self.out, extract_root(link.name))
        placing = {**marker, "placed": moves}
        write_text_atomic(self._state_path(link, ".placing"), json.dumps(placing))
        if not self.keep_tars:
            os.replace(tar, self._part(link))
        return self._finish_placing(link, placing, FileResult(link.name, "done"))

    # -- transfer with hashing and unpacking alongside ----------------------------------------------------------------

    def _fetch_and_consume(self, link: Link, size: int | None, algorithm: str | None) -> _Outcome:
        part = self._open_part(link, size)
        resumed = part.written
        self.progress.file_started(link.name, size, resumed)
        outcome = _Outcome()
        consumer = None
        if algorithm or self._unpacks(link):
            consumer = threading.Thread(
                target=lambda: self._consume(part, link, algorithm, outcome), daemon=True
            )
            consumer.start()
        try:
            final = fetch(
                self.session,
                link,
                part,
                size,
                self.stop,
                self.policy,
                on_bytes=lambda count: self.progress.advanced(link.name, count),
                on_retry=self.progress.warned,
                opened=self.opened.pop(link.name, None),
            )
        except BaseException:
            part.finish(aborted=True)
            if consumer is not None:
                consumer.join()
            raise
        part.finish()
        if consumer is not None:
            consumer.join()
        if size is not None and final != size:
            raise FetchFailed(f"got {final:,} bytes, the server announced {size:,}")
        outcome.size, outcome.fetched = final, final - resumed
        return outcome

    def _consume(
        self, part: PartFile, link: Link, algorithm: str | None, outcome: _Outcome | None = None
    ) -> _Outcome:
        """Hash (in a thread of its own) and unpack ``part`` as it grows; both start over if it restarts from zero."""
        outcome = outcome or _Outcome()
        while True:
            outcome.error, outcome.digest, restarted = None, None, []
            hasher = None
            if algorithm:
                hasher = threading.Thread(
                    target=self._hash, args=(part, algorithm, outcome, restarted), daemon=True
                )
                hasher.start()
            try:
                if self._unpacks(link):
                    self._unpack(part, link, outcome)
            except Restarted:
                restarted.append(True)
            except Stopped:
                pass
            if hasher is not None:
                hasher.join()
            if not restarted:
                return outcome

    @staticmethod
    def _hash(part: PartFile, algorithm: str, outcome: _Outcome, restarted: list) -> None:
        try:
            outcome.digest = hash_part(part, algorithm)
        except Restarted:
            restarted.append(True)
        except Stopped:
            pass

    def _unpack(self, part: PartFile, link: Link, outcome: _Outcome) -> None:
        temp = self._extract_dir(link)
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        members = MemberFilter(link.name, extract_root(link.name), self._warn)
        try:
            extract_stream(part, temp, members)
        except (Restarted, Stopped):
            raise
        except Exception as exc:  # a corrupt tar or a full disk: the checksum says which
            outcome.error = f"{type(exc).__name__}: {exc}"

    # -- state files ----------------------------------------------------------------------------------------------

    def _already_done(self, link: Link) -> FileResult | None:
        marker = self._read_marker(link)
        if marker is None:
            return None
        if marker["extracted"] and all(os.path.lexists(self.out / path) for path in marker["placed"]):
            self._clear_leftovers(link)
            return FileResult(link.name, "skipped", extracted=True)
        if not marker["extracted"] and (self.out / link.name).is_file():
            if not self._unpacks(link):
                return FileResult(link.name, "skipped")
            return None  # fetched earlier without unpacking: unpack now (no transfer)
        self._state_path(link, ".done").unlink()  # its outputs were removed: do it again
        return None

    def _open_part(self, link: Link, size: int | None) -> PartFile:
        """The partial file to resume, unless it was for a file of another size (then it starts over)."""
        path, info = self._part(link), self._state_path(link, ".part.json")
        part = PartFile(path)
        recorded = json.loads(info.read_text()).get("size") if info.exists() else None
        if part.written and (recorded != size or size is None):
            part.restart()
        write_text_atomic(info, json.dumps({"size": size}))
        return part

    def _discard(self, link: Link) -> None:
        self._part(link).unlink(missing_ok=True)
        shutil.rmtree(self._extract_dir(link), ignore_errors=True)

    def _keep_tar(self, link: Link) -> None:
        os.replace(self._part(link), self.out / link.name)

    def _clear_leftovers(self, link: Link) -> None:
        self._part(link).unlink(missing_ok=True)
        self._state_path(link, ".part.json").unlink(missing_ok=True)
        shutil.rmtree(self._extract_dir(link), ignore_errors=True)

    def _write_marker(self, link: Link, marker: dict) -> None:
        write_text_atomic(self._state_path(link, ".done"), json.dumps(marker, indent=1))
        self._state_path(link, ".part.json").unlink(missing_ok=True)

    def _read_marker(self, link: Link) -> dict | None:
        path = self._state_path(link, ".done")
        with contextlib.suppress(FileNotFoundError, ValueError):
            return json.loads(path.read_text())
        return None

    def _expected(self, name: str) -> tuple[str | None, str | None]:
        """The checksum to verify ``name`` with: SHA-256 when listed, else MD5, else none."""
        for algorithm in ("sha256", "md5"):
            if name in self.sums[algorithm]:
                return algorithm, self.sums[algorithm][name]
        return None, None

    def _unpacks(self, link: Link) -> bool:
        return self.extract and extract_root(link.name) is not None

    def _part(self, link: Link) -> Path:
        return self._state_path(link, ".part")

    def _extract_dir(self, link: Link) -> Path:
        return self._state_path(link, ".extract")

    def _state_path(self, link: Link, suffix: str) -> Path:
        return self.state / f"{link.name}{suffix}"

    def _warn(self, message: str) -> None:
        with self.lock:
            self.report.warnings.append(message)
        self.progress.warned(message)


class _Outcome(_Record):
    """What the transfer and its consumer found: bytes, the digest, and an unpacking error if any."""

    def __init__(self) -> None:
        self.size = self.fetched = 0
        self.digest: str | None = None
        self.error: str | None = None
