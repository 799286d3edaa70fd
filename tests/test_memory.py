"""savkit's own processes keep freed image-sized buffers for reuse (savkit.io.memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from savkit.io.memory import keep_freed_memory

# Two 3 MB images taken and freed 40 times: the page faults of the last 40 rounds.
CHURN = """
import resource, sys
import numpy as np
from savkit.io.memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def churn():
    a = np.ones(3 << 20, np.uint8); b = np.ones(3 << 20, np.uint8); del a, b
churn()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def page_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_freed_image_buffers_are_reused_without_page_faults():
    """glibc alone gives the buffers back and faults them in again each round (about 1,500 faults each, 6 MB);
    with the thresholds raised the pages stay, and the rounds fault (almost) nothing."""
    assert page_faults("keep") < 200
    assert page_faults("default") > 10 * page_faults("keep")


def test_keep_freed_memory_says_whether_it_could():
    assert keep_freed_memory() is sys.platform.startswith("linux")
