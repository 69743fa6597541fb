"""VGG-16 up to conv5_3 as a pure function on NHWC batches (spec §1.2-1.3).

``features(params, rgb)`` takes RGB in 0..255 (uint8 or float), applies the Caffe preprocessing
(RGB -> BGR, minus the mean pixel, no scaling: the convention of the ImageNet weights and of
FCNT's learning rates) and returns post-ReLU conv4_3 (stride 8) and conv5_3 (stride 16) brought
to conv4_3's grid by bicubic upsampling, as the official code does with ``imresize``.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from fcnt_jax.weights import LAYERS

# Caffe/Keras VGG-16 mean pixel, in BGR order. [O:util/impreprocess.m], weights.md
MEAN_BGR = (103.939, 116.779, 123.68)
# Max-pool after these layers (VGG-16 config D); none after conv5_3 (FCNT stops there).
_POOL_AFTER = ("conv1_2", "conv2_2", "conv3_3", "conv4_3")

Params = Mapping[str, Mapping[str, jax.Array]]


def preprocess(rgb: jax.Array) -> jax.Array:
    """RGB 0..255 -> BGR minus the mean, float32."""
    bgr = rgb.astype(jnp.float32)[..., ::-1]
    return bgr - jnp.asarray(MEAN_BGR, jnp.float32)


def to_device_params(params: Mapping[str, Mapping[str, np.ndarray]], dtype=jnp.float32) -> dict:
    """Host arrays -> a device pytree ``{layer: {"w", "b"}}`` in ``dtype``."""
    return {name: {"w": jnp.asarray(params[name]["w"], dtype), "b": jnp.asarray(params[name]["b"], dtype)}
            for name, _, _ in LAYERS}


def _conv_relu(x: jax.Array, layer: Mapping[str, jax.Array], dtype) -> jax.Array:
    y = jax.lax.conv_general_dilated(
        x.astype(dtype), layer["w"].astype(dtype), window_strides=(1, 1), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"), preferred_element_type=jnp.float32)
    return jax.nn.relu(y + layer["b"].astype(jnp.float32))


def _max_pool(x: jax.Array) -> jax.Array:
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def vgg16_conv(params: Params, x: jax.Array, dtype=jnp.float32) -> dict[str, jax.Array]:
    """Preprocessed NHWC input -> {"conv4_3": (N, H/8, W/8, 512), "conv5_3": (N, H/16, W/16, 512)}."""
    out = {}
    for name, _, _ in LAYERS:
        x = _conv_relu(x, params[name], dtype)
        if name in ("conv4_3", "conv5_3"):
            out[name] = x
        if name in _POOL_AFTER:
            x = _max_pool(x)
    return out


def conv_flops(height: int, width: int) -> int:
    """FLOPs (2 per multiply-add) of the 13 convolutions on one ``height x width`` input.

    Only kernel taps that fall inside the (pooled) image count: SAME padding's zeros are no
    work, and XLA's cost analysis does not count them either. 368x368 gives 81.2 GFLOP, the
    roofline behind a frame rate (GFLOP x fps = the convolution throughput it takes).
    """
    def taps(n: int) -> int:  # a 3-wide kernel over n positions: 3 taps inside, 2 at each edge
        return 3 * n - 2 if n > 1 else 1

    flops, h, w = 0, height, width
    for name, c_in, c_out in LAYERS:
        flops += 2 * taps(h) * taps(w) * c_in * c_out
        if name in _POOL_AFTER:
            h, w = h // 2, w // 2
    return flops


def upsample_to(x: jax.Array, height: int, width: int) -> jax.Array:
    """Bicubic (Keys a = -0.5, as MATLAB imresize) resize of NHWC maps to (height, width)."""
    return jax.image.resize(x, (x.shape[0], height, width, x.shape[3]), method="cubic")


def features(params: Params, rgb: jax.Array, dtype=jnp.float32) -> dict[str, jax.Array]:
    """RGB NHWC batch (0..255) -> conv4_3 and conv5_3 on conv4_3's grid, both float32.

    A 368x368 input gives two (N, 46, 46, 512) maps. ``dtype`` is the convolutions' compute dtype
    (float32 or bfloat16); accumulation and outputs stay float32.
    """
    maps = vgg16_conv(params, preprocess(rgb), dtype)
    conv4 = maps["conv4_3"]
    conv5 = upsample_to(maps["conv5_3"], conv4.shape[1], conv4.shape[2])
    return {"conv4_3": conv4, "conv5_3": conv5}
