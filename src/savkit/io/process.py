"""savkit's worker processes: each ties its life to the process that started it, and keeps freed memory.

Every pool savkit starts (the conversions' and index's in :mod:`savkit.parallel`, eval's) gives its workers
:func:`set_up_worker` as initializer.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading

from savkit.io.memory import keep_freed_memory

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def set_up_worker() -> None:
    """Worker initializer: a worker is savkit's own process, and it must not outlive its parent."""
    die_with_parent()
    keep_freed_memory()


def die_with_parent() -> None:
    """End this worker as soon as the process that started it is gone (even killed with SIGKILL).

    Otherwise a killed run's workers go on writing into the output for minutes, under the feet of the next run, or
    (eval's) wait forever for work. A thread waits on the sentinel pipe whose other end only the parent holds (end
    of file when it dies); on Linux the kernel also kills the worker when its parent dies (for a forkserver's
    workers, the forkserver, which itself exits once its last worker is gone).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        threading.Thread(target=_exit_when_closed, args=(parent.sentinel,), daemon=True).start()


def _exit_when_closed(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
