"""Planted truths on real frames: a known change applied to a real image, so that a component can
be checked against it (the scale filter's tests, ``experiments.scale_alignment``); and the scale
filter run alone on such a zoom, or on a sequence at its truth's centre."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from fcnt_jax.config import ScaleFilterConfig
    from fcnt_jax.data.sequence import Sequence


def zoomed(frame: np.ndarray, centre, zoom: float) -> np.ndarray:
    """``frame`` (uint8 H x W x 3) magnified ``zoom`` times about ``centre`` (x, y): a planted scale
    change."""
    from PIL import Image

    a, (cx, cy) = 1.0 / zoom, centre  # out(p) = in(c + (p - c) / zoom)
    return np.asarray(Image.fromarray(frame).transform(frame.shape[1::-1], Image.AFFINE,
                                                       (a, 0, cx - a * cx, 0, a, cy - a * cy), Image.BICUBIC))


def planted_zooms(frames: int) -> np.ndarray:
    """The zoom of each frame after the first: 1.01^-1 ... 1.01^-frames, then back to 1."""
    down = 1.01 ** -np.arange(1, frames + 1)
    return np.concatenate([down, 1.01 ** (-frames + np.arange(1, frames + 1))])


@functools.cache
def _jitted_filter():
    """``scale_filter.estimate`` and ``update_model`` jitted once (the config static), so every run
    on frames of one size shares one compilation."""
    import jax

    from fcnt_jax import scale_filter as sf

    return jax.jit(sf.estimate, static_argnames="cfg"), jax.jit(sf.update_model, static_argnames="cfg")


def run_scale_filter(first: np.ndarray, box: np.ndarray, count: int, frame_at: Callable[[int], np.ndarray],
                     centre_at: Callable[[int, np.ndarray], np.ndarray | None],
                     cfg: ScaleFilterConfig) -> tuple[np.ndarray, np.ndarray]:
    """The scale filter alone, as the tracker runs it: trained on ``first`` at ``box``, then for
    step t = 0 .. count-1 estimated on ``frame_at(t)`` from the previous size at ``centre_at(t,
    size)`` and updated at the new size there; where ``centre_at`` gives None the step is held (size
    and model kept; the frame is not read). Returns the sizes (count, 2) and the response peaks
    (count,; NaN where held)."""
    import jax.numpy as jnp

    from fcnt_jax import scale_filter as sf

    estimate, update = _jitted_filter()
    hw = jnp.asarray(first.shape[:2], jnp.float32)
    model = sf.init_model(jnp.asarray(first), jnp.asarray(box, jnp.float32), hw, cfg)
    size = jnp.asarray(box[2:4], jnp.float32)
    sizes, peaks = [], []
    for t in range(count):
        # An offline loop: the centre may depend on the size (the jitter), so the size comes back
        # to the host each step; the tracker's own frame loop has no such sync.
        centre = centre_at(t, np.asarray(size, np.float64))
        peak = np.nan
        if centre is not None:
            frame, at = jnp.asarray(frame_at(t)), jnp.asarray(centre, jnp.float32)
            size, _, peak = estimate(model, frame, at, size, hw, cfg)
            model = update(model, frame, at, size, hw, cfg)
        sizes.append(np.asarray(size, np.float64))
        peaks.append(float(peak))
    return np.asarray(sizes).reshape(-1, 2), np.asarray(peaks)


def run_filter(image: np.ndarray, box: np.ndarray, zooms: np.ndarray, jitter: float, rng: np.random.Generator,
               cfg: ScaleFilterConfig) -> np.ndarray:
    """The filter on ``image`` zoomed by each of ``zooms`` about ``box``'s centre, estimated and
    updated at that centre plus N(0, (jitter x side)^2) per axis: rows (true zoom, the box's side
    over the first box's (width), the response peak)."""
    centre = box[:2] + box[2:] / 2
    sizes, peaks = run_scale_filter(image, box, len(zooms), lambda t: zoomed(image, centre, float(zooms[t])),
                                    lambda t, size: centre + rng.normal(0.0, jitter, 2) * size, cfg)
    return np.stack([np.asarray(zooms, np.float64), sizes[:, 0] / box[2], peaks], axis=1)


def filter_at_true_centre(seq: Sequence, max_frames: int, cfg: ScaleFilterConfig) -> np.ndarray:
    """The filter on ``seq``'s own frames (the first ``max_frames``), trained on its first box and
    run as the tracker runs it, but at the truth's centre on every frame (an oracle centre; a frame
    without a valid truth holds the size and model). The boxes (0-based ``x, y, w, h``) per frame,
    the first the given box, each centred on the truth (or, held, on the box before)."""
    from fcnt_jax.data.sequence import load_frame

    seq = seq.truncated(max_frames)
    gt = np.asarray(seq.groundtruth, np.float64)
    box = np.asarray(seq.init_box, np.float64)
    centres = gt[1:, :2] + gt[1:, 2:] / 2
    sizes, _ = run_scale_filter(load_frame(seq.frame_paths[0]), box, len(seq) - 1,
                                lambda t: load_frame(seq.frame_paths[t + 1]),
                                lambda t, size: centres[t] if np.all(np.isfinite(centres[t])) else None, cfg)
    boxes = [box]
    for centre, size in zip(centres, sizes):
        if not np.all(np.isfinite(centre)):
            centre = boxes[-1][:2] + boxes[-1][2:] / 2
        boxes.append(np.concatenate([centre - size / 2, size]))
    return np.asarray(boxes)
