"""The Sequence type, box-file parsing and lazy, prefetched frame decoding.

Every reader returns a :class:`Sequence`: the frame paths to track (exactly one per ground-truth
row when ground truth exists), the ground truth in the library's 0-based edge coordinates (NaN
rows where the target is not visible), and the initial box. Frames are decoded only when
iterated, by a background thread a few frames ahead, with Pillow, to RGB uint8 (grayscale and
palette images are converted, as FCNT replicates gray to 3 channels).
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
from pathlib import Path
from typing import Iterator, Sequence as Seq

import numpy as np
from PIL import Image

from fcnt_jax.geometry import box_from_otb

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_SPLIT = re.compile(r"[,\s;]+")


class SequenceError(ValueError):
    """Bad input: the message names the file and what is wrong with it."""


@dataclasses.dataclass(frozen=True)
class Sequence:
    """One tracking sequence. Boxes are 0-based ``[x0, y0, w, h]`` floats (see geometry.py)."""

    name: str
    frame_paths: tuple[Path, ...]  # image files, or data.video.VideoFrame references into a video file
    init_box: np.ndarray  # (4,)
    groundtruth: np.ndarray | None = None  # (num_frames, 4), NaN rows where not visible
    attributes: tuple[str, ...] = ()
    source: str = ""  # the reader that built it: otb | vot | uav123 | got10k | lasot | trackingnet | video | folder
    # Frames the benchmark scores (bool per frame); None: every frame whose ground truth is a
    # valid box. GOT-10k and LaSOT drop frame 1 and the frames where the target is absent.
    scored: np.ndarray | None = None
    score_rule: str = "otb: every frame with a valid ground-truth box"
    meta: dict = dataclasses.field(default_factory=dict)  # what the layout adds: meta_info.ini, nlp.txt, ...

    def __len__(self) -> int:
        return len(self.frame_paths)

    def image_size(self) -> tuple[int, int]:
        """(height, width) of the first frame (read from its header only)."""
        path = self.frame_paths[0]
        if hasattr(path, "video"):  # a data.video.VideoFrame: the container's header
            from fcnt_jax.data.video import probe_video

            info = self.meta.get("video") or probe_video(path.video)
            return info.height, info.width
        try:
            with Image.open(path) as im:
                return im.height, im.width
        except Exception as e:
            raise SequenceError(f"{path}: cannot read image header ({e})") from e

    def frames(self, prefetch: int = 4, stop: int | None = None) -> "FrameStream":
        paths = self.frame_paths if stop is None else self.frame_paths[:stop]
        return FrameStream(paths, prefetch)

    def truncated(self, max_frames: int | None) -> "Sequence":
        if max_frames is None or max_frames >= len(self):
            return self
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        gt = None if self.groundtruth is None else self.groundtruth[:max_frames]
        scored = None if self.scored is None else self.scored[:max_frames]
        return dataclasses.replace(self, frame_paths=self.frame_paths[:max_frames], groundtruth=gt, scored=scored)


def load_frame(path: Path) -> np.ndarray:
    """Decode one frame to an (H, W, 3) uint8 RGB array; errors name the file. A video frame
    reference (``data.video.VideoFrame``) is decoded from its file."""
    if hasattr(path, "video"):  # a data.video.VideoFrame
        from fcnt_jax.data.video import decode_frames

        return next(decode_frames(path.video, path.index, path.index + 1))
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise SequenceError(f"{path}: frame file does not exist") from None
    except Exception as e:
        raise SequenceError(f"{path}: cannot decode frame ({type(e).__name__}: {e})") from e


class FrameStream:
    """Iterate frames decoded in a background thread, at most ``prefetch`` ahead.

    Never holds the whole sequence in memory. A decoding error is raised in the consumer, at the
    frame where it happened. Use as an iterator or a context manager (``close`` stops the thread).
    """

    _DONE = object()

    def __init__(self, paths: Seq[Path], prefetch: int = 4):
        self._paths = list(paths)
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        from fcnt_jax.data.video import iter_frames  # image files one by one; a video in one pass

        frames = iter_frames(self._paths)
        try:
            while True:
                try:
                    item = next(frames)
                except StopIteration:
                    break
                except Exception as e:  # handed to the consumer
                    self._put(e)
                    return
                if not self._put(item):
                    return
            self._put(self._DONE)
        finally:
            frames.close()

    def __len__(self) -> int:
        return len(self._paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()

    def __enter__(self) -> "FrameStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_flags(path: Path, count: int, kind: str, values: tuple[int, ...] | None = (0, 1)) -> np.ndarray:
    """Integer per-frame labels: one per line (GOT-10k's ``*.label``) or one comma-separated line
    (LaSOT's ``full_occlusion.txt``), with or without a final newline; there must be ``count``."""
    text = path.read_text(encoding="utf-8", errors="replace")
    fields = [f for f in _SPLIT.split(text.strip()) if f]
    try:
        numbers = [float(f) for f in fields]
    except ValueError:
        numbers = [0.5]
    if not all(v.is_integer() for v in numbers):
        raise SequenceError(f"{path}: {kind} holds a value that is not an integer")
    flags = np.asarray(numbers, np.int64)
    if len(flags) != count:
        raise SequenceError(f"{path}: {len(flags)} {kind} values for {count} frames")
    if values is not None and not np.isin(flags, values).all():
        bad = flags[~np.isin(flags, values)][0]
        raise SequenceError(f"{path}: {kind} value {bad} is not one of {', '.join(map(str, values))}")
    return flags


def parse_numbers(line: str, path: Path, lineno: int) -> list[float]:
    fields = [f for f in _SPLIT.split(line.strip()) if f]
    try:
        return [float(f) for f in fields]
    except ValueError:
        raise SequenceError(f"{path}:{lineno}: malformed box line {line.strip()!r} "
                            "(expected numbers separated by commas, tabs or spaces)") from None


def read_box_file(path: Path, allowed_counts: tuple[int, ...] = (4,), kind: str = "ground-truth") -> list[list[float]]:
    """Rows of numbers from a box file: one box per non-empty line, any of , \\t space."""
    if not path.is_file():
        raise SequenceError(f"{path}: {kind} file does not exist")
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            numbers = parse_numbers(line, path, lineno)
            if len(numbers) not in allowed_counts:
                raise SequenceError(f"{path}:{lineno}: {len(numbers)} numbers in {line.strip()!r}, "
                                    f"expected {' or '.join(map(str, allowed_counts))}")
            rows.append(numbers)
    if not rows:
        raise SequenceError(f"{path}: no boxes in the file")
    return rows


def check_init_box(box: np.ndarray, where: str) -> np.ndarray:
    """The initial box must be finite with positive size: the tracker cannot start otherwise."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise SequenceError(f"{where}: initial box {box.tolist()} is not 4 finite numbers")
    if box[2] <= 0 or box[3] <= 0:
        raise SequenceError(f"{where}: initial box {box.tolist()} has zero or negative size")
    return box


def check_box_in_frame(box: np.ndarray, height: int, width: int, where: str) -> None:
    """The initial box must overlap the first frame: wholly outside it there is nothing to track
    (both heat maps would be empty and the box would be held on every frame). A box that only
    partly overlaps the frame is accepted, as targets entering the view are."""
    x0, y0, w, h = (float(v) for v in box)
    if min(x0 + w, width) - max(x0, 0.0) <= 0 or min(y0 + h, height) - max(y0, 0.0) <= 0:
        raise SequenceError(f"{where}: initial box x,y,w,h = {x0 + 1:g},{y0 + 1:g},{w:g},{h:g} (1-based) lies "
                            f"wholly outside the {width}x{height} first frame")


def otb_boxes(rows: list[list[float]], path: Path) -> np.ndarray:
    """1-based x,y,w,h rows -> 0-based boxes; NaN rows kept, negative sizes rejected."""
    boxes = box_from_otb(np.asarray(rows, dtype=np.float64).reshape(-1, 4))
    bad = np.isfinite(boxes[:, 2:]).all(1) & (boxes[:, 2:] < 0).any(1)
    if bad.any():
        i = int(np.argmax(bad))
        raise SequenceError(f"{path}:{i + 1}: box {rows[i]} has a negative width or height")
    return boxes


def list_images(folder: Path) -> list[Path]:
    """Image files of a folder in natural order (``2.jpg`` before ``10.jpg``)."""
    if not folder.is_dir():
        raise SequenceError(f"{folder}: frame folder does not exist")

    def key(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]

    images = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=key)
    if not images:
        raise SequenceError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def require_frames(paths: list[Path], where: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SequenceError(f"{where}: {len(missing)} frame file(s) missing, first {missing[0]}")


def pingpong_order(num_frames: int, length: int) -> list[int]:
    """0-based source frame indices of a sequence played forward and backward to ``length``
    frames: 0..n-1, n-2..0, 1..n-1, ... (no frame repeated at a turn); for long-run checks."""
    if num_frames == 1:
        return [0] * length
    period = list(range(num_frames)) + list(range(num_frames - 2, 0, -1))
    return [period[t % len(period)] for t in range(length)]
