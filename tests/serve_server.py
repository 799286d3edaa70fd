"""A running ``savkit serve`` app for browser tests and benchmarks: uvicorn in a thread on 127.0.0.1, a free port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from savkit.serve import ServeConfig, create_app, open_site


@contextlib.contextmanager
def running_server(config: ServeConfig) -> Iterator[str]:
    """Serve ``config`` until the block ends; yields the base URL (``http://127.0.0.1:PORT``)."""
    site = open_site(config)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(site), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        site.close()
