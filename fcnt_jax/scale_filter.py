"""A DSST scale filter: the box's size estimated by a 1-D correlation filter over scales.

Not in FCNT. In ``fcnt_plus`` (``ScaleFilterConfig.enabled``; it joined as the candidate
``fcnt_plus_scale_filter``) FCNT's particles place the centre and this filter sizes the box. Issue
19's measurements showed FCNT's own heads carry no usable size signal: their maps' spread follows
the crop (``experiments.scale_response``: GNet's implied size tracks the box with slope ~0.5) and
their raw peak grows with the crop, so the right size gives the highest peak on 2 (GNet) / 6 (SNet)
of 76 frames. The filter is an independent signal: the target's own appearance, compared across
scales.

The method is Danelljan et al., "Accurate Scale Estimation for Robust Visual Tracking" (BMVC 2014),
as its released code (``dsst.m``, ``run_DSST.m``) runs it:

- ``S`` samples of the box at sizes ``a^(ceil(S/2) - n)``, n = 1..S, each resized to one model size,
  described by 31 fHOG features (Felzenszwalb et al., PAMI 2010) in 4-px cells, weighted by a Hann
  window over the scales;
- a filter ``H = conj(G) X / (sum |X|^2 + lambda)`` per feature, in the Fourier domain over scales,
  to a Gaussian label ``G`` on the scale axis; its numerator and denominator are running averages
  with learning rate ``eta``;
- each frame, the argmax of the response at the new centre multiplies the size; then the model is
  updated from a sample at the new centre and size.

Two things differ from ``dsst.m`` and say why where they are: the model patch is a fixed square
(``patch_size``), not the initial box's aspect capped at 512 px, so that the program's shapes never
depend on the box (one compilation per frame shape); and samples read outside the image replicate its
border pixels, as ``get_pixels.m`` does, but through the library's antialiased bicubic resampling.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from fcnt_jax import geometry
from fcnt_jax.config import ScaleFilterConfig

# fHOG: 18 contrast-sensitive and 9 contrast-insensitive orientation bins, 4 texture features
# (Felzenszwalb et al. 2010, Sec. 6.2); the 0.2 truncation and the 0.2357 (= 1 / sqrt(18)) texture
# weight are theirs.
_SIGNED_BINS = 18
_TRUNCATION = 0.2
_TEXTURE_WEIGHT = 0.2357
_NORM_EPS = 1e-4
FHOG_FEATURES = 31


@struct.dataclass
class ScaleModel:
    """The filter's running numerator (scales, features) and denominator (scales,), Fourier domain."""

    numerator: jax.Array  # complex64
    denominator: jax.Array  # float32


def scale_factors(cfg: ScaleFilterConfig) -> np.ndarray:
    """``a^(ceil(S/2) - n)``, n = 1..S: the largest first, 1 at the middle (``dsst.m``)."""
    n = np.arange(1, cfg.num_scales + 1)
    return (cfg.scale_step ** (math.ceil(cfg.num_scales / 2) - n)).astype(np.float32)


def scale_window(cfg: ScaleFilterConfig) -> np.ndarray:
    """MATLAB's symmetric ``hann`` over the scales (``hann(S+1)`` less its first value when S is even)."""
    s = cfg.num_scales
    length = s + 1 if s % 2 == 0 else s
    window = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(length) / (length - 1)))
    return window[1:].astype(np.float32) if s % 2 == 0 else window.astype(np.float32)


def label_spectrum(cfg: ScaleFilterConfig) -> np.ndarray:
    """FFT of the Gaussian label over scales: sigma = S / sqrt(33) x sigma_factor (``dsst.m``)."""
    sigma = cfg.num_scales / math.sqrt(33.0) * cfg.sigma_factor
    offsets = np.arange(1, cfg.num_scales + 1) - math.ceil(cfg.num_scales / 2)
    return np.fft.fft(np.exp(-0.5 * offsets ** 2 / sigma ** 2)).astype(np.complex64)


def dft_matrix(n: int) -> np.ndarray:
    """``F[k, j] = exp(-2 pi i k j / n)``: ``F @ x`` is ``np.fft.fft(x, axis=0)``. The scale axis
    is short (33), so a matrix product does the transform; it keeps XLA's FFT custom call, whose
    role in the test suite's unexplained crashes was not ruled out, out of the tracker's program."""
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n).astype(np.complex64)


