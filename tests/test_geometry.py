import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax import geometry


def keys_np(x):
    """Keys cubic (a = -0.5), written independently of the library."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x < 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def crop_reference(image, roi, out=368):
    """Zero-pad the image explicitly, then resample with per-output normalised kernel weights."""
    x0, y0, side = roi
    h, w, _ = image.shape
    step = side / out
    ks = max(step, 1.0)
    pad = int(math.ceil(max(0, -x0, -y0, x0 + side - w, y0 + side - h) + 2 * ks + 4))
    padded = np.pad(image.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)))

    def matrix(start, n):
        m = np.zeros((out, n))
        for o in range(out):
            c = start + pad + (o + 0.5) * step - 0.5
            lo, hi = int(math.floor(c - 2 * ks)) - 1, int(math.ceil(c + 2 * ks)) + 1
            for j in range(lo, hi + 1):
                m[o, j] = keys_np((c - j) / ks)
            m[o] /= m[o].sum()
        return m

    my, mx = matrix(y0, padded.shape[0]), matrix(x0, padded.shape[1])
    return np.einsum("yh,hwc,xw->yxc", my, padded, mx)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (60, 80, 3)).astype(np.float32)
    return base


@pytest.mark.parametrize("roi,out", [
    ((20.3, 10.7, 30.0), 48),     # inside the image, enlarging
    ((-7.5, 40.2, 35.0), 40),     # over the left and bottom borders
    ((-30.0, -25.0, 150.0), 64),  # ROI larger than the image, shrinking (antialiased)
    ((50.2, 20.9, 3.0), 32),      # a tiny box: 3 px ROI blown up
])
def test_crop_matches_numpy_reference(image, roi, out):
    got = np.asarray(geometry.crop_roi(jnp.asarray(image), jnp.asarray(roi, jnp.float32), out_size=out))
    want = crop_reference(image, roi, out)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)


def test_outside_the_image_is_zero_and_inside_is_preserved():
    img = jnp.full((20, 20, 3), 100.0)
    crop = geometry.crop_roi(img, jnp.array([-20.0, -20.0, 60.0]), out_size=60)
    assert float(crop[:15, :15].max()) == 0.0  # well outside: zeros (black padding, spec §1.1)
    np.testing.assert_allclose(crop[25:35, 25:35], 100.0, atol=1e-3)


def test_shrinking_is_antialiased():
    stripes = np.zeros((64, 64, 1), np.float32)
    stripes[:, ::2] = 255.0  # a 2-px period: aliases badly without a low-pass
    # Shifted half a pixel, plain point sampling lands on the bright columns only: all 255.
    roi = jnp.array([0.5, 0.0, 64.0])
    crop = geometry.crop_roi(jnp.asarray(stripes), roi, out_size=16)
    inner = np.asarray(crop[4:12, 4:12, 0])
    assert np.all(np.abs(inner - 127.5) < 3.0)
    aliased = geometry.crop_roi(jnp.asarray(stripes), roi, out_size=16, antialias=False)
    np.testing.assert_allclose(aliased[4:12, 4:12, 0], 255.0, atol=1e-3)


def test_fixed_shape_and_one_compile_for_any_box():
    traces = []

    @jax.jit
    def crop(img, box):
        traces.append(1)
        return geometry.crop_roi(img, geometry.roi_for_box(box))

    img = jnp.zeros((50, 70, 3), jnp.uint8)
    for box in ([1, 2, 3, 4], [10.5, 20, 60, 5], [-40, -40, 200, 300]):
        assert crop(img, jnp.asarray(box, jnp.float32)).shape == (368, 368, 3)
    assert len(traces) == 1


def test_roi_geometry_and_inverse_mapping():
    box = jnp.array([10.0, 20.0, 30.0, 40.0])
    roi = geometry.roi_for_box(box)
    np.testing.assert_allclose(roi[2], 100.0)  # 2 x diagonal of a 30x40 box
    np.testing.assert_allclose(roi[:2] + roi[2] / 2, [25.0, 40.0])  # centred on the box
    pts = jnp.array([[0.0, 0.0], [368.0, 368.0], [100.0, 17.5]])
    back = geometry.image_to_roi(geometry.roi_to_image(pts, roi), roi)
    np.testing.assert_allclose(back, pts, atol=1e-4)
    np.testing.assert_allclose(geometry.roi_to_image(pts[1:2], roi)[0], roi[:2] + roi[2], atol=1e-4)
    in_roi = geometry.box_to_roi(box, roi)
    np.testing.assert_allclose(in_roi[2:], [30 * 3.68, 40 * 3.68], rtol=1e-6)


def test_state_box_round_trip_and_otb_conversion():
    box = jnp.array([5.0, 6.0, 32.0, 48.0])
    state = geometry.box_to_state(box)
    np.testing.assert_allclose(state, [21.0, 30.0, 0.5, 1.5])
    np.testing.assert_allclose(geometry.state_to_box(state), box)
    otb = np.array([1.0, 1.0, 10.0, 10.0])
    np.testing.assert_allclose(geometry.box_from_otb(otb), [0, 0, 10, 10])
    np.testing.assert_allclose(geometry.box_to_otb(geometry.box_from_otb(otb)), otb)
