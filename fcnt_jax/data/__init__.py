"""Sequence readers: OTB, VOT, UAV123, GOT-10k, LaSOT, TrackingNet, video files and plain frame
folders, with one auto-detecting entry."""

from __future__ import annotations

from pathlib import Path

from fcnt_jax.data.folder import parse_box_argument, read_folder
from fcnt_jax.data.got10k import is_got10k_folder, read_got10k
from fcnt_jax.data.lasot import is_lasot_folder, read_lasot
from fcnt_jax.data.otb import is_otb_folder, read_otb
from fcnt_jax.data.sequence import FrameStream, Sequence, SequenceError, load_frame
from fcnt_jax.data.trackingnet import is_trackingnet_folder, read_trackingnet
from fcnt_jax.data.uav123 import is_uav123_folder, read_uav123
from fcnt_jax.data.video import VIDEO_EXTENSIONS, VideoFrame, is_video_file, read_video, write_video
from fcnt_jax.data.vot import is_vot_folder, polygon_to_box, read_vot

DEMO_SEQUENCE = Path(__file__).resolve().parent.parent / "demo" / "Crossing"


def open_sequence(path: str | Path, init_box: str | None = None) -> Sequence:
    """Detect the layout of ``path`` and read it. Rules, in order: a video file (by extension) ->
    its frames, started from ``init_box`` or its ``<stem>.groundtruth.txt``; ``--init_box`` given
    -> a plain frame folder; ``img/`` + ``groundtruth_rect*.txt`` -> OTB; ``img/`` + ``groundtruth.txt`` +
    ``full_occlusion.txt`` / ``out_of_view.txt`` / ``nlp.txt`` -> LaSOT; ``groundtruth.txt`` with
    GOT-10k's label or meta files (or in a listed train/val/test split) -> GOT-10k;
    ``groundtruth.txt`` -> VOT; ``data_seq/<subset>/<seq>`` with ``anno/<subset>/<seq>.txt`` ->
    UAV123; ``frames/<seq>`` with ``anno/<seq>.txt`` -> TrackingNet."""
    path = Path(path).expanduser()
    if is_video_file(path):
        return read_video(path, init_box)
    if init_box is not None:
        return read_folder(path, init_box)
    if is_otb_folder(path):
        return read_otb(path)
    if not path.is_dir():
        raise SequenceError(f"{path}: sequence folder does not exist")
    for detect, read in ((is_lasot_folder, read_lasot), (is_got10k_folder, read_got10k), (is_vot_folder, read_vot),
                         (is_uav123_folder, read_uav123), (is_trackingnet_folder, read_trackingnet)):
        if detect(path):
            return read(path)
    raise SequenceError(f"{path}: not an OTB, VOT, UAV123, GOT-10k, LaSOT or TrackingNet sequence folder; for a "
                        "plain folder of frames give the first box with --init_box=x,y,w,h (videos: "
                        f"{', '.join(VIDEO_EXTENSIONS)})")


__all__ = ["DEMO_SEQUENCE", "FrameStream", "VideoFrame", "read_video", "write_video", "Sequence", "SequenceError", "load_frame", "open_sequence",
           "parse_box_argument", "polygon_to_box", "read_folder", "read_got10k", "read_lasot", "read_otb",
           "read_trackingnet", "read_uav123", "read_vot"]
