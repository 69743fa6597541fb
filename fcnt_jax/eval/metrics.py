"""One-pass-evaluation (OPE) metrics in plain NumPy (conventions: shared/docs/anchors.md §B3).

Boxes are ``[x, y, w, h]`` in any one convention shared by prediction and ground truth (the
offset cancels in centre distances and IoU). Frames whose ground truth is not valid (NaN, or
zero/negative size) are left out of every score by default (``invalid="exclude"``, as the issue
asks and as pytracking's ``exclude_invalid_frames=True``); ``invalid="fail"`` counts them as
failures over the full length instead (pytracking's default, LaSOT's denominator).

Curves are computed per sequence; averages over sequences are means of the per-sequence curves
(not frame-pooled), as every OTB toolkit does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np

PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # 0..50 px; score at 20 px (index 20)
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # 0:0.05:1; AUC = mean of the 21 values
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100  # 0..0.5; value at 0.2 (index 20)
InvalidPolicy = Literal["exclude", "fail"]


def valid_mask(gt: np.ndarray) -> np.ndarray:
    """Frames whose ground truth is finite with positive width and height."""
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def centre_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance between box centres, px."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    d = (pred[:, :2] + pred[:, 2:4] / 2) - (gt[:, :2] + gt[:, 2:4] / 2)
    return np.hypot(d[:, 0], d[:, 1])


def normalized_centre_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Centre difference divided by the ground truth's width and height, then its norm (LaSOT)."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    d = ((pred[:, :2] + pred[:, 2:4] / 2) - (gt[:, :2] + gt[:, 2:4] / 2)) / gt[:, 2:4]
    return np.hypot(d[:, 0], d[:, 1])


def iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Intersection over union of matching rows; 0 when the union is empty."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    x0 = np.maximum(pred[:, 0], gt[:, 0])
    y0 = np.maximum(pred[:, 1], gt[:, 1])
    x1 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y1 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = np.clip(pred[:, 2], 0, None) * np.clip(pred[:, 3], 0, None) + gt[:, 2] * gt[:, 3] - inter
    # Clipped: float rounding of x + w - x can make a box's overlap with itself exceed 1 by an ulp.
    return np.clip(np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0), 0.0, 1.0)


def _prepared(pred, gt, invalid: InvalidPolicy):
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth rows")
    if invalid not in ("exclude", "fail"):
        raise ValueError(f"invalid={invalid!r}: choose exclude or fail")
    ok = valid_mask(gt)
    # A prediction that is not a box (NaN, non-positive size) scores as a failure.
    pred_ok = valid_mask(pred)
    return pred, gt, ok, pred_ok


def _curve(values: np.ndarray, ok: np.ndarray, thresholds: np.ndarray, passes, invalid: InvalidPolicy):
    hits = passes(values[None, :], thresholds[:, None])  # (thresholds, frames), False where invalid
    if invalid == "exclude":
        return hits[:, ok].mean(axis=1) if ok.any() else np.full(len(thresholds), np.nan)
    return (hits & ok[None, :]).mean(axis=1) if len(ok) else np.full(len(thresholds), np.nan)


def precision_curve(pred: np.ndarray, gt: np.ndarray, invalid: InvalidPolicy = "exclude") -> np.ndarray:
    """Fraction of frames with centre error <= t for t = 0..50 px (51 values)."""
    pred, gt, ok, pred_ok = _prepared(pred, gt, invalid)
    err = np.where(ok & pred_ok, centre_error(pred, gt), np.inf)
    return _curve(err, ok, PRECISION_THRESHOLDS, np.less_equal, invalid)


def normalized_precision_curve(pred: np.ndarray, gt: np.ndarray, invalid: InvalidPolicy = "exclude") -> np.ndarray:
    """Fraction of frames with normalized centre error <= t for t = 0..0.5 (51 values)."""
    pred, gt, ok, pred_ok = _prepared(pred, gt, invalid)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(ok & pred_ok, normalized_centre_error(pred, gt), np.inf)
    return _curve(err, ok, NORM_PRECISION_THRESHOLDS, np.less_equal, invalid)


def success_curve(pred: np.ndarray, gt: np.ndarray, invalid: InvalidPolicy = "exclude") -> np.ndarray:
    """Fraction of frames with IoU > t (strictly) for t = 0:0.05:1 (21 values)."""
    pred, gt, ok, pred_ok = _prepared(pred, gt, invalid)
    with np.errstate(invalid="ignore"):
        overlap = np.where(ok & pred_ok, iou(pred, gt), -1.0)
    return _curve(overlap, ok, SUCCESS_THRESHOLDS, np.greater, invalid)


def with_sizes(pred: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Boxes at ``pred``'s centres with the sizes ``sizes`` (``(N, 2)`` or one ``(2,)`` for all)."""
    pred = np.asarray(pred, np.float64).reshape(-1, 4)
    sizes = np.broadcast_to(np.asarray(sizes, np.float64), (len(pred), 2))
    centre = pred[:, :2] + pred[:, 2:4] / 2
    return np.concatenate([centre - sizes / 2, sizes], axis=1)


