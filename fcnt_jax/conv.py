"""'Same' convolutions as plain matmuls: the forms XLA:CPU runs fastest (see WORKSPACE "CPU convolutions").

The heads and the sel-CNN are small 'same' cross-correlations (Caffe's conv, pad k//2). XLA:CPU
runs ``conv_general_dilated`` inside ``while`` loops (every SGD scan) ~30x slower than a matmul
formulation, so :func:`conv_same` offers four implementations of the same sums: "xla", "rows",
"taps" and "shifted". Nothing here is specific to tracking; the research code calls
:func:`conv_same` and need not read further.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CONV_IMPLS = ("xla", "shifted", "rows", "taps")


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


def _conv_from_rows(rows: jax.Array, w: jax.Array, n: int, height: int, width: int,
                    preferred_element_type=None) -> jax.Array:
    """The convolution from :func:`_rows_matrix`'s rows: one matmul, then the vertical shifted sum.
    With ``preferred_element_type`` the matmul runs at default precision and accumulates in that
    type (low-precision operands); without it, at HIGHEST precision in the operands' type."""
    kh, kw, c, o = w.shape
    kernel = jnp.transpose(w.reshape(kh, kw * c, o), (1, 0, 2)).reshape(kw * c, kh * o)
    if preferred_element_type is None:
        product = jnp.dot(rows, kernel, precision=jax.lax.Precision.HIGHEST)
    else:
        product = jnp.dot(rows, kernel, preferred_element_type=preferred_element_type)
    blocks = product.reshape(height, n, width, kh, o)
    y = sum(_shifted(blocks[:, :, :, dy], {0: dy - kh // 2}) for dy in range(kh))  # (H, n, W, O)
    return jnp.transpose(y, (1, 0, 2, 3))


def low_precision_rows(x: jax.Array, w: jax.Array, dtype=jnp.bfloat16) -> jax.Array:
    """The "rows" convolution with ``dtype`` operands and float32 accumulation at default precision:
    the form that can use a CPU's bfloat16 matrix units (AMX, avx512_bf16), measured per VGG layer
    by ``experiments.conv_impl --vgg_layers``. Not used by the tracker."""
    n, height, width, _ = x.shape
    return _conv_from_rows(_rows_matrix(x.astype(dtype), w.shape[1]), w.astype(dtype), n, height, width,
                           preferred_element_type=jnp.float32)
