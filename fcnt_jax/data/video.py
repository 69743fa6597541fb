"""Video files in and out (mp4, avi, mkv, mov, ...), through PyAV, whose wheels bundle FFmpeg.

A video is a :class:`Sequence` whose ``frame_paths`` are :class:`VideoFrame` references (the file
and a 0-based decode index), so every consumer (the tracker's loop, the batch runner, error
messages) treats it like a folder of frames. Frames are decoded lazily, in order, by the
sequence's prefetch thread: nothing is decoded ahead of the prefetch window.

Rules:
- The frame count is the container's header count when it has one, else the number of video
  packets (demuxed, not decoded). A file that decodes fewer frames than that (truncated or
  corrupt) raises :class:`SequenceError` at the first missing frame, so the boxes tracked before
  it are kept (``run.track_sequence``); so does a frame whose size differs from the first frame's.
- Ground truth beside a video is ``<stem>.groundtruth.txt`` (or the file given), read by VOT's
  rules: one region per line, 8-number polygons turned into their bounding rectangles, 4-number
  lines taken as ``x,y,w,h``, 0-based; row ``i`` (1-based) belongs to decoded frame ``i - 1``
  (the convention of ``shared/data/video/bag.avi``).
- ``--init_box`` stays OTB's 1-based ``x,y,w,h``, as for a folder of frames.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from fcnt_jax.data.sequence import Sequence, SequenceError, check_init_box, read_box_file

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")
# Codec written per container, first one this FFmpeg build has (libx264 is in PyAV's wheels).
WRITE_CODECS = {".mp4": ("libx264", "h264", "mpeg4"), ".mkv": ("libx264", "h264", "mpeg4"),
                ".mov": ("libx264", "h264", "mpeg4"), ".m4v": ("libx264", "h264", "mpeg4"), ".avi": ("mpeg4",)}


@dataclasses.dataclass(frozen=True)
class VideoFrame:
    """One frame of a video file: the file and the 0-based index in decode order."""

    video: Path
    index: int

    def __str__(self) -> str:
        return f"{self.video} frame {self.index + 1} (index {self.index})"


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    codec: str

    def describe(self) -> str:
        return (f"{self.path.name}: {self.num_frames} frames, {self.fps:g} fps, {self.width}x{self.height}, "
                f"{self.codec}")


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _av():
    try:
        import av
    except ImportError as e:  # a dependency in requirements.txt; say so rather than fail obscurely
        raise SequenceError(f"reading video files needs PyAV (pip install av): {e}") from None
    return av


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, rate, size and codec of the first video stream; errors name the file."""
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise SequenceError(f"{path}: video file does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SequenceError(f"{path}: no video stream in the file")
            stream = container.streams.video[0]
            count = int(stream.frames or 0)
            if count <= 0:  # no count in the header (mkv, some mov): count packets, decoding nothing
                count = sum(1 for packet in container.demux(stream) if packet.size)
            rate = stream.average_rate or stream.guessed_rate or 0
            info = VideoInfo(path, count, float(rate), int(stream.codec_context.width),
                             int(stream.codec_context.height), stream.codec_context.name)
    except SequenceError:
        raise
    except Exception as e:
        raise SequenceError(f"{path}: cannot open video ({type(e).__name__}: {e})") from None
    if info.num_frames <= 0:
        raise SequenceError(f"{path}: the video holds no frames")
    return info


def decode_frames(video: Path, start: int, stop: int) -> Iterator[np.ndarray]:
    """Frames ``start <= i < stop`` as RGB uint8 arrays, decoded in order; raises SequenceError at
    the first frame the file cannot give (truncated or corrupt), naming it."""
    av = _av()
    index = 0
    try:
        with av.open(str(video)) as container:
            container.streams.video[0].thread_type = "AUTO"
            for frame in container.decode(video=0):
                if index >= stop:
                    return
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
                index += 1
    except SequenceError:
        raise
    except Exception as e:
        raise SequenceError(f"{VideoFrame(Path(video), index)}: cannot decode ({type(e).__name__}: {e})") from None
    if index < stop:
        raise SequenceError(f"{VideoFrame(Path(video), index)}: the video ended after {index} of {stop} frames "
                            "(truncated or corrupt file)")


def iter_frames(paths: Iterable) -> Iterator[np.ndarray]:
    """Decode frame references in order: runs of consecutive :class:`VideoFrame` of one file are
    decoded as one pass over the video; anything else is an image file (``load_frame``)."""
    from fcnt_jax.data.sequence import load_frame

    paths = list(paths)
    i = 0
    while i < len(paths):
        p = paths[i]
        if not isinstance(p, VideoFrame):
            yield load_frame(p)
            i += 1
            continue
        j = i + 1
        while j < len(paths) and isinstance(paths[j], VideoFrame) and paths[j].video == p.video \
                and paths[j].index == paths[j - 1].index + 1:
            j += 1
        yield from decode_frames(p.video, p.index, paths[j - 1].index + 1)
        i = j


def read_video(path: str | Path, init_box: str | np.ndarray | None = None,
               groundtruth: str | Path | None = None) -> Sequence:
    """A video file as a Sequence. ``init_box``: ``"x,y,w,h"`` (1-based) or a 0-based array; without
    it the first ground-truth row starts the tracker. Ground truth: ``groundtruth`` or
    ``<stem>.groundtruth.txt`` beside the video, when present."""
    from fcnt_jax.data.folder import parse_box_argument
    from fcnt_jax.data.vot import polygon_to_box

    path = Path(path)
    info = probe_video(path)
    gt_path = Path(groundtruth) if groundtruth is not None else path.with_name(f"{path.stem}.groundtruth.txt")
    boxes = None
    if groundtruth is not None or gt_path.is_file():
        boxes = np.stack([polygon_to_box(np.asarray(r)) for r in read_box_file(gt_path, allowed_counts=(4, 8))])
        if len(boxes) > info.num_frames:
            raise SequenceError(f"{gt_path}: {len(boxes)} regions but the video {path} has {info.num_frames} frames")
    count = info.num_frames if boxes is None else len(boxes)
    if init_box is not None:
        box = parse_box_argument(init_box) if isinstance(init_box, str) else np.asarray(init_box, np.float64)
        box = check_init_box(box, f"{path} --init_box")
    elif boxes is not None:
        box = check_init_box(boxes[0], f"{gt_path}:1")
    else:
        raise SequenceError(f"{path}: no ground truth ({gt_path.name}) to start from; give the first box with "
                            "--init_box=x,y,w,h")
    frames = tuple(VideoFrame(path, i) for i in range(count))
    return Sequence(name=path.stem, frame_paths=frames, init_box=box, groundtruth=boxes, source="video",
                    meta={"video": info})


def video_codec_for(path: str | Path) -> str:
    """The codec :func:`write_video` uses for ``path``'s extension; a clear error when none fits."""
    av = _av()
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in WRITE_CODECS:
        raise SequenceError(f"{path}: cannot write {ext or 'a file without extension'} video; use one of "
                            f"{', '.join(WRITE_CODECS)}")
    codec = next((c for c in WRITE_CODECS[ext] if c in av.codecs_available), None)
    if codec is None:
        raise SequenceError(f"{path}: this FFmpeg build has none of the codecs {WRITE_CODECS[ext]}")
    return codec


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encode RGB uint8 frames (all of one size) to ``path``; the container follows the extension
    (mp4, mkv, mov, m4v: H.264; avi: MPEG-4 Part 2). Written to a temporary file and renamed.
    Odd sizes are padded by one black row/column (the 4:2:0 encoders need even sizes). Returns
    the number of frames written."""
    from fcnt_jax.files import atomic_path

    av = _av()
    path = Path(path)
    codec = video_codec_for(path)
    ext = path.suffix.lower()
    if not fps > 0:
        raise SequenceError(f"{path}: frame rate must be positive, got {fps}")
    count = 0
    with atomic_path(path, suffix=ext) as tmp:
        with av.open(str(tmp), "w") as container:
            stream = None
            for frame in frames:
                frame = np.ascontiguousarray(frame, np.uint8)
                h, w = frame.shape[:2]
                if stream is None:
                    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = w + w % 2, h + h % 2
                    stream.pix_fmt = "yuv420p"
                    # Near-transparent quality, so a tracked video or a test's re-encoded frames stay
                    # close to their source: x264's CRF 17 ("visually lossless", x264 docs); MPEG-4
                    # Part 2 has no CRF, so a bit rate of ~1 bit per pixel per frame.
                    if codec == "libx264":
                        stream.options = {"crf": "17"}
                    else:
                        stream.bit_rate = int(max(w * h * fps, 1_000_000))
                    size = (h, w)
                elif (h, w) != size:
                    raise SequenceError(f"{path}: frame {count + 1} is {w}x{h}, the video is {size[1]}x{size[0]}")
                if w % 2 or h % 2:
                    frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise SequenceError(f"{path}: no frames to write")
            for packet in stream.encode():
                container.mux(packet)
    return count
