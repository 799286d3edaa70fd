"""savkit.io.video: streaming, frame-exact random access, exact counting, writing, and bad files."""

from __future__ import annotations

import random
from pathlib import Path

import av
import numpy as np
import pytest

from savkit.errors import SavkitError
from savkit.io.video import VideoReader, _decode_skipping, ffmpeg_reason, jpeg_planes, to_rgb, write_video
from video_samples import index_frame, read_index, write_index_video

FRAME_COUNT = 100


@pytest.fixture(scope="module")
def index_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_index_video(tmp_path_factory.mktemp("video") / "index.mp4", FRAME_COUNT)


def test_barcode_survives_compression_and_tells_frames_apart() -> None:
    assert [read_index(index_frame(i)) for i in (0, 1, 2, 513, 1023)] == [0, 1, 2, 513, 1023]


def test_metadata_and_exact_count(index_video: Path) -> None:
    with VideoReader(index_video) as reader:
        assert (reader.width, reader.height) == index_frame(0).shape[1::-1]
        assert reader.fps == 24.0
        assert reader.frame_count == FRAME_COUNT
        assert reader.count_frames() == FRAME_COUNT
        assert reader.path == index_video


def test_frames_streams_every_frame_in_order(index_video: Path) -> None:
    with VideoReader(index_video) as reader:
        decoded = [(index, read_index(rgb), rgb.dtype, rgb.shape[2]) for index, rgb in reader.frames()]
    assert decoded == [(i, i, np.uint8, 3) for i in range(FRAME_COUNT)]


def test_frames_with_step_yields_every_fourth_frame(index_video: Path) -> None:
    with VideoReader(index_video) as reader:
        decoded = [(index, read_index(rgb)) for index, rgb in reader.frames(step=4)]
    assert decoded == [(i, i) for i in range(0, FRAME_COUNT, 4)]


@pytest.mark.parametrize(
    ("step", "start", "stop"), [(4, 40, 60), (1, 37, 41), (3, 95, None), (2, 0, 7), (1, 100, None)]
)
def test_frames_window_starts_exactly_after_a_seek(
    index_video: Path, step: int, start: int, stop: int | None
) -> None:
    with VideoReader(index_video) as reader:
        decoded = [(index, read_index(rgb)) for index, rgb in reader.frames(step, start, stop)]
    assert decoded == [(i, i) for i in range(start, FRAME_COUNT if stop is None else stop, step)]


def test_random_access_is_frame_exact_forwards_and_backwards(index_video: Path) -> None:
    indices = random.Random(3).sample(range(FRAME_COUNT), 25) + [FRAME_COUNT - 1, 0, 50, 49, 12, 11]
    with VideoReader(index_video) as reader:
        assert [read_index(reader.frame(i)) for i in indices] == indices


def test_random_access_while_streaming(index_video: Path) -> None:
    with VideoReader(index_video) as reader:
        pairs = [
            (read_index(rgb), read_index(reader.frame(FRAME_COUNT - 1 - i))) for i, rgb in reader.frames(10)
        ]
    assert pairs == [(i, FRAME_COUNT - 1 - i) for i in range(0, FRAME_COUNT, 10)]


def test_one_reader_streams_again_after_random_access_and_nested_streams(index_video: Path) -> None:
    with VideoReader(index_video) as reader:
        assert read_index(reader.frame(57)) == 57
        again = [(index, read_index(rgb)) for index, rgb in reader.frames(step=9)]
        both = zip(reader.frames(stop=50), reader.frames(start=50), strict=True)
        nested = [(read_index(a), read_index(b)) for (_, a), (_, b) in both]
        assert read_index(reader.frame(3)) == 3
    assert again == [(i, i) for i in range(0, FRAME_COUNT, 9)]
    assert nested == [(i, i + 50) for i in range(50)]


def test_frame_out_of_range_names_the_valid_range(index_video: Path) -> None:
    with VideoReader(index_video) as reader, pytest.raises(SavkitError, match=r"frame 100 .*0\.\.99"):
        reader.frame(FRAME_COUNT)


