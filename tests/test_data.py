import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnt_jax.data import (DEMO_SEQUENCE, SequenceError, open_sequence, polygon_to_box, read_folder, read_otb,
                           read_uav123, read_vot)
from fcnt_jax.data.sequence import FrameStream

from tests.conftest import shared_path, write_frames


# ---- real sequences in ../shared/data -------------------------------------------------------

def test_crossing_tab_delimited():
    seq = read_otb(shared_path("OTB", "Crossing"), use_json=False)
    assert len(seq) == 120 and seq.groundtruth.shape == (120, 4)
    np.testing.assert_allclose(seq.init_box, [204, 150, 17, 50])  # "205\t151\t17\t50", 1-based


def test_david_starts_at_frame_300_with_and_without_json():
    for use_json in (True, False):
        seq = read_otb(shared_path("OTB", "David"), use_json=use_json)
        assert len(seq) == 471
        assert seq.frame_paths[0].name == "0300.jpg" and seq.frame_paths[-1].name == "0770.jpg"
        np.testing.assert_allclose(seq.init_box, [128, 79, 64, 78])  # "129,80,64,78"
    assert "Illumination Variation" in read_otb(shared_path("OTB", "David")).attributes


@pytest.mark.parametrize("name,frames", [("Diving", 215), ("Football1", 74)])
def test_short_ground_truth_limits_the_frames(name, frames):
    for use_json in (True, False):
        seq = read_otb(shared_path("OTB", name), use_json=use_json)
        assert len(seq) == frames == len(seq.groundtruth)
        assert seq.frame_paths[-1].name == f"{frames:04d}.jpg"


def test_freeman1_grayscale_frames_become_rgb():
    seq = read_otb(shared_path("OTB", "Freeman1"))
    with Image.open(seq.frame_paths[0]) as im:
        assert im.mode == "L"
    with seq.frames(stop=2) as frames:
        first = next(iter(frames))
    assert first.shape == (240, 360, 3) and first.dtype == np.uint8
    assert np.array_equal(first[..., 0], first[..., 2])


def test_json_and_files_agree_on_every_dev_sequence():
    root = shared_path("OTB")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        a, b = read_otb(folder, use_json=True), read_otb(folder, use_json=False)
        assert [p.name for p in a.frame_paths] == [p.name for p in b.frame_paths], folder.name
        np.testing.assert_array_equal(a.groundtruth, b.groundtruth)


def test_vot_polygons_become_enclosing_boxes():
    seq = read_vot(shared_path("VOT2015", "bag"))
    assert len(seq) == 196
    x = [291.827, 396.382, 442.173, 337.618]
    y = [203.603, 264.289, 185.397, 124.711]
    np.testing.assert_allclose(seq.init_box, [min(x), min(y), max(x) - min(x), max(y) - min(y)], rtol=1e-6)
    assert open_sequence(shared_path("VOT2015", "bag")).source == "vot"


def test_uav123_layout():
    path = shared_path("UAV123_10fps", "data_seq", "UAV123_10fps", "wakeboard7")
    seq = open_sequence(path)
    assert seq.source == "uav123" and len(seq) == 67
    np.testing.assert_allclose(seq.init_box, [622, 298, 11, 38])
    with seq.frames(stop=1) as frames:
        assert next(iter(frames)).shape == (720, 1280, 3)


def test_demo_sequence_is_bundled():
    seq = open_sequence(DEMO_SEQUENCE)
    assert seq.name == "Crossing" and len(seq) == 120
    assert (DEMO_SEQUENCE / "SOURCE.txt").is_file()


# ---- synthetic fixtures ---------------------------------------------------------------------

def make_otb(root, name="Seq", boxes=("1,1,10,10", "2\t2\t10\t10", "3 3 10 10"), frames=3, **kw):
    folder = root / name
    write_frames(folder / "img", frames, **kw)
    (folder / "groundtruth_rect.txt").write_text("\n".join(boxes) + "\n")
    return folder


def test_mixed_delimiters_and_more_frames_than_boxes(tmp_path):
    folder = make_otb(tmp_path, frames=5)
    seq = read_otb(folder)
    assert len(seq) == 3
    np.testing.assert_allclose(seq.groundtruth[:, 0], [0, 1, 2])


