"""``savkit serve ROOT``: browse the videos, masklets and evaluation results of a local SA-V copy in a web page.

``savkit.serve`` (starlette, uvicorn, the index) is imported when the command runs, so the other commands work
without the ``serve`` extra.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path

from savkit.cli.progress import progress_bar
from savkit.errors import SavkitError

HELP = {"serve": "browse videos, masklets and eval results in a local web page"}
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help=HELP["serve"],
        description="Serve a web app over ROOT (a train folder or a val/test folder): a filterable video list, "
        "each video's annotated frames with masklet overlays, and the per-object scores of results.json files "
        "written by `savkit eval`. Without --index an index is built in ROOT/.savkit-index (or brought up to date).",
    )
    parser.add_argument(
        "root", type=Path, metavar="ROOT", help="SA-V train folder (mp4 + JSON) or val/test folder"
    )
    parser.add_argument(
        "--index", type=Path, metavar="DIR", help="an index built by `savkit index` (built here if missing)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS.json",
        help="a results.json of `savkit eval` (or its folder); repeat to compare runs",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument(
        "--cache-mb", type=int, default=512, metavar="MB", help="memory for cached frames (default 512)"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="processes building the index (default: all cores)"
    )
    parser.add_argument(
        "--lenient", action="store_true", help="warn instead of failing when frame counts do not match"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no request log")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.serve import LOOPBACK_HOSTS, ServeConfig, create_app, open_site

    if not 1 <= args.port <= 65535:
        raise SavkitError(f"--port must be 1..65535, got {args.port}")
    if args.cache_mb < 16:
        raise SavkitError(f"--cache-mb must be at least 16, got {args.cache_mb}")
    loopback = _is_loopback(args.host)
    if not loopback:
        print(
            f"savkit serve: warning: binding {args.host}: anyone who can reach this machine can browse {args.root} "
            "(there is no login); use the default 127.0.0.1 unless you mean it",
            file=sys.stderr,
        )
    listener = _listen(args.host, args.port)
    with progress_bar("index", "file", args.quiet) as progress:
        config = ServeConfig(
            root=args.root,
            index_dir=args.index,
            results=tuple(args.results),
            lenient=args.lenient,
            cache_bytes=args.cache_mb << 20,
            allowed_hosts=(*LOOPBACK_HOSTS, args.host) if loopback else ("*",),
            workers=args.workers,
            progress=progress,
        )
        try:
            site = open_site(config)
        except BaseException:
            listener.close()
            raise
    url = f"http://{_url_host(args.host)}:{args.port}/"
    runs = f", {len(site.runs)} results run(s)" if site.runs else ""
    print(f"serving {len(site.catalog.ids):,} videos of {args.root} (index {site.index_dir}){runs} at {url}")
    print("press Ctrl+C to stop", flush=True)
    if args.open:
        import webbrowser  # here: its import (with subprocess's) is ~2 ms of every other command's start-up

        webbrowser.open(url)
    try:
        _serve(create_app(site), listener, quiet=args.quiet)
    finally:
        site.close()
    return 0


def _serve(app: object, listener: socket.socket, *, quiet: bool) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=not quiet, server_header=False)
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """Bind the port before the (possibly long) index build, so a port in use is said at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SavkitError(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise SavkitError(f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port") from None
    listener.listen(128)
    return listener


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
