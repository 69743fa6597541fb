"""Localisation (spec §5): heat maps in the ROI frame, particles, scores, distracters, move rules.

The official code pastes each 46x46 map, resized to the ROI's pixel size, into an image-sized
canvas. That has a per-frame shape; we keep the map in the fixed ``roi_size x roi_size`` ROI frame
instead, zero the ROI pixels that fall outside the image, and map particle boxes into ROI
coordinates (spec §5.1, JAX note). Means and ratios are unchanged up to resampling.

A particle's confidence is the mean of the thresholded map over its box. The code averages
64x64 bilinear samples; we integrate the (piecewise-constant) map exactly over the box with a
summed-area table: four lookups per particle instead of 4096 samples, the same quantity up to
sampling error. Area outside the ROI counts as zero, like the code's zero canvas.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from fcnt_jax.config import LocalizationConfig
from fcnt_jax.geometry import box_to_roi, roi_to_image, state_to_box
from fcnt_jax.heatmap import truncated_gaussian_profile

HELD, GNET, SNET = 2, 0, 1  # which net decided the frame (HELD: no move, spec §5.5)


def roi_heat_map(raw: jax.Array, roi: jax.Array, image_hw: jax.Array, roi_size: int,
                 threshold: float) -> jax.Array:
    """A head's raw ``(grid, grid)`` output -> the thresholded map in the ROI frame (spec §5.1):
    divided by its max, bicubic-upsampled to ``roi_size``, zero outside the image, values <=
    ``threshold`` zeroed."""
    peak = jnp.max(raw)
    normalised = raw / jnp.where(peak > 0, peak + 1e-12, 1.0)  # a non-positive max: no target seen
    up = jax.image.resize(normalised, (roi_size, roi_size), method="cubic")
    centres = jnp.arange(roi_size, dtype=jnp.float32) + 0.5
    pts = roi_to_image(jnp.stack([centres, centres], -1), roi, roi_size)  # (roi_size, 2): x and y
    in_x = (pts[:, 0] >= 0) & (pts[:, 0] < image_hw[1])
    in_y = (pts[:, 1] >= 0) & (pts[:, 1] < image_hw[0])
    up = jnp.where(in_y[:, None] & in_x[None, :], up, 0.0)
    return jnp.where(up > threshold, up, 0.0)


def summed_area_table(values: jax.Array) -> jax.Array:
    """``(H+1, W+1)`` table; entry [y, x] = sum of values[:y, :x]."""
    table = jnp.cumsum(jnp.cumsum(values, axis=0), axis=1)
    return jnp.pad(table, ((1, 0), (1, 0)))


def _table_at(table: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """Bilinear lookup: exact for the integral of a piecewise-constant map."""
    h, w = table.shape[0] - 1, table.shape[1] - 1
    x, y = jnp.clip(x, 0.0, w), jnp.clip(y, 0.0, h)
    x0 = jnp.clip(jnp.floor(x), 0, w - 1).astype(jnp.int32)
    y0 = jnp.clip(jnp.floor(y), 0, h - 1).astype(jnp.int32)
    fx, fy = x - x0, y - y0
    top = table[y0, x0] * (1 - fx) + table[y0, x0 + 1] * fx
    bottom = table[y0 + 1, x0] * (1 - fx) + table[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def box_integrals(table: jax.Array, boxes: jax.Array) -> jax.Array:
    """Integral of the map over ``(N, 4)`` boxes ``[x0, y0, w, h]`` in map pixel coordinates."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    return (_table_at(table, x1, y1) - _table_at(table, x0, y1) - _table_at(table, x1, y0)
            + _table_at(table, x0, y0))


def predicted_state(state: jax.Array, velocity: jax.Array) -> jax.Array:
    """The constant-velocity prediction: ``state`` with its centre moved by ``velocity`` (px)."""
    return state.at[:2].add(velocity)