def test_two_target_sequence_names(tmp_path):
    folder = tmp_path / "Jogging"
    write_frames(folder / "img", 2)
    (folder / "groundtruth_rect.1.txt").write_text("1,1,5,5\n2,2,5,5\n")
    (folder / "groundtruth_rect.2.txt").write_text("10,10,6,6\n11,11,6,6\n")
    for alias in ("Jogging-2", "Jogging_2", "Jogging.2"):
        seq = open_sequence(tmp_path / alias)
        assert seq.name == "Jogging-2"
        np.testing.assert_allclose(seq.init_box, [9, 9, 6, 6])
    with pytest.raises(SequenceError, match="several targets"):
        read_otb(folder)


def test_json_takes_precedence_and_names_frames(tmp_path):
    folder = make_otb(tmp_path, name="Tiger1", frames=8, boxes=["1,1,4,4"] * 8)
    entry = {"video_dir": "Tiger1", "init_rect": [5, 5, 4, 4], "attr": ["Occlusion"],
             "img_names": [f"Tiger1/img/{i:04d}.jpg" for i in range(6, 9)],
             "gt_rect": [[5, 5, 4, 4], [6, 6, 4, 4], [7, 7, 4, 4]]}
    (tmp_path / "OTB100.json").write_text(json.dumps({"Tiger1": entry}))
    seq = read_otb(folder)
    assert [p.name for p in seq.frame_paths] == ["0006.jpg", "0007.jpg", "0008.jpg"]
    assert seq.attributes == ("Occlusion",)
    # Without the JSON the quirk table drops the first 5 frames and boxes (initOmit).
    no_json = read_otb(folder, use_json=False)
    assert no_json.frame_paths[0].name == "0006.jpg" and len(no_json) == 3


def test_uav_nan_rows_are_kept_as_nan(tmp_path):
    frames = tmp_path / "data_seq" / "UAV123" / "car1"
    write_frames(frames, 3, digits=6)
    anno = tmp_path / "anno" / "UAV123"
    anno.mkdir(parents=True)
    (anno / "car1.txt").write_text("5,5,10,10\nNaN,NaN,NaN,NaN\n7,7,10,10\n")
    seq = read_uav123(frames)
    assert np.isnan(seq.groundtruth[1]).all() and np.isfinite(seq.groundtruth[[0, 2]]).all()


def test_vot_four_number_lines_and_polygon_helper(tmp_path):
    write_frames(tmp_path / "s", 2, digits=8)
    (tmp_path / "s" / "groundtruth.txt").write_text("1,2,3,4\n0,0,4,0,4,3,0,3\n")
    seq = read_vot(tmp_path / "s")
    np.testing.assert_allclose(seq.groundtruth, [[1, 2, 3, 4], [0, 0, 4, 3]])
    np.testing.assert_allclose(polygon_to_box(np.array([[2, 0, 4, 2, 2, 4, 0, 2]])), [[0, 0, 4, 4]])


def test_plain_folder_with_init_box(tmp_path):
    write_frames(tmp_path / "f", 12, ext="png")
    seq = open_sequence(tmp_path / "f", init_box="5,6,7,8")
    assert seq.source == "folder" and seq.groundtruth is None
    assert [p.name for p in seq.frame_paths][:3] == ["0001.png", "0002.png", "0003.png"]
    np.testing.assert_allclose(seq.init_box, [4, 5, 7, 8])


def test_frames_stream_lazily_in_order(tmp_path, monkeypatch):
    paths = write_frames(tmp_path / "f", 10)
    import fcnt_jax.data.sequence as S
    decoded = []
    real = S.load_frame
    monkeypatch.setattr(S, "load_frame", lambda p: decoded.append(p) or real(p))
    stream = FrameStream(paths, prefetch=2)
    it = iter(stream)
    first = next(it)
    import time
    time.sleep(0.3)
    assert len(decoded) <= 4  # one consumed, at most prefetch queued, one in hand
    assert first.shape == (30, 40, 3)
    assert len(list(it)) == 9
    stream.close()


# ---- bad input: errors name the file and the problem ----------------------------------------

def test_missing_folder(tmp_path):
    with pytest.raises(SequenceError, match="nowhere: sequence folder does not exist"):
        open_sequence(tmp_path / "nowhere")
    with pytest.raises(SequenceError, match="not an OTB, VOT, UAV123, GOT-10k, LaSOT or TrackingNet sequence folder"):
        (tmp_path / "empty").mkdir()
        open_sequence(tmp_path / "empty")


def test_unreadable_frame_raises_at_that_frame(tmp_path):
    folder = make_otb(tmp_path)
    (folder / "img" / "0002.jpg").write_bytes(b"this is not a jpeg")
    got = []
    with pytest.raises(SequenceError, match="0002.jpg: cannot decode frame"):
        with read_otb(folder).frames() as frames:
            for f in frames:
                got.append(f)
    assert len(got) == 1


