"""Planted truths on real frames: a known change applied to a real image, so that a component can
be checked against it (the scale filter's tests, ``experiments.scale_alignment``)."""

from __future__ import annotations

import numpy as np


def zoomed(frame: np.ndarray, centre, zoom: float) -> np.ndarray:
    """``frame`` (uint8 H x W x 3) magnified ``zoom`` times about ``centre`` (x, y): a planted scale
    change."""
    from PIL import Image

    a, (cx, cy) = 1.0 / zoom, centre  # out(p) = in(c + (p - c) / zoom)
    return np.asarray(Image.fromarray(frame).transform(frame.shape[1::-1], Image.AFFINE,
                                                       (a, 0, cx - a * cx, 0, a, cy - a * cy), Image.BICUBIC))
