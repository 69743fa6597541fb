"""The paper's Section 3 feature analyses as library functions (Observations 1-3, Fig. 2-4, Table 1).

Every image is seen as the tracker sees it: the ROI crop around the box (roi_scale x the box
diagonal, resized to 368x368), VGG-16's conv4_3 and conv5_3 (upsampled to conv4_3's 46x46 grid)
and the box as a 0/1 mask on that grid (cells whose centre lies inside the box), which is the
paper's foreground mask pi. The experiment that runs them is ``experiments/feature_analysis.py``.

- Observation 1 / Fig. 2: :func:`observation1`, the map with the largest activation inside the
  box, its input-gradient saliency map (Simonyan et al. 2014, the paper's [26]) and the share of
  each map's mass inside the box.
- Observation 2 / Fig. 3: :func:`box_activation_sums` and :func:`small_channel_shares`.
- Eq. (1) / Fig. 4: :mod:`~fcnt_jax.selection.sparse_coding` and :func:`relative_errors`.
- Table 1 (eq. 2 and 3): :func:`face_vs_nonface` and :func:`identity_accuracy`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from fcnt_jax import backbone, geometry
from fcnt_jax.config import FCNTConfig
from fcnt_jax.selection import sparse_coding as SC

LAYERS = ("conv4_3", "conv5_3")


@dataclasses.dataclass(frozen=True)
class RoiView:
    """One image as the tracker sees it."""

    crop: np.ndarray  # (S, S, 3) float RGB 0..255, the ROI resized to roi_size
    features: dict[str, np.ndarray]  # layer -> (grid, grid, 512), conv5_3 upsampled to the grid
    mask: np.ndarray  # (grid, grid) bool: the paper's foreground mask pi
    box_roi: np.ndarray  # (4,) the box in ROI pixels, 0-based [x0, y0, w, h]


def box_mask(box, roi, cfg: FCNTConfig) -> np.ndarray:
    """(grid, grid) bool: feature cells whose centre lies inside the box."""
    b = np.asarray(geometry.box_to_roi(jnp.asarray(box, jnp.float32), roi, cfg.roi.roi_size)) / cfg.roi.feature_stride
    centres = np.arange(cfg.roi.grid) + 0.5
    inside_x = (centres >= b[0]) & (centres < b[0] + b[2])
    inside_y = (centres >= b[1]) & (centres < b[1] + b[3])
    return inside_y[:, None] & inside_x[None, :]


@functools.partial(jax.jit, static_argnames=("roi_size", "roi_scale"))
def _crop_and_features(vgg_params, frame, box, roi_size: int, roi_scale: float):
    roi = geometry.roi_for_box(box, roi_scale)
    crop = geometry.crop_roi(frame, roi, roi_size)
    return roi, crop, backbone.features(vgg_params, crop[None])


def roi_view(vgg_params, frame: np.ndarray, box: np.ndarray, cfg: FCNTConfig) -> RoiView:
    """The ROI crop of ``frame`` around the 0-based ``box``, its two feature maps and the mask."""
    box = jnp.asarray(box, jnp.float32)
    roi, crop, feats = _crop_and_features(vgg_params, jnp.asarray(frame), box, cfg.roi.roi_size, cfg.roi.roi_scale)
    return RoiView(np.asarray(crop), {k: np.asarray(feats[k][0]) for k in LAYERS}, box_mask(box, roi, cfg),
                   np.asarray(geometry.box_to_roi(box, roi, cfg.roi.roi_size)))


# ---- Observation 1 / Fig. 2 -------------------------------------------------------------------

def box_activation_sums(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(C,) each channel's summed response inside the box: the paper's "activation value" (Fig. 3)."""
    return np.asarray(features, np.float64)[np.asarray(mask, bool)].sum(axis=0)


def mass_inside(values: np.ndarray, inside: np.ndarray) -> float:
    """The share of a non-negative map's mass that lies where ``inside`` holds (0 for an empty map)."""
    values = np.abs(np.asarray(values, np.float64))
    total = values.sum()
    return float(values[np.asarray(inside, bool)].sum() / total) if total > 0 else 0.0


