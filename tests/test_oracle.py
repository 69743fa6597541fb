"""The oracles (fcnt_jax/eval/oracle.py): the tracker started on the truth of frame t-h and tracked
to t, its range parsing and per-range summary by hand; and the truth's size fed back every frame."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax import tracker
from fcnt_jax.config import get_config
from fcnt_jax.data import open_sequence
from fcnt_jax.data.sequence import load_frame
from fcnt_jax.eval import metrics
from fcnt_jax.eval.oracle import fresh_start_oracle, parse_frame_ranges, range_summary, size_oracle
from tests.test_backbone import tiny_params
from tests.test_batch import make_dataset
from tests.test_tracker import TINY


def test_parse_frame_ranges():
    assert parse_frame_ranges("2-72, 73-120") == [(2, 72), (73, 120)]
    assert parse_frame_ranges("5") == [(5, 5)]
    for bad, message in (("", "no frame range"), ("9-3", "up to a frame no earlier"), ("0-4", "frame 1 or later"),
                         ("a-b", "not a range")):
        with pytest.raises(ValueError, match=message):
            parse_frame_ranges(bad)


def test_range_summary_by_hand():
    frames = np.array([1, 2, 3, 4, 5])  # 0-based: 1-based frames 2..6
    errors = np.array([5.0, 30.0, np.nan, 10.0, 25.0])
    rows = range_summary(frames, errors, [(2, 4), (5, 6), (7, 9)])
    assert rows[0] == {"range": "2-4", "frames": 2, "precision": 0.5, "median_error": 17.5}  # frame 4's NaN left out
    assert rows[1] == {"range": "5-6", "frames": 2, "precision": 0.5, "median_error": 17.5}
    assert rows[2]["frames"] == 0 and np.isnan(rows[2]["precision"])


@pytest.mark.parametrize("horizon", [1, 2])
def test_fresh_start_oracle_starts_on_the_truth_horizon_frames_before(tmp_path, horizon):
    """Frames 2 and 4 (0-based) of a synthetic sequence: each equals init on the truth of t-h, that
    frame tracked again, steps on t-h+1 .. t, composed here from tracker.init / step; the held
    error is that truth's against t's. Over 40 frames the target moves ~2 px a frame, far from its
    look-alike at frames 0-4, and the fresh start finds it (planted truth: within 6 px)."""
    root = make_dataset(tmp_path, [("Orc", 40, (96, 128))])
    seq = open_sequence(root / "Orc")
    cfg = get_config("code", TINY)
    params = tiny_params(jax.random.PRNGKey(0))
    got = fresh_start_oracle(params, seq, cfg, [4, 2, 2], horizon, log=lambda m: None)
    assert list(got["frame"]) == [2, 4]
    for i, t in enumerate((2, 4)):
        first = load_frame(seq.frame_paths[t - horizon])
        hw = jnp.asarray(first.shape[:2], jnp.float32)
        start = seq.groundtruth[t - horizon]
        state = tracker.init(params, first, jnp.asarray(start, jnp.float32), jax.random.PRNGKey(0), cfg=cfg,
                             image_hw=hw)
        state, _ = tracker.step(params, state, first, cfg=cfg)
        for u in range(t - horizon + 1, t + 1):
            state, out = tracker.step(params, state, load_frame(seq.frame_paths[u]), cfg=cfg)
        np.testing.assert_allclose(got["box"][i], np.asarray(out.box), atol=1e-3)
        np.testing.assert_allclose(got["error"][i], metrics.centre_error(got["box"][i], seq.groundtruth[t])[0])
        np.testing.assert_allclose(got["held_error"][i], metrics.centre_error(start, seq.groundtruth[t])[0])
    assert np.all(got["error"] < 6.0), got["error"]
    assert np.all(got["held_error"] > 0)
    with pytest.raises(ValueError, match=f"frames \\[{horizon - 1}, 40\\]"):
        fresh_start_oracle(params, seq, cfg, [horizon - 1, 40], horizon, log=lambda m: None)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        fresh_start_oracle(params, seq, cfg, [2], 0, log=lambda m: None)


def test_fresh_start_oracle_cli_names_bad_input(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    root = make_dataset(tmp_path, [("Orc", 5, (96, 128))])
    (tmp_path / "old.json").write_text('{"per_frame": {}}')

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.fresh_start_oracle", f"--sequence={root / 'Orc'}",
                               f"--output_dir={tmp_path / 'out'}", *extra], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=300)

    for extra, message in ((["--ranges=2-9"], "Orc has frames 2..5 to predict with --horizon=1"),
                           (["--ranges=1-3"], "Orc has frames 2..5 to predict"),
                           (["--ranges=2-3", "--horizon=2"], "Orc has frames 3..5 to predict with --horizon=2"),
                           (["--ranges=3-4", "--horizon=0"], "--horizon=0: must be >= 1"),
                           (["--ranges=x"], "--ranges=x: 'x': not a range"),
                           (["--ranges=2-3", "--every=0"], "--every=0: must be >= 1"),
                           (["--ranges=2-3", "--preset=nope"], "--preset / --set"),
                           (["--ranges=2-3", f"--record={tmp_path / 'old.json'}"], "old.json: no per-frame boxes")):
        done = cli(*extra)
        assert done.returncode != 0 and message in done.stderr, (extra, done.stderr[-500:])


def _tracked_by_hand(params, seq, cfg, factor):
    """tracker.init / step composed here, the state's size set to the truth's x ``factor`` after each frame."""
    frames = [load_frame(p) for p in seq.frame_paths]
    hw = jnp.asarray(frames[0].shape[:2], jnp.float32)
    state = tracker.init(params, frames[0], jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(0), cfg=cfg,
                         image_hw=hw)
    state, _ = tracker.step(params, state, frames[0], cfg=cfg)
    boxes = [np.asarray(seq.init_box, np.float64)]
    for t in range(1, len(frames)):
        state, out = tracker.step(params, state, frames[t], cfg=cfg)
        box = np.asarray(out.box, np.float64)
        if factor is not None:
            w, h = np.asarray(seq.groundtruth[t][2:], np.float64) * factor
            centre = box[:2] + box[2:] / 2
            box = np.array([centre[0] - w / 2, centre[1] - h / 2, w, h])
            state = state.replace(target=state.target.at[2].set(w / cfg.localization.template_size).at[3].set(h / w))
        boxes.append(box)
    return np.stack(boxes)


@pytest.mark.parametrize("factor", [None, 1.3])
def test_size_oracle_feeds_the_truths_size_back(tmp_path, factor):
    """Every box equals tracker.init / step composed by hand with the state's width and height set to
    the truth's x factor after each frame (factor None: untouched, and equal to run.track_sequence);
    with a factor the boxes carry the truth's size x factor, and the next frames are tracked from it
    (their centres differ from the untouched run's)."""
    from fcnt_jax.run import track_sequence

    root = make_dataset(tmp_path, [("Siz", 8, (96, 128))])
    seq = open_sequence(root / "Siz")
    cfg = get_config("code", TINY)
    params = tiny_params(jax.random.PRNGKey(0))
    got = size_oracle(params, seq, cfg, factor, log=lambda m: None)
    assert got["box"].shape == (8, 4)
    np.testing.assert_allclose(got["box"], _tracked_by_hand(params, seq, cfg, factor), atol=1e-3)
    np.testing.assert_allclose(got["error"], metrics.centre_error(got["box"], seq.groundtruth))
    if factor is None:
        np.testing.assert_allclose(got["box"], track_sequence(params, seq, cfg, log=lambda m: None).boxes, atol=1e-3)
        assert np.all(got["error"][1:] < 8.0), got["error"]  # planted target found
    else:
        np.testing.assert_allclose(got["box"][1:, 2:], np.asarray(seq.groundtruth)[1:, 2:] * factor, rtol=1e-5)
        untouched = size_oracle(params, seq, cfg, None, log=lambda m: None)["box"]
        assert np.max(np.abs(got["box"][2:, :2] + got["box"][2:, 2:] / 2
                             - untouched[2:, :2] - untouched[2:, 2:] / 2)) > 1e-3  # the size changed the tracking


def test_size_oracle_refuses_what_it_cannot_do(tmp_path):
    root = make_dataset(tmp_path, [("Siz", 3, (96, 128))])
    seq = open_sequence(root / "Siz")
    params = tiny_params(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="sizes its box with the scale filter"):
        size_oracle(params, seq, get_config("code", TINY + ["scale_filter.enabled=true"]), 1.0)
    with pytest.raises(ValueError, match="factor must be > 0"):
        size_oracle(params, seq, get_config("code", TINY), 0.0)
    (root / "Siz" / "groundtruth_rect.txt").unlink()
    with pytest.raises(ValueError, match="needs the ground truth"):
        size_oracle(params, open_sequence(root / "Siz" / "img", init_box="40,30,20,24"), get_config("code", TINY), 1.0)


def test_size_oracle_cli_names_bad_input_and_goes_on_past_a_failing_sequence(tmp_path):
    """Usage errors before any work; sequences that cannot be read are named in the table and the
    exit code, each after the other (no weights needed for that); a weights file that cannot be
    read stops the run with its name. The tracking itself is tested above."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    root = make_dataset(tmp_path, [("Siz", 3, (96, 128)), ("NoTruth", 3, (96, 128))])
    (root / "NoTruth" / "groundtruth_rect.txt").unlink()

    def cli(*extra):
        return subprocess.run([sys.executable, "-m", "experiments.size_oracle", f"--output_dir={tmp_path / 'out'}",
                               *extra], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)

    seqs = f"--sequences={root / 'Siz'}"
    for extra, message in (([seqs, "--factor=0"], "--factor=0.0: must be > 0"),
                           ([seqs, "--max_frames=1"], "--max_frames=1: must be >= 2"),
                           ([seqs, "--preset=fcnt_plus"], "--preset=fcnt_plus: it sizes its box with the scale filter"),
                           ([seqs, "--preset=nope"], "--preset / --set"),
                           ([seqs, f"--weights={tmp_path / 'no_such.npz'}"], "no_such.npz")):
        done = cli(*extra)
        assert done.returncode != 0 and message in done.stderr, (extra, done.stderr[-500:])
    done = cli(f"--sequences={tmp_path / 'missing'},{root / 'NoTruth'}")
    assert done.returncode == 1, done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "size_oracle.json").read_text())
    assert [r["sequence"] for r in report["sequences"]] == ["missing", "NoTruth"]
    assert "NoTruth" in report["sequences"][1]["error"]  # a folder without its truth is no OTB sequence
    table = (tmp_path / "out" / "size_oracle.md").read_text()
    assert "| missing | failed:" in table and "| NoTruth | failed:" in table


def test_size_oracle_table_by_hand():
    """The CLI's scores skip the first frame and NaN errors; its table gives each row, a failed one
    by name, and the mean of the rows that ran."""
    from experiments.size_oracle import _scores, summary_lines

    assert _scores(np.array([0.0, 5.0, 30.0, np.nan, 10.0]), 20.0) == {"frames": 3, "precision": 2 / 3,
                                                                        "median_error": 10.0}
    assert _scores(np.array([0.0]), 20.0) == {"frames": 0, "precision": None, "median_error": None}
    rows = [{"sequence": "A", "tracked": {"frames": 4, "precision": 1.0, "median_error": 3.0},
             "oracle": {"frames": 4, "precision": 0.5, "median_error": 21.0}},
            {"sequence": "B", "error": "ValueError: bad"},
            {"sequence": "C", "tracked": {"frames": 2, "precision": 0.5, "median_error": 19.0},
             "oracle": {"frames": 2, "precision": 1.0, "median_error": 2.5}}]
    lines = summary_lines(rows, "head")
    assert lines[0] == "head"
    assert "| A | 4 | 1.000 / 3.0 | 0.500 / 21.0 | -0.500 |" in lines
    assert "| B | failed: ValueError: bad | | | |" in lines
    assert "| C | 2 | 0.500 / 19.0 | 1.000 / 2.5 | +0.500 |" in lines
    assert lines[-1] == "| mean of 2 | | 0.750 | 0.750 | +0.000 |"