def sample_particles(key: jax.Array, state: jax.Array, sigma: jax.Array, num: int) -> jax.Array:
    """A fresh Gaussian cloud ``state + randn * sigma`` (no resampling, no motion model, §5.2)."""
    return state[None, :] + jax.random.normal(key, (num, state.shape[0])) * sigma[None, :]


def particle_confidence(heat: jax.Array, boxes: jax.Array, roi: jax.Array, roi_size: int) -> jax.Array:
    """Mean map value inside each image-space box (0 where the box leaves the ROI/image)."""
    in_roi = box_to_roi(boxes, roi, roi_size)
    area = jnp.maximum(in_roi[:, 2] * in_roi[:, 3], 1e-12)
    return box_integrals(summed_area_table(heat), in_roi) / area


def particle_matched_confidence(heat: jax.Array, boxes: jax.Array, roi: jax.Array, roi_size: int,
                                sigma_factor: float = 1.0 / 3.0) -> jax.Array:
    """Each box's map mean weighted by its own target map M (spec §2: a Gaussian with sigma =
    ``sigma_factor`` x the side, cut at the box): the map correlated with what the heads were
    trained to output for that box, over M's integral. Unlike the plain mean it peaks where the
    map's blob is centred in the box even where the box is longer than the blob. As in
    :func:`particle_confidence`, map outside the ROI counts as 0: the denominator is M's integral
    over the whole box (closed form), not over the part inside the ROI. M is separable, so this is
    one ``(N, S) @ (S, S)`` product per map."""
    in_roi = box_to_roi(boxes, roi, roi_size)
    centres = jnp.arange(roi_size, dtype=jnp.float32) + 0.5
    wx = truncated_gaussian_profile(centres[None, :], in_roi[:, 0:1], in_roi[:, 2:3], sigma_factor)
    wy = truncated_gaussian_profile(centres[None, :], in_roi[:, 1:2], in_roi[:, 3:4], sigma_factor)
    weighted = jnp.sum((wy @ heat) * wx, axis=1)
    # Integral of exp(-u^2 / (2 sigma^2)) over [-L/2, L/2] with sigma = sigma_factor * L.
    per_length = sigma_factor * math.sqrt(2.0 * math.pi) * math.erf(1.0 / (2.0 * math.sqrt(2.0) * sigma_factor))
    mass = (per_length * in_roi[:, 2]) * (per_length * in_roi[:, 3])
    return weighted / jnp.maximum(mass, 1e-12)


def matched_centre(particles: jax.Array, rank: jax.Array, heat: jax.Array, roi: jax.Array, roi_size: int,
                   template_size: int, sigma_factor: float = 1.0 / 3.0) -> tuple[jax.Array, jax.Array]:
    """The size of the best-ranked particle (``rank``: the code's ranking), at the centre among all
    the particles' centres where the map's M-weighted mean (:func:`particle_matched_confidence`)
    at that size is highest: the code's ranking picks the size, M-weighting picks where. All the
    candidate boxes then share one area, so the weighting cannot trade mean for area (the
    ``matched_ranking`` candidate inflated boxes that way). Returns (state, plain mean over its
    box): the confidence the move / update rules test stays the code's quantity."""
    best = jnp.argmax(rank)
    sized = particles.at[:, 2:].set(particles[best, 2:])
    boxes = particle_boxes(sized, template_size)
    centre = jnp.argmax(particle_matched_confidence(heat, boxes, roi, roi_size, sigma_factor))
    return sized[centre], particle_confidence(heat, boxes[centre][None], roi, roi_size)[0]


def ranking_score(conf: jax.Array, boxes: jax.Array, gamma: float, mode: str) -> jax.Array:
    """code: mean x area^gamma (area in image px); paper: the sum in the box = mean x area."""
    area = boxes[:, 2] * boxes[:, 3]
    if mode == "sum":
        return conf * area
    return conf * area**gamma