def _replicate_matrix(start: jax.Array, extent: jax.Array, in_size: int, valid: jax.Array,
                      out_size: int) -> jax.Array:
    """``geometry.resample_matrix`` with the border pixels replicated outside ``[0, valid)``
    instead of zeros: the weight that falls outside goes to the nearest border pixel."""
    weights = geometry.resample_matrix(start, extent, in_size, out_size)
    taps = jnp.arange(in_size)
    weights = weights * (taps < valid)[None, :]
    missing = 1.0 - jnp.sum(weights, axis=1)
    centre = start + (jnp.arange(out_size) + 0.5) * extent / out_size
    last = (valid - 1).astype(jnp.int32)
    left = jnp.where(centre < valid / 2, missing, 0.0)
    right = missing - left
    weights = weights.at[:, 0].add(left)
    return weights + right[:, None] * (taps == last)[None, :]


def sample_patches(frame: jax.Array, centre: jax.Array, sizes: jax.Array, image_hw: jax.Array,
                   patch_size: int) -> jax.Array:
    """``(n, patch, patch, C)`` float32: boxes of ``sizes`` ``(n, 2)`` (w, h) about ``centre``,
    each resampled to a ``patch_size`` square (antialiased bicubic, border replicated)."""
    height, width = frame.shape[0], frame.shape[1]

    def one(size):
        wy = _replicate_matrix(centre[1] - size[1] / 2, size[1], height, image_hw[0], patch_size)
        wx = _replicate_matrix(centre[0] - size[0] / 2, size[0], width, image_hw[1], patch_size)
        return geometry.resample_image(frame, wy, wx)

    return jax.vmap(one)(sizes)


