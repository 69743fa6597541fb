"""OPE metrics against hand-computed values, and the published table of shared/data/README.md."""

import numpy as np
import pytest

from fcnt_jax.eval import metrics as M
from tests.conftest import shared_path

GT = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 10]], np.float64)
PRED = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float64)


def test_single_pairs_by_hand():
    assert M.iou(np.array([0, 0, 10, 10]), np.array([5, 0, 10, 10]))[0] == pytest.approx(50 / 150)
    assert M.iou(np.array([0, 0, 10, 10]), np.array([20, 20, 5, 5]))[0] == 0.0
    assert M.centre_error(np.array([0, 0, 10, 10]), np.array([3, 4, 10, 10]))[0] == pytest.approx(5.0)
    # Normalized by the ground truth's size: (3/10, 4/20) -> sqrt(0.09 + 0.04).
    assert M.normalized_centre_error(np.array([3, 4, 10, 20]), np.array([0, 0, 10, 20]))[0] == pytest.approx(np.sqrt(0.13))


def test_curves_leave_out_invalid_ground_truth():
    # Scored frames: 0 (exact) and 1 (shifted 5 px, IoU 1/3); frame 2 is NaN, frame 3 zero width.
    p = M.precision_curve(PRED, GT)
    assert p[4] == 0.5 and p[5] == 1.0 and p[20] == 1.0  # err <= t, so 5 px passes at t = 5
    s = M.success_curve(PRED, GT)
    # IoU 1 > t for t < 1 (20 thresholds); IoU 1/3 > t for t in 0..0.30 (7 thresholds).
    np.testing.assert_allclose(s, ((M.SUCCESS_THRESHOLDS < 1).astype(float) + (M.SUCCESS_THRESHOLDS < 1 / 3)) / 2)
    assert s.mean() == pytest.approx(27 / 42)
    n = M.normalized_precision_curve(PRED, GT)
    assert n[20] == 0.5 and n[-1] == 1.0  # normalized error 0.5 passes only at t = 0.5
    scores = M.sequence_curves(PRED, GT).scores()
    assert scores == pytest.approx({"precision_20": 1.0, "auc": 27 / 42, "success_50": 0.5, "norm_prec@0.2": 0.5,
                                    "norm_prec_auc": 52 / 102, "mean_iou": 2 / 3})


def test_invalid_frames_as_failures():
    scores = M.sequence_curves(PRED, GT, invalid="fail").scores()
    assert scores["precision_20"] == 0.5 and scores["auc"] == pytest.approx(27 / 84)
    assert scores["mean_iou"] == pytest.approx((1 + 1 / 3) / 4)
    with pytest.raises(ValueError, match="invalid='sometimes'"):
        M.sequence_curves(PRED, GT, invalid="sometimes")


def test_bad_predictions_fail_and_all_invalid_is_nan():
    pred = PRED.copy()
    pred[1] = [np.nan, 0, 10, 10]
    assert M.precision_curve(pred, GT)[50] == 0.5  # a NaN prediction is never within any threshold
    pred[1] = [0, 0, 0, 0]
    assert M.success_curve(pred, GT)[0] == 0.5
    assert np.isnan(M.success_curve(PRED[2:3], GT[2:3])).all()
    with pytest.raises(ValueError, match="3 predicted boxes for 4"):
        M.precision_curve(PRED[:3], GT)


def test_mean_over_sequences_is_not_frame_pooled():
    a = M.sequence_curves(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10]]))
    b = M.sequence_curves(np.full((3, 4), [30.0, 0, 10, 10]), np.full((3, 4), [0.0, 0, 10, 10]))
    mean = M.mean_curves([a, b])
    assert mean.precision[20] == 0.5  # frame-pooled would give 0.25
    assert mean.success.mean() == pytest.approx(20 / 21 / 2)
    nan_seq = M.sequence_curves(np.zeros((1, 4)), np.full((1, 4), np.nan))
    assert M.mean_curves([a, nan_seq]).precision[20] == 1.0  # a sequence with no valid frame is left out


def test_groundtruth_scored_against_itself_is_perfect():
    gt = np.array([[3.5, 7, 20, 30], [10, 2, 5, 8], [0, 0, 1, 1]])
    s = M.sequence_curves(gt, gt).scores()
    assert s["precision_20"] == 1 and s["mean_iou"] == 1 and s["auc"] == pytest.approx(20 / 21)


def test_result_files_with_any_delimiter(tmp_path):
    (tmp_path / "a.txt").write_text("1,2,3,4\n5\t6\t7\t8\n\n9 10 11 12\n")
    np.testing.assert_allclose(M.read_result_file(tmp_path / "a.txt"),
                               [[0, 1, 3, 4], [4, 5, 7, 8], [8, 9, 11, 12]])
    with pytest.raises(ValueError, match="missing.txt: result file does not exist"):
        M.read_result_file(tmp_path / "missing.txt")


PUBLISHED = {  # shared/data/README.md: mean over the 8 OTB sequences, precision@20 / AUC
    "MDNet": (0.953, 0.663), "DaSiamRPN": (0.955, 0.658), "SiamRPN": (0.954, 0.665), "ATOM": (0.893, 0.669),
    "UDT": (0.814, 0.554), "UDTplus": (0.797, 0.556), "CFNet": (0.762, 0.549), "SiamFC": (0.757, 0.557),
}


def test_published_results_reproduce_the_readme_table():
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.eval.report import score_tracker, summarize

    results = shared_path("results")
    sequences = load_sequences("otb", shared_path("OTB"))
    assert len(sequences) == 8
    trackers = [score_tracker(results / name, sequences) for name in PUBLISHED]
    for name, curves in summarize(trackers).items():
        assert (round(curves.precision[20], 3), round(curves.success.mean(), 3)) == PUBLISHED[name], name
