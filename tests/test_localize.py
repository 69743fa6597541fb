"""Hand-computed cases for every localisation rule (spec §5)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax import localize as L
from fcnt_jax.config import LocalizationConfig, get_config
from fcnt_jax.tracker import adaptation_due, discrimination_due, should_store

CFG = LocalizationConfig()


def brute_integral(m, box):
    """Sum of pixel values times their overlap with a fractional box."""
    x0, y0, w, h = box
    total = 0.0
    for j in range(m.shape[0]):
        oy = max(0.0, min(j + 1, y0 + h) - max(j, y0))
        for i in range(m.shape[1]):
            ox = max(0.0, min(i + 1, x0 + w) - max(i, x0))
            total += m[j, i] * ox * oy
    return total


def test_summed_area_integrals_are_exact_for_fractional_boxes():
    rng = np.random.default_rng(0)
    m = rng.random((12, 15))
    boxes = np.array([[0.0, 0.0, 15.0, 12.0], [2.3, 1.7, 5.5, 4.25], [-3.0, 8.5, 6.0, 10.0], [14.2, 11.1, 3.0, 3.0]])
    got = np.asarray(L.box_integrals(L.summed_area_table(jnp.asarray(m)), jnp.asarray(boxes, jnp.float32)))
    want = [brute_integral(m, b) for b in boxes]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_particle_confidence_is_the_mean_in_the_box():
    heat = jnp.zeros((100, 100)).at[40:60, 30:50].set(1.0)  # a 20x20 block of ones
    roi = jnp.array([0.0, 0.0, 100.0])  # ROI frame == image frame (roi_size 100)
    boxes = jnp.array([[30.0, 40.0, 20.0, 20.0],    # exactly the block: mean 1
                       [20.0, 30.0, 40.0, 40.0],    # 4x the block's area: 0.25
                       [30.0, 50.0, 20.0, 20.0],    # half on the block: 0.5
                       [90.0, 90.0, 20.0, 20.0]])   # 3/4 outside the ROI, on zeros: 0
    conf = L.particle_confidence(heat, boxes, roi, 100)
    np.testing.assert_allclose(conf, [1.0, 0.25, 0.5, 0.0], atol=1e-6)


def test_ranking_scores():
    boxes = jnp.array([[0.0, 0.0, 10.0, 20.0]])
    np.testing.assert_allclose(L.ranking_score(jnp.array([0.5]), boxes, 0.7, "mean_area_gamma"), [0.5 * 200**0.7], rtol=1e-6)
    np.testing.assert_allclose(L.ranking_score(jnp.array([0.5]), boxes, 0.7, "sum"), [100.0], rtol=1e-6)


def test_distracter_proportion():
    heat = jnp.zeros((100, 100))
    heat = heat.at[10:20, 10:20].set(1.0)    # inside the box: mass 100
    heat = heat.at[60:70, 60:65].set(0.5)    # outside, strong: mass 25 -> P_d = 0.25 >= 0.2
    heat = heat.at[80:90, 0:50].set(0.15)    # outside but <= 0.2: ignored
    roi, hw = jnp.array([0.0, 0.0, 100.0]), jnp.array([100.0, 100.0])
    flag, ratio = L.distracter_test(heat, jnp.array([10.0, 10.0, 10.0, 10.0]), roi, hw, 100, 0.2, 0.2)
    assert bool(flag) and float(ratio) == pytest.approx(0.25)
    weaker = heat.at[60:70, 60:65].set(0.3)  # mass 15 -> 0.15 < 0.2
    flag, ratio = L.distracter_test(weaker, jnp.array([10.0, 10.0, 10.0, 10.0]), roi, hw, 100, 0.2, 0.2)
    assert not bool(flag) and float(ratio) == pytest.approx(0.15)
    # The box is clipped to the image: a box spilling out still counts only the in-image mass.
    flag, ratio = L.distracter_test(heat, jnp.array([-10.0, 10.0, 30.0, 10.0]), roi, hw, 100, 0.2, 0.2)
    assert float(ratio) == pytest.approx(0.25)


PREV = jnp.array([50.0, 50.0, 1.0, 2.0])
G = jnp.array([55.0, 52.0, 1.1, 2.0])
S = jnp.array([45.0, 48.0, 0.9, 2.0])


@pytest.mark.parametrize("g_conf,s_conf,distracter,want_state,want_conf,want_by", [
    (0.5, 0.4, False, G, 0.5, L.GNET),                                  # GNet decides
    (0.5, 0.4, True, S, 0.4, L.SNET),                                   # distracter: SNet decides
    (0.05, 0.4, False, S, 0.4, L.SNET),                                 # GNet too weak, SNet > 0.1
    (0.05, 0.2, False, jnp.array([45.0, 48.0, 1.0, 2.0]), 0.2, L.SNET), # SNet, but conf < 0.35: keep scale
    (0.3, 0.05, False, jnp.array([55.0, 52.0, 1.0, 2.0]), 0.3, L.GNET), # conf < 0.35: centre only
    (0.08, 0.09, False, PREV, 0.08, L.HELD),                            # both <= 0.1: don't move
    (0.5, 0.09, True, PREV, 0.09, L.HELD),                              # distracter and SNet too weak
])
def test_move_and_freeze_rules(g_conf, s_conf, distracter, want_state, want_conf, want_by):
    state, conf, by = L.decide(PREV, G, jnp.float32(g_conf), S, jnp.float32(s_conf), jnp.asarray(distracter), CFG)
    np.testing.assert_allclose(state, want_state, rtol=1e-6)
    assert float(conf) == pytest.approx(want_conf) and int(by) == want_by


@pytest.mark.parametrize("minconf,w0,enabled", [
    (0.495, 100.0, False),   # > 0.49: always confident, stays off
    (0.47, 10.0, True),      # (0.45, 0.49)
    (0.49, 100.0, True),     # exactly 0.49 falls to the ratio rules: > 0.4 and ratio 1.56 > 0.6
    (0.42, 40.0, True),      # > 0.4, ratio 0.625 > 0.6
    (0.42, 38.0, False),     # > 0.4, ratio 0.59: no
    (0.38, 19.0, True),      # > 0.35, ratio 0.297 < 0.3
    (0.38, 20.0, False),     # ratio 0.3125
    (0.35, 10.0, False),     # <= 0.35: off
])
def test_frame_20_scale_rule(minconf, w0, enabled):
    assert bool(L.scale_sampling_decision(jnp.float32(minconf), jnp.float32(w0))) is enabled


def test_update_triggers():
    code, paper = get_config("code"), get_config("paper")
    assert bool(should_store(jnp.float32(0.5), jnp.float32(0.4), code))
    assert not bool(should_store(jnp.float32(0.3), jnp.float32(0.0), code))   # not above 0.35
    assert not bool(should_store(jnp.float32(0.5), jnp.float32(0.6), code))   # not above the stored one
    latest = get_config("fcnt_plus")  # latest_sample is one of its fixes
    assert bool(should_store(jnp.float32(0.4), jnp.float32(0.6), latest))    # any frame above 0.35
    assert not bool(should_store(jnp.float32(0.3), jnp.float32(0.0), latest))
    assert bool(adaptation_due(jnp.int32(19), jnp.float32(0.5), code))        # the 20th frame
    assert not bool(adaptation_due(jnp.int32(20), jnp.float32(0.5), code))
    assert not bool(adaptation_due(jnp.int32(39), jnp.float32(0.35), code))   # stored conf must beat 0.35
    t, f = jnp.asarray(True), jnp.asarray(False)
    assert bool(discrimination_due(f, t, jnp.float32(0.5), code))             # code: SNet-map test
    assert not bool(discrimination_due(t, f, jnp.float32(0.5), code))
    assert bool(discrimination_due(t, f, jnp.float32(0.5), paper))            # paper: GNet test
    assert not bool(discrimination_due(f, t, jnp.float32(0.3), code))         # conf must be > 0.35


def test_roi_heat_map_normalises_thresholds_and_masks_outside_the_image():
    raw = jnp.zeros((8, 8)).at[4, 4].set(4.0).at[1, 1].set(0.2)
    roi = jnp.array([-32.0, 0.0, 64.0])  # left half of the ROI lies outside the image
    heat = L.roi_heat_map(raw, roi, jnp.array([64.0, 64.0]), 64, 0.1)
    assert float(heat.max()) == pytest.approx(1.0, abs=0.05)
    assert float(heat[:, :32].max()) == 0.0  # outside the image
    assert float(jnp.min(jnp.where(heat > 0, heat, 1.0))) > 0.1  # nothing in (0, 0.1]


@pytest.mark.parametrize("nets,g_conf,s_conf,distracter,want_state,want_by", [
    ("gnet", 0.5, 0.4, True, G, L.GNET),      # FCNT_G ignores the distracter switch
    ("gnet", 0.05, 0.4, False, PREV, L.HELD),  # ... and never falls back to SNet
    ("snet", 0.5, 0.4, False, S, L.SNET),      # FCNT_S: SNet decides without a distracter
    ("snet", 0.5, 0.05, False, PREV, L.HELD),  # ... and never falls back to GNet
])
def test_single_net_ablations(nets, g_conf, s_conf, distracter, want_state, want_by):
    cfg = dataclasses.replace(CFG, nets=nets)
    state, _, by = L.decide(PREV, G, jnp.float32(g_conf), S, jnp.float32(s_conf), jnp.asarray(distracter), cfg)
    np.testing.assert_allclose(state, want_state, rtol=1e-6)
    assert int(by) == want_by


@pytest.mark.parametrize("g_conf,s_conf,distracter,fallback,want_state,want_conf,want_by", [
    (0.31, 0.05, True, False, PREV, 0.05, L.HELD),                           # code: held (Football1 19-21)
    (0.31, 0.05, True, True, jnp.array([55.0, 52.0, 1.0, 2.0]), 0.31, L.GNET),  # fallback: GNet moves, scale kept
    (0.5, 0.05, True, True, G, 0.5, L.GNET),                                # confident GNet: its scale too
    (0.08, 0.05, True, True, PREV, 0.05, L.HELD),                           # GNet too weak as well: held
    (0.5, 0.4, True, True, S, 0.4, L.SNET),                                 # SNet sure: unchanged
    (0.05, 0.4, False, True, S, 0.4, L.SNET),                               # the code's SNet fallback first
])
def test_gnet_fallback_only_replaces_holding(g_conf, s_conf, distracter, fallback, want_state, want_conf, want_by):
    cfg = dataclasses.replace(CFG, gnet_fallback=fallback)
    state, conf, by = L.decide(PREV, G, jnp.float32(g_conf), S, jnp.float32(s_conf), jnp.asarray(distracter), cfg)
    np.testing.assert_allclose(state, want_state, rtol=1e-6)
    assert float(conf) == pytest.approx(want_conf) and int(by) == want_by


def test_motion_prior_is_the_proposal_density_over_its_peak():
    state = jnp.array([50.0, 40.0, 0.5, 1.2])
    sigma = jnp.array([8.0, 8.0, 0.0, 0.004])  # scale not sampled: left out
    particles = jnp.array([[50.0, 40.0, 0.5, 1.2],      # at the state: 1
                           [66.0, 40.0, 0.9, 1.2],      # 2 sigma in x (the unsampled scale ignored): e^-2
                           [58.0, 32.0, 0.5, 1.204]])   # 1 sigma in x, y and aspect: e^-1.5
    np.testing.assert_allclose(L.motion_prior(particles, state, sigma), [1.0, np.exp(-2.0), np.exp(-1.5)], rtol=1e-4)  # float32 aspect


def _target_and_neighbour(target_xy, neighbour_xy, size: int = 200) -> jax.Array:
    """A 200x200 map (ROI frame = image): Gaussian blobs of std 6 px, the target's of peak 1 and a
    neighbour's 20 % stronger."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    def blob(cx, cy, peak):
        return peak * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 6.0**2))

    return jnp.asarray(blob(*target_xy, 1.0) + blob(*neighbour_xy, 1.2), jnp.float32)


