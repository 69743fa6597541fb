"""The speed breakdown runs end to end (small shapes) and its numbers are consistent."""

import jax
import pytest

from fcnt_jax.config import get_config
from fcnt_jax.data import open_sequence
from fcnt_jax.speed import measure, time_call

from tests.test_backbone import tiny_params
from tests.test_batch import make_dataset
from tests.test_tracker import TINY


def test_time_call_is_a_median_after_warmup():
    calls = []
    assert time_call(lambda: calls.append(1) or jax.numpy.zeros(1), repeats=3) >= 0.0
    assert len(calls) == 4  # one warm-up + 3 timed


def test_measure_reports_every_figure(tmp_path):
    root = make_dataset(tmp_path, [("Speedy", 5, (96, 128))])
    seq = open_sequence(root / "Speedy")
    data = measure(tiny_params(jax.random.PRNGKey(0)), seq, get_config("code", TINY), batch_sizes=(2,), repeats=1,
                   log=lambda m: None, passes=3)
    for key in ("device", "compile_s", "init_s", "fps_single", "backbone_only_frame_s", "ratio_to_backbone",
                "peak_memory_mb", "fps_batch", "breakdown_s", "adapted", "discriminated"):
        assert key in data, key
    assert set(data["breakdown_s"]) == {"decode", "crop_backbone", "heads_forward", "localisation", "updates_amortised"}
    assert all(v >= 0 for v in data["breakdown_s"].values())
    # The ratio is the median of per-pass ratios, each a frame time over the backbone time taken
    # right after it (not a ratio of medians taken minutes apart).
    assert len(data["passes"]) == 3
    for run in data["passes"]:
        assert run["ratio_to_backbone"] == pytest.approx(run["frame_s"] / run["backbone_only_frame_s"])
    assert data["ratio_to_backbone"] == pytest.approx(sorted(r["ratio_to_backbone"] for r in data["passes"])[1])
    assert data["frame_s"] == pytest.approx(sorted(r["frame_s"] for r in data["passes"])[1])
    assert data["fps_single"] == pytest.approx(1.0 / data["frame_s"])
    assert data["fps_batch"]["2"] > 0 and data["peak_memory_mb"] > 0 and data["frames"] == 5


def test_measure_rejects_zero_passes(tmp_path):
    root = make_dataset(tmp_path, [("Speedy", 3, (96, 128))])
    with pytest.raises(ValueError, match="passes=0"):
        measure(tiny_params(jax.random.PRNGKey(0)), open_sequence(root / "Speedy"), get_config("code", TINY),
                passes=0, log=lambda m: None)
