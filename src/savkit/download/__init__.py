"""``savkit download``: the SA-V tars fetched, verified and unpacked where every tool expects them, resumably.

``download(links, out)`` reads the links file from the SA-V download page, checks it (and the links' expiry, and
the free space) before fetching anything, then fetches the files in parallel with Range resume and retries, hashes
and unpacks each while it arrives, and renames the unpacked folders into place once the checksum has verified.
"""

from savkit.download.fetch import RetryPolicy
from savkit.download.links import Link, parse_links, read_links, select
from savkit.download.run import DEFAULT_WORKERS, DownloadProgress, DownloadReport, FileResult, download

__all__ = [
    "DEFAULT_WORKERS",
    "DownloadProgress",
    "DownloadReport",
    "FileResult",
    "Link",
    "RetryPolicy",
    "download",
    "parse_links",
    "read_links",
    "select",
]
