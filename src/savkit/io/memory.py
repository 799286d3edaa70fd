"""Allocator tuning for savkit's own processes: freed image-sized buffers kept for reuse, not given back.

glibc gives a freed block of more than 128 KB back to the kernel (or trims that much free space off the top of its
heap), and raises those thresholds only as it sees large blocks come and go. An evaluation takes and frees
image-sized buffers every frame: depending on the order of its allocations, a process pays for page faults on each
of them afresh (about 500 per object-frame at 1920x1080, a fifth of savkit's eval time). savkit's CLI and its worker
processes raise both thresholds once; a library caller's process is left as it is (it may call
:func:`keep_freed_memory` itself). Peak memory is unchanged: what is kept is what the process already used.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # malloc.h
_M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap (glibc's largest setting); larger ones are still mapped and given back
MMAP_THRESHOLD = 32 << 20
#: free space at the top of the heap kept for reuse
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Set glibc's thresholds for this process; False where there is no glibc ``mallopt`` (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
