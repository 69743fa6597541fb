"""The DSST scale filter (fcnt_jax/scale_filter.py): its constants by hand, the border-replicating
sampler against an edge-padded image, fHOG against a loop reference, and a planted zoom of a real
frame recovered to within one step."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from fcnt_jax import geometry
from fcnt_jax import scale_filter as sf
from fcnt_jax.config import ConfigError, ScaleFilterConfig, get_config
from fcnt_jax.eval.planted import zoomed

CFG = ScaleFilterConfig(enabled=True)
CAR4 = Path(__file__).resolve().parents[2] / "shared" / "data" / "OTB_analysis" / "Car4"


def test_constants_are_dsst_ones():
    factors = sf.scale_factors(CFG)
    assert factors.shape == (33,)
    np.testing.assert_allclose(factors[[0, 16, 32]], [1.02 ** 16, 1.0, 1.02 ** -16], rtol=1e-6)
    window = sf.scale_window(CFG)  # MATLAB hann(33): zero at both ends, 1 in the middle, symmetric
    np.testing.assert_allclose(window[[0, 16, 32]], [0.0, 1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(window, window[::-1], atol=1e-7)
    np.testing.assert_allclose(window[8], 0.5, atol=1e-6)  # 0.5 (1 - cos(2 pi 8 / 32))
    even = sf.scale_window(ScaleFilterConfig(num_scales=4))  # hann(5)(2:end) = [0.5, 1, 0.5, 0]
    np.testing.assert_allclose(even, [0.5, 1.0, 0.5, 0.0], atol=1e-7)
    label = np.real(np.fft.ifft(sf.label_spectrum(CFG)))
    sigma = 33 / np.sqrt(33) * 0.25
    np.testing.assert_allclose(label[16], 1.0, atol=1e-6)
    np.testing.assert_allclose(label[17], np.exp(-0.5 / sigma ** 2), atol=1e-6)


def test_dft_matrix_is_numpys_fft():
    x = np.random.default_rng(3).normal(size=(33, 5))
    np.testing.assert_allclose(sf.dft_matrix(33) @ x, np.fft.fft(x, axis=0), atol=1e-4)


def test_config_checks_the_patch_against_the_cell():
    with pytest.raises(ConfigError, match="scale_filter.patch_size"):
        ScaleFilterConfig(patch_size=26, cell_size=4)
    assert get_config("fcnt_plus").scale_filter.enabled
    assert not get_config("fcnt_plus_no_scale_filter").scale_filter.enabled
    assert not get_config("code").scale_filter.enabled


def test_samples_outside_the_image_replicate_its_border():
    """A box half outside a (zero-padded to 40x50, true 30x40) image equals the same box sampled
    from the image padded by its edge pixels far beyond any kernel's reach."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (30, 40, 3)).astype(np.float32)
    padded_frame = np.zeros((40, 50, 3), np.float32)
    padded_frame[:30, :40] = image
    pad = 60
    edge = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    sizes = jnp.asarray([[22.0, 18.0], [9.0, 31.0]])
    centre = jnp.asarray([35.0, 4.0])
    got = sf.sample_patches(jnp.asarray(padded_frame), centre, sizes, jnp.asarray([30.0, 40.0]), 12)
    for size, patch in zip(np.asarray(sizes), np.asarray(got)):
        box = jnp.asarray([35.0 + pad - size[0] / 2, 4.0 + pad - size[1] / 2])
        wy = geometry.resample_matrix(box[1], size[1], edge.shape[0], 12)
        wx = geometry.resample_matrix(box[0], size[0], edge.shape[1], 12)
        want = np.einsum("xw,ywc->yxc", np.asarray(wx), np.einsum("yh,hwc->ywc", np.asarray(wy), edge))
        np.testing.assert_allclose(patch, want, rtol=1e-4, atol=1e-2)


