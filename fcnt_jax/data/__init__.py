"""Sequence readers: OTB, VOT, UAV123 and plain frame folders, with one auto-detecting entry."""

from __future__ import annotations

from pathlib import Path

from fcnt_jax.data.folder import parse_box_argument, read_folder
from fcnt_jax.data.otb import is_otb_folder, read_otb
from fcnt_jax.data.sequence import FrameStream, Sequence, SequenceError, load_frame
from fcnt_jax.data.uav123 import is_uav123_folder, read_uav123
from fcnt_jax.data.vot import is_vot_folder, polygon_to_box, read_vot

DEMO_SEQUENCE = Path(__file__).resolve().parent.parent / "demo" / "Crossing"


def open_sequence(path: str | Path, init_box: str | None = None) -> Sequence:
    """Detect the layout of ``path`` and read it. Rules, in order: ``--init_box`` given -> a plain
    frame folder; ``img/`` + ``groundtruth_rect*.txt`` -> OTB; ``groundtruth.txt`` -> VOT;
    ``data_seq/<subset>/<seq>`` with ``anno/<subset>/<seq>.txt`` -> UAV123."""
    path = Path(path).expanduser()
    if init_box is not None:
        return read_folder(path, init_box)
    if is_otb_folder(path):
        return read_otb(path)
    if not path.is_dir():
        raise SequenceError(f"{path}: sequence folder does not exist")
    if is_vot_folder(path):
        return read_vot(path)
    if is_uav123_folder(path):
        return read_uav123(path)
    raise SequenceError(f"{path}: not an OTB, VOT or UAV123 sequence folder; for a plain folder of "
                        "frames give the first box with --init_box=x,y,w,h")


__all__ = ["DEMO_SEQUENCE", "FrameStream", "Sequence", "SequenceError", "load_frame", "open_sequence",
           "parse_box_argument", "polygon_to_box", "read_folder", "read_otb", "read_uav123", "read_vot"]
