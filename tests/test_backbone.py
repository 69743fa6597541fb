import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax import backbone, geometry, heatmap
from fcnt_jax.data import DEMO_SEQUENCE, open_sequence
from fcnt_jax.weights import LAYERS


def tiny_params(key, width=4):
    """Random VGG-shaped params with few channels: structure tests only."""
    params, cin = {}, 3
    for i, (name, _, _) in enumerate(LAYERS):
        cout = width * (1 + i // 3)
        key, sub = jax.random.split(key)
        params[name] = {"w": jax.random.normal(sub, (3, 3, cin, cout)) * 0.2, "b": jnp.zeros(cout)}
        cin = cout
    return params


def test_preprocess_is_bgr_minus_mean():
    rgb = jnp.array([[[[10.0, 20.0, 30.0]]]])
    out = backbone.preprocess(rgb)
    np.testing.assert_allclose(out[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)


def test_shapes_jit_vmap_and_bfloat16_on_tiny_weights():
    params = tiny_params(jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 64, 64, 3), maxval=255.0)
    out = jax.jit(backbone.features)(params, x)
    assert out["conv4_3"].shape == (2, 8, 8, 16) and out["conv5_3"].shape == (2, 8, 8, 20)
    # vmap over single images agrees with the batch.
    single = jax.vmap(lambda im: backbone.features(params, im[None]))(x)
    np.testing.assert_allclose(single["conv5_3"][:, 0], out["conv5_3"], rtol=1e-4, atol=1e-3)
    bf16 = backbone.features(params, x, dtype=jnp.bfloat16)
    assert bf16["conv4_3"].dtype == jnp.float32
    rel = jnp.linalg.norm(bf16["conv4_3"] - out["conv4_3"]) / jnp.linalg.norm(out["conv4_3"])
    assert float(rel) < 0.05


def test_conv5_upsampling_keeps_coarse_values_at_cell_centres():
    x = jax.random.uniform(jax.random.PRNGKey(2), (1, 5, 5, 3))
    up = backbone.upsample_to(x, 10, 10)
    # A constant map stays constant (no darkening at the borders).
    const = backbone.upsample_to(jnp.ones((1, 5, 5, 2)), 10, 10)
    np.testing.assert_allclose(const, 1.0, atol=1e-6)
    assert up.shape == (1, 10, 10, 3)


@pytest.mark.slow
def test_real_frame_features_light_up_the_target(vgg_params):
    seq = open_sequence(DEMO_SEQUENCE)
    with seq.frames() as frames:
        frame = next(iter(frames))
    box = jnp.asarray(seq.init_box, jnp.float32)
    roi = geometry.roi_for_box(box)
    crop = geometry.crop_roi(jnp.asarray(frame), roi)
    feats = jax.jit(backbone.features)(vgg_params, crop[None])
    inside = np.asarray(heatmap.target_map(box, roi) > 0.01)
    # conv5_3 is the semantic layer: clearly more energy on the pedestrian; conv4_3 also responds
    # to the road markings around it, so only "more" is required there.
    for name, factor in (("conv4_3", 1.0), ("conv5_3", 1.5)):
        f = np.asarray(feats[name][0])
        assert f.shape == (46, 46, 512) and np.isfinite(f).all()
        energy = (f**2).sum(-1)
        assert energy[inside].mean() > factor * energy[~inside].mean(), name


@pytest.mark.parametrize("height, width", [(40, 24), (33, 50)])
def test_conv_flops_agree_with_xla_cost_analysis(height, width):
    """The hand count (taps inside the image only) against what XLA counts for the compiled
    convolutions; XLA's total also holds the bias adds, ReLUs and pools, well under 1%."""
    shapes = {name: {"w": jax.ShapeDtypeStruct((3, 3, c_in, c_out), jnp.float32),
                     "b": jax.ShapeDtypeStruct((c_out,), jnp.float32)} for name, c_in, c_out in LAYERS}
    x = jax.ShapeDtypeStruct((1, height, width, 3), jnp.float32)
    cost = jax.jit(backbone.vgg16_conv).lower(shapes, x).compile().cost_analysis()
    xla_flops = (cost[0] if isinstance(cost, list) else cost)["flops"]
    ours = backbone.conv_flops(height, width)
    assert ours <= xla_flops < 1.01 * ours
    # Counting all 9 taps everywhere (padding included) would be off by far more than that.
    h, w, naive = height, width, 0
    for name, c_in, c_out in LAYERS:
        naive += 2 * 9 * h * w * c_in * c_out
        h, w = (h // 2, w // 2) if name in backbone._POOL_AFTER else (h, w)
    assert naive > 1.1 * xla_flops
