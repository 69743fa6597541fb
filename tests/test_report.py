"""The report: plots and tables for several result folders; unscorable folders are named, not mixed in."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fcnt_jax.data import Sequence
from fcnt_jax.data import SequenceError
from fcnt_jax.eval.report import (OTB_ATTRIBUTES, PALETTE, attribute_subsets, bar_chart, line_plot, write_report,
                                   write_report_unless_unscorable)
from fcnt_jax.geometry import box_to_otb

from tests.conftest import REPO_ROOT, shared_path


def _seq(name, gt, attrs):
    return Sequence(name=name, frame_paths=tuple(), init_box=gt[0], groundtruth=gt, attributes=attrs)


def _write(folder, name, boxes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text("\n".join(",".join(map(str, r)) for r in box_to_otb(boxes)) + "\n")


def test_report_scores_plots_and_names_what_it_left_out(tmp_path):
    gt_a = np.tile([10.0, 10, 20, 20], (10, 1))
    gt_b = np.tile([40.0, 30, 10, 10], (6, 1))
    seqs = [_seq("A", gt_a, ("IV", "SV")), _seq("B", gt_b, ("SV",))]
    _write(tmp_path / "perfect", "A", gt_a)
    _write(tmp_path / "perfect", "B", gt_b)
    _write(tmp_path / "drifting", "A", gt_a + [[30, 0, 0, 0]])  # 30 px off: IoU 0, precision 0
    _write(tmp_path / "drifting", "B", gt_b)
    _write(tmp_path / "short", "A", gt_a[:4])
    _write(tmp_path / "short", "B", gt_b)
    out = tmp_path / "report"
    data = write_report([tmp_path / "perfect", tmp_path / "drifting", tmp_path / "short"], seqs, out,
                        log=lambda m: None)
    assert data["overall"]["perfect"]["precision_20"] == 1.0
    assert data["overall"]["drifting"]["precision_20"] == 0.5  # mean of 0 (A) and 1 (B)
    assert data["attributes"]["IV"]["drifting"]["auc"] == 0.0
    assert "short" in data["skipped"] and "4 boxes for 10 scored frames" in data["skipped"]["short"]
    # With max_frames=4 the short folder is scorable too.
    data4 = write_report([tmp_path / "short"], seqs, tmp_path / "r4", max_frames=4, log=lambda m: None)
    assert data4["overall"]["short"]["precision_20"] == 1.0 and not data4["skipped"]

    text = (out / "report.md").read_text()
    assert "| perfect | 1.000 | 0.952 |" in text and "IV (1)" in text and "SV (2)" in text
    assert "- short:" in text
    for name in ("precision_plots.png", "success_plots.png", "success_plots_attributes.png",
                 "attributes/success_plots_IV.png", "attributes/precision_plots_SV.png"):
        with Image.open(out / name) as im:
            assert im.size[0] >= 380 and im.mode == "RGB", name
    assert not (out / "attributes" / "success_plots_OCC.png").exists()  # no sequence has OCC
    assert attribute_subsets(seqs) == {"IV": ["A"], "SV": ["A", "B"]}


def test_a_report_no_folder_can_score_is_skipped_by_the_summary_helper(tmp_path):
    """A partial run (one sequence of two done) cannot be scored: write_report raises, while the
    helper the ablation summary uses logs it, writes nothing there, and lets the caller go on."""
    gt_a, gt_b = np.tile([10.0, 10, 20, 20], (5, 1)), np.tile([40.0, 30, 10, 10], (5, 1))
    seqs = [_seq("A", gt_a, ()), _seq("B", gt_b, ())]
    _write(tmp_path / "partial", "A", gt_a)
    with pytest.raises(SequenceError, match="no result folder could be scored"):
        write_report([tmp_path / "partial"], seqs, tmp_path / "raised", log=lambda m: None)
    logged = []
    assert not write_report_unless_unscorable([tmp_path / "partial"], seqs, tmp_path / "skipped", log=logged.append)
    assert any("OPE report not written" in m and "B.txt" in m for m in logged), logged
    assert not (tmp_path / "skipped" / "report.md").exists()
    _write(tmp_path / "whole", "A", gt_a)
    _write(tmp_path / "whole", "B", gt_b)
    assert write_report_unless_unscorable([tmp_path / "whole", tmp_path / "partial"], seqs, tmp_path / "written",
                                          log=logged.append)
    assert (tmp_path / "written" / "report.md").exists()


def test_report_from_a_later_frame_scores_only_those_frames(tmp_path):
    """first_frame: frames 1..7 of A tracked exactly, 8..10 30 px off; B ends at frame 6. From frame
    8 only A is scored (precision 0) and B is named as left out; frames 5..9 give 3 of 5 within
    20 px; a frame the benchmark's rule drops (A's frame 9) is not counted."""
    gt_a = np.tile([10.0, 10, 20, 20], (10, 1))
    gt_b = np.tile([40.0, 30, 10, 10], (6, 1))
    late = gt_a.copy()
    late[7:] += [30, 0, 0, 0]
    _write(tmp_path / "late", "A", late)
    _write(tmp_path / "late", "B", gt_b)
    seqs = [_seq("A", gt_a, ()), _seq("B", gt_b, ())]
    data = write_report([tmp_path / "late"], seqs, tmp_path / "r8", first_frame=8, log=lambda m: None)
    assert data["sequences"] == ["A"] and data["left_out"] == ["B"] and data["first_frame"] == 8
    assert data["frames"] == 3  # A's frames 8..10
    assert data["overall"]["late"]["precision_20"] == 0.0 and not data["skipped"]
    text = (tmp_path / "r8" / "report.md").read_text()
    assert "frames 8 to the end of each (3 frames)" in text and "not in this report: B" in text
    data = write_report([tmp_path / "late"], seqs, tmp_path / "r5", max_frames=9, first_frame=5, log=lambda m: None)
    assert data["per_sequence"]["late"]["A"]["precision_20"] == pytest.approx(3 / 5)
    assert data["per_sequence"]["late"]["B"]["precision_20"] == 1.0  # frames 5..6
    assert data["frames"] == 5 + 2  # A's frames 5..9, B's 5..6
    scored = np.ones(10, bool)
    scored[8] = False  # frame 9
    dropped = [Sequence(name="A", frame_paths=tuple(), init_box=gt_a[0], groundtruth=gt_a, scored=scored)]
    data = write_report([tmp_path / "late"], dropped, tmp_path / "rs", max_frames=9, first_frame=5,
                        log=lambda m: None)
    assert data["overall"]["late"]["precision_20"] == pytest.approx(3 / 4)
    with pytest.raises(SequenceError, match="from frame 11"):
        write_report([tmp_path / "late"], seqs, tmp_path / "r11", first_frame=11, log=lambda m: None)


def test_line_plot_draws_each_series_in_its_colour():
    x = np.linspace(0, 1, 21)
    img = np.asarray(line_plot([("a [0.5]", x, x), ("b [0.2]", x, 1 - x)], "t", "x", "y", (0, 1)))
    for colour in PALETTE[:2]:
        close = np.abs(img.astype(int) - colour).sum(-1) < 40
        assert close.sum() > 300, colour  # a curve and its legend swatch
    assert np.abs(img.astype(int) - PALETTE[2]).sum(-1).min() > 40  # no third series


def bar_runs(img: np.ndarray, colour) -> np.ndarray:
    """Per image row, the longest horizontal run of pixels of ``colour``: a bar's width on its
    rows, a few pixels at most where text's antialiased edges happen to match."""
    close = np.abs(img.astype(int) - colour).sum(-1) < 12
    best = current = np.zeros(len(close), int)
    for column in close.T:
        current = np.where(column, current + 1, 0)
        best = np.maximum(best, current)
    return best


