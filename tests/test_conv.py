"""fcnt_jax.conv: every 'same' convolution form equals direct loops, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax.conv import CONV_IMPLS, conv_same


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def direct_conv(x, w):
    """Caffe 'same' cross-correlation by explicit loops (NumPy): the reference for every impl."""
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((n, h, wd, o))
    for i in range(h):
        for j in range(wd):
            y[:, i, j] = np.einsum("nabc,abco->no", xp[:, i:i + kh, j:j + kw], w)
    return y


@pytest.mark.parametrize("impl", CONV_IMPLS)
@pytest.mark.parametrize("n,h,w,c,kh,kw,o", [(1, 5, 7, 3, 3, 3, 1), (2, 6, 4, 5, 5, 1, 4), (3, 4, 4, 2, 1, 3, 3),
                                           (2, 2, 3, 2, 9, 5, 2)])  # kernel larger than the map
def test_conv_same_impls_match_direct_loops_with_gradients(impl, n, h, w, c, kh, kw, o):
    kx, kk, kr = jax.random.split(jax.random.PRNGKey(n + h + kh), 3)
    x = jax.random.normal(kx, (n, h, w, c), jnp.float64)
    kernel = jax.random.normal(kk, (kh, kw, c, o), jnp.float64)
    probe = jax.random.normal(kr, (n, h, w, o), jnp.float64)
    np.testing.assert_allclose(conv_same(x, kernel, impl), direct_conv(np.asarray(x), np.asarray(kernel)), atol=1e-10)
    np.testing.assert_allclose(conv_same(x[0], kernel, impl), direct_conv(np.asarray(x[:1]), np.asarray(kernel))[0],
                               atol=1e-10)  # unbatched input
    # Gradients of <conv(x, w), probe>: w.r.t. w it is sum_hw xpad[h+dy, w+dx] probe[h, w]; w.r.t.
    # x, the transposed (flipped-kernel) convolution. Both from the loop reference.
    gx, gw = jax.grad(lambda a, b: jnp.sum(conv_same(a, b, impl) * probe), argnums=(0, 1))(x, kernel)
    xp = np.pad(np.asarray(x), ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    ref_gw = np.stack([np.stack([np.einsum("nhwc,nhwo->co", xp[:, dy:dy + h, dx:dx + w], probe)
                                 for dx in range(kw)]) for dy in range(kh)])
    ref_gx = direct_conv(np.asarray(probe), np.asarray(kernel)[::-1, ::-1].transpose(0, 1, 3, 2))
    np.testing.assert_allclose(gw, ref_gw, atol=1e-10)
    np.testing.assert_allclose(gx, ref_gx, atol=1e-10)


def test_conv_same_rejects_an_unknown_impl():
    with pytest.raises(ValueError, match="impl='fft'"):
        conv_same(jnp.zeros((4, 4, 1)), jnp.zeros((3, 3, 1, 1)), "fft")



def test_low_precision_rows_is_the_rows_convolution_in_bfloat16():
    from fcnt_jax.conv import low_precision_rows

    kx, kk = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (2, 6, 5, 8), jnp.float32)
    w = jax.random.normal(kk, (3, 3, 8, 4), jnp.float32)
    ref = direct_conv(np.asarray(x, np.float64), np.asarray(w, np.float64))
    np.testing.assert_allclose(low_precision_rows(x, w, jnp.float32), ref, atol=1e-4)
    low = low_precision_rows(x, w, jnp.bfloat16)
    assert low.dtype == jnp.float32  # float32 accumulation and output
    err = np.abs(np.asarray(low) - ref).max() / np.abs(ref).max()
    assert 1e-4 < err < 2e-2  # bfloat16 operands: rounded (so the cast happened), not wrong
