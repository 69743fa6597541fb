"""The paper's channel saliency (spec §3, [P eq. 4-6]) and top-K selection.

Each channel k is scored by the second-order estimate of the loss change when it is zeroed,
``S_k = sum_xy ( -g f + sign * 1/2 h f^2 )`` with ``g = dL/df`` and ``h = diag(d2L/df2)``
(``sign = -1`` in the official code, ``+1`` in the paper), and the top K channels are kept.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fcnt_jax.selection.hessian import hessian_diagonal
from fcnt_jax.selection.selcnn import selcnn_loss


def deletion_quadratic_term(params: dict, features: jax.Array) -> jax.Array:
    """Per channel, sum_xy (W_k * f_k)^2: the exact second-order term of deleting channel k, from
    one depthwise conv (feature_group_count = C)."""
    channels = features.shape[-1]
    w = jnp.transpose(params["w"], (0, 1, 3, 2))  # (kh, kw, 1, C): one filter per channel
    y = jax.lax.conv_general_dilated(features[None], w, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     feature_group_count=channels, precision=jax.lax.Precision.HIGHEST)
    return jnp.sum(y[0] ** 2, axis=(0, 1))


def first_order_term(params: dict, features: jax.Array, target: jax.Array) -> jax.Array:
    """Per channel, ``-sum_xy g f`` with ``g = dL/df`` (test phase): the first-order estimate of the
    loss change when the channel is zeroed."""
    g = jax.grad(lambda f: selcnn_loss(params, f, target))(features)
    return -jnp.sum(g * features, axis=(0, 1))


def saliency(params: dict, features: jax.Array, target: jax.Array, hessian_sign: float = -1.0,
             method: str = "closed_form", key: jax.Array | None = None, num_probes: int = 64,
             chunk: int = 64) -> jax.Array:
    """Per-channel scores ``(C,)``: sum_xy (-g f + sign * 1/2 h f^2), in test phase (no dropout).

    ``exact_deletion`` replaces sum_xy h f^2 by the exact sum_xy (W_k * f_k)^2; with the paper's
    sign (+1) the score is then exactly L(f with channel k zeroed) - L(f) (the loss is quadratic).
    """
    first = first_order_term(params, features, target)
    if method == "exact_deletion":
        second = deletion_quadratic_term(params, features)
    else:
        h = hessian_diagonal(params, features, target, method, key, num_probes, chunk)
        second = jnp.sum(h * features**2, axis=(0, 1))
    return first + hessian_sign * 0.5 * second


def top_k_channels(scores: jax.Array, k: int) -> jax.Array:
    """Indices of the K highest scores, best first (K static, so shapes stay static under jit)."""
    return jax.lax.top_k(scores, k)[1]


def gather_channels(features: jax.Array, indices: jax.Array) -> jax.Array:
    return jnp.take(features, indices, axis=-1)
