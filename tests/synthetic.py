"""A synthetic tracking sequence: a textured object moving over clutter, a look-alike crossing it."""

from __future__ import annotations

import numpy as np


def _smooth_noise(rng, h, w, scale=4):
    small = rng.random((h // scale + 2, w // scale + 2, 3))
    up = np.kron(small, np.ones((scale, scale, 1)))[:h, :w]
    return up


def synthetic_sequence(num_frames: int = 40, size=(96, 128), obj=(18, 26), seed: int = 0):
    """(frames uint8 (N, H, W, 3), boxes (N, 4) 0-based [x0, y0, w, h] of the target)."""
    rng = np.random.default_rng(seed)
    h, w = size
    background = 60 + 120 * _smooth_noise(rng, h, w)
    oh, ow = obj
    yy, xx = np.mgrid[0:oh, 0:ow]
    texture = np.stack([200 * ((xx // 4 + yy // 4) % 2) + 30, 120 + 100 * np.sin(xx / 2.0), 220 - 6 * yy], -1)
    frames, boxes = [], []
    for t in range(num_frames):
        a = t / max(num_frames - 1, 1)
        x, y = 20 + 70 * a, 30 + 12 * np.sin(2 * np.pi * a)          # the target moves right
        dx, dy = 100 - 85 * a, 36 + 10 * np.cos(2 * np.pi * a)        # the look-alike moves left
        img = background.copy()
        for (px, py) in ((dx, dy), (x, y)):  # the target is drawn last: it occludes the look-alike
            ix, iy = int(round(px)), int(round(py))
            img[iy:iy + oh, ix:ix + ow] = texture[: max(0, min(oh, h - iy)), : max(0, min(ow, w - ix))]
        frames.append(np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8))
        boxes.append([round(x), round(y), ow, oh])
    return np.stack(frames), np.asarray(boxes, np.float64)
