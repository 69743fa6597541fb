"""fcnt_jax.eval.ablation (issue 19's ablation summary): per-preset means, the spread over seeds, the change against code."""

import json

import pytest

from fcnt_jax.eval.ablation import all_sets_lines, summarise, target_lines


def _rows(values):
    return [{"sequence": name, "precision_20": p, "auc": a} for name, (p, a) in values.items()]


def test_summary_means_spread_and_worst_change_against_code():
    rows = {
        ("fcnt_plus", "otb", 0): _rows({"A": (1.0, 0.70), "B": (0.9, 0.50)}),
        ("fcnt_plus", "otb", 1): _rows({"A": (1.0, 0.60), "B": (0.9, 0.40)}),
        ("code", "otb", 0): _rows({"A": (1.0, 0.68), "B": (0.5, 0.30)}),
        ("code", "otb", 1): _rows({"A": (1.0, 0.70), "B": (0.5, 0.30)}),
        ("fcnt_plus_no_aspect", "otb", 0): _rows({"A": (1.0, 0.60)}) + [{"sequence": "B", "error": "bad frame"}],
    }
    text, table = summarise(rows)
    plus = table["otb"]["fcnt_plus"]
    assert plus["seeds"]["0"]["auc"] == pytest.approx(0.60) and plus["seeds"]["1"]["auc"] == pytest.approx(0.50)
    # A: (0.70 - 0.68 + 0.60 - 0.70) / 2 = -0.04; B: (0.20 + 0.10) / 2 = +0.15, on the seeds both have.
    assert plus["auc_change_vs_code"] == pytest.approx({"A": -0.04, "B": 0.15})
    assert plus["auc_change_by_seed_vs_code"]["A"] == pytest.approx({"0": 0.02, "1": -0.10})
    assert table["otb"]["fcnt_plus_no_aspect"]["auc_change_vs_code"] == pytest.approx({"A": -0.08})
    assert "| fcnt_plus | 2 | 0.950 | 0.550 | 0.500-0.600 (2 seeds) | -0.040 (A) |" in text
    assert "| fcnt_plus_no_aspect | 1 | 1.000 | 0.600 | 1 seed | -0.080 (A) |" in text  # the failed row is left out
    assert "| code | 2 | 0.750 | 0.495 | 0.490-0.500 (2 seeds) |  |" in text
    lines = target_lines(table)
    assert "precision@20 0.950, AUC 0.550" in lines[0]
    assert "- >= HCF (0.945 / 0.646): precision met, AUC not met" in lines
    # A: +0.02 on seed 0 and -0.10 on seed 1: met on the mean, the single seed shown beside it.
    assert ("- no otb sequence loses more than 0.05 AUC against code (mean over the seeds both ran): met "
            "(worst A -0.040; worst single seed: A seed 1 -0.100)") in lines
    rows[("fcnt_plus", "extra", 0)] = _rows({"C": (1.0, 0.40)})
    rows[("code", "extra", 0)] = _rows({"C": (1.0, 0.50)})
    lines = target_lines(summarise(rows)[1])
    assert any(x.startswith("- no extra sequence loses") and ": not met (worst C -0.100;" in x for x in lines)
    assert target_lines(table, preset="absent") == []


def test_all_sets_mean_pools_every_sequence_and_leaves_out_partial_runs():
    rows = {
        ("fcnt_plus", "otb", 0): _rows({"A": (1.0, 0.70), "B": (0.8, 0.40)}),
        ("fcnt_plus", "extra", 0): _rows({"C": (0.6, 0.90)}),
        ("fcnt_plus", "otb", 1): _rows({"A": (1.0, 0.60), "B": (1.0, 0.50)}),  # seed 1 lacks "extra"
        ("code", "otb", 0): _rows({"A": (1.0, 0.60), "B": (0.5, 0.30)}),
        ("code", "extra", 0): _rows({"C": (0.9, 0.84)}),
        ("fcnt_plus_no_aspect", "otb", 0): _rows({"A": (1.0, 0.90), "B": (1.0, 0.90)}),  # never ran C
    }
    _, table = summarise(rows)
    lines, result = all_sets_lines(table, {"otb": ["A", "B"], "extra": ["C"]})
    # Pooled over the three sequences: (0.70 + 0.40 + 0.90) / 3 = 0.667 and (0.60 + 0.30 + 0.84) / 3 = 0.58.
    assert result["fcnt_plus"]["0"]["auc"] == pytest.approx(2.0 / 3)
    assert result["fcnt_plus"]["0"]["precision_20"] == pytest.approx(0.8)
    assert result["code"]["0"]["auc"] == pytest.approx(0.58)
    assert "1" not in result["fcnt_plus"] and "fcnt_plus_no_aspect" not in result
    assert "| fcnt_plus | 0 | 0.800 | 0.667 | +0.087 |" in lines
    assert "| code | 0 | 0.800 | 0.580 |  |" in lines


