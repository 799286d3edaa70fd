"""The links file from Meta's SA-V download page: parsing, selection (``--only``), link expiry, checksum files.

Everything here runs before any byte is fetched, so that a malformed file, an unknown name or an expired link is a
one-line error at once rather than hours into a run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from savkit.errors import SavkitError
from savkit.io.files import read_regular
from savkit.io.names import video_id_problem

HEADER = ("file_name", "cdn_link")
GROUPS = ("train", "val", "test", "checksums")
FRESH_LINKS = "get a fresh links file from the SA-V download page (https://ai.meta.com/datasets/segment-anything-video-downloads/) and run again"

_TRAIN_TAR = re.compile(r"sav_\d{3}\.tar")
_SPLIT_TARS = {"sav_val.tar": "sav_val", "sav_test.tar": "sav_test"}


class Link(NamedTuple):
    """One row of the links file: the file's name (a plain name, never a path) and its URL."""

    name: str
    url: str

    @property
    def group(self) -> str | None:
        """``train``, ``val``, ``test`` or ``checksums`` for SA-V's own files, None for any other row."""
        if _TRAIN_TAR.fullmatch(self.name):
            return "train"
        if self.name in _SPLIT_TARS:
            return _SPLIT_TARS[self.name].removeprefix("sav_")
        if is_checksum_file(self.name):
            return "checksums"
        return None

    @property
    def expires(self) -> int | None:
        """The Unix time the signed URL expires (its ``oe=`` query value, hexadecimal), if it says."""
        values = parse_qs(urlsplit(self.url).query).get("oe")
        if not values:
            return None
        try:
            return int(values[0], 16)
        except ValueError:
            return None


def is_checksum_file(name: str) -> bool:
    """SA-V's checksum lists: ``sav_sha256sum.chk``, ``sav_md5sum.chk`` (``sha256sum``/``md5sum`` output)."""
    return name.endswith(".chk") or name.endswith("sum.txt")


def checksum_kind(name: str) -> str | None:
    """``sha256`` or ``md5`` for a checksum list, from its name."""
    lowered = name.lower()
    for kind in ("sha256", "md5"):
        if kind in lowered:
            return kind
    return None


def extract_root(name: str) -> tuple[str, ...] | None:
    """Where an SA-V tar's members belong under OUT, or None for a file downloaded as is.

    ``sav_003.tar`` holds the train videos of ``sav_train/sav_003``; ``sav_val.tar`` / ``sav_test.tar`` the
    ``sav_val`` / ``sav_test`` folders of the SA-V README.
    """
    if _TRAIN_TAR.fullmatch(name):
        return ("sav_train", name.removesuffix(".tar"))
    if name in _SPLIT_TARS:
        return (_SPLIT_TARS[name],)
    return None


def parse_links(text: str, where: str) -> list[Link]:
    """The rows of a links file (tab-separated, header ``file_name<TAB>cdn_link``); a SavkitError names the line."""
    lines = text.lstrip("\ufeff").splitlines()
    rows = [(number, line.rstrip()) for number, line in enumerate(lines, 1) if line.strip()]
    if not rows or tuple(rows[0][1].split("\t")) != HEADER:
        raise SavkitError(
            f"{where}: not an SA-V links file (the first line must be 'file_name<TAB>cdn_link'): "
            "save the links file from the SA-V download page as it is"
        )
    links, seen = [], set()
    for number, line in rows[1:]:
        fields = line.split("\t")
        if len(fields) != 2:
            raise SavkitError(
                f"{where} line {number}: expected 2 tab-separated fields (file_name, cdn_link), found {len(fields)}"
            )
        name, url = (field.strip() for field in fields)
        problem = video_id_problem(name)
        if problem is not None:
            raise SavkitError(
                f"{where} line {number}: unusable file name ({problem.replace('video id', 'name')})"
            )
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise SavkitError(f"{where} line {number}: {url!r} is not an http(s) URL")
        if name in seen:
            raise SavkitError(f"{where} line {number}: {name} is listed twice")
        seen.add(name)
        links.append(Link(name, url))
    if not links:
        raise SavkitError(f"{where}: the links file lists no files")
    return links


def read_links(source: str | Path, session=None) -> list[Link]:
    """Read a links file from a path or an ``http(s)://`` URL."""
    source = str(source)
    if source.startswith(("http://", "https://")):
        from savkit.download.fetch import get_text

        return parse_links(get_text(source, session), source)
    path = Path(source)
    try:
        text = read_regular(path).decode("utf-8")
    except UnicodeDecodeError:
        raise SavkitError(
            f"{path}: not a text file; give the links file saved from the SA-V download page"
        ) from None
    return parse_links(text, str(path))


def select(links: list[Link], only: str | None) -> list[Link]:
    """The links ``--only`` selects (groups and/or file names with or without extension), in the file's order.

    The checksum lists are always kept: every file they cover is verified.
    """
    if not only:
        return list(links)
    wanted: set[str] = set()
    for token in (part.strip() for part in only.split(",")):
        if not token:
            continue
        if token in GROUPS:
            names = {link.name for link in links if link.group == token}
            if not names:
                raise SavkitError(f"--only {token}: the links file lists no {token} files")
        else:
            names = {link.name for link in links if token in (link.name, Path(link.name).stem)}
            if not names:
                raise SavkitError(
                    f"--only: unknown name {token!r}: use {', '.join(GROUPS)} or file names from the links file "
                    f"(such as {_example(links)})"
                )
        wanted |= names
    return [link for link in links if link.name in wanted or link.group == "checksums"]


def check_not_expired(links: Iterable[Link], now: float | None = None) -> None:
    """Stop before fetching anything if a signed link has expired."""
    now = time.time() if now is None else now
    expired = [link for link in links if link.expires is not None and link.expires <= now]
    if expired:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(min(link.expires for link in expired)))
        raise SavkitError(
            f"the links expired on {when} ({len(expired)} of the selected, e.g. {expired[0].name}): {FRESH_LINKS}"
        )


def parse_checksums(text: str) -> dict[str, str]:
    """``sha256sum``/``md5sum`` output (``HASH  NAME`` or ``HASH *NAME`` per line) as {file name: lowercase hex}."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{32,128}", parts[0]):
            continue
        sums[Path(parts[1].lstrip("*").strip()).name] = parts[0].lower()
    return sums


def _example(links: list[Link]) -> str:
    """A name to show in a message: the first file that is not a checksum list."""
    return next((link.name for link in links if link.group != "checksums"), links[0].name)
