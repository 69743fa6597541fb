"""UAV123 reader: ``<root>/data_seq/<subset>/<seq>/NNNNNN.jpg`` and ``<root>/anno/<subset>/<seq>.txt``.

Annotation rows are comma-separated 1-based ``x,y,w,h``; rows of ``NaN`` mark frames where the
target is out of view: they stay NaN in ``groundtruth`` (scorers skip them; the tracker never reads
them). The first row must be a valid box. Sub-sequences that share a frame folder (``bird1_1`` in
``bird1``) need the UAV123 frame-range table, which is not built in: such a sequence raises an
error that says so.
"""

from __future__ import annotations

from pathlib import Path

from fcnt_jax.data.sequence import (Sequence, SequenceError, check_init_box, list_images, otb_boxes,
                                    read_box_file)


def annotation_path(frame_dir: Path) -> Path | None:
    """``.../data_seq/<subset>/<seq>`` -> ``.../anno/<subset>/<seq>.txt`` when that layout holds."""
    if frame_dir.parent.parent.name != "data_seq":
        return None
    return frame_dir.parent.parent.parent / "anno" / frame_dir.parent.name / f"{frame_dir.name}.txt"


def is_uav123_folder(path: Path) -> bool:
    anno = annotation_path(path)
    return anno is not None and anno.is_file()


def read_uav123(path: str | Path) -> Sequence:
    path = Path(path)
    anno = annotation_path(path)
    if anno is None:
        raise SequenceError(f"{path}: not in the UAV123 layout <root>/data_seq/<subset>/<seq>")
    if not anno.is_file():
        raise SequenceError(f"{anno}: UAV123 annotation file does not exist")
    boxes = otb_boxes(read_box_file(anno), anno)
    frames = list_images(path)
    if len(frames) != len(boxes):
        raise SequenceError(f"{anno}: {len(boxes)} rows but {len(frames)} frames in {path} (UAV123 "
                            "sub-sequences with frame ranges are not supported)")
    init = check_init_box(boxes[0], f"{anno}:1")
    return Sequence(name=path.name, frame_paths=tuple(frames), init_box=init, groundtruth=boxes,
                    source="uav123")
