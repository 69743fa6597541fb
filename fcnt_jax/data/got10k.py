"""GOT-10k reader and result writer (``<root>/{train,val,test}/<seq>/``).

Layout of a sequence folder (the GOT-10k toolkit's): frames ``00000001.jpg ...``;
``groundtruth.txt``, one comma-separated ``x,y,w,h`` per frame, or only the first box in the
test split (whose ground truth is withheld); ``absence.label`` (1 = target absent),
``cover.label`` (visible fraction in 9 classes, 0 = fully covered or absent) and
``cut_by_image.label`` (1 = cut by the image border), one integer per line, where present;
``meta_info.ini`` (``[METAINFO]`` ``key: value`` lines: class, motion, resolution, ...).

Rules:
- Boxes are taken as 0-based pixel edges (no shift), as the toolkit and pytracking use them, and
  written back the same way.
- Frames are the folder's images in natural order; with full ground truth there must be one per
  row; with only the first box (test split) every frame is tracked and nothing is scored.
- Scoring follows the toolkit's evaluation: frame 1 is dropped, and so is every frame whose
  ``cover.label`` is 0 (without ``cover.label``: whose ``absence.label`` is 1).
- Results go to ``<seq>/<seq>_001.txt`` (``%.3f``, commas, one box per frame) and
  ``<seq>/<seq>_time.txt`` (seconds per frame, ``%.8f``), the submission layout.
"""

from __future__ import annotations

import configparser
from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import (Sequence, SequenceError, check_init_box, list_images, read_box_file,
                                    read_flags)
from fcnt_jax.files import write_text_atomic

LABEL_FILES = ("absence.label", "cover.label", "cut_by_image.label")
SCORE_RULE = "got10k: frame 1 and frames whose cover.label is 0 (target absent or fully covered) dropped"


def is_got10k_folder(path: Path) -> bool:
    """``groundtruth.txt`` with GOT-10k's own files beside it, or in a ``train``/``val``/``test``
    folder that lists its sequences in ``list.txt`` (the test split has no label files)."""
    if not (path / "groundtruth.txt").is_file():
        return False
    if any((path / f).is_file() for f in (*LABEL_FILES, "meta_info.ini")):
        return True
    return path.parent.name.lower() in ("train", "val", "test") and (path.parent / "list.txt").is_file()


def read_meta_info(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error as e:
        raise SequenceError(f"{path}: cannot parse meta_info.ini ({e.__class__.__name__})") from None
    return {k: v for section in parser.sections() for k, v in parser.items(section)}


def read_got10k(path: str | Path) -> Sequence:
    path = Path(path)
    gt_path = path / "groundtruth.txt"
    rows = np.asarray(read_box_file(gt_path), np.float64).reshape(-1, 4)
    frames = list_images(path)
    init = check_init_box(rows[0], f"{gt_path}:1")
    meta = read_meta_info(path / "meta_info.ini") if (path / "meta_info.ini").is_file() else {}
    if len(rows) == 1 and len(frames) > 1:  # test split: only the first box is given
        return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=None, source="got10k",
                        score_rule="got10k test split: ground truth withheld (submit the results)", meta=meta)
    if len(frames) != len(rows):
        raise SequenceError(f"{gt_path}: {len(rows)} boxes but {len(frames)} frames in {path}")
    bad = (rows[:, 2:] < 0).any(1)
    if bad.any():
        raise SequenceError(f"{gt_path}:{int(np.argmax(bad)) + 1}: negative width or height")
    labels = {f.split(".")[0]: read_flags(path / f, len(rows), f, values=tuple(range(9)) if f == "cover.label"
                                          else (0, 1))
              for f in LABEL_FILES if (path / f).is_file()}
    if "cover" in labels:
        visible = labels["cover"] > 0
    elif "absence" in labels:
        visible = labels["absence"] == 0
    else:
        visible = np.ones(len(rows), bool)
    scored = visible.copy()
    scored[0] = False
    meta = {**meta, **{f"{k}_label": v for k, v in labels.items()}}
    return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=rows, source="got10k",
                    scored=scored, score_rule=SCORE_RULE, meta=meta)


def write_got10k_result(folder: Path, name: str, boxes: np.ndarray, frame_times: np.ndarray,
                        repetition: int = 1) -> tuple[Path, Path]:
    """``<folder>/<name>/<name>_<rep:03d>.txt`` and ``<name>_time.txt``, atomically."""
    out = Path(folder) / name
    out.mkdir(parents=True, exist_ok=True)
    boxes_path = out / f"{name}_{repetition:03d}.txt"
    write_text_atomic(boxes_path, "".join(",".join(f"{v:.3f}" for v in row) + "\n" for row in boxes))
    time_path = out / f"{name}_time.txt"
    write_text_atomic(time_path, "".join(f"{t:.8f}\n" for t in frame_times))
    return boxes_path, time_path
