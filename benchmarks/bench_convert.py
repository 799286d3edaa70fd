"""Conversion throughput, measured side by side in one run.

Frame extraction (frames written per second, every 4th frame of generated 1080p 24 fps videos):
  savkit (1 process, all cores) vs the official approach (OpenCV ``VideoCapture`` decode + ``cv2.imwrite`` of every
  4th frame) vs the ``ffmpeg`` command line, all at equal JPEG quality: ffmpeg's mjpeg encoder has its own scale
  (``-q:v``; ``-q:v 2`` is SAM 2's recipe), so the lowest libjpeg quality reaching its PSNR is used for the others.
  Each method runs in 1 process and on all cores (one process per video); rounds are interleaved and the best
  time of each method is kept, which filters out load from other users of the machine.
JPEG encoders on decoded frames (ms per frame at that quality): OpenCV, Pillow, PyAV's mjpeg.
Mask export (PNGs per second, val/test layout): savkit vs decode with pycocotools then save with Pillow.

    /work/venv/bin/python benchmarks/bench_convert.py [--videos 4] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from savkit.convert.frames import extract_frames
from savkit.convert.masks import export_masks
from savkit.io.video import write_video
from timing import best_times, sample_folder

SAMPLE_JSON = sample_folder() / "sav_000001_manual.json"
EVERY = 4
FFMPEG_QSCALE = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="generated 1080p videos (default 4)")
    parser.add_argument("--seconds", type=float, default=5, help="length of each video (default 5)")
    parser.add_argument(
        "--mask-videos", type=int, default=4, help="copies of the real sample JSON (default 4)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is kept (3)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        work = Path(tmp)
        videos = generate_videos(work / "videos", args.videos, round(args.seconds * 24))
        print(
            f"{args.videos} videos 1920x1080, {args.seconds:g} s at 24 fps; every {EVERY}th frame; {cores} cores"
        )
        bench_extraction(work, videos, cores, args.rounds)
        bench_masks(work, args.mask_videos, cores, args.rounds)


# ------------------------------------------------------------------------------------------------ frames


def generate_videos(folder: Path, count: int, frames: int) -> list[Path]:
    folder.mkdir()
    videos = [folder / f"video{i}.mp4" for i in range(count)]
    for seed, video in enumerate(videos):
        write_video(video, scene(seed, frames), crf=23)
    return videos


def scene(seed: int, count: int, height: int = 1080, width: int = 1920):
    """Smooth gradients, fine texture and moving blocks: JPEG sizes close to real footage."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 60, (height, width, 3), dtype=np.uint8), (0, 0), 1.5)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(count):
        frame = np.stack([(xx + 5 * i) % 256, (yy + 3 * i) % 256, ((xx + yy) // 8 + 7 * i) % 256], axis=2)
        frame = (frame // 2).astype(np.uint8) + texture
        for block in range(6):
            x = (block * 300 + 17 * i) % (width - 240)
            frame[200 + block * 120 : 300 + block * 120, x : x + 240] = rng.integers(0, 256, 3)
        yield frame


def bench_extraction(work: Path, videos: list[Path], cores: int, rounds: int) -> None:
    quality = matching_libjpeg_quality(videos[0])
    print(
        f"equal quality: ffmpeg -q:v {FFMPEG_QSCALE} ~ libjpeg quality {quality} (lowest with at least its PSNR)"
    )
    frames = sum(len(range(0, count_frames(video), EVERY)) for video in videos)
    methods = {}
    for workers in sorted({1, cores}):
        label = "1 process" if workers == 1 else f"{workers} processes"
        methods[f"savkit, {label}"] = partial(savkit_extract, work, videos, quality, workers)
        methods[f"OpenCV (official), {label}"] = partial(
            per_video, opencv_extract, work, videos, quality, workers
        )
        methods[f"ffmpeg CLI, {label}"] = partial(per_video, ffmpeg_extract, work, videos, quality, workers)
    print(f"\nframe extraction ({frames} JPEGs written), best of {rounds} interleaved rounds")
    timed_rates(methods, rounds, frames, "frames")
    bench_encoders(videos[0], quality)


def timed_rates(methods: dict, rounds: int, count: int, unit: str) -> None:
    """Print the best wall-clock rate of each method over interleaved rounds (shared ``best_times``).

    1-process rows also show the least CPU time per item: this process and its waited-for children (savkit's
    pool workers are children of the multiprocessing fork server, so multi-process rows cannot show it).
    """
    least_cpu = dict.fromkeys(methods, float("inf"))

    def with_cpu(name: str, run):
        def measured() -> None:
            start = cpu_seconds()
            run()
            least_cpu[name] = min(least_cpu[name], cpu_seconds() - start)

        return measured

    walls = best_times({name: with_cpu(name, run) for name, run in methods.items()}, rounds)
    for name, wall in walls.items():
        cpu_note = f"  ({1000 * least_cpu[name] / count:5.1f} ms CPU each)" if "1 process" in name else ""
        print(f"  {name:32s} {count / wall:8.1f} {unit}/s{cpu_note}")


def cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def savkit_extract(work: Path, videos: list[Path], quality: int, workers: int) -> None:
    report = extract_frames(videos[0].parent, fresh(work / "savkit"), EVERY, quality, workers=workers)
    assert not report.failures, report.failures


def per_video(extract, work: Path, videos: list[Path], quality: int, workers: int) -> None:
    out = fresh(work / extract.__name__)
    jobs = [(video, out / video.stem, quality) for video in videos]
    if workers == 1:
        for job in jobs:
            extract(*job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(extract, *zip(*jobs, strict=True)))


def opencv_extract(video: Path, out: Path, quality: int) -> None:
    """The official SA-V approach: decode every frame with OpenCV, imwrite every 4th."""
    out.mkdir(parents=True)
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % EVERY == 0:
            cv2.imwrite(str(out / f"{index:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        index += 1
    capture.release()


def ffmpeg_extract(video: Path, out: Path, quality: int) -> None:
    """ffmpeg keeps every 4th frame with the select filter; its JPEG quality is -q:v (matched, see above)."""
    out.mkdir(parents=True)
    command = ["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"select=not(mod(n\\,{EVERY}))"]
    command += [
        "-fps_mode",
        "passthrough",
        "-q:v",
        str(FFMPEG_QSCALE),
        "-start_number",
        "0",
        str(out / "%05d.jpg"),
    ]
    subprocess.run(command, check=True)


def matching_libjpeg_quality(video: Path, frames: int = 3) -> int:
    """The lowest libjpeg quality whose PSNR on the first kept frames reaches that of ffmpeg ``-q:v 2``."""
    out = fresh(Path(tempfile.mkdtemp(prefix="ffmpeg_q_")))
    ffmpeg_extract(video, out / "ffmpeg", 0)
    references = [rgb for _, rgb in zip(range(frames), decoded_frames(video), strict=False)]
    target = np.mean(
        [psnr(ref, read_rgb(out / "ffmpeg" / f"{i:05d}.jpg")) for i, ref in enumerate(references)]
    )
    shutil.rmtree(out)

    def quality_psnr(quality: int) -> float:
        return float(np.mean([psnr(ref, libjpeg_roundtrip(ref, quality)) for ref in references]))

    return next((quality for quality in range(50, 101) if quality_psnr(quality) >= target), 100)


def bench_encoders(video: Path, quality: int, frames: int = 8) -> None:
    references = [rgb for _, rgb in zip(range(frames), decoded_frames(video), strict=False)]
    encoders = {
        "OpenCV cv2.imencode": lambda rgb: cv2.imencode(
            ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )[1].tobytes(),
        "Pillow": lambda rgb: pillow_jpeg(rgb, quality),
        "PyAV mjpeg (qscale 1, its best)": mjpeg_encoder(references[0].shape),
    }
    print(f"\nJPEG encoders, {frames} decoded 1080p frames, libjpeg quality {quality}")
    for name, encode in encoders.items():
        start = time.perf_counter()
        encoded = [encode(rgb) for rgb in references]
        milliseconds = (time.perf_counter() - start) / frames * 1000
        quality_db = np.mean(
            [psnr(ref, decode_jpeg(data)) for ref, data in zip(references, encoded, strict=True)]
        )
        size = np.mean([len(data) for data in encoded]) / 1000
        print(f"  {name:32s} {milliseconds:6.1f} ms/frame  PSNR {quality_db:5.2f} dB  {size:6.0f} kB")


def mjpeg_encoder(shape: tuple[int, ...]):
    context = av.CodecContext.create("mjpeg", "w")
    context.height, context.width = shape[0], shape[1]
    context.pix_fmt = "yuvj420p"
    context.time_base = Fraction(1, 24)
    context.options = {"qmin": "1", "qmax": "1"}

    def encode(rgb: np.ndarray) -> bytes:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
        return bytes(context.encode(frame)[0])

    return encode


def pillow_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def libjpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    return decode_jpeg(pillow_jpeg(rgb, quality))


def decode_jpeg(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


def read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1]


def decoded_frames(video: Path):
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % EVERY == 0:
                yield frame.to_ndarray(format="rgb24")


def count_frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return container.streams.video[0].frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# ------------------------------------------------------------------------------------------------- masks


def bench_masks(work: Path, copies: int, cores: int, rounds: int) -> None:
    src = fresh(work / "jsons")
    for i in range(copies):
        shutil.copy(SAMPLE_JSON, src / f"sav_{i:06d}_manual.json")
    data = json.loads(SAMPLE_JSON.read_text())
    pngs = copies * data["masklet_num"] * len(data["masklet"])
    methods = {"pycocotools + Pillow, 1 process": partial(baseline_masks, src, work / "baseline")}
    for workers in sorted({1, cores}):
        label = "1 process" if workers == 1 else f"{workers} processes"
        methods[f"savkit, {label}"] = partial(savkit_masks, src, work / "masks", workers)
    print(
        f"\nmask export, val/test layout ({copies} videos x {data['masklet_num']} masklets x "
        f"{len(data['masklet'])} frames = {pngs} PNGs), best of {rounds} interleaved rounds"
    )
    timed_rates(methods, rounds, pngs, "PNGs")


def baseline_masks(src: Path, out: Path) -> None:
    """Decode each RLE with pycocotools and save it with Pillow."""
    out = fresh(out)
    for path in sorted(src.glob("*_manual.json")):
        data = json.loads(path.read_text())
        video = out / path.name.removesuffix("_manual.json")
        for k, frame in enumerate(data["masklet"]):
            for object_id, rle in zip(data["masklet_id"], frame, strict=True):
                folder = video / f"{object_id:03d}"
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask_utils.decode(rle) * np.uint8(255)).save(folder / f"{4 * k:05d}.png")


def savkit_masks(src: Path, out: Path, workers: int) -> None:
    report = export_masks(src, fresh(out), "manual", "sav", workers=workers)
    assert not report.failures, report.failures


if __name__ == "__main__":
    main()
