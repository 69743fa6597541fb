"""Pluggable channel selectors: one protocol, a registry by name, and the built-in rules.

A selector scores the channels of one layer from the first frame::

    scores = selector(features, target, key, cfg, layer)

``features`` ``(H, W, C)`` are the layer's maps on the feature grid, ``target`` ``(H, W)`` the
first-frame heat map M the heads regress (a Gaussian on the box), ``key`` a PRNG key,
``cfg`` the :class:`~fcnt_jax.config.SelectionConfig` (jit-static) and ``layer`` ``"conv4_3"`` or
``"conv5_3"``. It returns ``(C,)`` scores, higher = keep; the tracker keeps the top
``cfg.num_channels`` (:func:`select_channels`), so K stays static under jit. A selector must be a
pure, jittable function of its arrays.

``selection.method`` names the selector. The built-in ones:

- ``saliency``: the paper's / official code's second-order saliency (spec §3), the default.
- ``first_order``: its ``-g f`` term alone (the same trained sel-CNN).
- ``activation``: the activation summed over the target (Fig. 3's box sum, with M as a soft box).
- ``lasso``: the coefficients of eq. (1) (non-negative sparse coding of M by the maps).
- ``random``: uniform scores, a control.
- ``gates``: per-channel non-negative gates on the sel-CNN's input, learned with it under an L1
  penalty (differentiable).
- ``perturbed_topk``: logits whose perturbed top-K mask (Berthet et al. 2020, optax's
  perturbations) gates the sel-CNN's input, trained end to end through M's regression loss
  (differentiable).

Your own: ``@register_selector("mine")`` on a function with the signature above, then
``cfg.override(["selection.method=mine"])``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import jax
import jax.numpy as jnp
import optax
from optax import perturbations

from fcnt_jax import config as config_lib
from fcnt_jax.config import SelectionConfig
from fcnt_jax.selection import sparse_coding
from fcnt_jax.selection.saliency import first_order_term, saliency, top_k_channels
from fcnt_jax.selection.selcnn import dropout, init_selcnn, optimize, sum_squared_loss, train_selcnn


class Selector(Protocol):
    def __call__(self, features: jax.Array, target: jax.Array, key: jax.Array, cfg: SelectionConfig,
                 layer: str) -> jax.Array: ...


_SELECTORS: dict[str, Selector] = {}


def register_selector(name: str, fn: Selector | None = None, *, replace: bool = False):
    """Register ``fn`` as ``selection.method=name`` (usable as a decorator). A built-in name or one
    already taken fails unless ``replace``; the name becomes valid in every config built after."""
    def add(f: Selector) -> Selector:
        if not name or not isinstance(name, str):
            raise ValueError(f"selector name must be a non-empty string, got {name!r}")
        if name in _SELECTORS and not replace:
            raise ValueError(f"selector {name!r} is already registered (pass replace=True to override it)")
        _SELECTORS[name] = f
        config_lib.add_selection_method(name)
        return f

    return add if fn is None else add(fn)


def get_selector(name: str) -> Selector:
    if name not in _SELECTORS:
        raise KeyError(f"no selector named {name!r}; registered: {', '.join(selector_names())}")
    return _SELECTORS[name]


def selector_names() -> tuple[str, ...]:
    return tuple(_SELECTORS)


def select_channels(features: jax.Array, target: jax.Array, key: jax.Array, cfg: SelectionConfig,
                    layer: str) -> tuple[jax.Array, jax.Array]:
    """First-frame selection for one layer: score with ``cfg.method``, keep the top ``cfg.num_channels``.

    Returns (indices (K,) best first, scores (C,)). Jit with cfg and layer static.
    """
    scores = get_selector(cfg.method)(features, target, key, cfg, layer)
    if scores.shape != features.shape[-1:]:
        raise ValueError(f"selector {cfg.method!r} returned scores of shape {scores.shape}; "
                         f"expected ({features.shape[-1]},), one per channel")
    return top_k_channels(scores, cfg.num_channels), scores


def _trained_selcnn(features, target, key, cfg: SelectionConfig, layer: str):
    """The official first-frame sel-CNN (init, Caffe SGD), with the key split the tracker has always
    used: (init, train, probe)."""
    init_key, train_key, probe_key = jax.random.split(key, 3)
    params = init_selcnn(init_key, features.shape[-1], cfg, features.dtype)
    params, _ = train_selcnn(params, features, target, train_key, cfg, layer)
    return params, probe_key


@register_selector("saliency")
def saliency_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """spec §3: train the sel-CNN, score ``sum (-g f + sign/2 h f^2)`` with ``cfg.hessian_method``."""
    params, probe_key = _trained_selcnn(features, target, key, cfg, layer)
    return saliency(params, features, target, cfg.hessian_sign, cfg.hessian_method, probe_key)


@register_selector("first_order")
def first_order_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """The saliency's first-order term ``-sum g f`` alone, on the same trained sel-CNN: the loss
    change of zeroing a channel to first order."""
    params, _ = _trained_selcnn(features, target, key, cfg, layer)
    return first_order_term(params, features, target)


@register_selector("activation")
def activation_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """``sum_xy M(x, y) f_k(x, y)``: Fig. 3's activation summed over the target, with the heat map M
    as a soft box (its peak is the box centre). Needs no training; ``key`` is unused."""
    del key, cfg, layer
    return jnp.einsum("hw,hwc->c", target.astype(features.dtype), features, precision=jax.lax.Precision.HIGHEST)


@register_selector("lasso")
def lasso_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """Eq. (1)'s coefficients c >= 0 coding M by the maps, at ``lam = cfg.lasso_lambda x lam_max``.

    Active channels (c > 0) rank first by c. Inactive ones rank after them by ``-grad_k``, how close
    each is to entering the model (``grad_k >= 0`` there at the optimum, by the KKT conditions, so
    these scores are <= 0): the order in which a smaller lambda would add them, instead of an
    arbitrary order among equal zeros.
    """
    del key, layer
    g = sparse_coding.gram(features, target)
    lam = cfg.lasso_lambda * sparse_coding.lam_max(g)
    c = sparse_coding.solve(g, lam, cfg.lasso_iterations)
    return jnp.where(c > 0, c, -sparse_coding.gradient(g, c, lam))


@register_selector("random")
def random_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """Uniform scores from ``key``: a random K channels, the control every rule must beat."""
    del target, cfg, layer
    return jax.random.uniform(key, features.shape[-1:])


def _normalised(features: jax.Array) -> jax.Array:
    """Features over their overall RMS (one scalar, channels' relative sizes kept), so the learned
    selectors' Adam step and penalty mean the same on conv4_3 and conv5_3 of any image."""
    return features / jnp.maximum(jnp.sqrt(jnp.mean(features**2)), 1e-12)


def softplus_inverse(y: float) -> float:
    return math.log(math.expm1(y))


def unit_filters(w: jax.Array) -> jax.Array:
    """Each input channel's ``(kh, kw)`` filter scaled to unit norm: ``w`` keeps only directions."""
    return w / jnp.maximum(jnp.sqrt(jnp.sum(w**2, axis=(0, 1, 3), keepdims=True)), 1e-12)


def channel_responses(features: jax.Array, w: jax.Array) -> jax.Array:
    """Each channel's own 'same' response ``W_k * f_k``: ``(H, W, C)`` features and ``(kh, kw, C, 1)``
    filters -> ``(H, W, C)``; summed over channels it is the sel-CNN's conv. Computed once per
    training step as kh*kw shifted products, so that a masked or gated prediction is one
    contraction of these with the mask or the gates (a convolution per sampled mask is what made
    the first perturbed_topk slow: see WORKSPACE.md)."""
    kh, kw = w.shape[0], w.shape[1]
    height, width = features.shape[0], features.shape[1]
    padded = jnp.pad(features, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = jnp.zeros_like(features)
    for dy in range(kh):
        for dx in range(kw):
            out = out + padded[dy:dy + height, dx:dx + width] * w[dy, dx, :, 0]
    return out


def _responses_loss(responses: jax.Array, weights: jax.Array, bias: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error of ``sum_k weights_k responses_k + bias`` against M: the sel-CNN's fit
    with each channel's response scaled by a gate or a mask."""
    return sum_squared_loss(responses @ weights + bias[0], target) / target.size


def gated_loss(params: dict, features: jax.Array, target: jax.Array, l1: float, rate: float = 0.0,
               key: jax.Array | None = None) -> jax.Array:
    """The ``gates`` objective: mean squared error of the gated sel-CNN on M plus ``l1 * mean(g)``.

    Gates ``g = softplus(params["gate"]) >= 0`` scale each channel's unit-norm filter, so a gate is
    the norm of that channel's effective filter and the L1 penalty is a group lasso over channels
    (with free filter norms the filters would grow and every gate shrink alike). A gate is never
    exactly 0, so the ranking has no ties.
    """
    gates = jax.nn.softplus(params["gate"])
    responses = channel_responses(dropout(features, rate, key), unit_filters(params["w"]))
    return _responses_loss(responses, gates, params["b"], target) + l1 * jnp.mean(gates)


def _adam_fit(loss_fn, params: dict, key: jax.Array, iterations: int, lr: float) -> tuple[dict, jax.Array]:
    """Adam, whose step is scale-free, unlike the sel-CNN's Caffe SGD at lr 1e-10."""
    return optimize(loss_fn, params, optax.adam(lr), key, iterations)


def train_gates(features: jax.Array, target: jax.Array, key: jax.Array,
                cfg: SelectionConfig) -> tuple[dict, jax.Array]:
    """Gates and filter directions learned jointly (dropout as the sel-CNN's), from gates ``cfg.gate_init``
    and random unit filters. Returns (params, losses)."""
    init_key, train_key = jax.random.split(key)
    f = _normalised(features)
    w = jax.random.normal(init_key, (cfg.kernel_size, cfg.kernel_size, f.shape[-1], 1), f.dtype)
    params = {"w": w, "b": jnp.zeros((1,), f.dtype), "gate": jnp.full(f.shape[-1:], softplus_inverse(cfg.gate_init), f.dtype)}
    loss_fn = lambda p, k: gated_loss(p, f, target, cfg.gate_l1, cfg.dropout, k)
    return _adam_fit(loss_fn, params, train_key, cfg.learned_iterations, cfg.learned_lr)


@register_selector("gates")
def gates_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """The learned gates ``softplus(gate)``: a channel the L1 penalty can close without hurting the
    fit of M scores low."""
    del layer
    params, _ = train_gates(features, target, key, cfg)
    return jax.nn.softplus(params["gate"])


def hard_top_k_mask(logits: jax.Array, k: int) -> jax.Array:
    """1 on the K largest logits, 0 elsewhere (not differentiable: it is piecewise constant)."""
    return jnp.zeros_like(logits).at[jax.lax.top_k(logits, k)[1]].set(1.0)


def perturbed(fun: Callable[[jax.Array], jax.Array], num_samples: int,
              sigma: float) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``(key, logits) -> E[fun(logits + sigma Z)]`` with Gumbel Z, by Monte Carlo (optax's
    perturbations, Berthet et al. 2020): differentiable in ``logits`` (score-function estimate,
    the unperturbed value as baseline) even where ``fun`` is piecewise constant."""
    return perturbations.make_perturbed_fun(fun, num_samples, sigma, perturbations.Gumbel())


def masked_loss(params: dict, mask: jax.Array, features: jax.Array, target: jax.Array, rate: float = 0.0,
                key: jax.Array | None = None) -> jax.Array:
    """The sel-CNN's regression of M (mean squared error) on the masked input ``features * mask``."""
    return _responses_loss(channel_responses(dropout(features, rate, key), params["w"]), mask, params["b"], target)


def perturbed_topk_loss(params: dict, features: jax.Array, target: jax.Array, key: jax.Array, k: int,
                        num_samples: int, sigma: float, rate: float = 0.0) -> jax.Array:
    """``E_Z[ loss(sel-CNN on the K channels of top_k(logits + sigma Z)) ]``.

    The loss is taken at hard top-K masks, so a channel's logit rises when the samples that keep it
    fit M better: what top-K selection needs. (Through the expected, soft mask the filters would
    rescale to undo any mask, and the logits would learn nothing.) The filters' gradient is the
    mean over the sampled masks.
    """
    mask_key, drop_key = jax.random.split(key)
    responses = channel_responses(dropout(features, rate, drop_key), params["w"])  # shared by the samples
    fun = lambda logits: _responses_loss(responses, hard_top_k_mask(logits, k), params["b"], target)
    return perturbed(fun, num_samples, sigma)(mask_key, params["logits"])


def train_perturbed_topk(features: jax.Array, target: jax.Array, key: jax.Array,
                         cfg: SelectionConfig) -> tuple[dict, jax.Array]:
    """Logits (from 0: every K-subset equally likely) and sel-CNN trained jointly through the
    perturbed top-``cfg.num_channels`` mask. Returns (params, losses)."""
    init_key, train_key = jax.random.split(key)
    f = _normalised(features)
    params = dict(init_selcnn(init_key, f.shape[-1], cfg, f.dtype), logits=jnp.zeros(f.shape[-1:], f.dtype))
    loss_fn = lambda p, k: perturbed_topk_loss(p, f, target, k, cfg.num_channels, cfg.perturb_samples,
                                               cfg.perturb_sigma, cfg.dropout)
    return _adam_fit(loss_fn, params, train_key, cfg.learned_iterations, cfg.learned_lr)


@register_selector("perturbed_topk")
def perturbed_topk_selector(features, target, key, cfg: SelectionConfig, layer: str) -> jax.Array:
    """The learned logits: their top K is the mask the sel-CNN was trained through."""
    del layer
    params, _ = train_perturbed_topk(features, target, key, cfg)
    return params["logits"]
