"""The CLI's last line of defence: an error the library did not word (the operating system's, out of memory, a
library's) becomes one line on stderr, what, where and what to do, and exit code 2, instead of a traceback.

A bug (any other exception) still shows its traceback: hiding it would hide the fix.
"""

from __future__ import annotations

import errno
import io
import sys

# What to do about an operating-system error, by errno.
_ADVICE = {
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.EROFS: "the file system is read-only: choose another output folder",
    errno.ENOSPC: "the disk is full: free some space or choose another output folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another output folder",
    errno.ELOOP: "a symlink loop: fix or remove the link",
    errno.ENOENT: "it does not exist (a dangling symlink?): check the path",
    errno.ENOTDIR: "a part of the path is not a folder: check the path",
    errno.EISDIR: "it is a folder: pass a file",
    errno.EMFILE: "too many open files: raise `ulimit -n` or use fewer workers",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
}
# Libraries whose errors are about the input or the environment, not a savkit bug; named as such.
_LIBRARIES = {"duckdb": "DuckDB", "_duckdb": "DuckDB", "pyarrow": "Arrow", "av": "FFmpeg", "PIL": "Pillow"}


def failure_line(exc: BaseException) -> str | None:
    """One line (what, where, what to do) for an error the CLI can name, or None for a bug."""
    if isinstance(exc, OSError):
        return _os_error_line(exc)
    if isinstance(exc, MemoryError):
        return (
            "out of memory: use fewer workers (--workers / -n), smaller inputs, or a machine with more memory"
        )
    if isinstance(exc, RecursionError):
        return "input nested too deeply to process (recursion limit): check the input files"
    if isinstance(exc, UnicodeEncodeError):
        return (
            f"cannot encode {exc.object[exc.start : exc.end]!r} as {exc.encoding} (a file name that is not "
            "UTF-8?): rename it, or set a UTF-8 locale (LANG=C.UTF-8)"
        )
    library = _LIBRARIES.get(type(exc).__module__.split(".")[0])
    if library is not None:
        return f"{library} error: {_first_line(exc)}"
    return None


def _os_error_line(exc: OSError) -> str:
    what = exc.strerror or _first_line(exc)
    advice = _ADVICE.get(exc.errno, "check the path")
    if exc.filename is None:
        return f"{what}; {advice}"
    also = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{exc.filename}{also}: {what}; {advice}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def tolerate_unencodable_output() -> None:
    """Print names that are not valid UTF-8 (file names read as surrogate escapes) as their original bytes, as
    ``ls`` does, instead of failing with UnicodeEncodeError in the middle of the output."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower().replace("-", "") == "utf8":
        stream.reconfigure(errors="surrogateescape")