def test_mechanisms_count_the_deciding_net_and_measure_the_box_against_the_truth():
    import numpy as np

    from fcnt_jax.eval.ablation import mechanism_lines, mechanisms

    row = {"sequence": "A", "per_frame": {
        "decided_by": ["gnet", "snet", "gnet", "gnet", "held"],
        "g_pd": [0.0, 0.5, 0.3, 0.1, 0.9],  # frame 2: GNet decided on a distracter = the fallback
        "box": [[1, 1, 10, 20], [1, 1, 20, 20], [1, 1, 20, 40], [1, 1, 10, 20], [1, 1, 5, 10]]}}
    gt = np.array([[0, 0, 10, 20]] * 4 + [[np.nan] * 4])  # the last frame's target is not visible
    m = mechanisms(row, gt)
    assert (m["snet"], m["fallback"], m["held"], m["width_fixed"]) == (1, 1, 1, 0)
    # Areas 1, 2, 4, 1 times the truth's: geometric mean 2^(3/4); aspects 1, 0.5, 1, 1: 0.5^(1/4).
    assert m["area_ratio"] == pytest.approx(2 ** 0.75) and m["aspect_ratio"] == pytest.approx(0.5 ** 0.25)
    # The truth's size at the boxes' centres (5,10), (10,10), (10,20), (5,10): IoU 1, 1/3, 1/7, 1;
    # the boxes' sizes at the truth's centre: IoU 1, 1/2, 1/4, 1. Success (IoU > t, t = 0:0.05:1)
    # counts 4,4,4, 3 x4, 2 x13, 0 -> 50 / 84; and 4 x5, 3 x5, 2 x10, 0 -> 55 / 84.
    assert m["auc_truth_size"] == pytest.approx(50 / 84) and m["auc_truth_centre"] == pytest.approx(55 / 84)
    # The first box's size (10x20, the truth's here) at the same centres: the truth's-size case.
    assert m["auc_first_size"] == pytest.approx(50 / 84)
    # A first box of 20x20 against a 10x20 truth: at either centre below, IoU 200 / 400 = 1/2, so
    # success 1 for t = 0 ... 0.45 and 0 from 0.5: 10 / 21 (the truth's size would score 20 / 21).
    grown = {"sequence": "G", "per_frame": {"decided_by": ["gnet", "gnet"], "g_pd": [0.0, 0.0],
                                            "box": [[1, 1, 20, 20], [1, 1, 10, 20]]}}
    assert mechanisms(grown, np.array([[0, 0, 10, 20]] * 2))["auc_first_size"] == pytest.approx(10 / 21)
    text, table = mechanism_lines({("fcnt_plus", "otb", 0): [row]}, {"A": gt})
    assert "| fcnt_plus | otb | 0 | 1 | 1 | 1 | 0 of 1 | 1.68 | 0.84 | 0.595 | 0.655 | 0.595 |" in text
    assert table["fcnt_plus"]["otb"]["0"]["A"] == m
    # Per sequence: B has no truth, so its cell is empty; A's is its own geometric mean.
    row_b = {"sequence": "B", "per_frame": {"decided_by": ["gnet"], "g_pd": [0.0], "box": [[0, 0, 5, 5]]}}
    text, _ = mechanism_lines({("fcnt_plus", "otb", 0): [row, row_b], ("code", "otb", 1): [row_b]}, {"A": gt})
    assert "| preset | seed | A | B |" in text
    assert "| fcnt_plus | 0 | 1.68 |  |" in text and "| code | 1 |  |  |" in text
    # B's one box never changes width; A's does: one of the two sequences.
    assert "| fcnt_plus | otb | 0 | 1 | 1 | 1 | 1 of 2 |" in text
    assert mechanisms({"sequence": "B"}, None) == {"snet": 0, "held": 0, "fallback": 0}
    # The tracker's own test, where recorded, over P_d rounded in the JSON: frame 5 read 0.2 but
    # the test did not fire (P_d 0.19996), frame 3 fired.
    row_c = {"sequence": "C", "per_frame": {"decided_by": ["gnet", "snet", "gnet", "gnet", "gnet"],
                                            "g_pd": [0.0, 0.5, 0.3, 0.1, 0.2],
                                            "g_distracter": [False, True, True, False, False]}}
    assert mechanisms(row_c, None)["fallback"] == 1
    del row_c["per_frame"]["g_distracter"]
    assert mechanisms(row_c, None)["fallback"] == 2


def test_dev_sets_keep_the_named_sequences_of_each_root(tmp_path):
    from fcnt_jax.benchmark import dev_sets
    from tests.test_batch import make_dataset

    a = make_dataset(tmp_path / "a", [("One", 3, (96, 128)), ("Two", 3, (96, 128))])
    b = make_dataset(tmp_path / "b", [("Three", 3, (96, 128))])
    sets = [("first", a, 120), ("second", b, 150)]
    everything = dev_sets(sets)
    assert {k: v[:3] for k, v in everything.items()} == {"first": (a, 120, ["One", "Two"]), "second": (b, 150, ["Three"])}
    assert list(dev_sets(sets, ["Two"])) == ["first"] and dev_sets(sets, ["Two"])["first"][2] == ["Two"]
    with pytest.raises(ValueError, match="none of the sequences \\['Nope'\\]"):
        dev_sets(sets, ["Nope"])


