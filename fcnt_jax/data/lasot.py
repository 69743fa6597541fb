"""LaSOT reader and result writer (``<root>/<class>/<class>-<n>/``).

Layout of a sequence folder (the data set's): ``img/00000001.jpg ...``; ``groundtruth.txt``, one
comma-separated integer ``x,y,w,h`` per frame, 1-based like OTB (LaSOT's toolkit is the OTB
toolkit's); ``full_occlusion.txt`` and ``out_of_view.txt``, each one comma-separated line of 0/1;
``nlp.txt``, one sentence. The official toolkit's copies of the same files
(``annos/<seq>.txt``, ``annos/absent/<seq>.txt`` = full_occlusion OR out_of_view, one flag a line,
``annos/nlp/<seq>.txt``) are read by :func:`read_toolkit_annotation`.

Quirks handled (seen in the toolkit's real files): no file ends in a newline; absent frames come
either with a box kept (yoyo-15) or written ``0,0,0,0`` (gametarget-2), which is no box and is
kept as NaN.

Scoring follows the toolkit: frame 1 and every absent frame (full occlusion or out of view) are
dropped. Results are ``<seq>.txt``, 1-based ``x,y,w,h`` with commas, as OTB's.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import (Sequence, SequenceError, check_init_box, list_images, otb_boxes, read_box_file,
                                    read_flags, require_frames)

SCORE_RULE = "lasot: frame 1 and absent frames (full_occlusion.txt or out_of_view.txt is 1) dropped"
_NAME = re.compile(r"^(?P<cls>.+)-(?P<n>\d+)$")


def is_lasot_folder(path: Path) -> bool:
    return ((path / "img").is_dir() and (path / "groundtruth.txt").is_file()
            and any((path / f).is_file() for f in ("full_occlusion.txt", "out_of_view.txt", "nlp.txt")))


def lasot_boxes(rows: list[list[float]], path: Path) -> np.ndarray:
    """1-based rows -> 0-based boxes; an all-zero row (an absent frame written ``0,0,0,0``) -> NaN."""
    boxes = otb_boxes(rows, path)
    empty = np.all(np.asarray(rows, np.float64).reshape(-1, 4) == 0, axis=1)
    boxes[empty] = np.nan
    return boxes


def _scored(absent: np.ndarray) -> np.ndarray:
    scored = ~absent.astype(bool)
    scored[0] = False
    return scored


def read_lasot(path: str | Path) -> Sequence:
    path = Path(path)
    gt_path = path / "groundtruth.txt"
    rows = read_box_file(gt_path)
    boxes = lasot_boxes(rows, gt_path)
    frames = [path / "img" / f"{i:08d}.jpg" for i in range(1, len(boxes) + 1)]
    if not frames[0].is_file():  # a user's copy in another image format: the folder's images, in order
        frames = list_images(path / "img")[: len(boxes)]
    require_frames(frames, f"{path} ({len(boxes)} boxes)")
    if len(frames) < len(boxes):
        raise SequenceError(f"{gt_path}: {len(boxes)} boxes but {len(frames)} frames in {path / 'img'}")
    absent = np.zeros(len(boxes), bool)
    meta = {}
    for name in ("full_occlusion", "out_of_view"):
        file = path / f"{name}.txt"
        if file.is_file():
            flags = read_flags(file, len(boxes), name)
            meta[name] = flags
            absent |= flags.astype(bool)
    if (path / "nlp.txt").is_file():
        meta["nlp"] = (path / "nlp.txt").read_text(encoding="utf-8", errors="replace").strip()
    init = check_init_box(boxes[0], f"{gt_path}:1")
    m = _NAME.match(path.name)
    if m:
        meta["class"] = m.group("cls")
    return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=boxes, source="lasot",
                    scored=_scored(absent), score_rule=SCORE_RULE, meta=meta)


def read_toolkit_annotation(annos: str | Path, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The evaluation toolkit's files for one sequence: 0-based boxes (NaN for ``0,0,0,0``), the
    scored mask (frame 1 and absent frames dropped) and the nlp sentence ("" when absent)."""
    annos = Path(annos)
    gt_path = annos / f"{name}.txt"
    boxes = lasot_boxes(read_box_file(gt_path), gt_path)
    absent = read_flags(annos / "absent" / f"{name}.txt", len(boxes), "absent")
    nlp_path = annos / "nlp" / f"{name}.txt"
    nlp = nlp_path.read_text(encoding="utf-8", errors="replace").strip() if nlp_path.is_file() else ""
    return boxes, _scored(absent), nlp
