"""The sel-CNN of spec §3 and its first-frame training: ``dropout(0.3) -> conv 3x3 (C -> 1)``,
no nonlinearity [P §4.1], regressing the target map M with the sum loss ``1/2 sum (pred - M)^2``
under Caffe's SGD (the S- and G-branch solvers differ in weight decay only)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from fcnt_jax.config import SelectionConfig
from fcnt_jax.conv import conv_same
from fcnt_jax.optim import caffe_sgd


def init_selcnn(key: jax.Array, channels: int, cfg: SelectionConfig = SelectionConfig(),
                dtype=jnp.float32) -> dict:
    """Weights ~ N(0, init_std^2), bias 0 [O:solver/select_*net.prototxt]."""
    w = cfg.init_std * jax.random.normal(key, (cfg.kernel_size, cfg.kernel_size, channels, 1), dtype)
    return {"w": w, "b": jnp.zeros((1,), dtype)}


def dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """Caffe dropout: keep with probability 1 - rate, scale kept units by 1 / (1 - rate); identity
    when ``key`` is None (test phase)."""
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def selcnn_apply(params: dict, features: jax.Array, rate: float = 0.0,
                 key: jax.Array | None = None) -> jax.Array:
    """``(H, W, C)`` features -> ``(H, W)`` prediction. No nonlinearity [P §4.1]."""
    return conv_same(dropout(features, rate, key), params["w"])[..., 0] + params["b"][0]


def sum_squared_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """1/2 sum (pred - target)^2: the gradient the code feeds back is exactly ``pred - target``."""
    return 0.5 * jnp.sum((pred - target) ** 2)


def selcnn_loss(params: dict, features: jax.Array, target: jax.Array, rate: float = 0.0,
                key: jax.Array | None = None) -> jax.Array:
    return sum_squared_loss(selcnn_apply(params, features, rate, key), target)


def selcnn_optimizer(cfg: SelectionConfig, layer: str) -> optax.GradientTransformation:
    """The S-branch (conv4_3) or G-branch (conv5_3) solver: they differ in weight decay only."""
    decay = cfg.weight_decay_s if layer == "conv4_3" else cfg.weight_decay_g
    return caffe_sgd(cfg.base_lr, cfg.momentum, decay, cfg.weight_decay_mult, cfg.bias_lr_mult)


def optimize(loss_fn, params, tx: optax.GradientTransformation, key: jax.Array, steps: int) -> tuple[dict, jax.Array]:
    """``steps`` optimizer steps on ``loss_fn(params, step_key)`` as one scan, step i's key being
    ``fold_in(key, i)``. Returns the params and the per-step losses."""
    def step(carry, i):
        p, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(p, jax.random.fold_in(key, i))
        updates, opt_state = tx.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))
    return params, losses


def train_selcnn(params: dict, features: jax.Array, target: jax.Array, key: jax.Array,
                 cfg: SelectionConfig, layer: str, iterations: int | None = None) -> tuple[dict, jax.Array]:
    """``iterations`` Caffe SGD steps (default cfg.iterations) with dropout active, as one scan.

    Returns the trained params and the per-iteration losses. The dropout mask of iteration i comes
    from ``fold_in(key, i)``. Jit it with ``cfg``, ``layer`` and ``iterations`` static.
    """
    steps = cfg.iterations if iterations is None else iterations
    loss_fn = lambda p, k: selcnn_loss(p, features, target, cfg.dropout, k)
    return optimize(loss_fn, params, selcnn_optimizer(cfg, layer), key, steps)
