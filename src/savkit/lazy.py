"""A package's public names imported on first use (PEP 562), so that importing the package loads nothing heavy."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_attributes(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` giving ``name`` from the submodule ``package.{homes[name]}``, imported when asked."""

    def __getattr__(name: str) -> object:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{homes[name]}"), name)

    return __getattr__
