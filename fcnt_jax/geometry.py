"""Boxes, the ROI crop and its inverse, as fixed-shape jit-able functions.

Coordinate convention (used everywhere inside the library): a box is ``[x0, y0, w, h]`` in float,
0-based *pixel-edge* coordinates: pixel ``i`` covers ``[i, i+1)``, so the box covers
``[x0, x0+w) x [y0, y0+h)`` and its centre is ``(x0 + w/2, y0 + h/2)``. OTB's 1-based ``x,y,w,h``
is converted once, at the reader (``x0 = x - 1``), and back when results are written.

The ROI (spec §1.1) is a square of side ``roi_scale x diagonal`` centred on the box, resampled to
``roi_size x roi_size`` with the bicubic kernel MATLAB's ``imresize`` uses (Keys, a = -0.5),
antialiased when shrinking, and zeros outside the image (as ``ext_roi.m`` zero-pads). The official
code rounds the ROI corners to whole pixels; we keep them continuous (a sub-pixel difference).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Antialiasing widens the kernel by the shrink factor; cap it so the support (and so the static
# number of normalisation taps) stays bounded. 31x shrink = a ROI of side 11,400 px at 368.
_MAX_KERNEL_SCALE = 31.0
_NORM_TAPS = 2 * int(np.ceil(2 * _MAX_KERNEL_SCALE)) + 4


def cubic_kernel(x: jax.Array) -> jax.Array:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB imresize 'bicubic')."""
    x = jnp.abs(x)
    x2, x3 = x * x, x * x * x
    near = 1.5 * x3 - 2.5 * x2 + 1.0
    far = -0.5 * x3 + 2.5 * x2 - 4.0 * x + 2.0
    return jnp.where(x <= 1.0, near, jnp.where(x < 2.0, far, 0.0))