def test_results_on_disk_adds_what_earlier_runs_left_and_puts_code_last(tmp_path):
    from fcnt_jax.eval.ablation import results_on_disk

    for folder in ("seed0/otb/plus-gnet_fallback-latest_sample", "seed0/otb/code",
                   "seed1/otb/fcnt_plus_scale_filter",  # a legacy folder: today's fcnt_plus ran as that candidate
                   "seed1/otb/fcnt_plus_gnet_refit",  # legacy: fcnt_plus_no_scale_filter ran as that candidate
                   "seed2/otb_analysis/fcnt_plus_no_aspect",  # legacy: fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter's
                   "seed0/otb/fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter",  # a preset's name, not its folder
                   "seed5/elsewhere/fcnt_plus_snet_size",  # a set this summary does not cover
                   "seed1/otb/not_a_preset", "seedx/otb/paper"):  # unknown preset, unparsable seed
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.json").write_text("{}")
        (tmp_path / folder / "Couple.json").write_text("{}")
    (tmp_path / "seed3" / "otb").mkdir(parents=True)
    (tmp_path / "seed3" / "otb" / "fcnt_g").write_text("a file, not a result folder")
    # Claimed by a run that stopped before it: config.json only, no sequence's record.
    (tmp_path / "seed4" / "otb" / "fcnt_plus_centroid").mkdir(parents=True)
    (tmp_path / "seed4" / "otb" / "fcnt_plus_centroid" / "config.json").write_text("{}")
    seeds, presets = results_on_disk(tmp_path, ["otb", "otb_analysis"], [1], ["fcnt_plus_motion_model"])
    assert seeds == [0, 1, 2]
    assert presets == ["fcnt_plus", "fcnt_plus_no_scale_filter", "fcnt_plus_no_gnet_refit_no_scale_filter",
                       "fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter", "fcnt_plus_motion_model", "code"]


def test_fcnt_plus_script_refuses_a_folder_of_another_configuration_before_any_work(tmp_path):
    """The whole entry point: a folder left by another configuration stops the run with the folder
    named, before the weights are read (here they do not exist) and before any sequence is tracked."""
    import os
    import subprocess
    import sys

    from fcnt_jax.config import get_config
    from tests.conftest import REPO_ROOT
    from tests.test_batch import make_dataset

    data = make_dataset(tmp_path / "data", [("One", 3, (96, 128))])
    taken = tmp_path / "out" / "seed0" / "otb" / "fcnt_plus_scale_filter"  # fcnt_plus's folder
    taken.mkdir(parents=True)
    (taken / "config.json").write_text(json.dumps(get_config("code").to_dict()))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "experiments.fcnt_plus", f"--otb_root={data}", "--analysis_root=",
                           "--presets=fcnt_plus", f"--weights={tmp_path / 'no_such_weights.npz'}",
                           f"--output_dir={tmp_path / 'out'}"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert done.returncode != 0
    assert str(taken) in done.stderr and "localization.gnet_fallback" in done.stderr, done.stderr[-2000:]
    assert "no_such_weights" not in done.stderr
    assert sorted(p.name for p in taken.iterdir()) == ["config.json"]


def test_compare_boxes_reports_the_largest_box_difference_per_sequence(tmp_path):
    """Planted folders: Same has identical boxes (0), Moved one frame 2.5 px off, Short a frame
    fewer and Alone only in the reference folder (both 'missing': not the same run)."""
    import subprocess
    import sys

    from fcnt_jax.config import result_folder
    from tests.conftest import REPO_ROOT

    boxes = [[10.0, 10.0, 20.0, 30.0], [11.0, 10.0, 20.0, 30.0]]
    folders = {p: tmp_path / "seed0" / "otb" / result_folder(p) for p in ("fcnt_plus_no_gnet_refit", "fcnt_plus")}
    for preset, folder in folders.items():
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        moved = [boxes[0], [11.0, 12.5, 20.0, 30.0]] if preset == "fcnt_plus" else boxes
        reference = preset == "fcnt_plus_no_gnet_refit"
        for name, b in (("Same", boxes), ("Moved", moved), ("Short", boxes[:1] if reference else boxes)):
            (folder / f"{name}.json").write_text(json.dumps({"per_frame": {"box": b}}))
    (folders["fcnt_plus_no_gnet_refit"] / "Alone.json").write_text(json.dumps({"per_frame": {"box": boxes}}))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "experiments.compare_boxes", "--presets=fcnt_plus_no_gnet_refit,fcnt_plus",
                           f"--results_dir={tmp_path}", "--seeds=0,1", f"--output_dir={out}"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads((out / "compare_boxes.json").read_text())["max_box_difference"]
    assert got == {"otb": {"0": {"Alone": None, "Moved": 2.5, "Same": 0.0, "Short": None}}}
    assert "| otb | 0 | Moved | 2.5 |" in (out / "compare_boxes.md").read_text()


def _scale_record(peaks, factors, boxes, auc=0.5):
    return {"auc": auc, "per_frame": {"scale_peak": peaks, "scale_factor": factors, "box": boxes}}


