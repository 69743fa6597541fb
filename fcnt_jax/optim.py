"""Caffe's SGD with momentum, as an optax transformation (spec §3.2, §4.2).

Caffe updates ``v <- mu v + lr_p (grad + lambda_p w)``, ``w <- w - v`` with per-parameter
multipliers: weights lr x1 and decay x``decay_mult``; biases lr x``bias_lr_mult`` and no decay
[C:src/caffe/solver.cpp]. With a constant learning rate (FCNT never reaches a step) this equals,
leaf by leaf: add the decay to the gradient (weights only), scale bias gradients by their lr
multiplier, then ``optax.sgd(lr, momentum)`` (whose trace is ``g + mu t`` and update ``-lr t``).

Parameters are nested dicts whose leaves are named ``"w"`` (weights) and ``"b"`` (biases).
"""

from __future__ import annotations

import jax
import optax


def _leaf_mask(params, name: str):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: getattr(path[-1], "key", None) == name, params)


def caffe_sgd(base_lr: float, momentum: float, weight_decay: float, decay_mult: float = 2.0,
              bias_lr_mult: float = 2.0) -> optax.GradientTransformation:
    """Caffe SGD for params whose leaves are ``w`` / ``b``; ``weight_decay`` is the solver's global
    value (the effective decay on weights is ``weight_decay * decay_mult``)."""
    return optax.chain(
        optax.masked(optax.add_decayed_weights(weight_decay * decay_mult), lambda p: _leaf_mask(p, "w")),
        optax.masked(optax.scale(bias_lr_mult), lambda p: _leaf_mask(p, "b")),
        optax.sgd(base_lr, momentum=momentum if momentum > 0 else None),
    )
