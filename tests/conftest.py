"""Shared fixtures: the real SA-V sample lives in ../shared beside the repository (as in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO.parent / "shared" / "data" / "sav_train_sample"


@pytest.fixture
def sample_dir() -> Path:
    """The folder holding the real sav_000001 manual and auto JSONs."""
    if not (SAMPLE_DIR / "sav_000001_manual.json").is_file():
        pytest.skip(f"the real SA-V sample is not at {SAMPLE_DIR}")
    return SAMPLE_DIR
