"""Eq. (1)'s solver against independent solvers (SciPy's NNLS and L-BFGS-B) and the KKT conditions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize, nnls

from fcnt_jax.selection import sparse_coding as SC


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def problem(seed=0, h=8, w=6, n=10, planted=False):
    """Non-negative maps (as post-ReLU features are) and a mask: the box, or F c* for a planted c*."""
    rng = np.random.default_rng(seed)
    features = np.maximum(rng.normal(size=(h, w, n)), 0.0)
    mask = np.zeros((h, w))
    mask[2:6, 1:4] = 1.0
    truth = None
    if planted:
        truth = np.zeros(n)
        truth[[1, 4, 7]] = [0.8, 0.5, 1.2]
        mask = features @ truth
    return features, mask, truth


def test_lambda_zero_equals_scipy_nnls():
    features, mask, _ = problem()
    g = SC.gram(jnp.asarray(features), jnp.asarray(mask))
    c = SC.solve(g, jnp.asarray(0.0), iterations=5000)
    ref, _ = nnls(features.reshape(-1, features.shape[-1]), mask.ravel())
    np.testing.assert_allclose(c, ref, atol=1e-7)
    assert (ref == 0).any() and (ref > 0).any()  # a real constrained problem: some bounds active
    assert float(SC.kkt_residual(g, c, 0.0)) < 1e-8


@pytest.mark.parametrize("ratio", [0.01, 0.1, 0.5])
def test_kkt_and_scipy_lbfgsb_agree_at_positive_lambda(ratio):
    features, mask, _ = problem(seed=1)
    g = SC.gram(jnp.asarray(features), jnp.asarray(mask))
    lam = ratio * SC.lam_max(g)
    c = np.asarray(SC.solve(g, lam, iterations=5000))
    assert (c >= 0).all() and float(SC.kkt_residual(g, jnp.asarray(c), lam)) < 1e-8
    grad = np.asarray(SC.gradient(g, jnp.asarray(c), lam))
    assert (grad > -1e-8).all() and np.allclose(grad[c > 1e-9], 0, atol=1e-7)  # KKT, stated plainly
    F, pi = features.reshape(-1, features.shape[-1]), mask.ravel()
    f = lambda x: np.sum((pi - F @ x) ** 2) + float(lam) * x.sum()
    ref = minimize(f, np.zeros(len(c)), jac=lambda x: -2 * F.T @ (pi - F @ x) + float(lam),
                   bounds=[(0, None)] * len(c), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
    assert f(c) <= ref.fun + 1e-9
    np.testing.assert_allclose(c, ref.x, atol=1e-4)
    assert float(SC.objective(g, jnp.asarray(c), lam)) == pytest.approx(f(c), rel=1e-10)


def test_lambda_max_gives_zero_and_sparsity_grows_with_lambda():
    features, mask, _ = problem(seed=2)
    g = SC.gram(jnp.asarray(features), jnp.asarray(mask))
    ratios = jnp.asarray([0.0, 0.05, 0.2, 0.6, 1.0])
    cs = jax.vmap(lambda r: SC.solve(g, r * SC.lam_max(g), iterations=3000))(ratios)
    nonzero = [int((np.asarray(c) > 1e-10).sum()) for c in cs]
    assert nonzero == sorted(nonzero, reverse=True) and nonzero[-1] == 0 and nonzero[0] > nonzero[-2]


def test_planted_sparse_code_is_recovered():
    features, mask, truth = problem(seed=3, h=12, w=10, n=16, planted=True)
    g = SC.gram(jnp.asarray(features), jnp.asarray(mask))
    c = np.asarray(SC.solve(g, 1e-4 * SC.lam_max(g), iterations=5000))
    assert set(np.flatnonzero(c > 1e-3)) == {1, 4, 7}
    np.testing.assert_allclose(c[[1, 4, 7]], truth[[1, 4, 7]], rtol=1e-3)
    np.testing.assert_allclose(SC.reconstruct(jnp.asarray(features), jnp.asarray(c)), mask, atol=1e-3)


def test_vmaps_over_images_and_pools_them():
    probs = [problem(seed=s) for s in range(3)]
    F = jnp.asarray(np.stack([p[0] for p in probs]))
    M = jnp.asarray(np.stack([p[1] for p in probs]))
    gs = SC.gram(F, M)  # a batch of three
    solve = jax.jit(jax.vmap(lambda g: SC.solve(g, 0.1 * SC.lam_max(g), iterations=3000)))
    batched = solve(gs)
    for i, (f, m, _) in enumerate(probs):
        gi = SC.gram(jnp.asarray(f), jnp.asarray(m))
        np.testing.assert_allclose(batched[i], SC.solve(gi, 0.1 * SC.lam_max(gi), iterations=3000), atol=1e-10)
    # Pooling images = stacking their rows: the Gram statistics add.
    pooled = SC.gram(jnp.asarray(probs[0][0]), jnp.asarray(probs[0][1])) + SC.gram(jnp.asarray(probs[1][0]),
                                                                                  jnp.asarray(probs[1][1]))
    stacked = SC.gram(jnp.concatenate([F[0], F[1]], 0), jnp.concatenate([M[0], M[1]], 0))
    np.testing.assert_allclose(pooled.G, stacked.G)
    np.testing.assert_allclose(pooled.b, stacked.b)
    c = batched[0]
    err = float(SC.reconstruction_error(SC.gram(F[0], M[0]), c))
    assert err == pytest.approx(float(jnp.sum((M[0] - SC.reconstruct(F[0], c)) ** 2)), rel=1e-10)