def test_bar_chart_draws_segments_to_scale():
    # Bar 1 is 1 + 3, bar 2 is 2 + 0: on one scale, segment b is three times a's width, and bar 2's
    # a is twice bar 1's a.
    img = np.asarray(bar_chart([("one", [("a", 1.0), ("b", 3.0)]), ("two", [("a", 2.0), ("b", 0.0)])],
                               "t", "x", width=1200))  # wide: the antialiased edges matter less
    runs_a, runs_b = bar_runs(img, PALETTE[0]), bar_runs(img, PALETTE[1])
    b_row, b_width = int(runs_b.argmax()), int(runs_b.max())
    one_a = int(runs_a[b_row])  # bar 1's a lies on the row where b is widest
    two_a = int(runs_a[np.flatnonzero(runs_a > 50).max()])  # bar 2 is drawn below bar 1
    assert one_a > 50 and abs(b_width / one_a - 3.0) < 0.1 and abs(two_a / one_a - 2.0) < 0.1
    # Both names in the legend; a third colour nowhere.
    assert np.abs(img.astype(int) - PALETTE[2]).sum(-1).min() > 40
    one_segment = np.asarray(bar_chart([("only", [("a", 1.0)])], "t", "x"))
    assert one_segment.shape[0] < img.shape[0]  # one bar and no legend line: a shorter picture
    # A named colour wins over the palette.
    grey = np.asarray(bar_chart([("g", [("w", 1.0)])], "t", "x", colours={"w": (127, 127, 127)}))
    assert bar_runs(grey, (127, 127, 127)).max() > 100 and bar_runs(grey, PALETTE[0]).max() == 0