def test_scale_filter_summary_by_hand():
    """Frame 1 (the filter's own sample) and held frames (null) are left out; the size error is the
    mean |log| of the side ratio over frames after the first: here 2x, 1x, 0.5x, 1x -> 2 log 2 / 4."""
    import numpy as np

    from fcnt_jax.eval.ablation import scale_filter_summary

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 5)
    boxes = [[1.0, 1.0, 10.0, 10.0], [1.0, 1.0, 20.0, 20.0], [1.0, 1.0, 10.0, 10.0], [1.0, 1.0, 5.0, 5.0],
             [1.0, 1.0, 10.0, 10.0]]
    record = _scale_record([0.9, 0.1, 0.2, 0.3, None], [None, 1.02, 1.0, 0.98, None], boxes)
    got = scale_filter_summary(record, truth)
    assert got["frames"] == 3
    assert got["peak_median"] == pytest.approx(0.2)
    assert got["peak_q10"] == pytest.approx(0.12) and got["peak_q90"] == pytest.approx(0.28)
    assert got["resized_share"] == pytest.approx(2 / 3)
    assert got["size_error"] == pytest.approx(2 * np.log(2) / 4)
    assert "size_error" not in scale_filter_summary(record, None)
    assert scale_filter_summary(_scale_record([None, None], [None, None], boxes[:2]), truth) == {}  # never ran
    assert scale_filter_summary({"per_frame": {"box": boxes}}, truth) == {}  # written before peaks were kept


def test_scale_peaks_cli_sorts_by_peak_and_refuses_folders_without_peaks(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    runs = tmp_path / "runs"
    runs.mkdir()
    box = [[1.0, 1.0, 10.0, 10.0]] * 3
    (runs / "High.json").write_text(json.dumps(_scale_record([0.9, 0.4, 0.5], [None, 1.0, 1.02], box, 0.8)))
    (runs / "Low.json").write_text(json.dumps(_scale_record([0.9, 0.1, 0.2], [None, 0.98, 1.0], box, 0.4)))
    (runs / "config.json").write_text("{}")
    out = tmp_path / "out"

    def cli(folder):
        return subprocess.run([sys.executable, "-m", "experiments.scale_peaks", f"--results_dirs={folder}",
                               f"--output_dir={out}"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)

    done = cli(runs)
    assert done.returncode == 0, done.stderr
    table = (out / "scale_peaks.md").read_text()
    assert table.index("| Low |") < table.index("| High |")  # sorted by the median peak
    assert "| Low | 0.110 / 0.150 / 0.190 | 0.50 |  | 0.400 |" in table
    assert set(json.loads((out / "scale_peaks.json").read_text())["sequences"]) == {"High", "Low"}
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "Old.json").write_text(json.dumps({"per_frame": {"box": box}}))
    refused = cli(empty)
    assert refused.returncode != 0 and "no sequence" in refused.stderr


def test_scale_windows_by_hand():
    """Truth 10x10 throughout; box sides 10, 20, 20, 5, 10, 10 over frames 1-6; frame 5 held (no
    peak). Windows of 2 from frame 2: frames 2-3 (before: frame 1, error 0; end: frame 3, log 2;
    held from frame 1: 0), frames 4-5 (frame 5 held: left out). Windows of 1: frames 2, 3, 4 and 6."""
    import numpy as np

    from fcnt_jax.eval.ablation import scale_windows

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 6)
    sides = [10.0, 20.0, 20.0, 5.0, 10.0, 10.0]
    boxes = [[1.0, 1.0, a, a] for a in sides]
    record = _scale_record([0.9, 0.2, 0.4, 0.3, None, 0.5], [None, 2.0, 1.0, 0.25, None, 1.0], boxes)
    two = scale_windows(record, truth, 2)
    np.testing.assert_allclose(two, [[0.3, 0.0, np.log(2), 0.0, 1.0]])
    one = scale_windows(record, truth, 1)
    np.testing.assert_allclose(one, [[0.2, 0.0, np.log(2), 0.0, 1.0],  # frame 2: doubled from frame 1's size
                                     [0.4, np.log(2), np.log(2), np.log(2), 0.0],  # frame 3: kept
                                     [0.3, np.log(2), np.log(2), np.log(2), 1.0],  # frame 4: 20 -> 5
                                     [0.5, 0.0, 0.0, 0.0, 0.0]])  # frame 6 (frame 5's box is its "before")
    assert scale_windows(_scale_record([None] * 6, [None] * 6, boxes), truth, 1).shape == (0, 5)


def test_peak_quartiles_compare_the_filters_size_with_a_held_one_by_hand():
    import numpy as np

    from experiments.scale_peaks import by_peak_quartile

    # (mean peak, error before, error with the filter, error held, resized); the unresized row is left out.
    rows = np.array([[0.1, 0.2, 0.3, 0.1, 1], [0.2, 0.2, 0.1, 0.3, 1], [0.3, 0.0, 0.1, 0.2, 1],
                     [0.4, 0.1, 0.0, 0.1, 1], [0.5, 0.1, 0.2, 0.0, 1], [0.9, 0.0, 0.5, 0.0, 0]])
    got = by_peak_quartile(rows)
    assert [q["windows"] for q in got] == [1, 1, 1, 2]
    assert [q["filter_nearer"] for q in got] == [0.0, 1.0, 1.0, 0.5]
    assert got[3]["error_filter"] == pytest.approx(0.1) and got[3]["error_held"] == pytest.approx(0.05)
    assert got[0]["peak_lo"] == pytest.approx(0.1) and got[3]["peak_hi"] == pytest.approx(0.5)
    assert by_peak_quartile(rows[:3]) == []  # fewer than four resized windows


