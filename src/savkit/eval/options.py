"""What a run of ``savkit eval`` was asked to do: the protocol, its rules, and the files some protocols need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalOptions:
    protocol: str = "sav"
    strict: bool = False
    skip_first_and_last: bool = True
    num_processes: int = 1
    meta: str | None = None  # mosev2 / lvos: the dataset's meta JSON (objects, lengths, frame ranges)
    unseen_list: str | None = None  # lvos: the videos of unseen categories, one name per line
