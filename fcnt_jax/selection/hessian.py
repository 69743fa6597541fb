"""The diagonal of the sel-CNN loss's Hessian with respect to its input features, four ways.

``closed_form`` is exact for the linear sel-CNN (the official custom Caffe ``Backward2``);
``hvp_probes`` is exact for any differentiable sel-CNN, from Hessian-vector products with
structured probes; ``hutchinson`` is Hutchinson's unbiased but approximate estimator. (The fourth
saliency method, ``exact_deletion``, needs no Hessian: see :mod:`fcnt_jax.selection.saliency`.)
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from fcnt_jax.config import HESSIAN_METHODS
from fcnt_jax.conv import conv_same
from fcnt_jax.selection.selcnn import selcnn_loss
LossFn = Callable[[jax.Array], jax.Array]  # features (H, W, C) -> scalar loss


def hessian_diag_closed_form(params: dict, features: jax.Array) -> jax.Array:
    """Exact diag of d2L/df2 for the linear sel-CNN: the transposed conv of an all-ones map with
    the element-wise squared kernel, h_i = sum_{outputs o covering i} W_{o<-i}^2.

    The loss is 1/2 ||J f + b - M||^2, so the Hessian is J^T J, independent of f, M and b; its
    diagonal is the column sums of J o J. This is the official custom Caffe ``Backward2``
    (a top gradient of ones through W^2) [C:src/caffe/layers/conv_layer.cu].
    """
    w2 = params["w"] ** 2
    _, vjp = jax.vjp(lambda f: conv_same(f, w2), features)
    return vjp(jnp.ones(features.shape[:-1] + (1,), features.dtype))[0]


def hvp(loss_fn: LossFn, features: jax.Array, v: jax.Array) -> jax.Array:
    """Hessian-vector product, forward-over-reverse (jvp of grad)."""
    return jax.jvp(jax.grad(loss_fn), (features,), (v,))[1]


def hessian_diag_hvp_probes(loss_fn: LossFn, features: jax.Array, receptive_radius: int = 1,
                            chunk: int = 64) -> jax.Array:
    """Exact Hessian diagonal from HVPs with structured probes, for any differentiable sel-CNN.

    ``receptive_radius`` r: each prediction depends on inputs within r cells (1 for a 3x3 conv,
    2 for two stacked 3x3 convs). Then H couples inputs only within 2r cells, in any channels. A
    probe holding one channel and a comb of stride 2r+1 therefore touches no coupled pair, and
    ``v * Hv`` reads the diagonal at the comb exactly. (2r+1)^2 x C probes cover every entry once.
    Probes run ``chunk`` at a time (vmapped) and are summed into one accumulator inside a scan, so
    memory is ``chunk`` x |f| whatever the number of probes.
    """
    height, width, channels = features.shape
    stride = 2 * receptive_radius + 1
    num_probes = stride * stride * channels
    num_chunks = -(-num_probes // chunk)
    rows = jnp.arange(height)[:, None]
    cols = jnp.arange(width)[None, :]

    def probe(index):
        c, offset = index // (stride * stride), index % (stride * stride)
        comb = ((rows % stride) == offset // stride) & ((cols % stride) == offset % stride)
        valid = index < num_probes  # padding probes of the last chunk are all-zero
        return (comb[:, :, None] & (jnp.arange(channels) == c)[None, None, :] & valid).astype(features.dtype)

    def one(index):
        v = probe(index)
        return v * hvp(loss_fn, features, v)

    def body(acc, chunk_index):
        indices = chunk_index * chunk + jnp.arange(chunk)
        return acc + jnp.sum(jax.vmap(one)(indices), axis=0), None

    diag, _ = jax.lax.scan(body, jnp.zeros_like(features), jnp.arange(num_chunks))
    return diag


def hessian_diag_hutchinson(loss_fn: LossFn, features: jax.Array, key: jax.Array,
                            num_probes: int = 64) -> jax.Array:
    """Hutchinson's estimator mean_j v_j * H v_j with Rademacher probes. Unbiased but APPROXIMATE:
    the per-entry variance is sum_{j != i} H_ij^2 / m, and here every channel couples with every
    other through the 3x3 kernel, so the error is large at full size (see WORKSPACE.md)."""
    def body(acc, j):
        v = jax.random.rademacher(jax.random.fold_in(key, j), features.shape, features.dtype)
        return acc + v * hvp(loss_fn, features, v), None

    total, _ = jax.lax.scan(body, jnp.zeros_like(features), jnp.arange(num_probes))
    return total / num_probes


def hessian_diagonal(params: dict, features: jax.Array, target: jax.Array, method: str = "closed_form",
                     key: jax.Array | None = None, num_probes: int = 64, chunk: int = 64) -> jax.Array:
    """diag(d2L/df2) of the (test-phase, linear) sel-CNN by name: closed_form | hvp_probes | hutchinson."""
    loss_fn = lambda f: selcnn_loss(params, f, target)
    if method == "closed_form":
        return hessian_diag_closed_form(params, features)
    if method == "hvp_probes":
        return hessian_diag_hvp_probes(loss_fn, features, params["w"].shape[0] // 2, chunk)
    if method == "hutchinson":
        if key is None:
            raise ValueError("hutchinson needs a PRNG key")
        return hessian_diag_hutchinson(loss_fn, features, key, num_probes)
    raise ValueError(f"unknown Hessian-diagonal method {method!r}; choose from {HESSIAN_METHODS[:3]}")
