"""GNet/SNet training: the scanned SGD (through the SGD loops' convolution, "rows" on CPU) equals
a plain Python loop over gradients of the loss through XLA's convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fcnt_jax import heads
from fcnt_jax.config import HeadConfig


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("output_relu", [False, True])
def test_train_head_equals_a_plain_sgd_loop(output_relu):
    cfg = HeadConfig(conv1_channels=4, conv1_kernel=5, conv2_kernel=3, init_std=0.1)
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), heads.init_head(keys[0], 6, cfg))
    feats = jax.random.normal(keys[1], (2, 7, 8, 6), jnp.float64)
    targets = jax.random.uniform(keys[2], (2, 7, 8), jnp.float64)
    weights = (jax.random.uniform(keys[3], (2, 7, 8)) > 0.3).astype(jnp.float64)
    tx = optax.chain(optax.sgd(1e-2, momentum=0.9))
    steps = 4
    trained, _, losses = heads.train_head(params, tx.init(params), feats, targets, weights, tx, steps, output_relu)

    def reference_loss(p):
        pred = heads.head_apply(p, feats, output_relu, "xla")
        return jnp.mean(0.5 * jnp.sum(weights * (pred - targets) ** 2, axis=(-2, -1)))

    p, state, ref_losses = params, tx.init(params), []
    for _ in range(steps):
        loss, grads = jax.value_and_grad(reference_loss)(p)
        updates, state = tx.update(grads, state, p)
        p = optax.apply_updates(p, updates)
        ref_losses.append(loss)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12), trained, p)
    assert losses[-1] < losses[0]  # it trains


def _problem(seed: int = 3, batch: int = 1):
    cfg = HeadConfig(conv1_channels=4, conv1_kernel=5, conv2_kernel=3, init_std=0.1)
    keys = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), heads.init_head(keys[0], 6, cfg))
    feats = jax.random.normal(keys[1], (batch, 7, 8, 6), jnp.float64)
    targets = jax.random.uniform(keys[2], (batch, 7, 8), jnp.float64)
    return params, feats, targets, jnp.ones_like(targets), optax.sgd(1e-2, momentum=0.9)


def test_train_head_for_a_traced_count_is_train_head_and_zero_steps_change_nothing():
    params, feats, targets, weights, tx = _problem()
    for steps in (0, 1, 5):
        want, want_state, _ = heads.train_head(params, tx.init(params), feats, targets, weights, tx, steps)
        got, got_state = heads.train_head_for(params, tx.init(params), feats, targets, weights, tx, jnp.int32(steps))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15), (got, got_state),
                     (want, want_state))
    same, _ = heads.train_head_for(params, tx.init(params), feats, targets, weights, tx, jnp.int32(0))
    jax.tree.map(np.testing.assert_array_equal, same, params)


def test_train_head_for_under_vmap_gives_each_element_its_own_count():
    """Three problems with counts 0, 2 and 5 in one vmapped loop: each is its own unbatched run
    (the finished ones are masked while the loop goes on for the others)."""
    problems = [_problem(seed) for seed in (3, 4, 5)]
    tx = problems[0][4]
    counts = jnp.asarray([0, 2, 5], jnp.int32)
    stack = lambda i: jax.tree.map(lambda *xs: jnp.stack(xs), *[p[i] for p in problems])  # noqa: E731
    params, feats, targets, weights = stack(0), stack(1), stack(2), stack(3)
    batched, _ = jax.vmap(lambda p, f, t, w, n: heads.train_head_for(p, tx.init(p), f, t, w, tx, n))(
        params, feats, targets, weights, counts)
    for b, (p, f, t, w, _) in enumerate(problems):
        want, _, _ = heads.train_head(p, tx.init(p), f, t, w, tx, int(counts[b]))
        jax.tree.map(lambda a, c: np.testing.assert_allclose(a[b], c, rtol=1e-12, atol=1e-15), batched, want)
    assert not np.allclose(batched["conv2"]["w"][1], batched["conv2"]["w"][2])  # the counts did differ
