"""OTB-2013/2015 reader (``<Seq>/img/NNNN.jpg`` + ``<Seq>/groundtruth_rect*.txt``).

Rules, in order (no globbing guesswork):
1. If ``OTB100.json`` (pysot format) sits in the sequence's parent folder and names the sequence,
   it is the source of truth: its ``img_names`` are the frames, its ``gt_rect`` the boxes, its
   ``attr`` the attributes.
2. Otherwise the frame range comes from :data:`OTB_QUIRKS` (start frame, digits, extension,
   initial frames omitted), defaulting to frames ``1..len(gt)`` as 4-digit ``.jpg``; the number of
   frames tracked is the number of ground-truth rows (Diving: 215 of 231 frames, Football1: 74 of
   81). David's frames start at 0300: box ``i`` belongs to frame ``299 + i``.
3. Two-target sequences read ``groundtruth_rect.<k>.txt`` for the name ``<Seq>-<k>`` (aliases
   ``<Seq>_<k>`` and ``<Seq>.<k>``): Jogging-1/-2, Skating2-1/-2, Human4-2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import (IMAGE_EXTENSIONS, Sequence, SequenceError, check_init_box, otb_boxes,
                                    read_box_file, require_frames)


@dataclasses.dataclass(frozen=True)
class OtbQuirk:
    start_frame: int = 1
    digits: int = 4
    ext: str = "jpg"
    img_dir: str = "img"
    init_omit: int = 0  # leading frames dropped from both frames and ground truth


# Frame-range quirks of OTB-100 (shared/data/README.md; anchors.md §B1, pytracking's otbdataset.py
# table and the OTB toolkit's initOmit folder).
OTB_QUIRKS: dict[str, OtbQuirk] = {
    "David": OtbQuirk(start_frame=300),
    "BlurCar1": OtbQuirk(start_frame=247),
    "BlurCar3": OtbQuirk(start_frame=3),
    "BlurCar4": OtbQuirk(start_frame=18),
    "Board": OtbQuirk(digits=5),
    "Tiger1": OtbQuirk(init_omit=5),
}
# Frames 1..N with N below the number of images on disk: reading len(gt) frames handles them, the
# table documents them. (Diving 215, Football1 74, Freeman3 460, Freeman4 283.)
OTB_SHORT_GT = {"Diving": 215, "Football1": 74, "Freeman3": 460, "Freeman4": 283}

_TARGET_SUFFIX = re.compile(r"^(?P<base>.+?)[-_.](?P<k>\d)$")


@functools.lru_cache(maxsize=4)
def _load_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SequenceError(f"{path}: cannot read OTB annotation JSON ({e})") from e


def split_target(name: str) -> tuple[str, int | None]:
    """``Jogging-1`` / ``Jogging_1`` / ``Jogging.1`` -> (``Jogging``, 1); ``Crossing`` -> (.., None)."""
    m = _TARGET_SUFFIX.match(name)
    if m and m.group("base") in ("Jogging", "Skating2", "Human4"):
        return m.group("base"), int(m.group("k"))
    return name, None


def is_otb_folder(path: Path) -> bool:
    base, _ = split_target(path.name)
    folder = path.parent / base if base != path.name else path
    return (folder / "img").is_dir() and any(folder.glob("groundtruth_rect*.txt"))


def read_otb(path: str | Path, use_json: bool = True) -> Sequence:
    """An OTB sequence from its folder ``.../<Seq>`` (or ``.../Jogging-1`` for a target)."""
    path = Path(path)
    base, target = split_target(path.name)
    folder = path.parent / base if target is not None else path
    if not folder.is_dir():
        raise SequenceError(f"{folder}: OTB sequence folder does not exist")
    name = f"{base}-{target}" if target is not None else base
    json_path = folder.parent / "OTB100.json"
    if use_json and json_path.is_file():
        table = _load_json(json_path)
        if name in table:
            return _from_json(folder.parent, name, table[name], json_path)
    return _from_files(folder, base, target, name)


def _from_json(root: Path, name: str, entry: dict, json_path: Path) -> Sequence:
    frames = [root / p for p in entry["img_names"]]
    rows = entry["gt_rect"]
    if len(frames) != len(rows):
        raise SequenceError(f"{json_path}[{name}]: {len(frames)} img_names but {len(rows)} gt_rect rows")
    require_frames(frames, f"{root / name}")
    boxes = otb_boxes(rows, json_path)
    init = check_init_box(boxes[0], f"{json_path}[{name}] frame 1")
    return Sequence(name=name, frame_paths=tuple(frames), init_box=init, groundtruth=boxes,
                    attributes=tuple(entry.get("attr", ())), source="otb")


def _from_files(folder: Path, base: str, target: int | None, name: str) -> Sequence:
    gt_name = "groundtruth_rect.txt" if target is None else f"groundtruth_rect.{target}.txt"
    gt_path = folder / gt_name
    if target is None and not gt_path.is_file() and (folder / "groundtruth_rect.1.txt").is_file():
        raise SequenceError(f"{folder}: holds several targets (groundtruth_rect.<k>.txt); open "
                            f"{base}-1, {base}-2, ... instead")
    boxes = otb_boxes(read_box_file(gt_path), gt_path)
    quirk = OTB_QUIRKS.get(base, OtbQuirk())
    first = quirk.start_frame + quirk.init_omit
    boxes = boxes[quirk.init_omit:]
    ext = frame_extension(folder / quirk.img_dir, f"{first:0{quirk.digits}d}", quirk.ext)
    frames = [folder / quirk.img_dir / f"{i:0{quirk.digits}d}.{ext}" for i in range(first, first + len(boxes))]
    require_frames(frames, f"{folder} (frames {first}..{first + len(boxes) - 1} for {len(boxes)} boxes)")
    init = check_init_box(boxes[0], f"{gt_path}:{1 + quirk.init_omit}")
    return Sequence(name=name, frame_paths=tuple(frames), init_box=init, groundtruth=boxes,
                    attributes=(), source="otb")


def frame_extension(img_dir: Path, first_stem: str, default: str = "jpg") -> str:
    """The one image extension of a sequence's frames, found from its first frame: OTB ships
    ``.jpg``, but a user's copy may hold ``.png`` (or any of ``IMAGE_EXTENSIONS``). Two first
    frames with different extensions are ambiguous and refused; no first frame keeps ``default``,
    so that the missing-frames error names the file OTB expects."""
    found = sorted({p.suffix[1:] for p in img_dir.glob(f"{first_stem}.*")
                    if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()})
    if len(found) > 1:
        raise SequenceError(f"{img_dir}: first frame {first_stem} exists as {', '.join(found)}; "
                            "keep one image extension per sequence")
    return found[0] if found else default


def otb_attributes(json_path: Path) -> dict[str, tuple[str, ...]]:
    """Sequence name -> OTB attribute names, from a pysot-format OTB100.json."""
    return {k: tuple(v.get("attr", ())) for k, v in _load_json(Path(json_path)).items()}


def write_otb_copy(sequences: list[Sequence], root: Path) -> Path:
    """The sequences as a new OTB-layout data set under ``root``: each frame file copied byte for
    byte (renamed ``<Seq>/img/0001.jpg`` ..., extension kept) and an ``OTB100.json`` that holds the
    copies' frames, ground truth and attributes, so the copy reads back as the same sequences.

    For moving a few (truncated) real sequences to a machine where the data set is not, e.g. a
    device call, which carries at most 64 MiB. ``root`` must not exist; it is written in a sibling
    temporary folder and renamed, so a failure leaves nothing half-copied.
    """
    import os
    import shutil
    import tempfile

    from fcnt_jax.geometry import box_to_otb

    root = Path(root)
    if root.exists():
        raise SequenceError(f"{root}: exists; give a new folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
    try:
        table = {}
        for seq in sequences:
            if seq.groundtruth is None:
                raise SequenceError(f"{seq.name}: no ground truth; an OTB copy needs a box per frame")
            if split_target(seq.name)[1] is not None or "/" in seq.name:
                raise SequenceError(f"{seq.name}: a multi-target or nested name cannot be a copy's folder name")
            (tmp / seq.name / "img").mkdir(parents=True)
            names = []
            for i, src in enumerate(seq.frame_paths, 1):
                names.append(f"{seq.name}/img/{i:04d}{Path(src).suffix.lower()}")
                shutil.copyfile(src, tmp / names[-1])
            rows = box_to_otb(np.asarray(seq.groundtruth)).tolist()
            (tmp / seq.name / "groundtruth_rect.txt").write_text("".join(",".join(map(repr, r)) + "\n" for r in rows))
            table[seq.name] = {"video_dir": seq.name, "init_rect": rows[0], "img_names": names, "gt_rect": rows,
                               "attr": list(seq.attributes)}
        (tmp / "OTB100.json").write_text(json.dumps(table, indent=1) + "\n")
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root