def pixel_box_mask(box_roi: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: ROI pixels whose centre lies inside the box."""
    centres = np.arange(size) + 0.5
    x0, y0, w, h = (float(v) for v in box_roi)
    return ((centres >= y0) & (centres < y0 + h))[:, None] & ((centres >= x0) & (centres < x0 + w))[None, :]


@functools.partial(jax.jit, static_argnames=("layer",))
def input_saliency(vgg_params, crop: jax.Array, layer: str, channel: jax.Array) -> jax.Array:
    """Simonyan et al.'s saliency of one feature map: ``max_rgb |d sum(map) / d image|`` over the
    ROI crop's pixels, through the VGG forward (the layer's own resolution, no upsampling)."""
    def response(rgb):
        maps = backbone.vgg16_conv(vgg_params, backbone.preprocess(rgb[None]))
        return jnp.sum(maps[layer][0, :, :, channel])

    return jnp.max(jnp.abs(jax.grad(response)(crop)), axis=-1)


def observation1(vgg_params, view: RoiView) -> dict[str, dict]:
    """Per layer: the channel with the largest activation inside the box, the share of its
    activation mass and of its input-saliency mass inside the box, and the two maps (for Fig. 2).
    A box covering a fraction ``a`` of the ROI puts ``a`` of a uniform map's mass inside it:
    ``box_area_share`` is that chance level."""
    pixels = pixel_box_mask(view.box_roi, view.crop.shape[0])
    out = {}
    for layer in LAYERS:
        f = view.features[layer]
        channel = int(np.argmax(box_activation_sums(f, view.mask)))
        sal = np.asarray(input_saliency(vgg_params, jnp.asarray(view.crop), layer, channel))
        out[layer] = {"channel": channel, "activation_inside": mass_inside(f[..., channel], view.mask),
                      "saliency_inside": mass_inside(sal, pixels), "box_area_share": float(view.mask.mean()),
                      "activation_map": f[..., channel], "saliency_map": sal}
    return out


# ---- Observation 2 / Fig. 3 -------------------------------------------------------------------

def small_channel_shares(sums: np.ndarray, fractions=(0.01, 0.1)) -> dict[str, float]:
    """The share of channels whose box activation is below each fraction of the largest one."""
    sums = np.asarray(sums, np.float64)
    top = sums.max()
    return {f"below_{f:g}_of_max": float(np.mean(sums < f * top)) if top > 0 else 1.0 for f in fractions}


def activation_histogram(sums_per_image: list[np.ndarray], bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3: the share of channels per bin of (box activation / the image's largest), pooled
    over images. Returns (bin edges (bins + 1,), shares (bins,), summing to 1)."""
    normalised = np.concatenate([np.asarray(s, np.float64) / max(np.max(s), 1e-30) for s in sums_per_image])
    counts, edges = np.histogram(normalised, bins=bins, range=(0.0, 1.0))
    return edges, counts / max(counts.sum(), 1)


# ---- Eq. (1) / Fig. 4 ------------------------------------------------------------------------

def layer_gram(view: RoiView, layer: str) -> SC.Gram:
    return SC.gram(jnp.asarray(view.features[layer], jnp.float64 if jax.config.jax_enable_x64 else jnp.float32),
                   jnp.asarray(view.mask))


def stack_grams(grams: list[SC.Gram]) -> SC.Gram:
    """A batch (leading axis) of Gram statistics, for vmapped solves and errors."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *grams)


def relative_errors(code: jax.Array, grams: SC.Gram) -> np.ndarray:
    """``||pi - F c||^2 / ||pi||^2`` of one code on a batch of images: 1 means "explains nothing"
    (``c = 0``), 0 a perfect reconstruction of the mask (Fig. 4's transfer)."""
    errors = jax.vmap(SC.reconstruction_error, in_axes=(0, None))(grams, code)
    return np.asarray(errors / jnp.maximum(grams.pp, 1e-30))


def fit_code(grams: list[SC.Gram], lam_ratio: float, iterations: int = 3000) -> jax.Array:
    """Eq. (1) over one or several images at once (their statistics pooled); ``lam`` is
    ``lam_ratio`` x the pooled problem's ``lam_max``."""
    pooled = functools.reduce(lambda a, b: a + b, grams)
    return SC.solve(pooled, lam_ratio * SC.lam_max(pooled), iterations)


# ---- Table 1 (eq. 2 and 3) ----------------------------------------------------------------------

def min_errors(codes: list[jax.Array], grams: SC.Gram) -> np.ndarray:
    """(images, codes): eq. (2)/(3)'s ``||pi - F c_i||^2`` of every test image under every code."""
    return np.stack([np.asarray(jax.vmap(SC.reconstruction_error, in_axes=(0, None))(grams, c)) for c in codes], 1)


def best_threshold(errors: np.ndarray, is_face: np.ndarray) -> float:
    """The threshold on eq. (2)'s error that classifies ``error < t`` as face most accurately on
    these images (midpoints between sorted errors; ties to the smaller)."""
    e = np.sort(np.unique(errors))
    candidates = np.concatenate([[e[0] - 1.0], (e[1:] + e[:-1]) / 2, [e[-1] + 1.0]])
    accuracy = [np.mean((errors < t) == is_face) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def face_vs_nonface(errors: np.ndarray, is_face: np.ndarray) -> dict[str, float]:
    """Experiment 1's accuracy, eq. (2): ``e = min_i`` error, face when ``e < threshold``. The
    threshold is chosen on one half of the test images (alternate images) and scored on the other,
    both ways round; ``accuracy`` is the mean of the two held-out accuracies. ``best_accuracy`` is
    the accuracy with the threshold chosen on all of them (an upper bound: the paper does not say
    how its threshold was set)."""
    e = np.asarray(errors, np.float64).min(axis=1)
    is_face = np.asarray(is_face, bool)
    halves = [np.arange(len(e)) % 2 == k for k in (0, 1)]
    held_out = []
    for fit, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        t = best_threshold(e[fit], is_face[fit])
        held_out.append(float(np.mean((e[test] < t) == is_face[test])))
    t_all = best_threshold(e, is_face)
    return {"accuracy": float(np.mean(held_out)), "held_out_accuracies": held_out,
            "best_accuracy": float(np.mean((e < t_all) == is_face)), "threshold_all": t_all}


def identity_accuracy(errors: np.ndarray, identity: np.ndarray) -> float:
    """Experiment 2's accuracy, eq. (3): each image gets the identity whose code reconstructs its
    mask best; ``errors[:, i]`` is under identity i's code."""
    return float(np.mean(np.argmin(np.asarray(errors), axis=1) == np.asarray(identity)))
