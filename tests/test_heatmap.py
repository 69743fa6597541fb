import jax.numpy as jnp
import numpy as np

from fcnt_jax import geometry, heatmap


def test_roi_map_peak_sigma_and_truncation():
    box = jnp.array([100.0, 50.0, 40.0, 80.0])
    roi = jnp.array([100.0 - 44.0, 50.0 - 4.0, 128.0])  # roi_size 128 -> 1 ROI px = 1 image px
    m = np.asarray(heatmap.roi_target_map(box, roi, roi_size=128))
    cy, cx = 4 + 40, 44 + 20  # box centre in ROI pixels (pixel-centre sampling at +0.5)
    # Peak 1 at the centre (pixel centres straddle it by 0.5 px).
    assert m.max() <= 1.0 and m.max() > 0.99
    # sigma_x = w/3 = 13.33, sigma_y = h/3 = 26.67: exp(-d^2 / 2 sigma^2) relative to the centre.
    sx, sy = 40 / 3, 80 / 3
    d = 12.5  # pixel centre cx + 12 sits 12.5 px from the exact centre
    np.testing.assert_allclose(m[cy, cx + 12] / m[cy, cx - 1], np.exp(-d**2 / (2 * sx**2)) / np.exp(-0.5**2 / (2 * sx**2)), rtol=1e-5)
    np.testing.assert_allclose(m[cy + 12, cx] / m[cy - 1, cx], np.exp(-d**2 / (2 * sy**2)) / np.exp(-0.5**2 / (2 * sy**2)), rtol=1e-5)
    # Truncated at the box: the mid-edge is about exp(-9/8) = 0.32 and the next pixel out is 0.
    assert abs(m[cy, 44] - np.exp(-(19.5**2) / (2 * sx**2)) * np.exp(-(0.5**2) / (2 * sy**2))) < 1e-5
    assert m[cy, 43] == 0.0 and m[cy, 44 + 40] == 0.0 and m[3, cx] == 0.0 and m[4 + 80, cx] == 0.0


def test_grid_map_peak_and_zero_away_from_the_box():
    box = jnp.array([200.0, 150.0, 17.0, 50.0])
    roi = geometry.roi_for_box(box)
    m = np.asarray(heatmap.target_map(box, roi, grid=46))
    assert m.shape == (46, 46)
    assert 0.95 < m.max() <= 1.01
    peak = np.unravel_index(np.argmax(m), m.shape)
    assert abs(peak[0] - 22.5) <= 1 and abs(peak[1] - 22.5) <= 1
    # Box in cells: 17 x 3.68 / 8 = 7.8 wide; the antialiasing kernel reaches 2 cells, so cells
    # more than 3 cells beyond the box edge are exactly 0.
    box_cells = np.asarray(geometry.box_to_roi(box, roi)) / 8
    cols = np.arange(46) + 0.5
    far = (cols < box_cells[0] - 3) | (cols > box_cells[0] + box_cells[2] + 3)
    assert np.abs(m[:, far]).max() < 1e-6


def test_box_outside_the_image_is_cut_at_the_image_edge():
    box = jnp.array([-20.0, 10.0, 40.0, 40.0])
    roi = geometry.roi_for_box(box)
    with_image = np.asarray(heatmap.roi_target_map(box, roi, image_hw=jnp.array([100.0, 100.0])))
    without = np.asarray(heatmap.roi_target_map(box, roi))
    x_edge = float(geometry.image_to_roi(jnp.array([0.0, 0.0]), roi)[0])
    assert with_image[:, : int(x_edge) - 1].max() == 0.0 and without[:, : int(x_edge) - 1].max() > 0.3
