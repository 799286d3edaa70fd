"""The ``savkit serve`` web app (Starlette): three pages shipped as static files and the JSON API they call.

Every answer that is not a page or an image is JSON, errors too: ``{"error": message, "status": code}`` with 404
for what does not exist (unknown video ids, runs, objects, frames, URLs) and 422 for bad query values. A video id
in a URL is only ever looked up in the catalog (the index's ids that the dataset has): no part of a URL is used
as a path. Requests whose Host is not an allowed name are refused (a web page cannot reach the app by
rebinding a DNS name to 127.0.0.1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from savkit.annotations import FRAMES_PER_ANNOTATION, MASKLET_TYPES
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.progress import ProgressCallback
from savkit.serve.catalog import SORT_KEYS, Catalog, VideoFilter, prepare_index
from savkit.serve.frames import FrameOutOfRange, FrameServer
from savkit.serve.results import Run, load_runs
from savkit.viz import masklet_colour

STATIC_DIR = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_LIMIT = 500
OVERLAYS = ("manual", "auto", "none")
IMAGE_HEADERS = {"Cache-Control": "private, max-age=600"}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    "Cache-Control": "no-cache",
}
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_NUMBER = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?")
_IDS = re.compile(r"([0-9]{1,9}(,[0-9]{1,9})*)?")
_FRAME_NAME = re.compile(r"[0-9]{1,9}")
log = logging.getLogger("savkit.serve")


@dataclass(frozen=True)
class ServeConfig:
    """What ``savkit serve`` serves and how."""

    root: Path
    index_dir: Path | None = None
    results: tuple[Path, ...] = ()
    lenient: bool = False
    cache_bytes: int = 512 << 20
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    workers: int | None = None  # index build processes (None: all cores)
    progress: ProgressCallback | None = None  # hears of the index build (the CLI draws a bar)


@dataclass
class Site:
    """Everything a running app reads: the dataset, its catalog, the runs and the frame caches."""

    dataset: Dataset
    index_dir: Path
    catalog: Catalog
    runs: dict[str, Run]
    frames: FrameServer
    allowed_hosts: tuple[str, ...] = field(default=LOOPBACK_HOSTS)

    def close(self) -> None:
        self.frames.close()
        self.catalog.close()


def open_site(config: ServeConfig) -> Site:
    """Open the dataset, build or reuse its index, read the results files: bad input raises SavkitError."""
    dataset = Dataset(config.root, lenient=config.lenient)
    runs = load_runs(list(config.results))
    index_dir = prepare_index(
        Path(config.root), config.index_dir, workers=config.workers, progress=config.progress
    )
    scores = {name: run.video_scores() for name, run in runs.items()}
    catalog = Catalog(index_dir, set(dataset.video_ids), scores)
    frames = FrameServer(dataset, config.cache_bytes)
    return Site(dataset, index_dir, catalog, runs, frames, config.allowed_hosts)


class ApiError(Exception):
    """An answer other than 200: its status and a message saying what is wrong and what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(site: Site) -> Starlette:
    """The ASGI app over an opened site."""
    api = _Api(site)
    routes = [
        Route("/", _page("index.html")),
        Route("/video/{video_id}", _checked_page("video.html", api.require_video)),
        Route("/results/{run}", _checked_page("results.html", api.require_run)),
        Route("/api/facets", api.facets),
        Route("/api/videos", api.videos),
        Route("/api/videos/{video_id}", api.video),
        Route("/api/videos/{video_id}/thumbnail.jpg", api.thumbnail),
        Route("/api/videos/{video_id}/frames/{k}.jpg", api.frame),
        Route("/api/videos/{video_id}/frames/{k}/masklets", api.masklets),
        Route("/api/results", api.results),
        Route("/api/results/{run}", api.run),
        Route("/api/results/{run}/objects/{n}/frames/{frame}.jpg", api.object_frame),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    hosts = list(site.allowed_hosts)
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            SavkitError: _savkit_error,
            Exception: _server_error,
        },
    )


