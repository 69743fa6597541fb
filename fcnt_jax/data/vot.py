"""VOT reader: frames beside ``groundtruth.txt`` (or in ``color/``), one region per line.

A line of 8 numbers is a rotated polygon ``x1,y1,...,x4,y4``; a line of 4 is ``x,y,w,h``. Both
become axis-aligned boxes: the polygon's enclosing rectangle (``polygon_to_box``). VOT coordinates
are taken as 0-based, the convention of the VOT toolkit and of pysot's loader, so no shift is
applied. Frames are the folder's images in natural order, one per ground-truth line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import Sequence, SequenceError, check_init_box, list_images, read_box_file


def polygon_to_box(values: np.ndarray) -> np.ndarray:
    """``(N, 8)`` polygons or ``(N, 4)`` rectangles -> ``(N, 4)`` enclosing ``[x0, y0, w, h]``."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] == 4:
        return values.copy()
    xs, ys = values[..., 0::2], values[..., 1::2]
    x0, y0 = xs.min(-1), ys.min(-1)
    return np.stack([x0, y0, xs.max(-1) - x0, ys.max(-1) - y0], axis=-1)


def is_vot_folder(path: Path) -> bool:
    return (path / "groundtruth.txt").is_file()


def read_vot(path: str | Path) -> Sequence:
    path = Path(path)
    gt_path = path / "groundtruth.txt"
    rows = read_box_file(gt_path, allowed_counts=(4, 8))
    boxes = np.stack([polygon_to_box(np.asarray(r)) for r in rows])
    frame_dir = path / "color" if (path / "color").is_dir() else path
    frames = list_images(frame_dir)
    if len(frames) < len(boxes):
        raise SequenceError(f"{gt_path}: {len(boxes)} regions but only {len(frames)} frames in {frame_dir}")
    init = check_init_box(boxes[0], f"{gt_path}:1")
    return Sequence(name=path.name, frame_paths=tuple(frames[: len(boxes)]), init_box=init,
                    groundtruth=boxes, source="vot")