def _fhog_loops(patch: np.ndarray, cell: int) -> np.ndarray:
    """fHOG written out pixel by pixel and cell by cell (Felzenszwalb et al. 2010, Sec. 6.2)."""
    rows, cols = patch.shape[0] // cell, patch.shape[1] // cell
    hist = np.zeros((rows, cols, 18))
    p = np.pad(patch, ((1, 1), (1, 1), (0, 0)), mode="edge")
    for y in range(rows * cell):
        for x in range(cols * cell):
            best = (-1.0, 0.0, 0.0)
            for c in range(patch.shape[2]):
                dx = p[y + 1, x + 2, c] - p[y + 1, x, c]
                dy = p[y + 2, x + 1, c] - p[y, x + 1, c]
                if np.hypot(dx, dy) > best[0]:
                    best = (np.hypot(dx, dy), dx, dy)
            mag, dx, dy = best
            pos = (np.arctan2(dy, dx) % (2 * np.pi)) / (2 * np.pi) * 18
            lo = int(np.floor(pos)) % 18
            hist[y // cell, x // cell, lo] += mag * (1 - (pos - np.floor(pos)))
            hist[y // cell, x // cell, (lo + 1) % 18] += mag * (pos - np.floor(pos))
    unsigned = hist[..., :9] + hist[..., 9:]
    energy = (unsigned ** 2).sum(-1)
    out = np.zeros((rows, cols, 31))
    for i in range(rows):
        for j in range(cols):
            for k, (di, dj) in enumerate(((-1, -1), (-1, 1), (1, -1), (1, 1))):
                cells = [(i, j), (i + di, j), (i, j + dj), (i + di, j + dj)]
                block = sum(energy[min(max(a, 0), rows - 1), min(max(b, 0), cols - 1)] for a, b in cells)
                norm = 1 / np.sqrt(block + 1e-4)
                s = np.minimum(hist[i, j] * norm, 0.2)
                u = np.minimum(unsigned[i, j] * norm, 0.2)
                out[i, j, :18] += 0.5 * s
                out[i, j, 18:27] += 0.5 * u
                out[i, j, 27 + k] = 0.2357 * u.sum()
    return out


def test_fhog_matches_a_loop_reference_and_sees_orientation():
    rng = np.random.default_rng(1)
    patch = rng.uniform(0, 1, (12, 8, 3)).astype(np.float32)
    got = np.asarray(sf.fhog(jnp.asarray(patch), 4))
    want = _fhog_loops(patch.astype(np.float64), 4)
    assert got.shape == (3, 2, sf.FHOG_FEATURES)
    np.testing.assert_allclose(got, want, atol=2e-5)
    # Vertical stripes: the gradient is horizontal, so the unsigned histogram's bin 0 holds it all.
    stripes = np.tile((np.arange(16) % 4 < 2).astype(np.float32)[None, :, None], (16, 1, 3))
    unsigned = np.asarray(sf.fhog(jnp.asarray(stripes), 4))[..., 18:27]
    assert np.all(unsigned[..., 0] > 0.1) and np.all(unsigned[..., 1:] < 1e-6)


def test_a_planted_zoom_of_a_real_frame_is_recovered_to_within_a_step():
    """Car4's first frame, its box: the model of that box; the frame zoomed about the box's centre
    by z; the size estimated at the centre is z x the box, to within one of the filter's 2 % steps."""
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import load_frame

    if not CAR4.is_dir():
        pytest.skip(f"{CAR4} is not here")
    seq = open_sequence(CAR4)
    image = load_frame(seq.frame_paths[0])
    box = jnp.asarray(seq.init_box, jnp.float32)
    hw = jnp.asarray(image.shape[:2], jnp.float32)
    model = sf.init_model(jnp.asarray(image), box, hw, CFG)
    cx, cy = seq.init_box[:2] + seq.init_box[2:] / 2
    factors = sf.scale_factors(CFG)
    for zoom in (0.9, 1.0, 1.12):
        size = sf.estimate_size(model, jnp.asarray(zoomed(image, (cx, cy), zoom)), jnp.asarray([cx, cy], jnp.float32),
                                box[2:4], hw, CFG)
        ratio = np.asarray(size) / np.asarray(box[2:4])
        assert ratio[0] == pytest.approx(ratio[1], rel=1e-6)  # one factor for both sides
        assert np.min(np.abs(factors - ratio[0])) < 1e-5  # one of the filter's scales
        assert abs(np.log(ratio[0]) - np.log(zoom)) <= np.log(1.02) + 1e-6, (zoom, ratio)


def test_the_model_of_its_own_sample_is_a_fixed_point_of_the_update():
    rng = np.random.default_rng(2)
    frame = jnp.asarray(rng.uniform(0, 255, (60, 80, 3)).astype(np.float32))
    box, hw = jnp.asarray([20.0, 15.0, 24.0, 20.0]), jnp.asarray([60.0, 80.0])
    model = sf.init_model(frame, box, hw, CFG)
    again = sf.update_model(model, frame, geometry.box_centre(box), box[2:4], hw, CFG)
    np.testing.assert_allclose(np.asarray(again.numerator), np.asarray(model.numerator), rtol=1e-5, atol=1e-6)
    other = sf.update_model(model, frame[::-1], geometry.box_centre(box), box[2:4], hw, CFG)
    new = sf.init_model(frame[::-1], box, hw, CFG)
    np.testing.assert_allclose(np.asarray(other.denominator),
                               0.975 * np.asarray(model.denominator) + 0.025 * np.asarray(new.denominator), rtol=1e-5)