def test_net_boxes_counts_what_trained_snet_in_a_range_by_hand():
    import math

    from experiments.net_boxes import updates_in_range

    frames = {"decided_by": ["gnet", "snet", "snet", "held", "snet"], "confidence": [0.5, 0.4, 0.6, 0.1, 0.3],
              "discriminated": [False, True, False, False, True], "adapted": [False, False, True, False, False]}
    assert updates_in_range(frames, 2, 4) == {"frames": 3, "snet": 2, "discriminated": 1, "adapted": 1,
                                              "conf_min": 0.4, "conf_max": 0.6}
    none = updates_in_range(frames, 1, 1)
    assert none["snet"] == 0 and math.isnan(none["conf_min"]) and none["frames"] == 1


def test_scale_peaks_cli_tabulates_windows_against_a_held_size_from_the_ground_truth(tmp_path):
    """Truth 10x10 on 6 frames; box sides 10, 11, 10, 12, 10, 10 (resized on frames 2-5, peaks
    0.2-0.5): one window of 1 frame per quartile. Frames 2 and 4 move away from the truth (a held
    size, 10, stays on it: error 0); frames 3 and 5 move back (held: log 1.1 / log 1.2)."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, write_frames

    root, runs, out = tmp_path / "data", tmp_path / "runs", tmp_path / "out"
    write_frames(root / "Seq" / "img", 6)
    (root / "Seq" / "groundtruth_rect.txt").write_text("1,1,10,10\n" * 6)
    runs.mkdir()
    boxes = [[1.0, 1.0, a, a] for a in (10.0, 11.0, 10.0, 12.0, 10.0, 10.0)]
    record = _scale_record([0.9, 0.2, 0.3, 0.4, 0.5, 0.6], [None, 1.1, 1 / 1.1, 1.2, 1 / 1.2, 1.0], boxes)
    (runs / "Seq.json").write_text(json.dumps(record))

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.scale_peaks", f"--results_dirs={runs}",
                               f"--dataset_roots={root}", f"--output_dir={out}", *extra], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)

    done = cli("--windows=1")
    assert done.returncode == 0, done.stderr
    table = (out / "scale_peaks.md").read_text()
    assert "Windows of 1 frame(s)" in table
    assert "| 0.200-0.275 | 1 | 0.00 | 0.095 | 0.000 | 0.000 |" in table  # frame 2: 10 -> 11
    assert "| 0.275-0.350 | 1 | 1.00 | 0.000 | 0.095 | 0.095 |" in table  # frame 3: 11 -> 10
    quartiles = json.loads((out / "scale_peaks.json").read_text())["windows_by_peak_quartile"]["1"]
    assert [q["filter_nearer"] for q in quartiles] == [0.0, 1.0, 0.0, 1.0]
    # The truth keeps its size: no span in which it shrank or grew (eval.ablation.size_following).
    following = json.loads((out / "scale_peaks.json").read_text())["size_following"]
    assert following["lag"] == 10 and following["sequences"]["Seq"]["grow"][0] == 0
    assert "| Seq | 0 | 0 |" in table
    refused = cli("--windows=0")
    assert refused.returncode != 0 and "--windows" in refused.stderr


def test_precision_by_range_by_hand():
    import numpy as np

    from fcnt_jax.eval.ablation import precision_by_range

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 4)
    boxes = truth + np.array([[0.0, 0, 0, 0], [25.0, 0, 0, 0], [19.0, 0, 0, 0], [0.0, 30, 0, 0]])  # hit, miss, hit, miss
    assert precision_by_range(boxes, truth, 1) == (1.0, 1 / 3, 0.5)
    assert precision_by_range(boxes[:3], truth, 2) == (0.5, 1.0, 2 / 3)  # scored on the shorter of the two


def _update_record():
    """4 frames; the truth's 10x10 box at 0-based (0, 0) throughout (OTB 1-based (1, 1)). Updates on
    frames 2-4: frame 2 on the truth with the nets' boxes identical (IoU 1); frame 3 30 px off
    with GNet's box 5 px right of SNet's (IoU 5*10 / 150 = 1/3); frame 4 40 px off, SNet's map
    without mass in GNet's box (s_pd at the sentinel), the nets apart (IoU 0). GNet decides frame 2,
    SNet frames 3-4, so the other net's box is SNet's on frame 2 (on the truth), GNet's 35 px off on
    frame 3 and GNet's on the truth on frame 4."""
    on, off3, off4 = [1.0, 1.0, 10.0, 10.0], [31.0, 1.0, 10.0, 10.0], [41.0, 1.0, 10.0, 10.0]
    return {"per_frame": {
        "box": [on, on, off3, off4], "g_box": [on, on, [36.0, 1.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]],
        "s_box": [on, on, off3, off4], "discriminated": [False, True, True, True],
        "decided_by": ["gnet", "gnet", "snet", "snet"],
        "confidence": [0.5, 0.6, 0.45, 0.4], "s_pd": [0.0, 0.1, 0.5, 2.0e12]}}


