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
