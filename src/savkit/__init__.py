"""savkit: a toolkit for SA-V (Segment Anything Video)."""

from savkit.errors import SavkitError

__version__ = "0.1.0"

__all__ = ["SavkitError", "__version__"]
