"""The target heat map M (spec §2): a Gaussian stretched to the box, truncated at it, on the grid.

The official ``GetMap.m`` draws, in image space, a Gaussian with sigma_x = w/3 and sigma_y = h/3
(peak 1), writes it into a zero image exactly over the box, crops it with the image's ROI, resizes
to 368x368 and then (bicubic, antialiased) to the 46x46 feature grid. The map is separable,
``g(x) * g(y)``, so we evaluate each 1-D profile at the 368 ROI pixel centres and apply the same
antialiased 368 -> 46 resampling as a 46x368 matrix on each axis: two small matrix products
instead of a 2-D render. The resampling leaves the small ringing the spec mentions near the edges.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fcnt_jax.geometry import resample_matrix, roi_to_image


def truncated_gaussian_profile(coords: jax.Array, start: jax.Array, length: jax.Array,
                               sigma_factor: float = 1.0 / 3.0,
                               limit: jax.Array | None = None) -> jax.Array:
    """1-D profile: exp(-(u - centre)^2 / (2 sigma^2)) inside ``[start, start+length)``, else 0.

    ``limit`` (the image extent) zeroes the part of the box that lies outside the image.
    """
    centre = start + length / 2
    sigma = sigma_factor * length
    values = jnp.exp(-((coords - centre) ** 2) / (2.0 * sigma**2))
    inside = (coords >= start) & (coords < start + length)
    if limit is not None:
        inside = inside & (coords >= 0) & (coords < limit)
    return jnp.where(inside, values, 0.0)


def roi_target_profiles(box: jax.Array, roi: jax.Array, roi_size: int = 368,
                        sigma_factor: float = 1.0 / 3.0,
                        image_hw: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """The (y, x) profiles of the map at the ROI's ``roi_size`` pixel centres."""
    pixel_centres = jnp.arange(roi_size, dtype=jnp.float32) + 0.5
    xs = roi_to_image(jnp.stack([pixel_centres, pixel_centres], -1), roi, roi_size)
    lim_y = None if image_hw is None else image_hw[0]
    lim_x = None if image_hw is None else image_hw[1]
    gy = truncated_gaussian_profile(xs[:, 1], box[1], box[3], sigma_factor, lim_y)
    gx = truncated_gaussian_profile(xs[:, 0], box[0], box[2], sigma_factor, lim_x)
    return gy, gx


def roi_target_map(box: jax.Array, roi: jax.Array, roi_size: int = 368,
                   sigma_factor: float = 1.0 / 3.0, image_hw: jax.Array | None = None) -> jax.Array:
    """The map at ROI resolution ``(roi_size, roi_size)``: peak 1, zero outside the box."""
    gy, gx = roi_target_profiles(box, roi, roi_size, sigma_factor, image_hw)
    return gy[:, None] * gx[None, :]


def target_map(box: jax.Array, roi: jax.Array, grid: int = 46, roi_size: int = 368,
               sigma_factor: float = 1.0 / 3.0, image_hw: jax.Array | None = None) -> jax.Array:
    """The map M on the ``grid x grid`` feature grid, for ``box`` (image coordinates) seen through
    ``roi`` = ``[x0, y0, side]``. Fixed shape, jit-able."""
    gy, gx = roi_target_profiles(box, roi, roi_size, sigma_factor, image_hw)
    down = resample_matrix(jnp.float32(0.0), jnp.float32(roi_size), roi_size, grid, antialias=True)
    return (down @ gy)[:, None] * (down @ gx)[None, :]
