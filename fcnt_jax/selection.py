"""Feature-map selection (spec §3): the sel-CNN, its training, the saliency and top-K.

The research API. The sel-CNN is ``dropout(0.3) -> conv 3x3 (C -> 1)``, trained on the first
frame's features ``f`` (H, W, C) to regress the target map M with the *sum* loss
``L = 1/2 sum (pred - M)^2``. Each channel k is then scored by the second-order estimate of the loss
change when the channel is zeroed,

    S_k = sum_xy ( -g f  + sign * 1/2 h f^2 ),   g = dL/df,  h = diag(d2L/df2),

with ``sign = -1`` in the official code and ``+1`` in the paper (config.selection.hessian_sign),
and the top K channels are kept. The Hessian diagonal can be computed four ways
(:data:`HESSIAN_METHODS`): exactly in closed form (what the code's custom Caffe ``Backward2``
does), exactly from Hessian-vector products with structured probes (works for any differentiable
sel-CNN), approximately with Hutchinson's estimator, or replaced by the exact loss change of
deleting the channel (``exact_deletion``).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from fcnt_jax.config import SelectionConfig
from fcnt_jax.optim import caffe_sgd

HESSIAN_METHODS = ("closed_form", "hvp_probes", "hutchinson", "exact_deletion")
LossFn = Callable[[jax.Array], jax.Array]  # features (H, W, C) -> scalar loss


# ---- the sel-CNN ----------------------------------------------------------------------------

def conv_same(x: jax.Array, w: jax.Array, impl: str | None = None) -> jax.Array:
    """'Same' cross-correlation of ``(..., H, W, C)`` with an HWIO kernel (Caffe's conv, pad k//2).

    ``impl``: "xla" (one convolution), "shifted" (a sum of kh*kw matmuls over shifted views),
    "rows" (see :func:`_conv_rows`: one large matmul), "taps" (see :func:`_conv_taps`: one
    matmul, then shifted sums of its outputs) or "auto"/None, the choice for SGD loops: on CPU,
    where XLA's convolution inside loops (every scan of SGD steps) is ~30-36x slower than these
    matmul forms, "rows" for kernels with several outputs and "taps" for single-output ones (the
    sel-CNN, the heads' conv2), the fastest in each case (``python -m experiments.conv_impl``);
    "xla" elsewhere. Outside loops use :func:`forward_conv_impl`. All compute the same sums
    (float32 round-off apart).
    """
    if impl in (None, "auto"):
        impl = "xla" if jax.default_backend() != "cpu" else ("rows" if w.shape[-1] > 1 else "taps")
    squeeze = x.ndim == 3
    x = x[None] if squeeze else x
    if impl == "xla":
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                         precision=jax.lax.Precision.HIGHEST)
    elif impl == "rows":
        y = _conv_rows(x, w)
    elif impl == "taps":
        y = _conv_taps(x, w)
    elif impl == "shifted":
        kh, kw = w.shape[0], w.shape[1]
        height, width = x.shape[1], x.shape[2]
        padded = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
        y = sum(jnp.einsum("nhwc,co->nhwo", padded[:, dy:dy + height, dx:dx + width], w[dy, dx],
                           precision=jax.lax.Precision.HIGHEST)
                for dy in range(kh) for dx in range(kw))
    else:
        raise ValueError(f"conv_same: impl={impl!r}, expected 'xla', 'shifted', 'rows', 'taps' or 'auto'")
    return y[0] if squeeze else y


def forward_conv_impl() -> str:
    """The fastest ``conv_same`` outside loops (the heads' per-frame forward): "taps" on CPU
    (~2x faster than XLA's convolution there, ``experiments.conv_impl``), XLA's elsewhere."""
    return "taps" if jax.default_backend() == "cpu" else "xla"


def _conv_taps(x: jax.Array, w: jax.Array) -> jax.Array:
    """The 'same' convolution as one matmul of the input by all kh*kw taps at once
    (``C x kh*kw*O``), then the sum over taps of each tap's output shifted into place.

    No shifted copies of the input and no padded rows in the matmul (a tap's contribution that
    falls outside the output is cut off and the rest zero-padded in the same fused sum, so the
    matmul does exactly the convolution's multiply-adds): the fastest forward on CPU, and in SGD
    loops for single-output kernels; with many outputs its weight gradient (a transposed matmul
    with kh*kw*O columns) is slow on XLA:CPU, so SGD loops use "rows" for those.
    """
    n, height, width, c = x.shape
    kh, kw, _, o = w.shape
    taps = jnp.transpose(w, (2, 0, 1, 3)).reshape(c, kh * kw * o)
    out = jnp.dot(x.reshape(-1, c), taps, precision=jax.lax.Precision.HIGHEST)
    out = out.reshape(n, height, width, kh, kw, o)
    # Output (h, w) gets tap (dy, dx) of input (h + dy - kh//2, w + dx - kw//2) where that exists.
    return sum(_shifted(out[..., dy, dx, :], {1: dy - kh // 2, 2: dx - kw // 2})
               for dy in range(kh) for dx in range(kw))


def _shifted(a: jax.Array, shifts: dict[int, int]) -> jax.Array:
    """``a`` moved along each ``axis: s`` of ``shifts`` so that ``out[i] = a[i + s]``, zero where
    ``i + s`` falls outside: one pad with negative padding on one side, which XLA fuses into the
    sum it feeds (no shifted copies, no padded matmul rows)."""
    config = [(0, 0, 0)] * a.ndim
    for axis, s in shifts.items():
        config[axis] = (-s, s, 0)
    return jax.lax.pad(a, jnp.zeros((), a.dtype), config)


def _conv_rows(x: jax.Array, w: jax.Array) -> jax.Array:
    """The 'same' convolution as one matmul with all kernel rows side by side.

    Each input row holds its ``kw`` horizontal shifts (``H * n * W`` rows of ``kw * C`` values,
    kh times smaller than a full im2col), multiplied at once by the ``kh`` kernel rows (``kh * O``
    columns); output row ``h`` is the sum over ``dy`` of block ``dy`` of input row
    ``h + dy - kh//2`` where that row exists (cut and zero-padded inside one fused sum, so the
    matmul has no padding rows). Large matmuls with ``kh * O`` columns are what XLA:CPU runs
    fastest, and so is their gradient (for the weights, again one matmul of the same size).
    """
    n, height, width, _ = x.shape
    return _conv_from_rows(_rows_matrix(x, w.shape[1]), w, n, height, width)


def _rows_matrix(x: jax.Array, kw: int) -> jax.Array:
    """``(n, H, W, C)`` -> ``(H * n * W, kw * C)``: each position's ``kw`` horizontal neighbours
    (zero beyond the edges), rows H-major so that a vertical shift is a slice."""
    rows = jnp.concatenate([_shifted(x, {2: dx - kw // 2}) for dx in range(kw)], axis=-1)  # (n, H, W, kw C)
    return jnp.transpose(rows, (1, 0, 2, 3)).reshape(-1, kw * x.shape[3])


def _conv_from_rows(rows: jax.Array, w: jax.Array, n: int, height: int, width: int) -> jax.Array:
    """The convolution from :func:`_rows_matrix`'s rows: one matmul, then the vertical shifted sum."""
    kh, kw, c, o = w.shape
    kernel = jnp.transpose(w.reshape(kh, kw * c, o), (1, 0, 2)).reshape(kw * c, kh * o)
    blocks = jnp.dot(rows, kernel, precision=jax.lax.Precision.HIGHEST).reshape(height, n, width, kh, o)
    y = sum(_shifted(blocks[:, :, :, dy], {0: dy - kh // 2}) for dy in range(kh))  # (H, n, W, O)
    return jnp.transpose(y, (1, 0, 2, 3))


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


def train_selcnn(params: dict, features: jax.Array, target: jax.Array, key: jax.Array,
                 cfg: SelectionConfig, layer: str, iterations: int | None = None) -> tuple[dict, jax.Array]:
    """``iterations`` Caffe SGD steps (default cfg.iterations) with dropout active, as one scan.

    Returns the trained params and the per-iteration losses. The dropout mask of iteration i comes
    from ``fold_in(key, i)``. Jit it with ``cfg``, ``layer`` and ``iterations`` static.
    """
    tx = selcnn_optimizer(cfg, layer)
    steps = cfg.iterations if iterations is None else iterations

    def step(carry, i):
        p, opt_state = carry
        loss, grads = jax.value_and_grad(selcnn_loss)(p, features, target, cfg.dropout, jax.random.fold_in(key, i))
        updates, opt_state = tx.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))
    return params, losses


# ---- the Hessian diagonal -------------------------------------------------------------------

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


# ---- saliency and selection -----------------------------------------------------------------

def deletion_quadratic_term(params: dict, features: jax.Array) -> jax.Array:
    """Per channel, sum_xy (W_k * f_k)^2: the exact second-order term of deleting channel k, from
    one depthwise conv (feature_group_count = C)."""
    channels = features.shape[-1]
    w = jnp.transpose(params["w"], (0, 1, 3, 2))  # (kh, kw, 1, C): one filter per channel
    y = jax.lax.conv_general_dilated(features[None], w, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     feature_group_count=channels, precision=jax.lax.Precision.HIGHEST)
    return jnp.sum(y[0] ** 2, axis=(0, 1))


def saliency(params: dict, features: jax.Array, target: jax.Array, hessian_sign: float = -1.0,
             method: str = "closed_form", key: jax.Array | None = None, num_probes: int = 64,
             chunk: int = 64) -> jax.Array:
    """Per-channel scores ``(C,)``: sum_xy (-g f + sign * 1/2 h f^2), in test phase (no dropout).

    ``exact_deletion`` replaces sum_xy h f^2 by the exact sum_xy (W_k * f_k)^2; with the paper's
    sign (+1) the score is then exactly L(f with channel k zeroed) - L(f) (the loss is quadratic).
    """
    loss_fn = lambda f: selcnn_loss(params, f, target)
    g = jax.grad(loss_fn)(features)
    first = -jnp.sum(g * features, axis=(0, 1))
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


def select_channels(features: jax.Array, target: jax.Array, key: jax.Array, cfg: SelectionConfig,
                    layer: str) -> tuple[jax.Array, jax.Array, dict]:
    """First-frame selection for one layer: init + train the sel-CNN, score, take the top K.

    Returns (indices (K,), scores (C,), trained sel-CNN params). Jit with cfg and layer static.
    """
    init_key, train_key, probe_key = jax.random.split(key, 3)
    params = init_selcnn(init_key, features.shape[-1], cfg, features.dtype)
    params, _ = train_selcnn(params, features, target, train_key, cfg, layer)
    scores = saliency(params, features, target, cfg.hessian_sign, cfg.hessian_method, probe_key)
    return top_k_channels(scores, cfg.num_channels), scores, params