def test_discrimination_updates_by_hand():
    import numpy as np

    from fcnt_jax.eval.ablation import discrimination_updates

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 4)
    got = discrimination_updates(_update_record(), truth)
    assert list(got["frame"]) == [1, 2, 3]
    np.testing.assert_allclose(got["error"], [0.0, 30.0, 40.0])
    np.testing.assert_allclose(got["nets_iou"], [1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(got["confidence"], [0.6, 0.45, 0.4])
    np.testing.assert_allclose(got["other_error"], [0.0, 35.0, 0.0])
    truth[2] = np.nan  # a frame without a valid truth keeps its row, with no error
    assert np.isnan(discrimination_updates(_update_record(), truth)["error"][1])
    old = _update_record()
    del old["per_frame"]["g_box"]
    with pytest.raises(ValueError, match="g_box"):
        discrimination_updates(old, truth)
    del old["per_frame"]["decided_by"]
    old["per_frame"]["g_box"] = _update_record()["per_frame"]["g_box"]
    with pytest.raises(ValueError, match="decided_by"):
        discrimination_updates(old, truth)


def test_update_agreement_cli_counts_bad_updates_and_where_the_nets_agree(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, write_frames

    root, runs, out = tmp_path / "data", tmp_path / "runs", tmp_path / "out"
    write_frames(root / "Seq" / "img", 4)
    (root / "Seq" / "groundtruth_rect.txt").write_text("1,1,10,10\n" * 4)
    runs.mkdir()
    (runs / "Seq.json").write_text(json.dumps(_update_record()))

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.update_agreement", f"--results_dirs={runs}",
                               f"--dataset_roots={root}", f"--output_dir={out}", *extra], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)

    done = cli()
    assert done.returncode == 0, done.stderr
    # 3 updates, 2 bad (frames 3 and 4, 1-based); the good one where the nets agree; neither bad one
    # agrees at IoU 0.5; frame 4's s_pd is the no-mass sentinel; on frame 4 (bad) GNet, which did not
    # decide, was on the target; on frame 2 (good) SNet, the other net, was on it too.
    assert "| Seq | 3 | 2 (3) | 1 of 1 | 0 of 2 | 0 / 1 | 1 of 2 | 0 of 1 |" in (out / "update_agreement.md").read_text()
    assert cli("--iou=0.3").returncode == 0  # frame 3's IoU 1/3 now counts as agreeing
    got = json.loads((out / "update_agreement.json").read_text())
    assert got["sequences"]["Seq"]["bad_agree"] == 1 and got["all"]["first_bad_frame"] is None
    assert got["largest_s_pd_below_sentinel"] == 0.5  # frame 4's 2e12 is the sentinel
    assert got["confidence_quartiles"]["good"] == [0.6, 0.6, 0.6]
    (runs / "Lost.json").write_text(json.dumps(_update_record()))
    refused = cli()
    assert refused.returncode != 0 and "Lost" in refused.stderr


def test_size_bias_by_hand():
    """Truth 10x10; box sides 10 (frame 1, the given box: left out), 20, 5, 10 -> |log| 2 log 2 / 3,
    signed (log 2 - log 2 + 0) / 3 = 0; a frame without a truth is left out."""
    import numpy as np

    from fcnt_jax.eval.ablation import size_bias

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 4)
    boxes = [[1.0, 1.0, a, a] for a in (10.0, 20.0, 5.0, 10.0)]
    error, signed = size_bias(boxes, truth)
    assert error == pytest.approx(2 * np.log(2) / 3) and signed == pytest.approx(0.0)
    truth[2] = np.nan  # frame 3 (the 5x5 box) unscored: 20, 10 remain
    error, signed = size_bias(boxes, truth)
    assert error == pytest.approx(np.log(2) / 2) and signed == pytest.approx(np.log(2) / 2)
    assert np.isnan(size_bias([[1.0, 1.0, 10.0, 10.0]], truth)[0])


