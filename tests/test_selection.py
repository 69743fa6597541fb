"""sel-CNN, Hessian diagonals and saliency against brute-force references at toy sizes (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax import selection as S
from fcnt_jax.config import SelectionConfig


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def toy(key=0, h=6, w=7, c=4, k=3):
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(key), 4)
    f = jax.random.normal(k1, (h, w, c), jnp.float64) * 2.0
    params = {"w": jax.random.normal(k2, (k, k, c, 1), jnp.float64), "b": jax.random.normal(k3, (1,), jnp.float64)}
    target = jax.random.uniform(k4, (h, w), jnp.float64)
    return params, f, target


def dense_hessian_diag(loss_fn, f):
    n = f.size
    hess = jax.hessian(lambda x: loss_fn(x.reshape(f.shape)))(f.reshape(-1))
    return jnp.diag(hess.reshape(n, n)).reshape(f.shape)


def test_closed_form_equals_hvp_probes_equals_dense_hessian():
    params, f, target = toy()
    loss_fn = lambda x: S.selcnn_loss(params, x, target)
    dense = dense_hessian_diag(loss_fn, f)
    closed = S.hessian_diagonal(params, f, target, "closed_form")
    probes = S.hessian_diagonal(params, f, target, "hvp_probes", chunk=5)  # 9*4 probes, ragged chunks
    np.testing.assert_allclose(closed, dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(probes, dense, rtol=1e-12, atol=1e-12)
    # Interior entries are ||W_c||^2; borders are smaller (zero padding).
    np.testing.assert_allclose(closed[2, 3], jnp.sum(params["w"][..., 0] ** 2, axis=(0, 1)), rtol=1e-12)
    assert bool(jnp.all(closed[0, 0] < closed[2, 3]))


def test_hvp_probes_on_a_nonlinear_two_layer_selcnn():
    params, f, target = toy(1)
    w2 = jax.random.normal(jax.random.PRNGKey(9), (3, 3, 3, 1), jnp.float64)
    w1 = jax.random.normal(jax.random.PRNGKey(8), (3, 3, 4, 3), jnp.float64) * 0.5

    def loss_fn(x):  # conv3x3 -> tanh -> conv3x3: receptive radius 2
        pred = S.conv_same(jnp.tanh(S.conv_same(x, w1)), w2)[..., 0]
        return S.sum_squared_loss(pred, target)

    dense = dense_hessian_diag(loss_fn, f)
    probes = S.hessian_diag_hvp_probes(loss_fn, f, receptive_radius=2, chunk=16)
    np.testing.assert_allclose(probes, dense, rtol=1e-10, atol=1e-10)
    # Too small a radius mixes coupled entries: the structure assumption matters.
    wrong = S.hessian_diag_hvp_probes(loss_fn, f, receptive_radius=1, chunk=16)
    assert float(jnp.max(jnp.abs(wrong - dense))) > 1e-3


def test_hutchinson_error_shrinks_with_more_probes():
    params, f, target = toy(2)
    exact = S.hessian_diagonal(params, f, target, "closed_form")
    errors = []
    for m in (8, 128, 2048):
        est = S.hessian_diagonal(params, f, target, "hutchinson", key=jax.random.PRNGKey(3), num_probes=m)
        errors.append(float(jnp.linalg.norm(est - exact) / jnp.linalg.norm(exact)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.25


def brute_force_deletion(params, f, target):
    base = S.selcnn_loss(params, f, target)
    return jnp.stack([S.selcnn_loss(params, f.at[..., k].set(0.0), target) - base for k in range(f.shape[-1])])


def test_exact_deletion_equals_brute_force():
    params, f, target = toy(3)
    exact = S.saliency(params, f, target, hessian_sign=+1.0, method="exact_deletion")
    np.testing.assert_allclose(exact, brute_force_deletion(params, f, target), rtol=1e-10, atol=1e-10)
    # With a 3x3 kernel the diagonal (second-order) score is a different number.
    diag = S.saliency(params, f, target, hessian_sign=+1.0, method="closed_form")
    assert float(jnp.max(jnp.abs(diag - exact))) > 1e-3


def test_exact_deletion_equals_diagonal_score_for_a_1x1_kernel():
    params, f, target = toy(4, k=1)
    for sign in (+1.0, -1.0):
        exact = S.saliency(params, f, target, sign, "exact_deletion")
        for method in ("closed_form", "hvp_probes"):
            np.testing.assert_allclose(S.saliency(params, f, target, sign, method), exact, rtol=1e-10)
    np.testing.assert_allclose(S.saliency(params, f, target, 1.0, "closed_form"),
                               brute_force_deletion(params, f, target), rtol=1e-10)


def test_sign_flips_only_the_hessian_term():
    params, f, target = toy(5)
    code = S.saliency(params, f, target, -1.0)
    paper = S.saliency(params, f, target, +1.0)
    g = jax.grad(lambda x: S.selcnn_loss(params, x, target))(f)
    np.testing.assert_allclose((code + paper) / 2, -jnp.sum(g * f, axis=(0, 1)), rtol=1e-10)


def test_top_k_gathers_inside_jit():
    scores = jnp.array([0.1, 5.0, -2.0, 3.0, 4.0])
    idx = jax.jit(S.top_k_channels, static_argnums=1)(scores, 3)
    np.testing.assert_array_equal(idx, [1, 4, 3])
    f = jnp.arange(10.0).reshape(1, 2, 5)
    np.testing.assert_array_equal(S.gather_channels(f, idx)[0, 0], [1.0, 4.0, 3.0])


def conv_np(f, w):
    kh = w.shape[0] // 2
    fp = np.pad(f, ((kh, kh), (kh, kh), (0, 0)))
    h, wd, _ = f.shape
    out = np.zeros((h, wd))
    for dy in range(w.shape[0]):
        for dx in range(w.shape[1]):
            out += fp[dy:dy + h, dx:dx + wd] @ w[dy, dx, :, 0]
    return out


def test_training_matches_hand_rolled_caffe_sgd():
    """Three Caffe SGD steps (momentum, decay on weights only, bias lr x2) without dropout, in NumPy."""
    cfg = SelectionConfig(dropout=0.0, base_lr=1e-3, momentum=0.6, weight_decay_s=0.05)
    _, f, target = toy(6)
    params = {"w": jax.random.normal(jax.random.PRNGKey(7), (3, 3, 4, 1), jnp.float64) * 0.1,
              "b": jnp.array([0.2])}
    trained, losses = S.train_selcnn(params, f, target, jax.random.PRNGKey(0), cfg, "conv4_3", iterations=3)

    w, b = np.array(params["w"]), np.array(params["b"])
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    fn, kh = np.array(f), 1
    fp = np.pad(fn, ((kh, kh), (kh, kh), (0, 0)))
    for _ in range(3):
        r = conv_np(fn, w) + b[0] - np.array(target)
        gw = np.zeros_like(w)
        for dy in range(3):
            for dx in range(3):
                gw[dy, dx, :, 0] = np.einsum("hw,hwc->c", r, fp[dy:dy + 6, dx:dx + 7])
        gb = np.array([r.sum()])
        vw = 0.6 * vw + 1e-3 * (gw + 0.05 * 2 * w)
        vb = 0.6 * vb + 2 * 1e-3 * gb
        w, b = w - vw, b - vb
    np.testing.assert_allclose(trained["w"], w, rtol=1e-10)
    np.testing.assert_allclose(trained["b"], b, rtol=1e-10)
    assert float(losses[-1]) < float(losses[0])


def test_dropout_is_caffe_style():
    x = jnp.ones((200, 200))
    y = S.dropout(x, 0.3, jax.random.PRNGKey(0))
    kept = y > 0
    assert abs(float(kept.mean()) - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    assert S.dropout(x, 0.3, None) is x


def test_select_channels_end_to_end_small():
    cfg = SelectionConfig(num_channels=3, iterations=5)
    _, f, target = toy(7, c=6)
    idx, scores = jax.jit(S.select_channels, static_argnums=(3, 4))(f, target, jax.random.PRNGKey(0), cfg, "conv5_3")
    assert idx.shape == (3,) and scores.shape == (6,)
    np.testing.assert_array_equal(np.sort(np.asarray(scores))[::-1][:3], np.asarray(scores)[np.asarray(idx)])