def test_missing_frame_file(tmp_path):
    folder = make_otb(tmp_path)
    (folder / "img" / "0003.jpg").unlink()
    with pytest.raises(SequenceError, match="frame file.*missing.*0003.jpg"):
        read_otb(folder)


def test_malformed_box_line(tmp_path):
    folder = make_otb(tmp_path, boxes=["1,1,10,10", "2,2,ten,10", "3,3,10,10"])
    with pytest.raises(SequenceError, match=r"groundtruth_rect.txt:2: malformed box line"):
        read_otb(folder)
    folder = make_otb(tmp_path, name="Five", boxes=["1,1,10,10,3"] * 3)
    with pytest.raises(SequenceError, match=r"groundtruth_rect.txt:1: 5 numbers"):
        read_otb(folder)


@pytest.mark.parametrize("first,problem", [("1,1,0,10", "zero or negative size"),
                                           ("1,1,-4,10", "negative width"),
                                           ("NaN,1,10,10", "not 4 finite numbers")])
def test_bad_initial_box(tmp_path, first, problem):
    folder = make_otb(tmp_path, boxes=[first, "2,2,10,10", "3,3,10,10"])
    with pytest.raises(SequenceError, match=f"groundtruth_rect.txt:1.*{problem}"):
        read_otb(folder)


def test_bad_init_box_argument(tmp_path):
    write_frames(tmp_path / "f", 2)
    with pytest.raises(SequenceError, match="--init_box: expected x,y,w,h"):
        read_folder(tmp_path / "f", "1,2,3")
    with pytest.raises(SequenceError, match="zero or negative size"):
        read_folder(tmp_path / "f", "1,2,0,3")


def test_otb_copy_reads_back_as_the_same_truncated_sequences(tmp_path):
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.data.otb import write_otb_copy

    # David's frames start at 0300 (a quirk the copy must not need); a VOT sequence has polygons.
    originals = [read_otb(shared_path("OTB", "David")).truncated(6), read_vot(shared_path("VOT2015", "bag")).truncated(4)]
    write_otb_copy(originals, tmp_path / "copy")
    copies = {c.name: c for c in load_sequences("otb", tmp_path / "copy")}
    assert sorted(copies) == ["David", "bag"]
    for seq in originals:
        copy = copies[seq.name]
        assert len(copy) == len(seq) and copy.attributes == seq.attributes
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(map(Path, seq.frame_paths), copy.frame_paths))
        np.testing.assert_allclose(copy.groundtruth, seq.groundtruth, rtol=0, atol=1e-9)
        np.testing.assert_allclose(copy.init_box, seq.init_box, rtol=0, atol=1e-9)
    with pytest.raises(SequenceError, match="copy: exists; give a new folder"):
        write_otb_copy(originals, tmp_path / "copy")
    no_truth = read_folder(shared_path("OTB", "Crossing", "img"), "205,151,17,50").truncated(3)
    with pytest.raises(SequenceError, match="img: no ground truth"):
        write_otb_copy([originals[0], no_truth], tmp_path / "other")
    assert not (tmp_path / "other").exists() and [p.name for p in tmp_path.iterdir()] == ["copy"]  # nothing half-written


def test_otb_layout_accepts_png_frames_with_one_extension(tmp_path):
    folder = make_otb(tmp_path, name="Pngs", frames=3, ext="png")
    seq = open_sequence(folder)
    assert [p.name for p in seq.frame_paths] == ["0001.png", "0002.png", "0003.png"]
    with seq.frames(stop=1) as frames:
        assert next(iter(frames)).shape == (30, 40, 3)
    # A frame missing in that extension is named with it.
    (folder / "img" / "0003.png").unlink()
    with pytest.raises(SequenceError, match=r"1 frame file\(s\) missing, first .*Pngs/img/0003.png"):
        read_otb(folder)
    # The same first frame in two extensions is ambiguous.
    write_frames(folder / "img", 1, ext="jpg")
    with pytest.raises(SequenceError, match="first frame 0001 exists as jpg, png; keep one image extension"):
        read_otb(folder)
    # No frames at all: the error still names the file OTB expects.
    empty = make_otb(tmp_path, name="Empty", frames=0)
    with pytest.raises(SequenceError, match=r"3 frame file\(s\) missing, first .*Empty/img/0001.jpg"):
        read_otb(empty)