def resample_matrix(src_start: jax.Array, src_extent: jax.Array, in_size: int, out_size: int,
                    antialias: bool = True) -> jax.Array:
    """Weights ``(out_size, in_size)`` that resample ``[src_start, src_start+src_extent)`` of a
    1-D signal of ``in_size`` pixels to ``out_size`` pixels.

    Samples outside ``[0, in_size)`` read zeros: weights are normalised by the kernel's sum over
    *all* integer taps, in or out of the signal, exactly as if the signal were zero-padded.
    """
    dtype = jnp.float32
    src_start = jnp.asarray(src_start, dtype)
    src_extent = jnp.asarray(src_extent, dtype)
    step = src_extent / out_size  # source pixels per output pixel
    kscale = jnp.clip(step, 1.0, _MAX_KERNEL_SCALE) if antialias else jnp.asarray(1.0, dtype)
    # Output pixel centre o + 0.5 maps to edge coordinate src_start + (o + 0.5) * step, i.e. to
    # pixel-centre coordinate (that - 0.5).
    centres = src_start + (jnp.arange(out_size, dtype=dtype) + 0.5) * step - 0.5
    taps = jnp.arange(in_size, dtype=dtype)
    weights = cubic_kernel((centres[:, None] - taps[None, :]) / kscale)
    base = jnp.floor(centres)[:, None]
    offsets = jnp.arange(-(_NORM_TAPS // 2), _NORM_TAPS // 2 + 1, dtype=dtype)[None, :]
    norm = jnp.sum(cubic_kernel((centres[:, None] - (base + offsets)) / kscale), axis=1, keepdims=True)
    return weights / norm


def box_centre(box: jax.Array) -> jax.Array:
    return box[..., :2] + 0.5 * box[..., 2:4]


def roi_for_box(box: jax.Array, roi_scale: float = 2.0) -> jax.Array:
    """``[x0, y0, side]`` of the square ROI: side = roi_scale x diagonal, centred on the box."""
    side = roi_scale * jnp.sqrt(box[..., 2] ** 2 + box[..., 3] ** 2)
    centre = box_centre(box)
    return jnp.stack([centre[..., 0] - side / 2, centre[..., 1] - side / 2, side], axis=-1)


def crop_roi(image: jax.Array, roi: jax.Array, out_size: int = 368, antialias: bool = True,
             image_hw: jax.Array | None = None) -> jax.Array:
    """Resample the square ``roi`` = ``[x0, y0, side]`` of an ``(H, W, C)`` image to
    ``(out_size, out_size, C)`` float32; zeros outside the image.

    ``image_hw`` gives the true size when ``image`` is zero-padded to a larger common shape (batch
    tracking): pixels beyond it count as outside. The output shape never depends on the box.
    """
    height, width = image.shape[0], image.shape[1]
    wy = resample_matrix(roi[1], roi[2], height, out_size, antialias)
    wx = resample_matrix(roi[0], roi[2], width, out_size, antialias)
    if image_hw is not None:
        wy = wy * (jnp.arange(height) < image_hw[0])[None, :]
        wx = wx * (jnp.arange(width) < image_hw[1])[None, :]
    return resample_image(image, wy, wx)


def resample_image(image: jax.Array, wy: jax.Array, wx: jax.Array) -> jax.Array:
    """``(H, W, C)`` resampled by row weights ``wy`` ``(h, H)`` and column weights ``wx`` ``(w, W)``
    (from :func:`resample_matrix`) to ``(h, w, C)`` float32."""
    rows = jnp.einsum("yh,hwc->ywc", wy, image.astype(jnp.float32), precision=jax.lax.Precision.HIGHEST)
    return jnp.einsum("xw,ywc->yxc", wx, rows, precision=jax.lax.Precision.HIGHEST)


def roi_to_image(points: jax.Array, roi: jax.Array, roi_size: int = 368) -> jax.Array:
    """Map ``(..., 2)`` edge coordinates in the ROI's ``roi_size`` frame to image coordinates
    (plain broadcasting between ``points[..., :]`` and ``roi[..., :]``)."""
    return roi[..., :2] + points * (roi[..., 2:3] / roi_size)


def image_to_roi(points: jax.Array, roi: jax.Array, roi_size: int = 368) -> jax.Array:
    """Inverse of :func:`roi_to_image`."""
    return (points - roi[..., :2]) * (roi_size / roi[..., 2:3])


def box_to_roi(box: jax.Array, roi: jax.Array, roi_size: int = 368) -> jax.Array:
    """A box ``[x0, y0, w, h]`` in image coordinates, expressed in the ROI frame."""
    factor = roi_size / roi[..., 2:3]
    return jnp.concatenate([(box[..., :2] - roi[..., :2]) * factor, box[..., 2:4] * factor], axis=-1)


def box_to_state(box: jax.Array, template_size: int = 64) -> jax.Array:
    """IVT state ``[cx, cy, s, r]``: centre, scale s = w / 64, aspect r = h / w (spec §5.2).

    The official state also has rotation and skew, which FCNT never samples (always 0).
    """
    centre = box_centre(box)
    return jnp.stack([centre[..., 0], centre[..., 1], box[..., 2] / template_size,
                      box[..., 3] / box[..., 2]], axis=-1)


def state_to_box(state: jax.Array, template_size: int = 64) -> jax.Array:
    w = state[..., 2] * template_size
    h = w * state[..., 3]
    return jnp.stack([state[..., 0] - w / 2, state[..., 1] - h / 2, w, h], axis=-1)


def box_from_otb(box_1based: np.ndarray) -> np.ndarray:
    """OTB's 1-based ``x,y,w,h`` -> the library's 0-based edge coordinates."""
    out = np.array(box_1based, dtype=np.float64, copy=True)
    out[..., :2] -= 1.0
    return out


def box_to_otb(box: np.ndarray) -> np.ndarray:
    out = np.array(box, dtype=np.float64, copy=True)
    out[..., :2] += 1.0
    return out