def test_outside_dev_cli_scores_seeds_per_preset_and_names_an_unknown_sequence(tmp_path):
    """Truth 10x10 at OTB (1, 1) on 3 frames; frame 1 is the given box. code's boxes are the truth:
    P@20 1, AUC 20/21 (IoU 1 passes every threshold but 1). fcnt_plus seed 0 doubles the side on
    frames 2-3 (centre 7.1 px off, IoU 0.25, passing 5 of the 21 thresholds): P@20 1, AUC
    (20 + 5 + 5) / 63, size log 2. Seed 1 moves them 100 px: P@20 1/3, AUC 20/63."""
    import subprocess
    import sys

    import numpy as np

    from tests.conftest import REPO_ROOT, write_frames

    seq = tmp_path / "data" / "Seq"
    write_frames(seq / "img", 3)
    (seq / "groundtruth_rect.txt").write_text("1,1,10,10\n" * 3)
    results = tmp_path / "results"
    on = [1.0, 1.0, 10.0, 10.0]
    for preset, seed, later in (("fcnt_plus", 1, [101.0, 1.0, 10.0, 10.0]), ("fcnt_plus", 0, [1.0, 1.0, 20.0, 20.0]),
                                ("code", 0, on)):
        # code as a single run writes it: no run_<k> folder
        run = results / "otb" / preset / ("" if preset == "code" else f"run_00{seed + 1}")
        run.mkdir(parents=True)
        (run / "config.json").write_text("{}")
        (run / "Seq.json").write_text(json.dumps({"seed": seed, "per_frame": {"box": [on, later, later]}}))

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.outside_dev", f"--results_dir={results}",
                               f"--sequence_dirs={seq}", *extra], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=300)

    done = cli()
    assert done.returncode == 0, done.stderr
    table = (results / "outside_dev.md").read_text()
    # seeds in order and their means; seed 1's box keeps the truth's size: log 2 / 2 on average
    assert (f"| fcnt_plus | 0, 1 | 1.000 / 0.333 | {30 / 63:.3f} / {20 / 63:.3f} | 0.667 / {25 / 63:.3f} | "
            f"{np.log(2) / 2:.3f} (+{np.log(2) / 2:.3f}) |") in table
    assert f"| code | 0 | 1.000 | {20 / 21:.3f} | 1.000 / {20 / 21:.3f} | 0.000 (+0.000) |" in table
    assert table.index("| fcnt_plus |") < table.index("| code |")
    assert [r["seed"] for r in json.loads((results / "outside_dev.json").read_text())["Seq"]["fcnt_plus"]] == [0, 1]
    assert cli("--max_frames=2").returncode == 0
    first_two = json.loads((results / "outside_dev_2.json").read_text())["Seq"]["fcnt_plus"]
    assert [r["precision_20"] for r in first_two] == [1.0, 0.5] and first_two[0]["frames"] == 2
    # Frames 2-3 only: no given box among them, so the doubled side counts on both (log 2).
    assert cli("--from_frame=2").returncode == 0
    later = json.loads((results / "outside_dev_from2.json").read_text())["Seq"]["fcnt_plus"]
    assert [r["precision_20"] for r in later] == [1.0, 0.0]
    assert later[0]["auc"] == pytest.approx(5 / 21) and later[0]["size_signed"] == pytest.approx(np.log(2))
    refused = cli("--from_frame=2", "--max_frames=2")
    assert refused.returncode != 0 and "--from_frame" in refused.stderr
    (results / "otb" / "code" / "Other.json").write_text("{}")
    refused = cli()
    assert refused.returncode != 0 and "Other" in refused.stderr


def test_size_following_by_hand():
    """Truth sides 10, 10, 5, 5, 10 (log changes over 2 frames: -log 2, -log 2, +log 2); the box
    10, 10, 10, 10, 20: it holds while the truth shrinks, then doubles with it."""
    import numpy as np

    from fcnt_jax.eval.ablation import size_following

    truth = np.array([[0.0, 0.0, a, a] for a in (10.0, 10.0, 5.0, 5.0, 10.0)])
    boxes = [[1.0, 1.0, a, a] for a in (10.0, 10.0, 10.0, 10.0, 20.0)]
    got = size_following(boxes, truth, lag=2)
    assert got["shrink"] == (2, pytest.approx(-np.log(2)), pytest.approx(0.0))
    assert got["grow"] == (1, pytest.approx(np.log(2)), pytest.approx(np.log(2)))
    truth[4] = np.nan  # the growing span loses its end
    assert size_following(boxes, truth, lag=2)["grow"][0] == 0
    assert size_following(boxes, truth, lag=9)["shrink"][0] == 0  # shorter than the span


def test_planted_zooms_shrink_one_percent_a_frame_and_come_back():
    import numpy as np

    from fcnt_jax.eval.planted import planted_zooms

    zooms = planted_zooms(3)
    np.testing.assert_allclose(zooms, [1.01 ** -1, 1.01 ** -2, 1.01 ** -3, 1.01 ** -2, 1.01 ** -1, 1.0])


def test_the_scale_filter_follows_a_planted_zoom_at_the_true_centre():
    """Car4's first frame zoomed 1 % less per frame, then back: at the true centre (no jitter) the
    filter's box follows the truth to within one of its 2 % steps on every frame."""
    import numpy as np

    from fcnt_jax.eval.planted import planted_zooms, run_filter
    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import load_frame
    from tests.conftest import REPO_ROOT

    car4 = REPO_ROOT.parent / "shared" / "data" / "OTB_analysis" / "Car4"
    if not car4.is_dir():
        pytest.skip(f"{car4} is not here")
    seq = open_sequence(car4)
    out = run_filter(load_frame(seq.frame_paths[0]), np.asarray(seq.init_box, np.float64), planted_zooms(4), 0.0,
                     np.random.default_rng(0), get_config("fcnt_plus").scale_filter)
    assert out.shape == (8, 3)
    assert np.all(np.abs(np.log(out[:, 1] / out[:, 0])) <= np.log(1.02) + 1e-6), out
    assert out[3, 1] < 0.98  # it did shrink