def motion_prior(particles: jax.Array, state: jax.Array, sigma: jax.Array, size: bool = True) -> jax.Array:
    """Each particle's density under ``N(state, diag(sigma^2))``, over peak density: 1 at
    ``state``, exp(-2) two sigmas out along one dimension. Dimensions with sigma 0 (not sampled:
    every particle equals ``state`` there) are left out (``localization.motion_prior``), and so are
    the scale and aspect unless ``size`` (``localization.motion_prior_size``)."""
    sampled = (sigma > 0) & (jnp.arange(sigma.shape[0]) < (sigma.shape[0] if size else 2))
    z = jnp.where(sampled[None, :], (particles - state[None, :]) / jnp.where(sampled, sigma, 1.0)[None, :], 0.0)
    return jnp.exp(-0.5 * jnp.sum(z**2, axis=1))


def size_consensus(prev_state: jax.Array, state: jax.Array, decided_by: jax.Array, g_map: jax.Array,
                   s_map: jax.Array, roi: jax.Array, roi_size: int, cfg: LocalizationConfig) -> jax.Array:
    """``state`` if the net that did not decide also ranks its size (state[2:]) at least as high as
    the previous size ``prev_state[2:]`` at ``state``'s centre, by its own ranking score; else
    ``state`` with the previous size (``localization.size_consensus``, not in FCNT). A held frame
    needs no case of its own: ``decide`` returns the previous state there, so both sizes agree."""
    kept = state.at[2:].set(prev_state[2:])
    boxes = state_to_box(jnp.stack([state, kept]), cfg.template_size)
    by_g = decided_by == GNET
    other_map = jnp.where(by_g, s_map, g_map)
    gamma = jnp.where(by_g, cfg.gamma_s, cfg.gamma_g)
    rank = ranking_score(particle_confidence(other_map, boxes, roi, roi_size), boxes, gamma, cfg.score_mode)
    return jnp.where(rank[0] >= rank[1], state, kept)


def centre_on_map_centroid(state: jax.Array, heat: jax.Array, roi: jax.Array, moved: jax.Array,
                           template_size: int) -> jax.Array:
    """``state`` with its centre moved to the centroid of ``heat`` (``(roi_size, roi_size)``, ROI
    frame) over its own box, where ``moved`` and the box holds map mass; else ``state``
    (``localization.centre_to_map_centroid``, not in FCNT). One mean-shift step: wherever the
    box is wider or taller than the map's blob, every position that still covers the blob has
    the same mean, so the ranking's argmax walks at random along that plateau; the centroid is
    the one position the map itself prefers."""
    total, centroid, _ = map_moments(heat, roi, state_to_box(state, template_size), window=1.0)
    usable = moved & (total > 0) & jnp.all(jnp.isfinite(centroid))
    return jnp.where(usable, state.at[:2].set(centroid), state)


def voted_size(state: jax.Array, g_map: jax.Array, s_map: jax.Array, roi: jax.Array, conf: jax.Array,
               cfg: LocalizationConfig) -> jax.Array:
    """``state`` with its width and height each moved, in log size, by the smaller of the changes
    the two nets' maps imply, where both point the same way; else that side is kept
    (``localization.size_vote``, not in FCNT). A map's implied side is its spread in a window of
    ``size_map_window`` x the box over the spread of M (:data:`SPREAD_PER_SIDE`). Only where the
    scale is not frozen (``conf >= update_threshold``, spec §5.5, which also covers held frames)
    and both windows hold mass. Frozen GNet's map follows a growing target but broadens where
    the target does not grow; online SNet's follows the box it is trained on: each alone is
    wrong somewhere, and the smaller agreed step lets either veto and brake the other."""
    box = state_to_box(state, cfg.template_size)
    wh = box[2:]
    g_wh = implied_size(g_map, roi, box, cfg.size_map_window)
    s_wh = implied_size(s_map, roi, box, cfg.size_map_window)
    usable = (jnp.all(jnp.isfinite(g_wh) & (g_wh > 0)) & jnp.all(jnp.isfinite(s_wh) & (s_wh > 0))
              & (conf >= cfg.update_threshold))
    g_log = jnp.log(jnp.where(usable, g_wh / wh, 1.0))
    s_log = jnp.log(jnp.where(usable, s_wh / wh, 1.0))
    agree = (g_log * s_log) > 0
    step = jnp.where(agree, jnp.sign(g_log) * jnp.minimum(jnp.abs(g_log), jnp.abs(s_log)), 0.0)
    new_wh = wh * jnp.exp(step)
    return state.at[2].set(new_wh[0] / cfg.template_size).at[3].set(new_wh[1] / new_wh[0])