def fhog(patch: jax.Array, cell_size: int) -> jax.Array:
    """Felzenszwalb's 31 HOG features, ``(rows / cell, cols / cell, 31)``, of an ``(rows, cols, C)``
    patch: per pixel the channel with the largest gradient, its orientation soft-binned into 18
    signed bins, summed over cells; each cell normalised by its four 2x2-cell blocks' energies,
    truncated at 0.2, and summed (signed, unsigned) or projected (texture) over the four."""
    padded = jnp.pad(patch, ((1, 1), (1, 1), (0, 0)), mode="edge")
    gx = padded[1:-1, 2:] - padded[1:-1, :-2]
    gy = padded[2:, 1:-1] - padded[:-2, 1:-1]
    magnitude = jnp.sqrt(gx ** 2 + gy ** 2)
    strongest = jnp.argmax(magnitude, axis=-1)[..., None]
    gx = jnp.take_along_axis(gx, strongest, axis=-1)[..., 0]
    gy = jnp.take_along_axis(gy, strongest, axis=-1)[..., 0]
    magnitude = jnp.take_along_axis(magnitude, strongest, axis=-1)[..., 0]
    angle = jnp.mod(jnp.arctan2(gy, gx), 2.0 * jnp.pi) / (2.0 * jnp.pi) * _SIGNED_BINS
    low = jnp.floor(angle)
    upper_share = angle - low
    low = low.astype(jnp.int32) % _SIGNED_BINS
    bins = jnp.arange(_SIGNED_BINS)
    votes = magnitude[..., None] * ((bins == low[..., None]) * (1.0 - upper_share[..., None])
                                    + (bins == ((low + 1) % _SIGNED_BINS)[..., None]) * upper_share[..., None])
    rows, cols = patch.shape[0] // cell_size, patch.shape[1] // cell_size
    votes = votes[:rows * cell_size, :cols * cell_size]
    signed = votes.reshape(rows, cell_size, cols, cell_size, _SIGNED_BINS).sum(axis=(1, 3))
    unsigned = signed[..., :_SIGNED_BINS // 2] + signed[..., _SIGNED_BINS // 2:]
    energy = jnp.pad(jnp.sum(unsigned ** 2, axis=-1), 1, mode="edge")
    features_signed, features_unsigned, texture = 0.0, 0.0, []
    for dy in (0, 1):
        for dx in (0, 1):
            block = (energy[dy:dy + rows, dx:dx + cols] + energy[dy + 1:dy + rows + 1, dx:dx + cols]
                     + energy[dy:dy + rows, dx + 1:dx + cols + 1] + energy[dy + 1:dy + rows + 1, dx + 1:dx + cols + 1])
            norm = 1.0 / jnp.sqrt(block + _NORM_EPS)
            s = jnp.minimum(signed * norm[..., None], _TRUNCATION)
            u = jnp.minimum(unsigned * norm[..., None], _TRUNCATION)
            features_signed = features_signed + 0.5 * s
            features_unsigned = features_unsigned + 0.5 * u
            texture.append(_TEXTURE_WEIGHT * jnp.sum(u, axis=-1))
    return jnp.concatenate([features_signed, features_unsigned, jnp.stack(texture, axis=-1)], axis=-1)


def scale_features(frame: jax.Array, centre: jax.Array, size: jax.Array, image_hw: jax.Array,
                   cfg: ScaleFilterConfig) -> jax.Array:
    """``(S, D)``: each scale's fHOG, flattened and multiplied by the scale window (``get_scale_sample.m``).
    ``size`` is the box's (w, h) at factor 1; the frame's values are 0-255."""
    factors = jnp.asarray(scale_factors(cfg))
    patches = sample_patches(frame, centre, factors[:, None] * size[None, :], image_hw, cfg.patch_size) / 255.0
    feats = jax.vmap(lambda p: fhog(p, cfg.cell_size))(patches)
    return feats.reshape(cfg.num_scales, -1) * jnp.asarray(scale_window(cfg))[:, None]


def _spectrum(features: jax.Array) -> jax.Array:
    """The DFT of ``(S, D)`` features along the scales."""
    return jnp.matmul(jnp.asarray(dft_matrix(features.shape[0])), features.astype(jnp.complex64),
                      precision=jax.lax.Precision.HIGHEST)


def _sample_model(features: jax.Array, cfg: ScaleFilterConfig) -> ScaleModel:
    spectrum = _spectrum(features)
    numerator = jnp.asarray(label_spectrum(cfg))[:, None] * jnp.conj(spectrum)
    denominator = jnp.sum(jnp.real(spectrum * jnp.conj(spectrum)), axis=1)
    return ScaleModel(numerator=numerator.astype(jnp.complex64), denominator=denominator.astype(jnp.float32))


def init_model(frame: jax.Array, box: jax.Array, image_hw: jax.Array, cfg: ScaleFilterConfig) -> ScaleModel:
    """The model of the first frame's box ``[x0, y0, w, h]``."""
    return _sample_model(scale_features(frame, geometry.box_centre(box), box[2:4], image_hw, cfg), cfg)


def update_model(model: ScaleModel, frame: jax.Array, centre: jax.Array, size: jax.Array, image_hw: jax.Array,
                 cfg: ScaleFilterConfig) -> ScaleModel:
    """The running average, ``(1 - eta) old + eta new``, with a sample at ``centre`` and ``size``."""
    new = _sample_model(scale_features(frame, centre, size, image_hw, cfg), cfg)
    rate = cfg.learning_rate
    return ScaleModel(numerator=(1.0 - rate) * model.numerator + rate * new.numerator,
                      denominator=(1.0 - rate) * model.denominator + rate * new.denominator)


def scale_response(model: ScaleModel, frame: jax.Array, centre: jax.Array, size: jax.Array, image_hw: jax.Array,
                   cfg: ScaleFilterConfig) -> jax.Array:
    """``(S,)``: the filter's response to each scale of the box of ``size`` about ``centre``."""
    spectrum = _spectrum(scale_features(frame, centre, size, image_hw, cfg))
    correlation = jnp.sum(model.numerator * spectrum, axis=1) / (model.denominator + cfg.regularization)
    # The inverse DFT: conj(F) / S.
    inverse = jnp.conj(jnp.asarray(dft_matrix(cfg.num_scales))) / cfg.num_scales
    return jnp.real(jnp.matmul(inverse, correlation, precision=jax.lax.Precision.HIGHEST))


def estimate(model: ScaleModel, frame: jax.Array, centre: jax.Array, size: jax.Array, image_hw: jax.Array,
             cfg: ScaleFilterConfig) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(new (w, h), the factor applied, the response's peak)``: ``size`` times the factor whose
    response is highest, kept between 2.5 px (``dsst.m``'s 5 px for the target with its equal
    padding) and the image's size. The factor and the peak are the tracker's per-frame diagnostics."""
    response = scale_response(model, frame, centre, size, image_hw, cfg)
    factor = jnp.asarray(scale_factors(cfg))[jnp.argmax(response)]
    low = 2.5 / jnp.min(size)
    high = jnp.maximum(jnp.min(jnp.stack([image_hw[1], image_hw[0]]) / size), low)
    factor = jnp.clip(factor, low, high)
    return size * factor, factor, jnp.max(response)


def estimate_size(model: ScaleModel, frame: jax.Array, centre: jax.Array, size: jax.Array, image_hw: jax.Array,
                  cfg: ScaleFilterConfig) -> jax.Array:
    """The box's new (w, h) (see :func:`estimate`)."""
    return estimate(model, frame, centre, size, image_hw, cfg)[0]
