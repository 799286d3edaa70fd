"""savkit download (fetch + verify + extract in one pass) against curl -o, then sha256sum, then tar -xf.

A ~1 GB SA-V-shaped train tar (``sav_train/sav_000/*.mp4`` of random bytes, a JSON beside each; ``--quick``: ~200 MB)
is generated in a temporary folder (deleted at the end) and served from 127.0.0.1 by the tests' file server
(sendfile, Range support) in a process of its own, which both methods fetch from alike (this process only times
them). Each method runs as its users run it (the installed ``savkit`` console script in a fresh process, with its
bytecode written as ``pip install`` writes it; curl, sha256sum and tar with their defaults), into a fresh output
folder, methods interleaved round by round; the best time of each is kept, so the ratios hold on a loaded machine.
The order of the methods rotates from round to round, and dirty pages are written back (``sync``) before each
method, so that none pays for the one before. A 4 KB file fetched by both savkit and curl measures their fixed
costs (process start-up, imports, the request), which a smaller tar amortises less.

    python benchmarks/bench_download.py [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from timing import compile_savkit, savkit_command

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from http_files import links_file, serve  # noqa: E402  (the tests' local file server)

VIDEO_BYTES = 8 << 20  # SA-V train mp4s are a few MB each


def make_tar(folder: Path, total_mb: int) -> Path:
    """sav_000.tar as SA-V ships it: sav_train/sav_000/sav_{id}.mp4 + _manual.json, incompressible bytes."""
    path = folder / "sav_000.tar"
    with tarfile.open(path, "w") as archive:
        for index in range(max(1, (total_mb << 20) // VIDEO_BYTES)):
            video = f"sav_{index + 1:06d}"
            for name, data in (
                (f"{video}.mp4", os.urandom(VIDEO_BYTES)),
                (f"{video}_manual.json", b'{"video_id": "%s"}' % video.encode()),
            ):
                info = tarfile.TarInfo(f"sav_train/sav_000/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


class ServerProcess:
    """The address of the tests' file server running in a child process (what ``links_file`` needs of it)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, name: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{name}" + (f"?{query}" if query else "")


@contextmanager
def server_process(files: dict[str, Path]) -> Iterator[ServerProcess]:
    """Serve ``files`` from a process of its own: its threads never compete with this one's, and it stops with it."""
    listing = json.dumps({name: str(path) for name, path in files.items()})
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", listing],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield ServerProcess(int(child.stdout.readline()))
    finally:
        child.stdin.close()  # the server's cue to stop
        child.wait()


def serve_until_stdin_closes(listing: str) -> None:
    with serve({name: Path(path) for name, path in json.loads(listing).items()}) as server:
        print(server.server_address[1], flush=True)
        sys.stdin.read()


def timed(command: list[str], sync: bool = True) -> float:
    """Wall time of a command; ``sync`` first writes back the previous method's dirty pages, so that their
    writeback does not slow this one (not between the steps of one user's chain)."""
    if sync:
        os.sync()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~200 MB tar instead of ~1 GB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", metavar="JSON", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        return serve_until_stdin_closes(args.serve)
    compile_savkit()
    savkit = [*savkit_command(), "download"]
    with tempfile.TemporaryDirectory(prefix="bench-download-") as temp:
        work = Path(temp)
        (work / "srv").mkdir()
        print(f"generating a {'~200 MB' if args.quick else '~1 GB'} SA-V-shaped tar ...", flush=True)
        tar = make_tar(work / "srv", 200 if args.quick else 1000)
        digest = hashlib.sha256(tar.read_bytes()).hexdigest()
        (work / "srv" / "sav_sha256sum.chk").write_text(f"{digest}  sav_000.tar\n")
        size_mb = tar.stat().st_size / 1e6
        (work / "srv" / "small.bin").write_bytes(
            os.urandom(4096)
        )  # a transfer of next to nothing: fixed costs
        files = {"sav_000.tar": tar, "sav_sha256sum.chk": work / "srv" / "sav_sha256sum.chk"}
        files["small.bin"] = work / "srv" / "small.bin"
        with server_process(files) as server:
            full = links_file(work / "links.txt", server, ["sav_sha256sum.chk", "sav_000.tar"])
            fetch_only = links_file(work / "links-fetch.txt", server, ["sav_000.tar"])
            small = links_file(work / "links-small.txt", server, ["small.bin"])
            url, url_small = server.url("sav_000.tar"), server.url("small.bin")
            best: dict[str, float] = {}

            def record(name: str, seconds: float) -> None:
                best[name] = min(best.get(name, float("inf")), seconds)
                print(f"  {name:<40} {seconds:6.2f} s", flush=True)

            def savkit_full() -> None:
                record("savkit download (fetch+verify+extract)", timed([*savkit, str(full), str(out), "-q"]))

            def savkit_fetch() -> None:
                command = [*savkit, str(fetch_only), str(out), "--no-extract", "-q"]
                record("savkit download --no-extract (fetch)", timed(command))

            def fixed_costs() -> None:
                command = [*savkit, str(small), str(out), "--no-extract", "-q"]
                record("savkit download, a 4 KB file", timed(command))
                record(
                    "curl -o, a 4 KB file",
                    timed(["curl", "-s", "-f", "-o", str(out / "small.bin"), url_small]),
                )

            def chain() -> None:
                out.mkdir()
                tar_path = str(out / "sav_000.tar")
                record("curl -o", timed(["curl", "-s", "-f", "-o", tar_path, url]))
                record("sha256sum", timed(["sha256sum", tar_path], sync=False))
                record("tar -xf", timed(["tar", "-xf", tar_path, "-C", str(out)], sync=False))

            out = work / "out"
            methods = [savkit_full, savkit_fetch, chain, fixed_costs]
            for round_index in range(args.rounds):
                print(f"round {round_index + 1}/{args.rounds} ({size_mb:,.0f} MB)", flush=True)
                shift = round_index % len(methods)  # each method takes each place in the order in turn
                for method in methods[shift:] + methods[:shift]:
                    method()
                    shutil.rmtree(out)
    peers = best["curl -o"] + best["sha256sum"] + best["tar -xf"]
    print(f"\nbest of {args.rounds} rounds, {size_mb:,.0f} MB tar, methods interleaved:")
    print(f"curl -o + sha256sum + tar -xf (one after the other): {peers:.2f} s")
    ours = best["savkit download (fetch+verify+extract)"]
    print(
        f"savkit download (fetch + verify + extract):          {ours:.2f} s = {ours / peers:.2f}x their total"
    )
    fetch = best["savkit download --no-extract (fetch)"]
    print(
        f"fetch alone: savkit {fetch:.2f} s, curl {best['curl -o']:.2f} s = {fetch / best['curl -o']:.2f}x curl's"
    )
    small, curl_small = best["savkit download, a 4 KB file"], best["curl -o, a 4 KB file"]
    print(f"fixed costs (a 4 KB file): savkit {small:.3f} s, curl {curl_small:.3f} s")


if __name__ == "__main__":
    main()