def clip_box(box: jax.Array, image_hw: jax.Array) -> jax.Array:
    x0 = jnp.clip(box[0], 0.0, image_hw[1])
    y0 = jnp.clip(box[1], 0.0, image_hw[0])
    x1 = jnp.clip(box[0] + box[2], 0.0, image_hw[1])
    y1 = jnp.clip(box[1] + box[3], 0.0, image_hw[0])
    return jnp.stack([x0, y0, x1 - x0, y1 - y0])


def distracter_test(heat: jax.Array, box: jax.Array, roi: jax.Array, image_hw: jax.Array, roi_size: int,
                    value_threshold: float, ratio: float) -> tuple[jax.Array, jax.Array]:
    """P_d test (spec §5.4, [P eq.9]): zero map values <= ``value_threshold``; distracter when the
    mass outside ``box`` (clipped to the image) is >= ``ratio`` x the mass inside.

    Returns (flag, outside / inside)."""
    strong = jnp.where(heat > value_threshold, heat, 0.0)
    region = box_to_roi(clip_box(box, image_hw), roi, roi_size)
    inside = box_integrals(summed_area_table(strong), region[None])[0]
    outside = jnp.sum(strong) - inside
    return outside >= ratio * inside, outside / jnp.maximum(inside, 1e-12)


def decide(prev_state: jax.Array, g_state: jax.Array, g_conf: jax.Array, s_state: jax.Array,
           s_conf: jax.Array, g_distracter: jax.Array, cfg: LocalizationConfig):
    """Choose the net and apply the move/freeze rules (spec §5.4-5.5).

    GNet decides unless it sees a distracter. The chosen particle is accepted if its confidence
    exceeds ``move_threshold``; else SNet's if its confidence does; else the box does not move.
    Below ``update_threshold`` the previous scale and aspect are kept (only the centre moves).
    With ``cfg.nets`` "gnet" or "snet" (the FCNT_G / FCNT_S ablations) that one net always decides
    and there is no fallback to the other. With ``cfg.gnet_fallback`` (not in FCNT), where SNet
    decided and neither its particle nor the code's SNet fallback clears ``move_threshold``,
    GNet's particle is taken if it does, instead of holding the box.
    Returns (new_state, confidence, decided_by).
    """
    use_s = {"both": g_distracter, "gnet": jnp.bool_(False), "snet": jnp.bool_(True)}[cfg.nets]
    chosen_state = jnp.where(use_s, s_state, g_state)
    chosen_conf = jnp.where(use_s, s_conf, g_conf)
    accept_chosen = chosen_conf > cfg.move_threshold
    accept_s = (s_conf > cfg.move_threshold) & (cfg.nets == "both")
    accept_g = (g_conf > cfg.move_threshold) & (cfg.nets == "both") & cfg.gnet_fallback
    accepted = [accept_chosen, accept_s, accept_g]  # the first that holds wins; none: the box holds
    state = jnp.select(accepted, [chosen_state, s_state, g_state], prev_state)
    conf = jnp.select(accepted, [chosen_conf, s_conf, g_conf], chosen_conf)
    decided_by = jnp.select(accepted, [jnp.where(use_s, SNET, GNET), SNET, GNET], HELD)
    freeze = conf < cfg.update_threshold
    state = jnp.where(freeze, state.at[2:].set(prev_state[2:]), state)
    return state, conf, decided_by.astype(jnp.int32)


