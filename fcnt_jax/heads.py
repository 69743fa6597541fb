"""GNet and SNet (spec §4): one architecture, two solvers, trained with Caffe's SGD.

``conv 9x9 (K -> 32) + ReLU -> conv 5x5 (32 -> 1)``, 'same' padding, on the K selected channels of
conv5_3 (GNet) or conv4_3 (SNet). Loss: the sum-of-squares 1/2 sum (pred - M)^2 per sample, the
mean over a batch (the code scales each sample's diff by 0.5 for batches of two), optionally
weighted per position (the discrimination update's mask). Plain functions over a params dict.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from fcnt_jax.config import HeadConfig
from fcnt_jax.optim import caffe_sgd
from fcnt_jax.conv import conv_same


def init_head(key: jax.Array, in_channels: int, cfg: HeadConfig) -> dict:
    """N(0, init_std^2) weights; conv1 bias 0.1 keeps the ReLUs alive while the weights are ~0."""
    k1, k2 = jax.random.split(key)
    c1, k_1, k_2 = cfg.conv1_channels, cfg.conv1_kernel, cfg.conv2_kernel
    return {
        "conv1": {"w": cfg.init_std * jax.random.normal(k1, (k_1, k_1, in_channels, c1)),
                  "b": jnp.full((c1,), cfg.conv1_bias_init)},
        "conv2": {"w": cfg.init_std * jax.random.normal(k2, (k_2, k_2, c1, 1)), "b": jnp.zeros((1,))},
    }


def head_apply(params: dict, features: jax.Array, output_relu: bool = False, impl: str | None = None) -> jax.Array:
    """``(..., H, W, K)`` -> ``(..., H, W)`` heat map. ``impl``: see ``selection.conv_same``."""
    hidden = jax.nn.relu(conv_same(features, params["conv1"]["w"], impl) + params["conv1"]["b"])
    out = conv_same(hidden, params["conv2"]["w"], impl)[..., 0] + params["conv2"]["b"][0]
    return jax.nn.relu(out) if output_relu else out


def head_loss(params: dict, features: jax.Array, targets: jax.Array, weights: jax.Array,
              output_relu: bool = False) -> jax.Array:
    """Batch ``(B, H, W, K)``: mean over B of 1/2 sum_xy weight * (pred - target)^2."""
    pred = head_apply(params, features, output_relu)
    return jnp.mean(0.5 * jnp.sum(weights * (pred - targets) ** 2, axis=(-2, -1)))


def head_optimizer(cfg: HeadConfig, net: str) -> optax.GradientTransformation:
    """``net`` = "gnet" | "snet": the two solvers differ in lr and momentum."""
    lr, momentum = (cfg.gnet_lr, cfg.gnet_momentum) if net == "gnet" else (cfg.snet_lr, cfg.snet_momentum)
    return caffe_sgd(lr, momentum, cfg.weight_decay, cfg.weight_decay_mult, cfg.bias_lr_mult)


def _sgd_step(features: jax.Array, targets: jax.Array, weights: jax.Array, tx: optax.GradientTransformation,
              output_relu: bool):
    """One SGD step on a fixed batch: (params, opt_state) -> (params, opt_state, loss)."""
    def step(p, s):
        loss, grads = jax.value_and_grad(head_loss)(p, features, targets, weights, output_relu)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    return step


def train_head(params: dict, opt_state, features: jax.Array, targets: jax.Array, weights: jax.Array,
               tx: optax.GradientTransformation, steps: int, output_relu: bool = False):
    """``steps`` SGD steps on one fixed batch, as a scan. Returns (params, opt_state, losses)."""
    one = _sgd_step(features, targets, weights, tx, output_relu)

    def step(carry, _):
        p, s, loss = one(*carry)
        return (p, s), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), None, length=steps)
    return params, opt_state, losses


def train_head_for(params: dict, opt_state, features: jax.Array, targets: jax.Array, weights: jax.Array,
                   tx: optax.GradientTransformation, num_steps: jax.Array, output_relu: bool = False):
    """:func:`train_head` for a traced step count, as a while loop; returns (params, opt_state).

    Under ``vmap`` a batch loops as long as its largest count, each element keeping its own
    (finished ones are masked), so a count of 0 throughout the batch costs no step, where a
    vmapped ``lax.cond`` around :func:`train_head` would run every step for every element."""
    one = _sgd_step(features, targets, weights, tx, output_relu)

    def body(carry):
        i, p, s = carry
        p, s, _ = one(p, s)
        return i + 1, p, s

    _, params, opt_state = jax.lax.while_loop(lambda carry: carry[0] < num_steps, body,
                                              (jnp.int32(0), params, opt_state))
    return params, opt_state