class _Api:
    """The JSON and image endpoints; each validates its inputs and answers from the site's caches."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def facets(self, request: Request) -> JSONResponse:
        return JSONResponse(self.site.catalog.facets())

    def videos(self, request: Request) -> JSONResponse:
        query = self._video_filter(request)
        total, videos = self.site.catalog.videos(query)
        return JSONResponse({"total": total, "offset": query.offset, "limit": query.limit, "videos": videos})

    def video(self, request: Request) -> JSONResponse:
        video_id = self.require_video(request)
        video = self.site.catalog.video(video_id)
        for masklet in video["masklets"]:  # the colour the overlay draws it in, for the page's legend
            masklet["colour"] = masklet_colour(masklet["type"], masklet["masklet_id"])
        video["has_frames"] = self.site.dataset.video_path(video_id) is not None
        video["annotated_frames"] = self.site.frames.state(video_id).annotated_frames
        video["objects"] = {
            name: [
                {"index": i, "object": obj["object"], "J&F": obj["J&F"], "J": obj["J"], "F": obj["F"]}
                for i, obj in enumerate(run.objects)
                if obj["video"] == video_id
            ]
            for name, run in self.site.runs.items()
        }
        return JSONResponse(video)

    def thumbnail(self, request: Request) -> Response:
        video_id = self.require_video(request)
        return _jpeg(self.site.frames.thumbnail_jpeg(video_id))

    def frame(self, request: Request) -> Response:
        video_id = self.require_video(request)
        k = _path_integer(request, "k")
        overlay = _choice(request, "overlay", OVERLAYS, "manual")
        ids = _id_list(request, "masklets")
        masklet_type = None if overlay == "none" else overlay
        return _jpeg(self.site.frames.overlay_jpeg(video_id, k, masklet_type, ids))

    def masklets(self, request: Request) -> JSONResponse:
        video_id = self.require_video(request)
        k = _path_integer(request, "k")
        masklet_type = _choice(request, "overlay", MASKLET_TYPES, "manual")
        x, y = _integer(request, "x", None, 0, 1 << 20), _integer(request, "y", None, 0, 1 << 20)
        if (x is None) != (y is None):
            raise ApiError(422, "give both x and y (pixel coordinates in the frame), or neither")
        point = None if x is None else (x, y)
        found = self.site.frames.masklets_at(video_id, k, masklet_type, point)
        return JSONResponse({"video_id": video_id, "k": k, "masklets": found})

    def results(self, request: Request) -> JSONResponse:
        return JSONResponse({"runs": [run.summary() for run in self.site.runs.values()]})

    def run(self, request: Request) -> JSONResponse:
        return JSONResponse(self.require_run(request).detail())

    def object_frame(self, request: Request) -> Response:
        run = self.require_run(request)
        n = _path_integer(request, "n")
        try:
            obj = run.object(n)
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None
        frame = request.path_params["frame"]
        if frame not in obj["frames"]:
            raise ApiError(404, f"frame {frame!r} is not an evaluated frame of object {n} in run {run.name}")
        mask_kind = _choice(request, "mask", ("gt", "pred"), "gt")
        video_id = obj["video"]
        if video_id not in self.site.catalog:
            raise ApiError(404, f"video {video_id} of run {run.name} is not in the served dataset")
        masks = self._object_masks(run, obj, frame, mask_kind)
        return _jpeg(self.site.frames.masks_jpeg(video_id, int(frame), masks, f"{run.name}/{n}/{mask_kind}"))

    def require_video(self, request: Request) -> str:
        video_id = request.path_params["video_id"]
        if video_id not in self.site.catalog:
            raise ApiError(404, f"no video {video_id!r} here: ids come from the index (see /api/videos)")
        return video_id

    def require_run(self, request: Request) -> Run:
        name = request.path_params["run"]
        run = self.site.runs.get(name)
        if run is None:
            known = ", ".join(self.site.runs) or "none: start savkit serve with --results RESULTS.json"
            raise ApiError(404, f"no results run {name!r} (runs: {known})")
        return run

    def _object_masks(self, run: Run, obj: dict, frame: str, kind: str) -> dict:
        """The one mask to draw: the GT masklet of the object (a manual masklet with its number) or the prediction."""
        object_id = int(obj["object"])
        key = ("manual", object_id)
        if kind == "pred":
            mask = run.predicted_mask(obj, frame)
            if mask is None:
                raise ApiError(
                    404, f"no predicted PNG for {obj['video']} object {obj['object']} frame {frame}"
                )
            return {key: mask}
        annotations = self.site.frames.state(obj["video"]).annotations
        k, step_off = divmod(int(frame), FRAMES_PER_ANNOTATION)
        masklet = next((m for m in annotations.manual if m.id == object_id), None)
        if masklet is None or step_off or k >= len(masklet):
            raise ApiError(404, f"no GT mask of {obj['video']} object {obj['object']} on frame {frame}")
        return {key: masklet.mask(k)}

    def _video_filter(self, request: Request) -> VideoFilter:
        sort = request.query_params.get("sort") or "video_id"
        descending = sort.startswith("-")
        if sort.removeprefix("-") not in SORT_KEYS:
            raise ApiError(
                422, f"sort must be one of {', '.join(SORT_KEYS)} (prefix - for descending), got {sort!r}"
            )
        run = request.query_params.get("run") or None
        if run is not None and run not in self.site.runs:
            raise ApiError(
                422, f"run must be one of {', '.join(self.site.runs) or '(no runs loaded)'}, got {run!r}"
            )
        return VideoFilter(
            split=_text(request, "split"),
            environment=_text(request, "environment"),
            size_bucket=_choice(request, "size_bucket", ("small", "medium", "large"), None),
            min_masklets=_integer(request, "min_masklets", None, 0, 1 << 30),
            max_masklets=_integer(request, "max_masklets", None, 0, 1 << 30),
            min_visibility_changes=_integer(request, "min_visibility_changes", None, 0, 1 << 30),
            min_duration=_number(request, "min_duration"),
            max_duration=_number(request, "max_duration"),
            search=_text(request, "q"),
            run=run,
            sort=sort.removeprefix("-"),
            descending=descending,
            offset=_integer(request, "offset", 0, 0, 1 << 30),
            limit=_integer(request, "limit", 50, 1, MAX_LIMIT),
        )


def _page(name: str) -> Callable[[Request], Response]:
    def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / name, headers=PAGE_HEADERS)

    return page


def _checked_page(name: str, check: Callable[[Request], object]) -> Callable[[Request], Response]:
    """A page whose path names a video or run: a 404 JSON error when it does not exist."""

    def page(request: Request) -> Response:
        check(request)
        return FileResponse(STATIC_DIR / name, headers=PAGE_HEADERS)

    return page


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and len(value) > 200:
        raise ApiError(422, f"{name} is too long (at most 200 characters)")
    return value or None


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = request.query_params.get(name) or default
    if value is not None and value not in choices:
        raise ApiError(422, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _integer(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
        raise ApiError(422, f"{name} must be an integer from {low} to {high}, got {value[:40]!r}")
    return int(value)


def _number(request: Request, name: str) -> float | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not _NUMBER.fullmatch(value):
        raise ApiError(422, f"{name} must be a number such as 12.5, got {value[:40]!r}")
    return float(value)


def _id_list(request: Request, name: str) -> list[int] | None:
    """Masklet ids such as ``0,3``; absent: every masklet; empty: none."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not _IDS.fullmatch(value):
        raise ApiError(422, f"{name} must be comma-separated masklet ids such as 0,3, got {value[:40]!r}")
    return [int(part) for part in value.split(",") if part]


def _path_integer(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not _FRAME_NAME.fullmatch(value):
        raise ApiError(422, f"{name} in the URL must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = "no such page or API endpoint" if exc.status_code == 404 else str(exc.detail)
    return _error(exc.status_code, message)


async def _savkit_error(request: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, FrameOutOfRange) else 422
    return _error(status, str(exc))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("savkit serve: %s on %s: %s", type(exc).__name__, request.url.path, exc)
    return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")
