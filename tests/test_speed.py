"""The speed breakdown runs end to end (small shapes) and its numbers are consistent."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

from fcnt_jax.config import get_config
from fcnt_jax.data import open_sequence
from fcnt_jax import backbone
from fcnt_jax.eval.report import PALETTE
from fcnt_jax.speed import (dtype_accuracy_change, markdown_table, measure, speed_chart, summarise_changes,
                             time_call)

from tests.test_backbone import tiny_params
from tests.conftest import REPO_ROOT
from tests.test_report import bar_runs
from tests.test_batch import make_dataset
from tests.test_tracker import TINY


def test_time_call_is_a_median_after_warmup():
    calls = []
    assert time_call(lambda: calls.append(1) or jax.numpy.zeros(1), repeats=3) >= 0.0
    assert len(calls) == 4  # one warm-up + 3 timed


def test_measure_reports_every_figure(tmp_path):
    root = make_dataset(tmp_path, [("Speedy", 5, (96, 128))])
    seq = open_sequence(root / "Speedy")
    cfg = get_config("code", TINY)
    saved = []  # what speed.json would hold after each part
    data = measure(tiny_params(jax.random.PRNGKey(0)), seq, cfg, batch_sizes=(2,), repeats=1,
                   log=lambda m: None, checkpoint=lambda d: saved.append(json.loads(json.dumps(d))))
    for key in ("device", "compile_s", "init_s", "fps_single", "backbone_only_frame_s", "ratio_to_backbone",
                "peak_memory_mb", "fps_batch", "breakdown_s", "adapted", "discriminated"):
        assert key in data, key
    assert set(data["breakdown_s"]) == {"decode", "crop_backbone", "heads_forward", "localisation", "updates_amortised"}
    assert all(v >= 0 for v in data["breakdown_s"].values())
    # The ratio comes from steps and backbone calls timed in alternation over the same frames.
    inter = data["interleaved"]
    assert inter["frames"] == 4 and inter["frame_s"] > 0 and inter["backbone_only_frame_s"] > 0
    assert data["ratio_to_backbone"] == pytest.approx(inter["frame_s"] / inter["backbone_only_frame_s"])
    assert data["backbone_only_frame_s"] == inter["backbone_only_frame_s"]
    assert data["fps_single"] == pytest.approx(1.0 / data["frame_s"])
    assert data["fps_batch"]["2"] > 0 and data["peak_memory_mb"] > 0 and data["frames"] == 5
    # The throughput each frame rate implies, from the crop's convolution FLOPs.
    gflop = backbone.conv_flops(cfg.roi.roi_size, cfg.roi.roi_size) / 1e9
    assert data["backbone_gflop_per_frame"] == gflop
    assert data["backbone_tflops"]["batch_2"] == pytest.approx(gflop * data["fps_batch"]["2"] / 1e3)
    assert data["backbone_tflops"]["single"] == pytest.approx(gflop * data["fps_single"] / 1e3)
    # Saved after every part (single, ratio, phases, each batch size), each a superset of the last.
    assert len(saved) == 4 and saved[-1] == json.loads(json.dumps(data))
    assert "fps_single" in saved[0] and "ratio_to_backbone" not in saved[0] and "breakdown_s" not in saved[1]
    assert saved[2]["fps_batch"] == {} and list(saved[3]["fps_batch"]) == ["2"]
    for before, after in zip(saved, saved[1:]):
        assert set(before) <= set(after)
    table = markdown_table(data)
    assert "| ratio_to_backbone (interleaved) |" in table and "| fps_batch (B=2) |" in table
    assert "bfloat16 change" not in table and "cut off" not in table
    # A run cut off after its first part still gives a table that says what is missing.
    partial = markdown_table(saved[0])
    assert "| fps_single |" in partial and "| not measured (run cut off) | ratio, phase breakdown |" in partial
    # The picture: the phases in their colours above the frame rates; a cut-off run draws only the rates.
    full, cut = np.asarray(speed_chart(data)), np.asarray(speed_chart(saved[0]))
    assert full.shape[0] > cut.shape[0] and full.shape[1] == cut.shape[1]
    # The bars' widths follow the measured times, whose shares vary from run to run (the backbone's
    # share of a tiny tracker's step, 89 px wide in one CI run), so they are checked on set times.
    set_times = dict(data, breakdown_s={"decode": 0.001, "crop_backbone": 0.5, "heads_forward": 0.05,
                                        "localisation": 0.05, "updates_amortised": 0.1},
                     interleaved=dict(inter, frame_s=0.7, backbone_only_frame_s=0.5),
                     backbone_only_frame_s=0.5, ratio_to_backbone=1.4)
    drawn = np.asarray(speed_chart(set_times))
    assert drawn.shape == full.shape
    for colour in (PALETTE[1], (127, 127, 127)):  # the backbone (+ crop) and the whole step
        assert bar_runs(drawn, colour).max() > 100 and bar_runs(cut, colour).max() < 10, colour
    assert speed_chart({"device": "cpu", "platform": "cpu", "device_count": 1}) is None  # nothing timed yet


def test_speed_cli_redraws_a_stored_run_and_names_a_bad_file(tmp_path):
    stored = {"device": "cpu", "platform": "cpu", "device_count": 1, "backbone_dtype": "float32", "frames": 40,
              "compile_s": 10.0, "init_s": 9.0, "frame_s": 0.8, "fps_single": 1.25, "fps_batch": {"4": 4.5,
              "64": "failed: XlaRuntimeError: RESOURCE_EXHAUSTED"}, "tracking_error": None}  # an older run: no TFLOP/s
    (tmp_path / "speed.json").write_text(json.dumps(stored))
    run = [sys.executable, "-m", "experiments.speed", f"--table_from={tmp_path / 'speed.json'}"]
    proc = subprocess.run(run + [f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "| fps_batch (B=64) | failed: XlaRuntimeError" in proc.stdout
    assert "| not measured (run cut off) | ratio, phase breakdown |" in proc.stdout
    with Image.open(tmp_path / "out" / "speed.png") as im:
        assert im.mode == "RGB" and im.width == 900
    (tmp_path / "bad.json").write_text("{not json")
    proc = subprocess.run(run[:3] + [f"--table_from={tmp_path / 'bad.json'}"], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode != 0 and "bad.json: not a readable speed.json (JSONDecodeError" in proc.stderr


def test_batch_init_costs_time_each_presets_real_batched_first_frame(tmp_path, monkeypatch):
    """Each timed call is the real batch.batch_init of batch_size copies (its state has that batch
    axis); the presets alternate, each keeps its fastest round, ratios are to the first."""
    from fcnt_jax import speed

    root = make_dataset(tmp_path, [("Costly", 3, (96, 128))])
    seq = open_sequence(root / "Costly")
    code = get_config("code", TINY)
    cfgs = {"code": code, "fcnt_plus": code}  # one program under two names: one compile (the timings are planted)
    planted = iter([2.0, 3.0, 2.5, 2.4])  # code, fcnt_plus, code, fcnt_plus
    batch_axes = []

    def timed(fn, repeats):
        state = fn()  # the real call, once
        batch_axes.append(state.target.shape[0])
        return next(planted)

    monkeypatch.setattr(speed, "time_call", timed)
    costs = speed.batch_init_costs(tiny_params(jax.random.PRNGKey(0)), seq, cfgs, batch_size=2, rounds=2,
                                   log=lambda m: None)
    assert batch_axes == [2, 2, 2, 2]
    assert costs["init_s"] == {"code": 2.0, "fcnt_plus": 2.4}
    assert costs["ratios"] == pytest.approx({"code": 1.0, "fcnt_plus": 1.2})
    table = markdown_table({"device": "cpu", "platform": "cpu", "batch_init_costs": costs})
    assert "batch_init of 2 copies of Costly's first frame" in table and "| fcnt_plus | 2.40 | 1.20 |" in table
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        speed.batch_init_costs(None, seq, cfgs, batch_size=0)
    proc = subprocess.run([sys.executable, "-m", "experiments.speed", "--compare_batch_init=4",
                           f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode != 0 and "--compare_batch_init=4: needs --compare_presets" in proc.stderr


def test_measure_survives_a_broken_frame_and_reports_it(tmp_path):
    root = make_dataset(tmp_path, [("Broken", 6, (96, 128))])
    (root / "Broken" / "img" / "0005.jpg").write_bytes(b"not a jpeg")
    data = measure(tiny_params(jax.random.PRNGKey(0)), open_sequence(root / "Broken"), get_config("code", TINY),
                   batch_sizes=(), repeats=1, log=lambda m: None)
    assert "0005.jpg" in data["tracking_error"]
    assert data["interleaved"]["frames"] == 3  # frames 2-4: the ones tracked before the broken one
    assert data["ratio_to_backbone"] > 0


def test_measure_needs_two_frames(tmp_path):
    root = make_dataset(tmp_path, [("Single", 2, (96, 128))])
    seq = open_sequence(root / "Single").truncated(1)
    with pytest.raises(ValueError, match="Single: the speed benchmark needs at least 2 frames, got 1"):
        measure(tiny_params(jax.random.PRNGKey(0)), seq, get_config("code", TINY), log=lambda m: None)


def test_dtype_accuracy_change_reports_both_runs_and_skips_a_broken_sequence(tmp_path):
    root = make_dataset(tmp_path, [("Good", 5, (96, 128)), ("Broken", 5, (96, 128))])
    (root / "Broken" / "img" / "0003.jpg").write_bytes(b"not a jpeg")
    params, cfg = tiny_params(jax.random.PRNGKey(0)), get_config("code", TINY)
    good, broken = open_sequence(root / "Good"), open_sequence(root / "Broken")
    saved = []
    data = dtype_accuracy_change(params, [broken, good], cfg, log=lambda m: None,
                                 checkpoint=lambda d: saved.append(json.loads(json.dumps(d))))
    assert list(data["per_sequence"]) == ["Good"]
    # Saved after each sequence: the broken one first (nothing to average yet), then everything.
    assert saved[0]["failed"] and not saved[0]["per_sequence"] and saved[0]["mean_auc"] is None
    assert saved[1] == json.loads(json.dumps(data))
    table = markdown_table({"device": "cpu", "platform": "cpu", "bfloat16_change": data})
    assert "| bfloat16 change P@20 / AUC, mean of 1 (median) |" in table and "|   Broken failed |" in table
    assert "0003.jpg" in data["failed"]["Broken"]
    row = data["per_sequence"]["Good"]
    for k in ("precision_20", "auc"):
        assert row["change"][k] == pytest.approx(row["bfloat16"][k] - row["float32"][k])
        assert data[f"mean_{k}"] == pytest.approx(row["change"][k]) == data[f"median_{k}"]
    assert data["track_time_ratio"] == pytest.approx(row["track_s"]["bfloat16"] / row["track_s"]["float32"])
    assert row["box_shift_px"]["frames"] == 5 and row["box_shift_px"]["max"] >= row["box_shift_px"]["mean"] >= 0
    # The same dtype twice: the tracker is deterministic, so nothing changes.
    same = dtype_accuracy_change(params, [good], cfg, dtypes=("float32", "float32"), log=lambda m: None)
    assert same["per_sequence"]["Good"]["change"] == {"precision_20": 0.0, "auc": 0.0}
    assert same["per_sequence"]["Good"]["box_shift_px"]["max"] == 0.0
    assert same["per_sequence"]["Good"]["float32"] == row["float32"]


def test_summarise_changes_by_hand():
    def row(p20, auc, t32, t16):
        return {"change": {"precision_20": p20, "auc": auc}, "track_s": {"float32": t32, "bfloat16": t16}}

    # One outlier (the chaotic sequence) moves the mean, not the median.
    summary = summarise_changes([row(0.0, -0.01, 10.0, 9.0), row(0.3, 0.2, 20.0, 21.0), row(0.0, 0.01, 30.0, 27.0)],
                                ("float32", "bfloat16"))
    assert summary["mean_precision_20"] == pytest.approx(0.1) and summary["median_precision_20"] == 0.0
    assert summary["mean_auc"] == pytest.approx(0.2 / 3) and summary["median_auc"] == pytest.approx(0.01)
    assert summary["track_time_ratio"] == pytest.approx(57.0 / 60.0)  # totals, not a mean of ratios
    assert set(summarise_changes([], ("float32", "bfloat16")).values()) == {None}


def test_preset_costs_keep_each_presets_fastest_round_and_its_ratios(tmp_path, monkeypatch):
    from fcnt_jax import speed

    root = make_dataset(tmp_path, [("Costly", 3, (96, 128))])
    seq = open_sequence(root / "Costly")
    cfgs = {"code": get_config("code", TINY), "fcnt_plus": get_config("fcnt_plus", TINY)}
    real = speed.track_sequence
    calls = []

    def timed(params, s, cfg, **kw):  # the real tracker, with planted timings per call
        result = real(params, s, cfg, **kw)
        calls.append(cfg.preset)
        slow = 3.0 if len(calls) == 2 else 1.0  # fcnt_plus's first round hit a slow spell
        base = {"code": (2.0, 4.0), "fcnt_plus": (3.0, 5.0)}[cfg.preset]
        result.timing.update(init_after_compile_s=base[0] * slow, track_fps=base[1] / slow, compile_s=1.0)
        return result

    monkeypatch.setattr(speed, "track_sequence", timed)
    costs = speed.preset_costs(tiny_params(jax.random.PRNGKey(0)), seq, cfgs, rounds=2, log=lambda m: None)
    assert calls == ["code", "fcnt_plus", "code", "fcnt_plus"]  # alternated, A B A B
    assert costs["presets"]["fcnt_plus"] == {"init_s": 3.0, "frame_s": 0.2, "compile_s": 1.0}  # its fast round
    assert costs["ratios"]["fcnt_plus"] == pytest.approx({"init": 1.5, "frame": 0.8})
    assert costs["ratios"]["code"] == {"init": 1.0, "frame": 1.0}
    table = markdown_table({"device": "cpu", "platform": "cpu", "preset_costs": costs})
    assert "| fcnt_plus | 3.00 | 0.200 | 1.50 | 0.80 |" in table
    with pytest.raises(ValueError, match="Costly: the preset comparison needs at least 2 frames"):
        speed.preset_costs(None, seq.truncated(1), cfgs)
