"""GOT-10k, LaSOT and TrackingNet: readers, scoring rules and submission formats.

The frames are real (the bundled OTB Crossing demo) laid out by each test in the benchmark's
layout, with Crossing's ground truth; LaSOT's annotation files are the official toolkit's real
files from ../shared/data/LaSOT, with their quirks (no final newline, absent frames written as a
kept box or as 0,0,0,0).
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import jax

from fcnt_jax.benchmark import list_sequences, load_sequences, run_benchmark, write_submission
from fcnt_jax.config import get_config
from fcnt_jax.data import DEMO_SEQUENCE, SequenceError, open_sequence, read_got10k, read_lasot, read_trackingnet
from fcnt_jax.data.lasot import read_toolkit_annotation
from fcnt_jax.eval.metrics import sequence_scores
from fcnt_jax.eval.report import write_report
from fcnt_jax.run import TrackResult

from tests.conftest import shared_path
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY

CROSSING = open_sequence(DEMO_SEQUENCE)


def link_frames(folder: Path, count: int, name=lambda i: f"{i + 1:08d}.jpg") -> list[Path]:
    """``count`` frames named by ``name(i)``, symlinks to Crossing's real JPEGs (cycled)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        paths.append(folder / name(i))
        os.symlink(CROSSING.frame_paths[i % len(CROSSING)].resolve(), paths[-1])
    return paths


def boxes_text(boxes: np.ndarray, newline_at_end: bool = True) -> str:
    text = "\n".join(",".join(f"{v:.4f}" for v in row) for row in boxes)
    return text + ("\n" if newline_at_end else "")


# ----------------------------------------------------------------------------------------- GOT-10k

def make_got10k(root: Path, n: int = 12, split: str = "val", labels: bool = True) -> Path:
    folder = root / split / "GOT-10k_Val_000001"
    link_frames(folder, n)
    gt = CROSSING.groundtruth[:n]  # 0-based edges, GOT-10k's own convention
    (folder / "groundtruth.txt").write_text(boxes_text(gt if split != "test" else gt[:1]))
    if labels:
        absent = np.zeros(n, int)
        absent[[4, 5]] = 1
        cover = np.where(absent == 1, 0, 8)
        cover[min(7, n - 1)] = 3
        (folder / "absence.label").write_text("\n".join(map(str, absent)) + "\n")
        (folder / "cover.label").write_text("\n".join(map(str, cover)))  # no final newline: accepted
        (folder / "cut_by_image.label").write_text("\n".join("0" for _ in range(n)) + "\n")
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: person\nmotion_class: walking\n"
                                              "resolution: (360, 240)\n")
    (root / split / "list.txt").write_text(folder.name + "\n")
    return folder


def test_got10k_reader_boxes_labels_meta_and_rule(tmp_path):
    folder = make_got10k(tmp_path)
    seq = open_sequence(folder)  # auto-detected by its label files
    assert seq.source == "got10k" and len(seq) == 12
    np.testing.assert_allclose(seq.groundtruth, CROSSING.groundtruth[:12], atol=1e-4)  # no 1-based shift
    assert seq.meta["object_class"] == "person" and seq.meta["resolution"] == "(360, 240)"
    # The toolkit's rule: frame 1 and cover == 0 (frames 5, 6) dropped; partly covered frame 8 scored.
    assert seq.scored.tolist() == [False, True, True, True, False, False, True, True, True, True, True, True]
    assert "cover.label is 0" in seq.score_rule
    assert seq.truncated(5).scored.tolist() == [False, True, True, True, False]


def test_got10k_test_split_has_only_the_first_box(tmp_path):
    folder = make_got10k(tmp_path, split="test", labels=False)
    seq = open_sequence(folder)  # no label files: detected as GOT-10k by its listed test split
    assert seq.source == "got10k" and len(seq) == 12 and seq.groundtruth is None
    np.testing.assert_allclose(seq.init_box, CROSSING.groundtruth[0], atol=1e-4)
    assert [s.name for s in load_sequences("got10k", tmp_path)] == [folder.name]


def test_got10k_bad_labels_name_the_file(tmp_path):
    folder = make_got10k(tmp_path)
    (folder / "cover.label").write_text("8\n" * 11)
    with pytest.raises(SequenceError, match=r"cover.label: 11 cover.label values for 12 frames"):
        read_got10k(folder)
    (folder / "cover.label").write_text("8\n" * 11 + "9\n")
    with pytest.raises(SequenceError, match=r"cover.label: cover.label value 9 is not one of 0, 1, 2"):
        read_got10k(folder)
    (folder / "cover.label").unlink()
    (folder / "absence.label").write_text("0\n" * 5 + "x\n" * 7)
    with pytest.raises(SequenceError, match="absence.label: absence.label holds a value that is not an integer"):
        read_got10k(folder)


