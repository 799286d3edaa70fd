"""``savkit serve``: browse a local SA-V copy and evaluation results in a web page (Starlette on uvicorn).

Needs the ``serve`` extra (starlette, uvicorn, and the index's pyarrow and duckdb); importing this package
without it is a SavkitError saying how to install it, so the rest of savkit works without the extra.
"""

from savkit.errors import SavkitError

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError:
    raise SavkitError("savkit serve needs starlette and uvicorn: pip install 'savkit[serve]'") from None

from savkit.serve.app import LOOPBACK_HOSTS, ServeConfig, Site, create_app, open_site

__all__ = ["LOOPBACK_HOSTS", "ServeConfig", "Site", "create_app", "open_site"]