@pytest.mark.parametrize("rows", [[], [("x", [("a", -1.0)])], [("x", [("a", float("nan"))])]])
def test_bar_chart_refuses_what_it_cannot_draw(rows):
    with pytest.raises(ValueError, match="finite values >= 0"):
        bar_chart(rows, "t", "x")


def test_report_cli_on_published_results(tmp_path):
    results, otb = shared_path("results"), shared_path("OTB")
    out = tmp_path / "rep"
    proc = subprocess.run([sys.executable, "-m", "experiments.report", f"--results={results}/*",
                           f"--dataset_root={otb}", "--sequences=Crossing,Deer", f"--output_dir={out}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "report.json").read_text())
    assert sorted(data["overall"]) == sorted(p.name for p in results.iterdir() if p.is_dir())
    assert data["sequences"] == ["Crossing", "Deer"]
    assert set(data["attributes"]) <= set(OTB_ATTRIBUTES) and data["attributes"]
    bad = subprocess.run([sys.executable, "-m", "experiments.report", f"--results={tmp_path}/nothing",
                          f"--dataset_root={otb}", f"--output_dir={out}"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "no such result folder" in bad.stderr and "Traceback" not in bad.stderr


def test_attribute_names_in_every_spelling():
    from fcnt_jax.eval.report import attribute_code
    assert attribute_code("Background Clutters") == "BC" == attribute_code("BC") == attribute_code("background clutter")
    assert attribute_code("Out-of-Plane Rotation") == "OPR" and attribute_code("In-Plane Rotation") == "IPR"
    assert attribute_code("Sunny") is None


def test_full_length_cli_averages_seeds_and_scores_each_range(tmp_path):
    """experiments.full_length on published result files standing in for our runs: 'fcnt_plus' is
    HCF (seed 0) and MDNet (seed 1), 'code' is KCF. Its mean over seeds must equal the mean of the
    two trackers' scores computed here from the files, on all frames and on the frames after the
    split, where Deer (71 frames) is left out."""
    import shutil

    from fcnt_jax.data import open_sequence
    from fcnt_jax.eval.metrics import read_result_file, sequence_scores

    results, otb = shared_path("results"), shared_path("OTB")
    names = ["Crossing", "Deer", "Football1"]
    ours = tmp_path / "runs"
    for folder, peer, seed in ((ours / "fcnt_plus", "HCF", 0), (ours / "fcnt_plus" / "run_seed1", "MDNet", 1),
                               (ours / "code", "KCF", 2)):
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(results / peer / f"{name}.txt", folder / f"{name}.txt")
        (folder / "Crossing.json").write_text(json.dumps({"seed": seed}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "experiments.full_length", f"--results_dir={ours}",
                           f"--dataset_root={otb}", f"--sequences={','.join(names)}", "--split=72",
                           "--peers=HCF,MDNet", f"--peers_dir={results}", f"--output_dir={out}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "full_length.json").read_text())

    def by_hand(peer, first, seqs):
        rows = []
        for name in seqs:
            gt = np.asarray(open_sequence(otb / name).groundtruth, np.float64)
            pred = read_result_file(results / peer / f"{name}.txt")[:len(gt)]
            rows.append(sequence_scores(pred[first - 1:], gt[first - 1:]))
        return np.mean([r["precision_20"] for r in rows]), np.mean([r["auc"] for r in rows])

    for label, first, seqs in (("all frames", 1, names), ("frames 73-end", 73, ["Crossing", "Football1"])):
        hcf, mdnet = by_hand("HCF", first, seqs), by_hand("MDNet", first, seqs)
        row = data["summaries"][label]["fcnt_plus"]
        assert row["runs"] == 2
        assert row["precision_20"] == pytest.approx((hcf[0] + mdnet[0]) / 2)
        assert row["auc"] == pytest.approx((hcf[1] + mdnet[1]) / 2)
        assert row["auc_min"] == pytest.approx(min(hcf[1], mdnet[1]))
        assert data["summaries"][label]["HCF"]["auc"] == pytest.approx(hcf[1])
    assert data["reports"]["frames 73-end"]["sequences"] == ["Crossing", "Football1"]
    assert data["frames"]["frames 73-end"] == [2, (120 - 72) + (74 - 72)]
    assert set(data["sizes"]) == {"fcnt_plus", "code"}
    from fcnt_jax.eval.ablation import size_bias
    gt = np.asarray(open_sequence(otb / "Crossing").groundtruth, np.float64)
    kcf = read_result_file(results / "KCF" / "Crossing.txt")
    assert data["sizes"]["code"]["frames 73-end"]["Crossing"] == pytest.approx(size_bias(kcf[72:120], gt[72:], False))
    # A run that lacks a sequence is named as not scored and kept out of every table, the size's too.
    (ours / "partial").mkdir()
    shutil.copy(results / "KCF" / "Crossing.txt", ours / "partial" / "Crossing.txt")
    proc = subprocess.run([sys.executable, "-m", "experiments.full_length", f"--results_dir={ours}",
                           f"--dataset_root={otb}", f"--sequences={','.join(names)}", "--split=72",
                           "--peers=HCF", f"--peers_dir={results}", f"--output_dir={tmp_path / 'out2'}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Deer.txt: result file does not exist" in proc.stderr
    partial = json.loads((tmp_path / "out2" / "full_length.json").read_text())
    assert "partial" not in partial["sizes"] and "partial" not in partial["summaries"]["all frames"]
    assert "| partial | not scored |" in (tmp_path / "out2" / "full_length.md").read_text()
    text = (out / "full_length.md").read_text()
    assert "| fcnt_plus | " in text and "2 seeds" in text and "(2 sequences, 50 frames)" in text
    assert (out / "report_73-end" / "success_plots.png").is_file()
    bad = subprocess.run([sys.executable, "-m", "experiments.full_length", f"--results_dir={tmp_path}/none",
                          f"--dataset_root={otb}", f"--output_dir={out}"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "is not a folder" in bad.stderr and "Traceback" not in bad.stderr