def test_motion_prior_keeps_the_box_on_the_near_target_not_a_stronger_neighbour():
    """A planted map: the target's blob at the last box and a neighbour's, 20 % stronger, 3 sigma
    away. The code's argmax takes the neighbour; with the prior the target keeps the box."""
    target_xy, neighbour_xy, sigma_px = (80.0, 100.0), (104.0, 100.0), 8.0

    heat = _target_and_neighbour(target_xy, neighbour_xy)
    roi = jnp.array([0.0, 0.0, 200.0])
    state = jnp.array([*target_xy, 20.0 / 64, 1.0])
    sigma = jnp.array([sigma_px, sigma_px, 0.0, 0.0])
    particles = L.sample_particles(jax.random.PRNGKey(0), state, sigma, 700)
    boxes = L.particle_boxes(particles, 64)
    rank = L.ranking_score(L.particle_confidence(heat, boxes, roi, 200), boxes, 0.7, "mean_area_gamma")
    plain = particles[jnp.argmax(rank)]
    with_prior = particles[jnp.argmax(rank * L.motion_prior(particles, state, sigma))]
    assert float(jnp.abs(plain[0] - neighbour_xy[0])) < sigma_px  # the code's rule jumps
    assert float(jnp.abs(with_prior[0] - target_xy[0])) < sigma_px  # the prior holds the target