# ------------------------------------------------------------------------------------------- LaSOT

def make_lasot(root: Path, name: str) -> Path:
    """A LaSOT-layout sequence from the toolkit's real annotation files for ``name``."""
    annos = shared_path("LaSOT", "annos")
    cls = name.rsplit("-", 1)[0]
    folder = root / cls / name
    gt_text = (annos / f"{name}.txt").read_text()
    n = len(gt_text.strip().splitlines())
    link_frames(folder / "img", n)
    (folder / "groundtruth.txt").write_text(gt_text)  # byte copy: no final newline
    absent = (annos / "absent" / f"{name}.txt").read_text().split()
    # The data set splits "absent" into two files; the toolkit keeps only their union, so the test
    # puts it all in full_occlusion.txt (one comma-separated line, as the data set writes it).
    (folder / "full_occlusion.txt").write_text(",".join(absent))
    (folder / "out_of_view.txt").write_text(",".join("0" for _ in absent))
    shutil.copyfile(annos / "nlp" / f"{name}.txt", folder / "nlp.txt")
    return folder


@pytest.mark.parametrize("name, frames, absent_frames, zero_rows", [("yoyo-15", 1000, 33, 0),
                                                                    ("gametarget-2", 1834, 52, 52)])
def test_lasot_reader_on_the_toolkits_real_annotations(tmp_path, name, frames, absent_frames, zero_rows):
    folder = make_lasot(tmp_path, name)
    seq = open_sequence(folder)
    assert seq.source == "lasot" and len(seq) == frames and seq.meta["class"] == name.rsplit("-", 1)[0]
    raw = np.loadtxt(folder / "groundtruth.txt", delimiter=",")
    absent = np.loadtxt(shared_path("LaSOT", "annos", "absent", f"{name}.txt")).astype(bool)
    assert absent.sum() == absent_frames
    zero = (raw == 0).all(1)
    assert zero.sum() == zero_rows and (not zero_rows or (zero == absent).all())  # 0,0,0,0 only where absent
    assert np.isnan(seq.groundtruth[zero]).all()
    np.testing.assert_allclose(seq.groundtruth[~zero], raw[~zero] - [1, 1, 0, 0])  # 1-based, like OTB
    assert seq.scored.tolist() == [False] + (~absent[1:]).tolist()
    assert seq.meta["nlp"] and "\n" not in seq.meta["nlp"]
    # The toolkit's own layout reads the same.
    boxes, scored, nlp = read_toolkit_annotation(shared_path("LaSOT", "annos"), name)
    np.testing.assert_array_equal(boxes, seq.groundtruth)
    assert (scored == seq.scored).all() and nlp == seq.meta["nlp"]


def test_lasot_rule_ignores_absent_frames_where_otb_counts_them(tmp_path):
    seq = read_lasot(make_lasot(tmp_path, "yoyo-15"))
    pred = np.where(np.isfinite(seq.groundtruth), seq.groundtruth, 0.0)
    pred[~seq.scored] = [5000.0, 5000.0, 10.0, 10.0]  # wrong on every frame the rule drops
    lasot = sequence_scores(pred, seq.groundtruth, scored=seq.scored)
    otb = sequence_scores(pred, seq.groundtruth)
    assert lasot["precision_20"] == 1.0 and lasot["success_50"] == 1.0
    # yoyo-15 keeps boxes on its 33 absent frames: the OTB rule scores those and frame 1, all 34 wrong.
    assert not seq.scored[0] and seq.scored[1:].sum() == 1000 - 1 - 33
    assert otb["precision_20"] == pytest.approx(1 - 34 / 1000)


def test_report_applies_and_names_the_rule(tmp_path):
    root = tmp_path / "lasot"
    seq = read_lasot(make_lasot(root, "yoyo-15"))
    results = tmp_path / "results" / "Planted"
    results.mkdir(parents=True)
    pred = np.where(np.isfinite(seq.groundtruth), seq.groundtruth, 0.0) + [1, 1, 0, 0]  # back to 1-based
    pred[~seq.scored] = [5000.0, 5000.0, 10.0, 10.0]
    (results / "yoyo-15.txt").write_text(boxes_text(pred))
    data = write_report([results], load_sequences("lasot", root), tmp_path / "report")
    assert data["overall"]["Planted"]["precision_20"] == 1.0
    assert data["score_rules"] == [seq.score_rule]
    assert "Scoring rule: lasot: frame 1 and absent frames" in (tmp_path / "report" / "report.md").read_text()


