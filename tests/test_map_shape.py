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