def _block_blob(half_w: float, half_h: float, centre=(100.0, 100.0), size: int = 200) -> np.ndarray:
    """A map of ones on a ``2 half_w x 2 half_h`` block around ``centre`` (ROI frame = image)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return ((np.abs(xx - centre[0]) <= half_w) & (np.abs(yy - centre[1]) <= half_h)).astype(np.float32)


@pytest.mark.parametrize("decider", [L.GNET, L.SNET])
def test_size_consensus_vetoes_a_size_the_other_map_does_not_support(decider):
    """A planted case: the deciding net's particle grows the box from 20x20 to 30x30 px. The other
    net's map is a 20x20 block on the target: by hand, its rank at 20x20 is 1 x 400^g, at 30x30
    (400 / 900) x 900^g, lower for any g < 1, so the size holds while the centre moves. Where the
    other map is a 30x30 block, the larger box ranks higher (1 x 900^g) and is kept."""
    roi = jnp.array([0.0, 0.0, 200.0])
    prev = jnp.array([98.0, 100.0, 20.0 / 64, 1.0])
    grown = jnp.array([100.0, 100.0, 30.0 / 64, 1.0])
    broad = jnp.asarray(_block_blob(25, 25))
    for other, want_w in ((_block_blob(10, 10), 20.0), (_block_blob(15, 15), 30.0)):
        other = jnp.asarray(other)
        g_map, s_map = (broad, other) if decider == L.GNET else (other, broad)
        got = L.size_consensus(prev, grown, jnp.int32(decider), g_map, s_map, roi, 200, CFG)
        assert float(got[0]) == pytest.approx(100.0)  # the centre moves either way
        assert float(got[2]) * 64 == pytest.approx(want_w, rel=1e-5)
        assert float(got[3]) == pytest.approx(1.0)


def test_size_consensus_leaves_a_shrink_the_other_map_supports_and_vetoes_one_it_does_not():
    roi = jnp.array([0.0, 0.0, 200.0])
    prev = jnp.array([100.0, 100.0, 30.0 / 64, 1.0])
    shrunk = jnp.array([100.0, 100.0, 20.0 / 64, 1.0])
    tight = jnp.asarray(_block_blob(10, 10))  # both maps say 20x20: the shrink stands
    got = L.size_consensus(prev, shrunk, jnp.int32(L.GNET), tight, tight, roi, 200, CFG)
    np.testing.assert_allclose(got, shrunk, rtol=1e-6)
    broad = jnp.asarray(_block_blob(15, 15))  # SNet says 30x30: a GNet shrink is vetoed
    got = L.size_consensus(prev, shrunk, jnp.int32(L.GNET), tight, broad, roi, 200, CFG)
    np.testing.assert_allclose(got, prev, rtol=1e-6)


def test_motion_prior_on_the_centre_only_ignores_the_size():
    state = jnp.array([50.0, 40.0, 0.5, 1.2])
    sigma = jnp.array([8.0, 8.0, 0.01, 0.004])
    particles = jnp.array([[50.0, 40.0, 0.53, 1.212],   # 3 sigma in scale and aspect: ignored -> 1
                           [58.0, 40.0, 0.5, 1.2]])     # 1 sigma in x: e^-0.5
    np.testing.assert_allclose(L.motion_prior(particles, state, sigma, size=False), [1.0, np.exp(-0.5)], rtol=1e-5)
    # With the size: exp(-0.5 (3^2 + 3^2)) for the first.
    np.testing.assert_allclose(L.motion_prior(particles, state, sigma)[0], np.exp(-9.0), rtol=1e-3)


def test_constant_velocity_prior_follows_a_moving_target_the_static_prior_lags():
    """A target 7 px a frame to the right of the last box (its last displacement), as on Football1,
    and a 20 %-stronger neighbour 3 sigma the other way. The static prior (FCNT's centre) settles
    between the last box and the target; centred on the prediction, it lands on the target."""
    last, target_xy, neighbour_xy, sigma_px = (80.0, 100.0), (87.0, 100.0), (56.0, 100.0), 8.0

    heat = _target_and_neighbour(target_xy, neighbour_xy)
    roi = jnp.array([0.0, 0.0, 200.0])
    state = jnp.array([*last, 20.0 / 64, 1.0])
    sigma = jnp.array([sigma_px, sigma_px, 0.0, 0.0])
    errors = {}
    for name, centre in (("static", state), ("velocity", L.predicted_state(state, jnp.array([7.0, 0.0])))):
        particles = L.sample_particles(jax.random.PRNGKey(1), centre, sigma, 2000)
        boxes = L.particle_boxes(particles, 64)
        rank = L.ranking_score(L.particle_confidence(heat, boxes, roi, 200), boxes, 0.7, "mean_area_gamma")
        best = particles[jnp.argmax(rank * L.motion_prior(particles, centre, sigma, size=False))]
        errors[name] = float(jnp.abs(best[0] - target_xy[0]))
    assert errors["velocity"] < 2.0 < errors["static"] < 7.0, errors


def test_centre_on_map_centroid_takes_the_blob_centre_a_tall_box_leaves_free():
    """A planted plateau: a 20x40 block (centre (100, 110)) inside a 20x80 box centred at (100, 95).
    Every vertical position of the box that covers the block has the same mean, so the ranking
    cannot place it; the centroid over the box is the block's centre, by hand. Size and aspect stay;
    a held frame or a box with no map mass keeps the state."""
    roi = jnp.array([0.0, 0.0, 200.0])
    heat = jnp.asarray(_block_blob(10, 20, centre=(100.0, 110.0)))
    state = jnp.array([100.0, 95.0, 20.0 / 64, 4.0])
    boxes = L.particle_boxes(jnp.stack([state, state.at[1].set(110.0)]), 64)
    conf = L.particle_confidence(heat, boxes, roi, 200)
    assert float(conf[0]) == pytest.approx(float(conf[1]), rel=1e-5)  # the plateau: both rank alike
    got = L.centre_on_map_centroid(state, heat, roi, jnp.bool_(True), 64)
    np.testing.assert_allclose(np.asarray(got), [100.0, 110.0, 20.0 / 64, 4.0], rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(L.centre_on_map_centroid(state, heat, roi, jnp.bool_(False), 64)),
                                  np.asarray(state))
    far = state.at[0].set(160.0)  # the box holds no map mass: no centroid to move to
    np.testing.assert_array_equal(np.asarray(L.centre_on_map_centroid(far, heat, roi, jnp.bool_(True), 64)),
                                  np.asarray(far))


def test_centre_on_map_centroid_weights_by_the_map_inside_the_box_only():
    """Two blobs: one in the box's lower part (weight 1, 10x10 px around (100, 120)) and a stronger
    one just outside it (weight 3, at (130, 100); inside a window twice the box). Only mass inside
    the box counts, so the centre moves to the inner blob's centre; with a ramp map the centroid is
    the ramp's weighted mean, by hand."""
    roi = jnp.array([0.0, 0.0, 200.0])
    heat = _block_blob(5, 5, centre=(100.0, 120.0)) + 3.0 * _block_blob(5, 5, centre=(130.0, 100.0))
    state = jnp.array([100.0, 100.0, 40.0 / 64, 1.5])  # a 40x60 box: y in [70, 130]
    got = L.centre_on_map_centroid(state, jnp.asarray(heat), roi, jnp.bool_(True), 64)
    np.testing.assert_allclose(np.asarray(got[:2]), [100.0, 120.0], rtol=1e-5)
    # A ramp in x across the box (x in [80, 120]): weights x - 80 at pixel centres, centroid
    # sum(x (x - 80)) / sum(x - 80) over x = 80.5 ... 119.5.
    yy, xx = np.mgrid[0:200, 0:200] + 0.5
    ramp = np.clip(xx - 80.0, 0.0, None).astype(np.float32)
    xs = np.arange(80, 120) + 0.5
    want_x = np.sum(xs * (xs - 80.0)) / np.sum(xs - 80.0)
    got = L.centre_on_map_centroid(state, jnp.asarray(ramp), roi, jnp.bool_(True), 64)
    np.testing.assert_allclose(np.asarray(got[:2]), [want_x, 100.0], rtol=1e-5)


def _uniform_block_implied(half: float) -> float:
    """The side a ``2 half`` px block of ones implies, by hand: the std of 2 half pixel centres at
    unit spacing, sqrt(((2 half)^2 - 1) / 12), over the spread of M per side."""
    return float(np.sqrt(((2 * half) ** 2 - 1) / 12.0) / L.SPREAD_PER_SIDE)


def test_voted_size_moves_each_side_by_the_smaller_agreed_change_and_holds_where_the_maps_disagree():
    """A 40x40 box at (100, 100). GNet's map is a 60x40 block, SNet's a 50x20 block (both inside the
    window of twice the box): in w both imply more than 40 px, so w becomes the smaller change,
    SNet's; in h GNet implies more and SNet less, so h holds. Swapped to two smaller blocks, w takes
    the larger implied side (the smaller shrink). Frozen scale (conf < 0.35) or an empty map: no
    change."""
    roi = jnp.array([0.0, 0.0, 200.0])
    state = jnp.array([100.0, 100.0, 40.0 / 64, 1.0])
    g_map, s_map = jnp.asarray(_block_blob(30, 20)), jnp.asarray(_block_blob(25, 10))
    assert _uniform_block_implied(20) > 40 > _uniform_block_implied(10)  # h: the maps disagree
    got = L.voted_size(state, g_map, s_map, roi, jnp.float32(0.5), CFG)
    w = _uniform_block_implied(25)
    np.testing.assert_allclose(np.asarray(got), [100.0, 100.0, w / 64, 40.0 / w], rtol=1e-4)
    got = L.voted_size(state, jnp.asarray(_block_blob(8, 30)), jnp.asarray(_block_blob(5, 10)), roi,
                       jnp.float32(0.5), CFG)
    w, h = _uniform_block_implied(8), 40.0  # both shrink in w: GNet's is the smaller change; h disagrees
    assert w < 40 and _uniform_block_implied(30) > 40 > _uniform_block_implied(10)
    np.testing.assert_allclose(np.asarray(got), [100.0, 100.0, w / 64, h / w], rtol=1e-4)
    for conf, g in ((0.3, g_map), (0.5, jnp.zeros_like(g_map))):
        np.testing.assert_array_equal(np.asarray(L.voted_size(state, g, s_map, roi, jnp.float32(conf), CFG)),
                                      np.asarray(state))


def test_matched_confidence_equals_the_map_weighted_by_each_boxs_own_target_map():
    """Against a brute-force render: for boxes inside the ROI, sum(heat x M_box) / sum(M_box) with
    M_box drawn by heatmap.roi_target_map (the map the heads are trained to); a box whose left half
    leaves the ROI on a map of ones scores M's inside share, 0.5 (the outside counts as 0, as for
    the plain mean)."""
    from fcnt_jax import heatmap

    roi = jnp.array([0.0, 0.0, 200.0])
    rng = np.random.default_rng(0)
    heat = jnp.asarray(rng.random((200, 200)).astype(np.float32))
    boxes = jnp.array([[40.0, 50.0, 30.0, 90.0], [100.5, 20.25, 61.0, 40.0], [10.0, 150.0, 44.0, 33.0]])
    got = np.asarray(L.particle_matched_confidence(heat, boxes, roi, 200))
    for box, value in zip(boxes, got):
        m = np.asarray(heatmap.roi_target_map(box, roi, 200))
        assert value == pytest.approx(float(np.sum(np.asarray(heat) * m) / np.sum(m)), rel=2e-3)
    ones = jnp.ones((200, 200), jnp.float32)
    half_out = jnp.array([[-20.0, 80.0, 40.0, 40.0], [60.0, 80.0, 40.0, 40.0]])
    np.testing.assert_allclose(np.asarray(L.particle_matched_confidence(ones, half_out, roi, 200)), [0.5, 1.0],
                               atol=5e-3)


def test_matched_confidence_places_a_tall_box_on_the_blob_the_plain_mean_leaves_free():
    """The plateau of test_centre_on_map_centroid_takes_the_blob_centre_a_tall_box_leaves_free: a
    20x40 block at (100, 110) under a 20x80 box. The plain mean ranks every vertical position that
    covers the block alike; the M-weighted mean is highest with the block centred (y = 110) and
    falls off symmetrically either side."""
    roi = jnp.array([0.0, 0.0, 200.0])
    heat = jnp.asarray(_block_blob(10, 20, centre=(100.0, 110.0)))
    ys = jnp.array([95.0, 100.0, 105.0, 110.0, 115.0, 120.0, 125.0])
    states = jnp.stack([jnp.full_like(ys, 100.0), ys, jnp.full_like(ys, 20.0 / 64), jnp.full_like(ys, 4.0)], -1)
    boxes = L.particle_boxes(states, 64)
    plain = np.asarray(L.particle_confidence(heat, boxes, roi, 200))
    matched = np.asarray(L.particle_matched_confidence(heat, boxes, roi, 200))
    np.testing.assert_allclose(plain, plain[3], rtol=1e-5)  # flat: 110 +- 15 all cover the block
    assert int(np.argmax(matched)) == 3
    assert np.all(np.diff(matched[:4]) > 0) and np.all(np.diff(matched[3:]) < 0)
    np.testing.assert_allclose(matched[:3], matched[4:][::-1], rtol=1e-4)


def test_matched_centre_keeps_the_ranked_size_and_takes_the_m_weighted_centre():
    """The plateau again (a 20x40 block at (100, 110)). Planted rank: a 20x80 particle at y = 95
    is the best. Every particle's centre is tried at that size; the M-weighted mean is highest at
    y = 110, so the state is (100, 110) at 20x80, even though the particle at y = 110 was 40x40;
    its confidence is the plain mean there, by hand 800 / 1600 = 0.5."""
    roi = jnp.array([0.0, 0.0, 200.0])
    heat = jnp.asarray(_block_blob(10, 20, centre=(100.0, 110.0)))
    particles = jnp.array([[100.0, 95.0, 20.0 / 64, 4.0], [100.0, 110.0, 40.0 / 64, 1.0],
                           [100.0, 125.0, 20.0 / 64, 4.0], [100.0, 140.0, 20.0 / 64, 4.0]])
    state, conf = L.matched_centre(particles, jnp.array([3.0, 1.0, 2.0, 0.0]), heat, roi, 200, 64)
    np.testing.assert_allclose(np.asarray(state), [100.0, 110.0, 20.0 / 64, 4.0], rtol=1e-6)
    assert float(conf) == pytest.approx(0.5, rel=1e-4)