def test_lasot_bad_flags_name_the_file(tmp_path):
    folder = make_lasot(tmp_path, "yoyo-15")
    (folder / "out_of_view.txt").write_text("0,1,2" + ",0" * 997)
    with pytest.raises(SequenceError, match="out_of_view.txt: out_of_view value 2 is not one of 0, 1"):
        read_lasot(folder)


# ------------------------------------------------------------------------------------- TrackingNet

def make_trackingnet(root: Path, n: int = 12) -> tuple[Path, Path]:
    train = root / "TRAIN_0"
    link_frames(train / "frames" / "seq_a", n, name=lambda i: f"{i}.jpg")  # 0.jpg ... 11.jpg
    (train / "anno").mkdir(parents=True)
    (train / "anno" / "seq_a.txt").write_text(boxes_text(CROSSING.groundtruth[:n]))
    test = root / "TEST"
    link_frames(test / "frames" / "seq_b", n, name=lambda i: f"{i}.jpg")
    (test / "anno").mkdir(parents=True)
    (test / "anno" / "seq_b.txt").write_text(boxes_text(CROSSING.groundtruth[:1]))
    return train / "frames" / "seq_a", test / "frames" / "seq_b"


def test_trackingnet_reader_orders_frames_numerically(tmp_path):
    train, test = make_trackingnet(tmp_path)
    seq = open_sequence(train)
    assert seq.source == "trackingnet" and [p.name for p in seq.frame_paths][9:] == ["9.jpg", "10.jpg", "11.jpg"]
    # Frame i is Crossing's frame i + 1, so its box is Crossing's (0-based, no shift).
    assert seq.frame_paths[10].resolve() == CROSSING.frame_paths[10].resolve()
    np.testing.assert_allclose(seq.groundtruth, CROSSING.groundtruth[:12], atol=1e-4)
    only_first = read_trackingnet(test)
    assert only_first.groundtruth is None and len(only_first) == 12 and "withheld" in only_first.score_rule
    assert [p.name for p in list_sequences("trackingnet", tmp_path)] == ["seq_a", "seq_b"]
    assert [p.name for p in list_sequences("trackingnet", tmp_path / "TEST")] == ["seq_b"]
    (tmp_path / "TRAIN_0" / "anno" / "seq_a.txt").write_text(boxes_text(CROSSING.groundtruth[:5]))
    with pytest.raises(SequenceError, match=r"seq_a.txt: 5 boxes but 12 frames"):
        read_trackingnet(train)


# ------------------------------------------------------------------------------ submission formats

def test_submission_formats(tmp_path):
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [11.5, 21.25, 30.0, 40.0], [12.0, 22.0, 31.0, 41.0]])
    result = TrackResult("seq", boxes, np.ones(3), np.zeros(3, int),
                         {"init_after_compile_s": 2.0, "track_s": 1.0}, None)
    got = write_submission("got10k", result, tmp_path / "g")
    assert [p.relative_to(tmp_path / "g") for p in got] == [Path("submission/seq/seq_001.txt"),
                                                             Path("submission/seq/seq_time.txt")]
    assert got[0].read_text() == "10.000,20.000,30.000,40.000\n11.500,21.250,30.000,40.000\n12.000,22.000,31.000,41.000\n"
    assert got[1].read_text() == "2.00000000\n0.50000000\n0.50000000\n"  # init, then the mean tracked frame time
    (lasot,) = write_submission("lasot", result, tmp_path / "l")
    assert lasot.name == "seq.txt" and lasot.read_text().splitlines()[0] == "11.000,21.000,30.000,40.000"  # 1-based
    (tnet,) = write_submission("trackingnet", result, tmp_path / "t")
    assert tnet.read_text().splitlines()[1] == "11.500,21.250,30.000,40.000"  # 0-based, as given
    assert write_submission("otb", result, tmp_path / "o") == [] and not (tmp_path / "o").exists()


def test_benchmark_on_a_got10k_split_writes_the_submission_and_the_rule(tmp_path):
    root = tmp_path / "got"
    make_got10k(root, n=6)
    out = tmp_path / "out"
    (row,) = run_benchmark(tiny_params(jax.random.PRNGKey(0)), "got10k", root / "val", out,
                           get_config("code", TINY), log=lambda m: None)
    assert "error" not in row and row["frames"] == 6 and row["score_rule"].startswith("got10k:")
    lines = (out / "submission" / "GOT-10k_Val_000001" / "GOT-10k_Val_000001_001.txt").read_text().splitlines()
    assert len(lines) == 6 and np.allclose([float(v) for v in lines[0].split(",")], CROSSING.groundtruth[0], atol=1e-3)
    assert len((out / "submission" / "GOT-10k_Val_000001" / "GOT-10k_Val_000001_time.txt").read_text().split()) == 6
