"""Eq. (1) of the paper: non-negative sparse coding of the foreground mask by one layer's maps,

    min_c ||pi - F c||^2 + lam ||c||_1   subject to  c >= 0,

with ``F`` (d x n) the n feature maps reshaped to columns and ``pi`` (d,) the 0/1 mask of the
target on the feature grid. On the feasible set ``||c||_1 = 1^T c``, so the objective is a smooth
convex quadratic there, ``c^T G c - 2 b^T c + pi^T pi + lam 1^T c`` with ``G = F^T F`` and
``b = F^T pi``, and an accelerated projected gradient (FISTA with gradient-based adaptive restart,
O'Donoghue & Candes 2015) converges to its minimiser.

Everything works in that Gram form: several images are one problem by summing their ``G`` and
``b`` (Table 1's "20 training images per identity"), a test image's reconstruction error needs
only its own ``G``, ``b`` and ``pi^T pi``, and a 512-map problem costs 512^2 per iteration
whatever the grid size. The solver is jitted with a fixed iteration count (static shapes, no host
sync) and vmaps over images and over ``lam``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Gram:
    """The sufficient statistics of ``||pi - F c||^2`` in ``c``: ``G = F^T F`` (n, n), ``b = F^T pi``
    (n,) and ``pp = pi^T pi`` (); add two to pool their images into one problem."""

    G: jax.Array
    b: jax.Array
    pp: jax.Array

    def __add__(self, other: "Gram") -> "Gram":
        return Gram(self.G + other.G, self.b + other.b, self.pp + other.pp)


jax.tree_util.register_dataclass(Gram, data_fields=["G", "b", "pp"], meta_fields=[])


def gram(features: jax.Array, mask: jax.Array) -> Gram:
    """``features`` (..., H, W, n) maps and ``mask`` (..., H, W) -> the Gram statistics of eq. (1)."""
    F = features.reshape(features.shape[:-3] + (-1, features.shape[-1]))
    pi = mask.reshape(mask.shape[:-2] + (-1,)).astype(F.dtype)
    hi = jax.lax.Precision.HIGHEST
    return Gram(jnp.einsum("...dn,...dm->...nm", F, F, precision=hi), jnp.einsum("...dn,...d->...n", F, pi, precision=hi),
                jnp.sum(pi * pi, axis=-1))


@jax.jit
def reconstruction_error(g: Gram, c: jax.Array) -> jax.Array:
    """``||pi - F c||^2`` from the Gram form (eq. 2 and 3's error), clipped at 0 against round-off."""
    hi = jax.lax.Precision.HIGHEST
    quad = jnp.einsum("...n,...nm,...m->...", c, g.G, c, precision=hi)
    return jnp.maximum(g.pp - 2 * jnp.einsum("...n,...n->...", g.b, c, precision=hi) + quad, 0.0)


def objective(g: Gram, c: jax.Array, lam: jax.Array) -> jax.Array:
    return reconstruction_error(g, c) + lam * jnp.sum(c, axis=-1)


def gradient(g: Gram, c: jax.Array, lam: jax.Array) -> jax.Array:
    """The objective's gradient on the feasible set: ``2 (G c - b) + lam``."""
    return 2 * (jnp.dot(g.G, c, precision=jax.lax.Precision.HIGHEST) - g.b) + lam


def lam_max(g: Gram) -> jax.Array:
    """The smallest ``lam`` for which ``c = 0`` is optimal: ``2 max(0, max_i b_i)`` (the KKT
    conditions at 0). ``lam`` is best given as a fraction of it, which is scale-free."""
    return 2 * jnp.maximum(jnp.max(g.b, axis=-1), 0.0)


def _lipschitz(G: jax.Array, iterations: int = 50) -> jax.Array:
    """An upper estimate of the gradient's Lipschitz constant ``2 lambda_max(G)`` by power
    iteration (G is symmetric PSD), padded 1% so that the step 1/L is safe."""
    v = jnp.ones(G.shape[-1], G.dtype) / jnp.sqrt(G.shape[-1])

    def body(v, _):
        w = jnp.dot(G, v, precision=jax.lax.Precision.HIGHEST)
        return w / jnp.maximum(jnp.linalg.norm(w), 1e-30), None

    v, _ = jax.lax.scan(body, v, None, length=iterations)
    top = jnp.dot(v, jnp.dot(G, v, precision=jax.lax.Precision.HIGHEST))
    return 2.02 * jnp.maximum(top, 1e-30)


@functools.partial(jax.jit, static_argnames=("iterations",))
def solve(g: Gram, lam: jax.Array, iterations: int = 2000, c0: jax.Array | None = None) -> jax.Array:
    """The minimiser of eq. (1), ``c >= 0``, by FISTA on the Gram form with adaptive restart.

    ``iterations`` is fixed (jit-static); :func:`kkt_residual` says how close the result is. vmap
    over a leading axis of ``g`` (images) and/or of ``lam``.
    """
    n = g.b.shape[-1]
    step = 1.0 / _lipschitz(g.G)
    c0 = jnp.zeros(n, g.b.dtype) if c0 is None else c0

    def body(carry, _):
        c, y, t = carry
        c_new = jnp.maximum(y - step * gradient(g, y, lam), 0.0)
        t_new = 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))
        y_new = c_new + ((t - 1) / t_new) * (c_new - c)
        # Restart the momentum when it points uphill (gradient-based adaptive restart).
        restart = jnp.dot(y - c_new, c_new - c) > 0
        y_new = jnp.where(restart, c_new, y_new)
        t_new = jnp.where(restart, 1.0, t_new)
        return (c_new, y_new, t_new), None

    (c, _, _), _ = jax.lax.scan(body, (c0, c0, jnp.ones((), g.b.dtype)), None, length=iterations)
    return c


def kkt_residual(g: Gram, c: jax.Array, lam: jax.Array) -> jax.Array:
    """The largest violation of the optimality conditions of eq. (1), relative to ``lam_max``:
    for every i, ``c_i >= 0``, ``grad_i >= 0``, and ``grad_i = 0`` where ``c_i > 0`` (the
    natural residual ``|min(c_i, grad_i)|`` scaled by the step)."""
    grad = gradient(g, c, lam)
    scale = jnp.maximum(lam_max(g), 1e-30)
    return jnp.max(jnp.abs(jnp.minimum(c * _lipschitz(g.G), grad))) / scale


def reconstruct(features: jax.Array, c: jax.Array) -> jax.Array:
    """``F c`` on the feature grid: (..., H, W, n) maps and (n,) coefficients -> (..., H, W)."""
    return jnp.einsum("...n,n->...", features, c, precision=jax.lax.Precision.HIGHEST)
