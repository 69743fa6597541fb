"""The heat-map size measurements (fcnt_jax.eval.map_shape) on maps with a planted box."""

import jax.numpy as jnp
import numpy as np

from fcnt_jax import heatmap
from fcnt_jax.eval import map_shape

ROI = jnp.array([0.0, 0.0, 368.0])  # 1 ROI pixel = 1 image pixel


def test_spread_per_side_matches_a_numerical_integral():
    u = np.linspace(-0.5, 0.5, 200001)  # the box side, sigma = 1/3, cut at the edges
    g = np.exp(-(u**2) / (2 * (1 / 3) ** 2))
    std = np.sqrt(np.sum(g * u**2) / np.sum(g))
    np.testing.assert_allclose(map_shape.SPREAD_PER_SIDE, std, rtol=1e-5)
    assert abs(map_shape.SPREAD_PER_SIDE - 0.2476) < 1e-4


def test_map_spread_recovers_the_planted_box_size():
    box = jnp.array([120.0, 90.0, 60.0, 150.0])
    m = heatmap.roi_target_map(box, ROI, roi_size=368)
    # A second blob outside the window must not count.
    m = m + heatmap.roi_target_map(jnp.array([10.0, 10.0, 30.0, 30.0]), ROI, roi_size=368)
    implied = np.asarray(map_shape.map_spread(m, ROI, box)) / map_shape.SPREAD_PER_SIDE
    np.testing.assert_allclose(implied, [60.0, 150.0], rtol=0.02)
    # Measured around a wrong (narrower) box, the window still holds the whole planted map here.
    narrow = jnp.array([135.0, 90.0, 30.0, 150.0])
    wide = np.asarray(map_shape.map_spread(m, ROI, narrow, window=3.0)) / map_shape.SPREAD_PER_SIDE
    np.testing.assert_allclose(wide, [60.0, 150.0], rtol=0.02)
    empty = map_shape.map_spread(jnp.zeros((368, 368)), ROI, box)
    assert np.all(np.isnan(np.asarray(empty)))


def test_ranking_optimal_scale_is_the_planted_size():
    box = jnp.array([150.0, 120.0, 50.0, 80.0])
    m = heatmap.roi_target_map(box, ROI, roi_size=368)
    assert abs(float(map_shape.ranking_optimal_scale(m, ROI, box, 0.7)) - 1.0) < 1e-6
    # The map of a box 1.3x larger (same centre): the ranking rule grows the box to it.
    big = jnp.array([150.0 - 7.5, 120.0 - 12.0, 65.0, 104.0])
    m_big = heatmap.roi_target_map(big, ROI, roi_size=368)
    assert abs(float(map_shape.ranking_optimal_scale(m_big, ROI, box, 0.7)) - 1.3) < 1e-6
    # A flat map: the mean never falls, so the largest factor wins.
    assert abs(float(map_shape.ranking_optimal_scale(jnp.ones((368, 368)), ROI, box, 0.7)) - max(map_shape.SCALE_FACTORS)) < 1e-6


def _row(frame, truth, implied, box=None, scale=1.0):
    box = truth if box is None else box
    row = {"frame": frame, "truth": truth, "box": box, "decided_by": 0}
    for net in ("g", "s"):
        row[f"{net}_implied_wh"] = implied
        row[f"{net}_optimal_scale_at_box"] = scale
        row[f"{net}_optimal_scale_at_truth"] = scale
    return row


def test_summary_on_planted_rows():
    rows = [_row(i + 1, [0.0, 0.0, 10.0 + i, 20.0 + 2 * i], [2 * (10.0 + i), 20.0 + 2 * i],
                 box=[0.0, 0.0, 10.0 + i, 2 * (20.0 + 2 * i)], scale=1.0 + 0.1 * (i > 0))
            for i in range(6)]
    rows.append(_row(7, None, [5.0, 5.0]))  # no truth: left out
    s = map_shape.summarise_sequence(rows)
    assert s["frames"] == 7 and s["frames_with_truth"] == 6
    np.testing.assert_allclose(s["g"]["implied_corr_wh"], [1.0, 1.0])
    np.testing.assert_allclose(s["g"]["implied_log_error_wh"], [np.log(2.0), 0.0], atol=1e-12)
    np.testing.assert_allclose(s["box_log_error_wh"], [0.0, np.log(2.0)], atol=1e-12)
    assert s["box_area_over_truth_median"] == 2.0
    assert s["s"]["optimal_scale_at_truth_first"] == 1.0 and abs(s["s"]["optimal_scale_at_truth_median_later"] - 1.1) < 1e-12
    table = map_shape.summary_lines({"Planted": s})
    assert len(table) == 4 and "| Planted | GNet | 1.00 / 0.69 | 1.00 / 0.00 | 0.00 / 0.69 | 1.00 / 1.10 | 2.00 |" in table