def with_truth_size(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Boxes at ``pred``'s centres with ``gt``'s sizes: what a perfect size estimate would score at
    the tracker's own centres (the headroom of a size fix)."""
    return with_sizes(pred, np.asarray(gt, np.float64).reshape(-1, 4)[:, 2:4])


def with_truth_centre(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Boxes of ``pred``'s sizes at ``gt``'s centres: what perfect localisation would score with the
    tracker's own sizes (the headroom of a centre fix)."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    centre = gt[:, :2] + gt[:, 2:4] / 2
    return np.concatenate([centre - pred[:, 2:4] / 2, pred[:, 2:4]], axis=1)


@dataclasses.dataclass(frozen=True)
class Curves:
    """The three OPE curves of one sequence (or their mean over sequences) and the mean IoU."""

    precision: np.ndarray  # (51,) over PRECISION_THRESHOLDS
    success: np.ndarray  # (21,) over SUCCESS_THRESHOLDS
    norm_precision: np.ndarray  # (51,) over NORM_PRECISION_THRESHOLDS
    mean_iou: float  # average overlap (AO) over the scored frames

    def scores(self) -> dict[str, float]:
        """The named scores: each name says which curve and which point or area."""
        return {
            "precision_20": float(self.precision[20]),
            "auc": float(self.success.mean()),
            "success_50": float(self.success[10]),  # OP50: IoU > 0.5
            "norm_prec@0.2": float(self.norm_precision[20]),
            "norm_prec_auc": float(self.norm_precision.mean()),
            "mean_iou": float(self.mean_iou),
        }


def sequence_curves(pred: np.ndarray, gt: np.ndarray, invalid: InvalidPolicy = "exclude") -> Curves:
    """All curves of one sequence; ``pred`` and ``gt`` must have the same number of rows."""
    _, gt_arr, ok, pred_ok = _prepared(pred, gt, invalid)
    overlaps = np.where(pred_ok, iou(pred, gt_arr), 0.0)
    denom = ok if invalid == "exclude" else np.ones_like(ok)
    mean_iou = float(np.sum(np.where(ok, overlaps, 0.0)) / denom.sum()) if denom.any() else float("nan")
    return Curves(precision_curve(pred, gt, invalid), success_curve(pred, gt, invalid),
                  normalized_precision_curve(pred, gt, invalid), mean_iou)


def mean_curves(curves: list[Curves]) -> Curves:
    """Per-sequence curves averaged over sequences (sequences with no valid frame left out)."""
    kept = [c for c in curves if np.isfinite(c.success).all()]
    if not kept:
        raise ValueError("no sequence with a valid ground-truth frame to average")
    return Curves(np.mean([c.precision for c in kept], axis=0), np.mean([c.success for c in kept], axis=0),
                  np.mean([c.norm_precision for c in kept], axis=0), float(np.mean([c.mean_iou for c in kept])))


def scored_rows(pred: np.ndarray, gt: np.ndarray, scored: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rows a benchmark scores: the frames both ``pred`` and ``gt`` cover, less those its rule
    drops (``scored`` False: GOT-10k's and LaSOT's frame 1 and absent frames). Dropped frames are
    not scored at all, unlike frames without a valid box, which ``invalid`` decides."""
    n = min(len(pred), len(gt))
    pred, gt = np.asarray(pred, np.float64)[:n], np.asarray(gt, np.float64)[:n]
    if scored is None:
        return pred, gt
    keep = np.asarray(scored, bool)[:n]
    return pred[keep], gt[keep]


def sequence_scores(pred: np.ndarray, gt: np.ndarray, invalid: InvalidPolicy = "exclude",
                    scored: np.ndarray | None = None) -> dict[str, float]:
    """The named scores of one sequence, over the frames both ``pred`` and ``gt`` cover that the
    benchmark's rule scores (see :func:`scored_rows`)."""
    return sequence_curves(*scored_rows(pred, gt, scored), invalid).scores()


def read_result_file(path: str | Path) -> np.ndarray:
    """An OTB-style result file (``x,y,w,h`` per line, 1-based; commas, tabs or spaces) as 0-based boxes."""
    from fcnt_jax.data.sequence import read_box_file
    from fcnt_jax.geometry import box_from_otb

    return box_from_otb(np.asarray(read_box_file(Path(path), kind="result"), np.float64).reshape(-1, 4))
