"""Shared fixtures: the real SA-V sample lives in ../shared beside the repository (as in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from distributed import Client

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO.parent / "shared" / "data" / "sav_train_sample"


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    """A Client on one small Dask LocalCluster (2 worker processes, 1 thread each) shared by the whole session."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def sample_dir() -> Path:
    """The folder holding the real sav_000001 manual and auto JSONs."""
    if not (SAMPLE_DIR / "sav_000001_manual.json").is_file():
        pytest.skip(f"the real SA-V sample is not at {SAMPLE_DIR}")
    return SAMPLE_DIR