def scale_sampling_decision(minconf: jax.Array, initial_width: jax.Array) -> jax.Array:
    """The frame-20 rule [O:util/reestimate_param.m], an if/elseif cascade on minconf and
    ratio = w0 / 64: > 0.49 off; (0.45, 0.49) on; > 0.4 with ratio > 0.6 on; > 0.35 with
    ratio < 0.3 on; otherwise off."""
    ratio = initial_width / 64.0
    return jnp.where(
        minconf > 0.49, False,
        jnp.where((minconf > 0.45) & (minconf < 0.49), True,
                  jnp.where((minconf > 0.4) & (ratio > 0.6), True,
                            (minconf > 0.35) & (ratio < 0.3))))


def particle_boxes(particles: jax.Array, template_size: int) -> jax.Array:
    return state_to_box(particles, template_size)


def _truncated_std(a: float) -> float:
    """Std of a unit normal truncated to [-a, a]: sqrt(1 - 2 a phi(a) / (2 Phi(a) - 1))."""
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(a / math.sqrt(2))
    return math.sqrt(1.0 - 2 * a * phi / mass)


# sigma = side / 3 (GetMap.m, spec §2) truncated at the box edge, +-1.5 sigma: ~0.2476 x side.
SPREAD_PER_SIDE = _truncated_std(1.5) / 3.0


def map_moments(heat: jax.Array, roi: jax.Array, box: jax.Array,
                window: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The mass of the ``(roi_size, roi_size)`` map ``heat`` (ROI frame, ``roi`` = [x0, y0, side])
    over the window of ``window`` x the box's size centred on ``box`` ([x0, y0, w, h], image
    pixels), and its mean (x, y) and standard deviation (x, y) there in image pixels (undefined
    where the mass is 0)."""
    size = heat.shape[0]
    centres = jnp.arange(size, dtype=jnp.float32) + 0.5
    pts = roi_to_image(jnp.stack([centres, centres], -1), roi, size)
    xs, ys = pts[:, 0], pts[:, 1]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    in_x = jnp.abs(xs - cx) <= window * box[2] / 2
    in_y = jnp.abs(ys - cy) <= window * box[3] / 2
    w = jnp.where(in_y[:, None] & in_x[None, :], heat, 0.0)
    total = jnp.sum(w)
    safe = jnp.where(total > 0, total, 1.0)
    px, py = jnp.sum(w, 0) / safe, jnp.sum(w, 1) / safe
    mx, my = jnp.sum(px * xs), jnp.sum(py * ys)
    sx = jnp.sqrt(jnp.sum(px * (xs - mx) ** 2))
    sy = jnp.sqrt(jnp.sum(py * (ys - my) ** 2))
    return total, jnp.stack([mx, my]), jnp.stack([sx, sy])


def implied_size(heat: jax.Array, roi: jax.Array, box: jax.Array, window: float = 2.0) -> jax.Array:
    """The (w, h) in image pixels the map implies around ``box``: its spread (:func:`map_spread`)
    over the spread of M per side (:data:`SPREAD_PER_SIDE`); NaN where the window holds no mass."""
    return map_spread(heat, roi, box, window) / SPREAD_PER_SIDE


def map_spread(heat: jax.Array, roi: jax.Array, box: jax.Array, window: float = 2.0) -> jax.Array:
    """(std_x, std_y) in image pixels of the ``(roi_size, roi_size)`` map ``heat`` (ROI frame,
    ``roi`` = [x0, y0, side]) over the window of ``window`` x the box's size centred on ``box``
    ([x0, y0, w, h], image pixels); NaN where the window holds no mass. The window keeps
    distracters elsewhere in the ROI out of the measurement."""
    total, _, spread = map_moments(heat, roi, box, window)
    return jnp.where(total > 0, spread, jnp.nan)
