"""TrackingNet reader (``<split>/frames/<seq>/<i>.jpg`` and ``<split>/anno/<seq>.txt``).

Frames are numbered from 0 (``0.jpg, 1.jpg, ...``, read in natural order, so ``10.jpg`` follows
``9.jpg``). ``anno/<seq>.txt`` holds one comma-separated ``x,y,w,h`` per frame in the training
chunks (``TRAIN_0`` ... ``TRAIN_11``) and only the first box in ``TEST``, whose ground truth is
withheld (then every frame is tracked and nothing is scored). Boxes are taken as 0-based pixel
edges (no shift), as pytracking and the evaluation server use them, and written back the same
way: ``<seq>.txt``, ``x,y,w,h`` with commas, one line per frame. Scoring (training chunks only)
uses every frame with a valid box, as OTB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import Sequence, SequenceError, check_init_box, list_images, read_box_file


def annotation_path(frame_dir: Path) -> Path | None:
    """``<split>/frames/<seq>`` -> ``<split>/anno/<seq>.txt`` when that layout holds."""
    if frame_dir.parent.name != "frames":
        return None
    return frame_dir.parent.parent / "anno" / f"{frame_dir.name}.txt"


def is_trackingnet_folder(path: Path) -> bool:
    anno = annotation_path(path)
    return anno is not None and anno.is_file()


def split_folders(root: Path) -> list[Path]:
    """``root`` itself when it holds ``frames/`` and ``anno/``, else its sub-folders that do."""
    if (root / "frames").is_dir() and (root / "anno").is_dir():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "frames").is_dir() and (p / "anno").is_dir())


def read_trackingnet(path: str | Path) -> Sequence:
    path = Path(path)
    anno = annotation_path(path)
    if anno is None:
        raise SequenceError(f"{path}: not in the TrackingNet layout <split>/frames/<seq>")
    rows = np.asarray(read_box_file(anno), np.float64).reshape(-1, 4)
    frames = list_images(path)
    init = check_init_box(rows[0], f"{anno}:1")
    if len(rows) == 1 and len(frames) > 1:  # TEST: only the first box
        return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=None,
                        source="trackingnet", score_rule="trackingnet TEST: ground truth withheld (submit the results)")
    if len(frames) != len(rows):
        raise SequenceError(f"{anno}: {len(rows)} boxes but {len(frames)} frames in {path}")
    return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=rows,
                    source="trackingnet", score_rule="trackingnet: every frame with a valid ground-truth box")