def test_measure_sequence_boxes_are_the_tracker_s(tmp_path):
    """The measured run is the ordinary run (same boxes as run.track_sequence), with the maps."""
    import jax

    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.run import track_sequence

    from tests.test_backbone import tiny_params
    from tests.test_batch import make_dataset
    from tests.test_tracker import TINY

    cfg = get_config("code", TINY)
    params = tiny_params(jax.random.PRNGKey(0))
    seq = open_sequence(make_dataset(tmp_path, [("Planted", 6, (96, 128))]) / "Planted")
    rows = map_shape.measure_sequence(params, seq, cfg, max_frames=5, log=lambda m: None)
    boxes = track_sequence(params, seq, cfg, log=lambda m: None).boxes[:5]
    assert [r["frame"] for r in rows] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([r["box"] for r in rows[1:]], boxes[1:], atol=1e-3)
    np.testing.assert_allclose(rows[2]["truth"], seq.groundtruth[2])
    for r in rows:
        assert all(0.6 - 1e-6 <= r[k] <= 1.8 + 1e-6 for k in ("g_optimal_scale_at_box", "s_optimal_scale_at_truth"))
        assert len(r["g_implied_wh"]) == 2


def test_centroid_offset_points_from_the_box_to_the_planted_map():
    """The planted map of a box, measured around the same box moved 12 px down and 4 px right: the
    mass inside the moved box lies up and left of its centre (the offset's signs), and around the
    planted box itself the offset is 0 (the map is symmetric)."""
    truth = jnp.array([150.0, 100.0, 40.0, 120.0])
    m = heatmap.roi_target_map(truth, ROI, roi_size=368)
    moved = truth + jnp.array([4.0, 12.0, 0.0, 0.0])
    out = map_shape._frame_measures(m, m, ROI, moved, truth, 0.7, 0.75)
    dx, dy = np.asarray(out["s_centroid_offset"])
    assert -4.0 < dx < 0.0 and -12.0 < dy < -2.0, (dx, dy)
    same = map_shape._frame_measures(m, m, ROI, truth, truth, 0.7, 0.75)
    np.testing.assert_allclose(np.asarray(same["g_centroid_offset"]), [0.0, 0.0], atol=0.05)


def _vote_row(box_wh, truth_wh, g_wh, s_wh):
    return {"box": [0.0, 0.0, *box_wh], "truth": None if truth_wh is None else [0.0, 0.0, *truth_wh],
            "g_implied_wh": list(g_wh), "s_implied_wh": list(s_wh)}


def test_size_votes_count_by_hand():
    """Planted rows, box 20x20. Width: truth 30 (off; GNet 25 right, SNet 15 wrong: no agreement),
    truth 10 (off; both 15: agree right), truth 20.5 (on: |log 20.5 / 20| < 0.05; both 22 and 24:
    agree on a step away of log(22 / 20)). Height: truth 20 in all (on); GNet 18 / 25 / NaN, SNet
    19 / 10 / 19: one agreement, a shrink of log(19 / 20), one disagreement, one row skipped. A row
    without truth is skipped."""
    rows = [_vote_row([20, 20], [30, 20], [25, 18], [15, 19]),
            _vote_row([20, 20], [10, 20], [15, 25], [15, 10]),
            _vote_row([20, 20], [20.5, 20], [22, float("nan")], [24, 19]),
            _vote_row([20, 20], None, [40, 40], [40, 40])]
    votes = map_shape.size_votes(rows)
    w, h = votes["w"], votes["h"]
    assert (w["off"], w["g_right"], w["g_wrong"], w["s_right"], w["s_wrong"]) == (2, 2, 0, 1, 1)
    assert (w["agree_right"], w["agree_wrong"], w["on"], w["agree_on"]) == (1, 0, 1, 1)
    np.testing.assert_allclose(w["mean_step_on"], np.log(22 / 20))
    assert (h["off"], h["on"], h["agree_on"]) == (0, 2, 1)
    np.testing.assert_allclose(h["mean_step_on"], np.log(19 / 20) / 2)
    table = map_shape.size_vote_lines({"Planted": votes})
    assert table[-1].startswith("| all | w, h | 2 | 2 / 0 | 1 / 1 | 1 / 0 | 3 | 2 |")
    np.testing.assert_allclose(float(table[-1].split("|")[-2]), (np.log(22 / 20) + np.log(19 / 20)) / 3, atol=1e-4)


