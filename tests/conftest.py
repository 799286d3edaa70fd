"""Shared fixtures: the real SA-V sample shipped gzipped in tests/data/, a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from distributed import Client

from sample_data import sample_folder


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
    return sample_folder()