def test_rotation_stored_in_the_file_is_applied(tmp_path: Path) -> None:
    coded = index_frame(77)
    with av.open(str(tmp_path / "rotated.mp4"), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = coded.shape[1], coded.shape[0], "yuv420p"
        stream.set_display_rotation(90)
        container.mux(stream.encode(av.VideoFrame.from_ndarray(coded, format="rgb24")))
        container.mux(stream.encode())
    with VideoReader(tmp_path / "rotated.mp4") as reader:
        assert (reader.width, reader.height) == (coded.shape[0], coded.shape[1])
        [(_, streamed)] = list(reader.frames())
        for shown in (streamed, reader.frame(0)):
            assert read_index(np.rot90(shown, -1)) == 77


def test_missing_file_is_a_savkit_error(tmp_path: Path) -> None:
    with pytest.raises(SavkitError, match="video not found"):
        VideoReader(tmp_path / "nope.mp4")


def test_garbage_file_is_a_savkit_error_in_words(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(SavkitError, match="garbage.mp4") as caught:
        VideoReader(path)
    assert "not a valid video (invalid data)" in str(caught.value)
    assert "Errno" not in str(caught.value)


def test_ffmpeg_reason_in_words_for_every_error() -> None:
    invalid = av.error.InvalidDataError(1094995529, "Invalid data found when processing input", "x.mp4")
    denied = av.error.PermissionError(13, "Permission denied", "x.mp4")
    assert [ffmpeg_reason(invalid), ffmpeg_reason(denied)] == ["invalid data", "permission denied"]


def test_truncated_file_is_a_savkit_error(index_video: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.mp4"
    path.write_bytes(index_video.read_bytes()[: index_video.stat().st_size // 2])
    with pytest.raises(SavkitError, match="truncated.mp4"), VideoReader(path) as reader:
        list(reader.frames())


def test_gif_round_trip_and_odd_sizes_padded_for_mp4(tmp_path: Path) -> None:
    frames = [index_frame(i, height=23) for i in (5, 6, 7)]
    assert write_video(tmp_path / "out.gif", frames, fps=6) == 3
    assert write_video(tmp_path / "out.mp4", [f[:, :-1] for f in frames], preset="ultrafast") == 3
    with VideoReader(tmp_path / "out.gif") as gif, VideoReader(tmp_path / "out.mp4") as mp4:
        assert [read_index(rgb) for _, rgb in gif.frames()] == [5, 6, 7]
        assert (mp4.width, mp4.height, mp4.count_frames()) == (frames[0].shape[1], 24, 3)


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def frames_then_failure():
        yield index_frame(0)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        write_video(tmp_path / "out.mp4", frames_then_failure())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "frames", "message"),
    [
        ("out.avi", [index_frame(0)], "unsupported video format"),
        ("out.mp4", [], "no frames"),
        ("out.mp4", [index_frame(0).astype(np.float32)], "uint8 RGB"),
        ("out.mp4", [index_frame(0), index_frame(0, height=50)], "one shape|same shape"),
    ],
)
def test_write_rejects_bad_input(tmp_path: Path, name: str, frames: list, message: str) -> None:
    with pytest.raises(SavkitError, match=message):
        write_video(tmp_path / name, frames)
    assert list(tmp_path.iterdir()) == []


def non_reference_frames(path: Path) -> set[int]:
    """Indices of the frames whose H.264 slices have nal_ref_idc 0 (mp4: 4-byte length-prefixed NAL units)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(packet.pts, bytes(packet)) for packet in container.demux(stream) if packet.size]
    order = {pts: index for index, pts in enumerate(sorted(pts for pts, _ in packets))}
    found = set()
    for pts, data in packets:
        offset, slices = 0, []
        while offset + 4 < len(data):
            header = data[offset + 4]
            if header & 31 in (1, 5):  # coded slice
                slices.append(header >> 5 & 3)
            offset += 4 + int.from_bytes(data[offset : offset + 4], "big")
        if slices[0] == 0:
            found.add(order[pts])
    return found


@pytest.mark.parametrize(("step", "start"), [(4, 0), (3, 10)])
def test_h264_decoding_skips_exactly_the_unkept_non_reference_frames(
    index_video: Path, step: int, start: int
) -> None:
    kept = set(range(start, FRAME_COUNT, step))
    skippable = non_reference_frames(index_video) - kept
    assert skippable and non_reference_frames(index_video) & kept  # both kinds occur in the B-frame video
    with av.open(str(index_video)) as container:
        stream = container.streams.video[0]
        timestamps = sorted(packet.pts for packet in container.demux(stream) if packet.size)
        container.seek(timestamps[start], stream=stream, backward=True, any_frame=False)
        frame_index = {pts: index for index, pts in enumerate(timestamps)}
        decoded = [
            (index, read_index(to_rgb(frame)))
            for index, frame in _decode_skipping(
                container, stream, index_video, frame_index, kept.__contains__
            )
        ]
        assert (
            stream.codec_context.skip_frame == "DEFAULT"
        )  # restored for random access on the same container
    shown = [index for index, _ in decoded if index >= start]
    assert shown == sorted(set(range(start, FRAME_COUNT)) - skippable)
    assert all(index == painted for index, painted in decoded)
    with VideoReader(index_video) as reader:
        assert [(i, read_index(rgb)) for i, rgb in reader.frames(step, start)] == [
            (i, i) for i in sorted(kept)
        ]


def test_jpeg_planes_are_full_range_and_none_for_odd_sizes() -> None:
    assert jpeg_planes(av.VideoFrame(81, 48, "yuv420p")) is None
    frame = av.VideoFrame.from_ndarray(index_frame(5), format="rgb24").reformat(format="yuv420p")
    luma, cb, cr = jpeg_planes(frame)
    assert luma.shape == (48, 80) and cb.shape == cr.shape == (24, 40)
    assert luma.min() == 0 and luma.max() == 255  # black and white stretched from video range (16, 235)
