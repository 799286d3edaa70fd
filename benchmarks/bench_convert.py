r"""Conversion throughput, measured side by side in one run.

Frame extraction (frames written per second, every 4th frame of generated 1080p 24 fps videos):
  savkit vs the official approach (OpenCV ``VideoCapture`` decode + ``cv2.imwrite`` of every 4th frame) vs the
  ``ffmpeg`` command line as users run it, with its default threads:
      ffmpeg -i in.mp4 -vf "select=not(mod(n\,4))" -vsync 0 -q:v 2 out/%05d.jpg
  all at equal JPEG quality: ffmpeg's mjpeg encoder has its own scale (``-q:v``; ``-q:v 2`` is SAM 2's recipe), so
  savkit and OpenCV each use the lowest libjpeg quality whose JPEGs reach the PSNR of ffmpeg's (against the
  decoded frames). "1 process": one video at a time (ffmpeg and savkit still use their decoder threads);
  "N processes": one process per video. Rounds are interleaved and the best time of each method is kept, which
  filters out load from other users of the machine; the ratio to ffmpeg is printed.
JPEG encoders on decoded frames (ms per frame at that quality): savkit's, OpenCV, Pillow, PyAV's mjpeg.
Mask export (PNGs per second, val/test layout): savkit vs decode with pycocotools then save with Pillow.

    .venv/bin/python benchmarks/bench_convert.py [--videos 4] [--seconds 5] [--rounds 3] [--quick]
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

from savkit.convert.frames import encode_jpeg, extract_frames
from savkit.convert.masks import export_masks
from savkit.io.video import to_rgb, write_video
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
    parser.add_argument(
        "--quick", action="store_true", help="a quick look: 2 videos of 2 s, 1 mask video, 2 rounds"
    )
    args = parser.parse_args()
    if args.quick:
        args.videos, args.seconds, args.mask_videos, args.rounds = 2, 2, 1, 2
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        work = Path(tmp)
        print(f"generating {args.videos} videos ...", flush=True)
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
    print("matching JPEG quality ...", flush=True)
    target, savkit_quality, opencv_quality = matching_qualities(videos[0])
    print(
        f"equal quality: ffmpeg -q:v {FFMPEG_QSCALE} gives {target:.2f} dB PSNR; the lowest libjpeg quality reaching"
        f" it: savkit {savkit_quality} (YUV planes), OpenCV {opencv_quality} (RGB)"
    )
    frames = sum(len(range(0, count_frames(video), EVERY)) for video in videos)
    methods = {}
    for workers in sorted({1, cores}):
        label = "1 process" if workers == 1 else f"{workers} processes"
        methods[f"savkit, {label}"] = partial(savkit_extract, work, videos, savkit_quality, workers)
        methods[f"OpenCV (official), {label}"] = partial(
            per_video, opencv_extract, work, videos, opencv_quality, workers
        )
        methods[f"ffmpeg CLI, {label}"] = partial(per_video, ffmpeg_extract, work, videos, 0, workers)
    print(f"\nframe extraction ({frames} JPEGs written), best of {rounds} interleaved rounds", flush=True)
    rates = timed_rates(methods, rounds, frames, "frames")
    for workers in sorted({1, cores}):
        label = "1 process" if workers == 1 else f"{workers} processes"
        ratio = rates[f"savkit, {label}"] / rates[f"ffmpeg CLI, {label}"]
        print(f"  savkit / ffmpeg CLI, {label}: {ratio:.2f}x")
    bench_encoders(videos[0], savkit_quality, opencv_quality)


def timed_rates(methods: dict, rounds: int, count: int, unit: str) -> dict[str, float]:
    """Print and return the best wall-clock rate of each method over interleaved rounds (shared ``best_times``).

    1-process rows also show the least CPU time per item: this process and its waited-for children (savkit's
    pool workers are children of the multiprocessing fork server, so multi-process rows cannot show it).
    """
    least_cpu = dict.fromkeys(methods, float("inf"))

    def with_cpu(name: str, run):
        def measured() -> None:
            print(f"    {name} ...", flush=True)
            start = cpu_seconds()
            run()
            least_cpu[name] = min(least_cpu[name], cpu_seconds() - start)

        return measured

    walls = best_times({name: with_cpu(name, run) for name, run in methods.items()}, rounds)
    for name, wall in walls.items():
        cpu_note = f"  ({1000 * least_cpu[name] / count:5.1f} ms CPU each)" if "1 process" in name else ""
        print(f"  {name:32s} {count / wall:8.1f} {unit}/s{cpu_note}")
    return {name: count / wall for name, wall in walls.items()}


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


def ffmpeg_extract(video: Path, out: Path, _quality: int = 0) -> None:
    """The ffmpeg command line as users run it (default threads); -start_number 0 only names frames from 0."""
    out.mkdir(parents=True)
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(video),
        "-vf",
        f"select=not(mod(n\\,{EVERY}))",
        "-vsync",
        "0",
    ]
    command += ["-q:v", str(FFMPEG_QSCALE), "-start_number", "0", str(out / "%05d.jpg")]
    subprocess.run(command, check=True)


def matching_qualities(video: Path, frames: int = 3) -> tuple[float, int, int]:
    """ffmpeg ``-q:v 2``'s PSNR on the first kept frames, and the lowest libjpeg quality reaching it for savkit
    (its own encoder, from the decoder's YUV planes) and for OpenCV (from RGB)."""
    out = fresh(Path(tempfile.mkdtemp(prefix="ffmpeg_q_")))
    ffmpeg_extract(video, out / "ffmpeg")
    decoded = [frame for _, frame in zip(range(frames), kept_frames(video), strict=False)]
    references = [to_rgb(frame) for frame in decoded]
    target = float(
        np.mean([psnr(ref, read_rgb(out / "ffmpeg" / f"{i:05d}.jpg")) for i, ref in enumerate(references)])
    )
    shutil.rmtree(out)

    def lowest(encode) -> int:
        """Binary search: PSNR grows with the quality setting."""
        low, high = 50, 100
        while low < high:
            quality = (low + high) // 2
            pairs = zip(decoded, references, strict=True)
            if np.mean([psnr(ref, decode_jpeg(encode(f, ref, quality))) for f, ref in pairs]) >= target:
                high = quality
            else:
                low = quality + 1
        return low

    savkit_quality = lowest(lambda frame, _, quality: encode_jpeg(frame, quality))
    opencv_quality = lowest(lambda _, rgb, quality: opencv_jpeg(rgb, quality))
    return target, savkit_quality, opencv_quality


def bench_encoders(video: Path, savkit_quality: int, quality: int, frames: int = 8) -> None:
    decoded = [frame for _, frame in zip(range(frames), kept_frames(video), strict=False)]
    references = [to_rgb(frame) for frame in decoded]
    mjpeg = mjpeg_encoder(references[0].shape)
    encoders = {
        f"savkit, YUV planes (q {savkit_quality})": lambda i: encode_jpeg(decoded[i], savkit_quality),
        f"OpenCV cv2.imencode (q {quality})": lambda i: opencv_jpeg(references[i], quality),
        f"Pillow (q {quality})": lambda i: pillow_jpeg(references[i], quality),
        "PyAV mjpeg (qscale 1, its best)": lambda i: mjpeg(references[i]),
    }
    print(f"\nJPEG encoders, {len(decoded)} decoded 1080p frames (savkit's from the frame, others from RGB)")
    for name, encode in encoders.items():
        start = time.perf_counter()
        encoded = [encode(i) for i in range(len(decoded))]
        milliseconds = (time.perf_counter() - start) / len(decoded) * 1000
        quality_db = np.mean(
            [psnr(ref, decode_jpeg(data)) for ref, data in zip(references, encoded, strict=True)]
        )
        size = np.mean([len(data) for data in encoded]) / 1000
        print(f"  {name:34s} {milliseconds:6.1f} ms/frame  PSNR {quality_db:5.2f} dB  {size:6.0f} kB")


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


def opencv_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    return cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


def read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1]


def kept_frames(video: Path):
    """Every 4th decoded frame (av.VideoFrame), as every method writes them."""
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % EVERY == 0:
                yield frame


def count_frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return container.streams.video[0].frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


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