def test_size_vote_script_reads_map_shape_records_and_names_a_bad_file(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    records = tmp_path / "records"
    records.mkdir()
    (records / "Planted.json").write_text(json.dumps([_vote_row([20, 20], [10, 20], [15, 25], [15, 10])]))
    (records / "map_shape.json").write_text("{}")  # the summary: not a per-frame record, skipped
    out = tmp_path / "out"
    run = lambda: subprocess.run([sys.executable, "-m", "experiments.size_vote", f"--map_shape_dirs={records}",  # noqa: E731
                                  f"--output_dir={out}"], cwd=repo, capture_output=True, text=True, timeout=300)
    done = run()
    assert done.returncode == 0, done.stderr
    written = json.loads((out / "size_vote.json").read_text())
    assert written["votes"]["Planted"]["w"]["agree_right"] == 1
    assert "| Planted | w | 1 | 1 / 0 | 1 / 0 | 1 / 0 |" in (out / "size_vote.md").read_text()
    (records / "Broken.json").write_text(json.dumps([{"box": [0, 0, 1, 1]}]))
    done = run()
    assert done.returncode != 0 and "Broken.json" in done.stderr and "experiments.map_shape" in done.stderr


def test_response_slope_by_hand():
    f = np.array(map_shape.RESPONSE_FACTORS)
    assert abs(map_shape.response_slope(f, 30.0 * f**0.5) - 0.5) < 1e-12  # half from the box
    assert abs(map_shape.response_slope(f, np.full(f.shape, 30.0))) < 1e-12  # the target alone
    assert abs(map_shape.response_slope(f, 30.0 * f) - 1.0) < 1e-12  # the box alone
    with_nan = 30.0 * f**0.25
    with_nan[1] = np.nan  # an empty window is left out
    assert abs(map_shape.response_slope(f, with_nan) - 0.25) < 1e-12
    assert np.isnan(map_shape.response_slope(f, np.full(f.shape, np.nan)))


def test_summarise_response_on_planted_rows():
    f = list(map_shape.RESPONSE_FACTORS)
    rows = []
    for frame, slope in ((1, 0.2), (31, 0.4), (61, 0.9)):
        g = [[20.0 * 1.1 * x**slope, 40.0 * x] for x in f]  # w: 10 % too big at factor 1; h: the box
        s = [[20.0, 40.0 * 0.9] for _ in f]  # the target alone, h 10 % too small
        rows.append({"frame": frame, "truth": [0.0, 0.0, 20.0, 40.0], "factors": f, "g_implied_wh": g,
                     "s_implied_wh": s})
    out = map_shape.summarise_response(rows)
    np.testing.assert_allclose(out["g"]["slope_wh"], [0.4, 1.0], atol=1e-9)  # median over frames
    np.testing.assert_allclose(out["g"]["log_bias_wh"], [np.log(1.1), 0.0], atol=1e-9)
    np.testing.assert_allclose(out["s"]["slope_wh"], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(out["s"]["log_bias_wh"], [0.0, np.log(0.9)], atol=1e-9)
    assert map_shape.response_lines({"Planted": out})[-1] == \
        "| Planted | 3 | 0.40 / 1.00 | +0.10 / +0.00 | 0.00 / 0.00 | +0.00 / -0.11 |"
    other = {**out, "g": {"slope_wh": [0.8, 0.0], "log_bias_wh": [0.3, 0.2]}}
    assert map_shape.response_lines({"Planted": out, "Other": other, "Third": other})[-1] == \
        "| median of 3 |  | 0.80 / 0.00 | +0.30 / +0.20 | 0.00 / 0.00 | +0.00 / -0.11 |"


def test_scale_response_at_factor_one_reads_the_maps_the_tracker_makes(tmp_path):
    """On frame 1 the tracker's first step crops around the given box, which is the truth; so the
    factor-1 measurement must equal map_spread of that step's own maps around the truth. Other
    factors crop other ROIs (the response differs from a pure box-size scaling)."""
    import jax

    from fcnt_jax import localize, tracker
    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence

    from tests.test_backbone import tiny_params
    from tests.test_batch import make_dataset
    from tests.test_tracker import TINY

    cfg = get_config("fcnt_plus", TINY)
    params = tiny_params(jax.random.PRNGKey(0))
    seq = open_sequence(make_dataset(tmp_path, [("Planted", 4, (96, 128))]) / "Planted")
    rows = map_shape.scale_response(params, seq, cfg, [1, 3], log=lambda m: None)
    assert [r["frame"] for r in rows] == [1, 3]
    np.testing.assert_allclose(rows[1]["truth"], seq.groundtruth[2])
    with seq.frames(stop=1) as frames:
        first = next(iter(frames))
    hw = jnp.asarray(first.shape[:2], jnp.float32)
    state = tracker.init(params, first, jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(0), cfg=cfg,
                         image_hw=hw)
    _, out = tracker.step(params, state, first, cfg=cfg, return_maps=True)
    truth = jnp.asarray(seq.groundtruth[0], jnp.float32)
    at_one = rows[0]["factors"].index(1.0)
    for net, heat in (("g", out.g_map), ("s", out.s_map)):
        want = np.asarray(localize.map_spread(heat, out.roi, truth) / localize.SPREAD_PER_SIDE)
        np.testing.assert_allclose(rows[0][f"{net}_implied_wh"][at_one], want, rtol=1e-4)
    implied = np.asarray(rows[0]["g_implied_wh"])
    assert np.all(np.isfinite(implied)) and not np.allclose(implied[0], implied[-1])
    for net, peak in (("g", out.g_peak), ("s", out.s_peak)):  # the raw peak the tracker records
        np.testing.assert_allclose(rows[0][f"{net}_peak"][at_one], float(peak), rtol=1e-5)
    assert not np.allclose(rows[0]["g_peak"][0], rows[0]["g_peak"][-1])


def test_peak_best_factors_skip_frame_one_and_count_by_hand():
    f = [0.8, 1.0, 1.25]
    rows = [{"frame": 1, "factors": f, "g_peak": [0.1, 0.9, 0.2], "s_peak": [0.1, 0.9, 0.2]},  # training crop
            {"frame": 21, "factors": f, "g_peak": [0.5, 0.4, 0.3], "s_peak": [0.1, 0.2, 0.3]},
            {"frame": 41, "factors": f, "g_peak": [0.2, 0.6, 0.3], "s_peak": [0.1, 0.2, 0.7]},
            {"frame": 61, "factors": f, "g_implied_wh": []}]  # written before peaks were recorded
    best = map_shape.peak_best_factors(rows)
    assert best == {"g": [0.8, 1.0], "s": [1.25, 1.25]}
    lines = map_shape.peak_lines({"A": best, "B": {"g": [1.25], "s": []}}, f)
    assert lines[2] == "| A | GNet | 1 | 1 | 0 | -0.11 |"  # median of log 0.8 and log 1.0
    assert lines[3] == f"| A | SNet (frame-1) | 0 | 0 | 2 | {np.log(1.25):+.2f} |"
    assert lines[5] == "| B | SNet (frame-1) | 0 | 0 | 0 |  |"
    assert lines[6] == f"| all 2 | GNet | 1 | 1 | 1 | {0.0:+.2f} |"


def test_scale_response_script_rejects_factors_without_one(tmp_path):
    """The peak table needs factor 1 (the right size) among the crops; a list without it, or one
    that is not numbers, is refused before any weights load, naming the flag."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    for bad in ("0.9,1.1", "0.9,big"):
        done = subprocess.run([sys.executable, "-m", "experiments.scale_response", f"--factors={bad}",
                               f"--output_dir={tmp_path}"], cwd=repo, capture_output=True, text=True, timeout=300)
        assert done.returncode != 0 and "--factors" in done.stderr, done.stderr