def test_tracker_alignment_by_hand():
    """Truth 10x10 at 0-based (0, 0) (side 10); boxes (OTB 1-based) on it, 2 px right, 6 px right:
    frame 1 left out, so the median of 0.2 and 0.6 is 0.4; peaks null, 0.3, 0.5 -> 0.4."""
    import numpy as np

    from fcnt_jax.eval.ablation import tracker_alignment

    truth = np.array([[0.0, 0.0, 10.0, 10.0]] * 3)
    record = {"per_frame": {"box": [[1.0, 1.0, 10.0, 10.0], [3.0, 1.0, 10.0, 10.0], [7.0, 1.0, 10.0, 10.0]],
                            "scale_peak": [None, 0.3, 0.5]}}
    error, peak = tracker_alignment(record, truth)
    assert error == pytest.approx(0.4) and peak == pytest.approx(0.4)


def test_scale_alignment_cli_tables_the_planted_run_beside_the_tracker_and_refuses_bad_jitters(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, write_frames

    root, runs, out = tmp_path / "data", tmp_path / "runs", tmp_path / "out"
    write_frames(root / "Seq" / "img", 2, size=(64, 48))
    (root / "Seq" / "groundtruth_rect.txt").write_text("21,15,20,16\n" * 2)
    runs.mkdir()
    (runs / "Seq.json").write_text(json.dumps({"per_frame": {"box": [[21.0, 15.0, 20.0, 16.0], [25.0, 15.0, 20.0, 16.0]],
                                                             "scale_peak": [None, 0.25]}}))

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.scale_alignment", f"--dataset_roots={root}",
                               f"--records={runs}", f"--output_dir={out}", "--frames=1", *extra], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)

    done = cli("--jitters=0")
    assert done.returncode == 0, done.stderr
    got = json.loads((out / "scale_alignment.json").read_text())
    assert set(got["sequences"]["Seq"]) == {"0.0"} and got["summary"]["0.0"]["error_turn"] < 0.02
    assert got["tracker"]["Seq"] == {"centre_error_over_side": pytest.approx(4 / (20 * 16) ** 0.5),
                                     "peak_median": 0.25}
    assert "| Seq | 0.224 | 0.250 |" in (out / "scale_alignment.md").read_text()
    refused = cli("--jitters=-0.1")
    assert refused.returncode != 0 and "--jitters" in refused.stderr
    # The true-centre run alone: the tracker's size error beside the filter's (frame 2's box is the
    # truth's size in the record: 0).
    done = cli("--jitters=", "--real_max_frames=2")
    assert done.returncode == 0, done.stderr
    got = json.loads((out / "scale_alignment.json").read_text())
    assert got["sequences"] == {} and got["true_centre"]["Seq"]["frames"] == 2
    assert "| Seq | " in (out / "scale_alignment.md").read_text() and got["tracker_size"]["Seq"]["size_error"] == 0.0
    for bad in ("--real_max_frames=2,3", "--real_max_frames=1"):
        refused = cli("--jitters=", bad)
        assert refused.returncode != 0 and "--real_max_frames" in refused.stderr
    assert "nothing to run" in cli("--jitters=").stderr


def test_the_filter_at_the_true_centre_follows_a_planted_zoom_sequence_and_holds_where_the_truth_is_missing(tmp_path):
    """A 5-frame OTB sequence made of Car4's first frame zoomed 1, 0.99, 0.98, 0.97, 0.97 about its
    box's centre, the truth's box scaled with it; frame 5's truth missing (NaN): the boxes follow
    the truth to within one 2 % step, and frame 5 keeps frame 4's box."""
    import numpy as np
    from PIL import Image

    from fcnt_jax.eval.planted import filter_at_true_centre
    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import load_frame
    from fcnt_jax.eval.planted import zoomed
    from tests.conftest import REPO_ROOT

    car4 = REPO_ROOT.parent / "shared" / "data" / "OTB_analysis" / "Car4"
    if not car4.is_dir():
        pytest.skip(f"{car4} is not here")
    source = open_sequence(car4)
    image, box = load_frame(source.frame_paths[0]), np.asarray(source.init_box, np.float64)
    centre = box[:2] + box[2:] / 2
    seq = tmp_path / "Planted"
    (seq / "img").mkdir(parents=True)
    lines = []
    for t, zoom in enumerate((1.0, 0.99, 0.98, 0.97, 0.97)):
        Image.fromarray(zoomed(image, centre, zoom)).save(seq / "img" / f"{t + 1:04d}.png")
        w, h = box[2:] * zoom
        lines.append("NaN,NaN,NaN,NaN" if t == 4 else f"{centre[0] - w / 2 + 1},{centre[1] - h / 2 + 1},{w},{h}")
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    planted = open_sequence(seq)
    boxes = filter_at_true_centre(planted, 10, get_config("fcnt_plus").scale_filter)
    assert boxes.shape == (5, 4)
    truth = np.asarray(planted.groundtruth, np.float64)
    np.testing.assert_allclose(boxes[0], truth[0], atol=1e-6)
    assert np.all(np.abs(np.log(boxes[1:4, 2] / truth[1:4, 2])) <= np.log(1.02) + 1e-6), boxes
    np.testing.assert_allclose(boxes[4], boxes[3], atol=1e-6)
