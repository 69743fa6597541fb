"""One-pass-evaluation (OPE) metrics in plain NumPy (conventions: shared/docs/anchors.md §B3).

Boxes are ``[x, y, w, h]`` in any one convention shared by prediction and ground truth (the
offset cancels in centre distances and IoU). Frames whose ground truth is not valid (NaN, or
zero/negative size) are left out of every score.
"""

from __future__ import annotations

import numpy as np

PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # 0..50 px, score at 20
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # 0:0.05:1, AUC = mean of the 21 values


def valid_mask(gt: np.ndarray) -> np.ndarray:
    gt = np.asarray(gt, np.float64)
    return np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def centre_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    d = (pred[:, :2] + pred[:, 2:4] / 2) - (gt[:, :2] + gt[:, 2:4] / 2)
    return np.hypot(d[:, 0], d[:, 1])


def iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    x0 = np.maximum(pred[:, 0], gt[:, 0])
    y0 = np.maximum(pred[:, 1], gt[:, 1])
    x1 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y1 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def precision_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    ok = valid_mask(gt)
    err = centre_error(np.asarray(pred)[ok], np.asarray(gt)[ok])
    return (err[None, :] <= PRECISION_THRESHOLDS[:, None]).mean(axis=1) if ok.any() else np.full(51, np.nan)


def success_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    ok = valid_mask(gt)
    overlap = iou(np.asarray(pred)[ok], np.asarray(gt)[ok])
    return (overlap[None, :] > SUCCESS_THRESHOLDS[:, None]).mean(axis=1) if ok.any() else np.full(21, np.nan)


def sequence_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """precision@20 px and success AUC (mean of the 21-threshold curve) of one sequence."""
    n = min(len(pred), len(gt))
    pred, gt = np.asarray(pred)[:n], np.asarray(gt)[:n]
    return {"precision_20": float(precision_curve(pred, gt)[20]),
            "auc": float(success_curve(pred, gt).mean()),
            "mean_iou": float(np.mean(iou(pred[valid_mask(gt)], gt[valid_mask(gt)]))) if valid_mask(gt).any() else float("nan")}
