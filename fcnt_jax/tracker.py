"""The FCNT tracker as two pure functions over an immutable pytree state.

    state = init(vgg_params, frame, box, key, config)
    state, out = step(vgg_params, state, frame, config)

``init`` runs the first-frame work (crop, VGG-16, target map, sel-CNN selection for both layers,
50 GNet/SNet iterations). ``step`` tracks one frame (the official loop tracks the first frame
again, spec §0): crop around the previous box, features, the two heat maps, particles, the
distracter test and move/freeze rules (spec §5), the stored sample and the SNet updates with
``lax.cond`` (spec §6), and the frame-20 scale rule (§5.6); where ``scale_filter.enabled`` (not in
FCNT) a DSST filter sizes the box instead (``fcnt_jax/scale_filter.py``). Both are jitted with the
config static, so a sequence compiles once per frame shape. Boxes are 0-based ``[x0, y0, w, h]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import struct

from fcnt_jax import backbone, geometry, heads, localize, scale_filter, selection
from fcnt_jax.config import FCNTConfig
from fcnt_jax.heatmap import target_map


@struct.dataclass
class TrackerState:
    """Everything the tracker carries from frame to frame."""

    frame_index: jax.Array  # int32: frames tracked so far (0 before the first step)
    target: jax.Array  # [cx, cy, s, r] of the current estimate (IVT state, s = w / 64, r = h / w)
    sigma: jax.Array  # particle std of [cx, cy, s, r]
    scale_sigma: jax.Array  # the scale std switched on by the frame-20 rule (affsig_o)
    roi_factor: jax.Array  # ROI side / box width = roi_scale x dia0 / w0 (aspect is frozen)
    initial_width: jax.Array
    image_hw: jax.Array  # the frame's true (height, width), float32
    s_channels: jax.Array  # (K,) conv4_3 channels for SNet
    g_channels: jax.Array  # (K,) conv5_3 channels for GNet
    gnet: dict
    snet: dict
    snet_opt: optax.OptState  # persistent: the SNet momentum is never reset (spec §4.2)
    first_features: jax.Array  # (grid, grid, K) selected conv4_3 of the first frame
    first_map: jax.Array  # (grid, grid) M1
    store_features: jax.Array  # the most confident sample since the last adaptation (spec §6.1)
    store_map: jax.Array
    store_conf: jax.Array
    min_conf: jax.Array
    scale_sampling: jax.Array  # bool: scale sampling is on
    key: jax.Array
    # The box centre's last displacement in px (``localization.constant_velocity``; not in FCNT,
    # zero and unused otherwise).
    velocity: jax.Array
    # The DSST scale filter's model (``scale_filter.enabled``; not in FCNT, None otherwise).
    scale_model: scale_filter.ScaleModel | None = None


@struct.dataclass
class StepOutput:
    box: jax.Array  # (4,) 0-based [x0, y0, w, h]
    confidence: jax.Array  # mean map value in the chosen box
    decided_by: jax.Array  # 0 GNet, 1 SNet, 2 held (no move)
    g_distracter: jax.Array
    s_distracter: jax.Array
    adapted: jax.Array  # the adaptation update ran this frame
    discriminated: jax.Array  # the discrimination update ran this frame
    roi: jax.Array  # [x0, y0, side] of the ROI the maps live in
    maps_usable: jax.Array  # False: both maps were all zero or non-finite, so the box held
    # Diagnostics (issue 19): each net's best-particle confidence, its P_d (mass outside / inside
    # the GNet box, spec §5.4) and its raw map's peak (before thresholding), so that a failure can
    # be read frame by frame instead of guessed.
    g_confidence: jax.Array
    s_confidence: jax.Array
    g_pd: jax.Array
    s_pd: jax.Array
    g_peak: jax.Array
    s_peak: jax.Array
    # Each net's own choice, 0-based [x0, y0, w, h] (its best particle, before the decision): where
    # GNet and SNet pointed, so a frame where the deciding net was wrong and the other right can be
    # seen (issue 19's Diving: SNet decides from frame 35 on).
    g_box: jax.Array
    s_box: jax.Array
    # The DSST scale filter's factor (new size / previous) and its response's peak, this frame
    # (``scale_filter.enabled``; NaN without the filter, and on a held frame, where neither applies).
    scale_factor: jax.Array
    scale_peak: jax.Array
    g_map: jax.Array | None = None  # (roi_size, roi_size) thresholded, when return_maps
    s_map: jax.Array | None = None


def _features(vgg_params, frame, roi, image_hw, cfg: FCNTConfig):
    crop = geometry.crop_roi(frame, roi, cfg.roi.roi_size, image_hw=image_hw)
    dtype = jnp.bfloat16 if cfg.backbone_dtype == "bfloat16" else jnp.float32
    feats = backbone.features(vgg_params, crop[None], dtype)
    return feats["conv4_3"][0], feats["conv5_3"][0]


def _map_for(box, roi, image_hw, cfg: FCNTConfig):
    return target_map(box, roi, cfg.roi.grid, cfg.roi.roi_size, cfg.roi.map_sigma_factor, image_hw)


def translation_sigma(box: jax.Array, cfg: FCNTConfig) -> jax.Array:
    """ceil(diag0 / 7) px [O:init_tracker.m], or the paper's fixed 10 px."""
    if cfg.localization.translation_sigma_px is not None:
        return jnp.float32(cfg.localization.translation_sigma_px)
    return jnp.ceil(jnp.sqrt(box[2] ** 2 + box[3] ** 2) / 7.0)


def init_fn(vgg_params, frame: jax.Array, box: jax.Array, key: jax.Array, cfg: FCNTConfig,
            image_hw: jax.Array | None = None) -> TrackerState:
    """First frame: select channels, train GNet/SNet, return the initial state (not jitted here)."""
    box = box.astype(jnp.float32)
    if image_hw is None:
        image_hw = jnp.asarray(frame.shape[:2], jnp.float32)
    loc = cfg.localization
    roi = geometry.roi_for_box(box, cfg.roi.roi_scale)
    conv4, conv5 = _features(vgg_params, frame, roi, image_hw, cfg)
    first_map = _map_for(box, roi, image_hw, cfg)
    k_sel_s, k_sel_g, k_gnet, k_snet, k_track = jax.random.split(key, 5)
    # One after the other, like the two trainings below (see :func:`after`).
    s_channels, _ = selection.select_channels(conv4, first_map, k_sel_s, cfg.selection, "conv4_3")
    g_channels, _ = selection.select_channels(after(conv5, s_channels), first_map, k_sel_g,
                                              cfg.selection, "conv5_3")
    s_feat = selection.gather_channels(conv4, s_channels)
    g_feat = selection.gather_channels(conv5, g_channels)
    k = cfg.selection.num_channels
    relu = cfg.heads.output_relu
    ones = jnp.ones((1,) + first_map.shape)
    g_tx, s_tx = heads.head_optimizer(cfg.heads, "gnet"), heads.head_optimizer(cfg.heads, "snet")
    gnet = heads.init_head(k_gnet, k, cfg.heads)
    snet = heads.init_head(k_snet, k, cfg.heads)
    steps = cfg.heads.first_frame_iterations
    g_steps = steps if cfg.heads.gnet_first_frame_iterations is None else cfg.heads.gnet_first_frame_iterations
    gnet, g_opt, _ = heads.train_head(gnet, g_tx.init(gnet), g_feat[None], first_map[None], ones, g_tx, g_steps,
                                      relu)
    if cfg.heads.gnet_underfit_iterations > 0:  # trace-time: the code preset's program has no such step
        gnet = refit_if_distracted(gnet, g_opt, g_feat, first_map, box, roi, image_hw, cfg)
    s_feat_after = after(s_feat, gnet["conv2"]["b"])
    snet, snet_opt, _ = heads.train_head(snet, s_tx.init(snet), s_feat_after[None], first_map[None], ones, s_tx, steps,
                                         relu)
    sigma_t = translation_sigma(box, cfg)
    scale_sigma = jnp.float32(loc.scale_sigma) * box[2] / loc.template_size
    scale_on = jnp.asarray(loc.scale_sampling_from_start)
    diag = jnp.sqrt(box[2] ** 2 + box[3] ** 2)
    return TrackerState(
        frame_index=jnp.int32(0),
        target=geometry.box_to_state(box, loc.template_size),
        sigma=jnp.stack([sigma_t, sigma_t, jnp.where(scale_on, scale_sigma, 0.0),
                         jnp.float32(loc.aspect_sigma) * box[3] / box[2]]),
        scale_sigma=scale_sigma,
        roi_factor=cfg.roi.roi_scale * diag / box[2],
        initial_width=box[2],
        image_hw=image_hw.astype(jnp.float32),
        s_channels=s_channels, g_channels=g_channels,
        gnet=gnet, snet=snet, snet_opt=snet_opt,
        first_features=s_feat, first_map=first_map,
        store_features=s_feat, store_map=first_map, store_conf=jnp.float32(0.0),
        min_conf=jnp.float32(loc.minconf_cap),
        scale_sampling=scale_on,
        key=k_track,
        velocity=jnp.zeros(2, jnp.float32),
        scale_model=(scale_filter.init_model(frame, box, image_hw.astype(jnp.float32), cfg.scale_filter)
                     if cfg.scale_filter.enabled else None),
    )


def first_frame_distracter(gnet: dict, g_feat: jax.Array, box: jax.Array, roi: jax.Array, image_hw: jax.Array,
                           cfg: FCNTConfig) -> tuple[jax.Array, jax.Array]:
    """GNet's distracter test (spec §5.4) on its own map of the first frame, at the given box:
    (fired, P_d)."""
    loc, size = cfg.localization, cfg.roi.roi_size
    raw = heads.head_apply(gnet, g_feat, cfg.heads.output_relu)
    heat = localize.roi_heat_map(jnp.where(jnp.isfinite(raw), raw, 0.0), roi, image_hw, size, loc.map_threshold)
    return localize.distracter_test(heat, box, roi, image_hw, size, loc.gnet_distracter_value, loc.distracter_ratio)


def refit_if_distracted(gnet: dict, g_opt, g_feat: jax.Array, first_map: jax.Array, box: jax.Array,
                        roi: jax.Array, image_hw: jax.Array, cfg: FCNTConfig) -> dict:
    """``gnet`` trained ``heads.gnet_underfit_iterations`` more on the first sample, continuing its
    solver state ``g_opt``, where :func:`first_frame_distracter` fires; else ``gnet`` unchanged
    (not in FCNT). The iterations are a while loop of ``where(fired, n, 0)`` steps
    (:func:`heads.train_head_for`): a sequence whose test does not fire pays one head pass, and
    under ``vmap`` (``batch.batch_init``) a batch runs the refit only if one of its sequences fired,
    where a ``lax.cond`` would become a select and run it for every sequence."""
    fired, _ = first_frame_distracter(gnet, g_feat, box, roi, image_hw, cfg)
    tx = heads.head_optimizer(cfg.heads, "gnet")
    steps = jnp.where(fired, cfg.heads.gnet_underfit_iterations, 0).astype(jnp.int32)
    net, _ = heads.train_head_for(gnet, g_opt, g_feat[None], first_map[None], jnp.ones((1,) + first_map.shape), tx,
                                  steps, cfg.heads.output_relu)
    return net


def _roi_for_state(target: jax.Array, roi_factor: jax.Array, cfg: FCNTConfig) -> jax.Array:
    """Square ROI centred on the state's centre, side = roi_factor x current width (spec §1.1).

    With the aspect sampled (``localization.aspect_sigma > 0``, not in FCNT) the side is
    roi_scale x the current diagonal: the code's width rule assumes the initial aspect. So too
    with ``localization.size_vote``, which moves width and height apart."""
    width = target[2] * cfg.localization.template_size
    if cfg.localization.aspect_sigma > 0 or cfg.localization.size_vote:
        side = cfg.roi.roi_scale * width * jnp.sqrt(1.0 + target[3] ** 2)
    else:
        side = roi_factor * width
    return jnp.stack([target[0] - side / 2, target[1] - side / 2, side])


def _update_snet(state: TrackerState, feats, targets, weights, steps: int, cfg: FCNTConfig):
    tx = heads.head_optimizer(cfg.heads, "snet")
    snet, opt, _ = heads.train_head(state.snet, state.snet_opt, feats, targets, weights, tx, steps,
                                    cfg.heads.output_relu)
    return state.replace(snet=snet, snet_opt=opt)


def after(x: jax.Array, done: jax.Array) -> jax.Array:
    """``x`` unchanged, but computed only once ``done`` is: a data dependency XLA cannot drop.

    XLA:CPU runs independent operations concurrently; two 4-GFLOP head matmuls sharing the cores
    run ~25% slower together than one after the other (2-core CPU; ``python -m
    experiments.conv_impl``, its two-heads table). ``done``'s first element, made finite, times 0 is added to ``x``: exactly
    ``x`` whatever ``done`` holds (an optimization barrier would not do: XLA:CPU removes it).
    """
    first = done.reshape(-1)[0]
    return x + (jnp.where(jnp.isfinite(first), first, 0.0) * 0.0).astype(x.dtype)


def head_outputs(state: TrackerState, conv4: jax.Array, conv5: jax.Array,
                 cfg: FCNTConfig) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The selected conv4_3 channels and GNet's and SNet's raw ``(grid, grid)`` outputs.

    Outside any loop, so with the fastest forward convolution for the backend (not the SGD
    loops'); SNet runs after GNet (see :func:`after`).
    """
    relu, impl = cfg.heads.output_relu, selection.forward_conv_impl()
    g_raw = heads.head_apply(state.gnet, selection.gather_channels(conv5, state.g_channels), relu, impl)
    s_feat = selection.gather_channels(conv4, state.s_channels)
    s_raw = heads.head_apply(state.snet, after(s_feat, g_raw), relu, impl)
    return s_feat, g_raw, s_raw


def should_store(conf: jax.Array, store_conf: jax.Array, cfg: FCNTConfig) -> jax.Array:
    """Keep this frame as the stored sample: more confident than the stored one and > 0.35 (§6.1);
    with ``updates.stored_sample="latest_confident"``, any frame above 0.35."""
    confident = conf > cfg.localization.update_threshold
    if cfg.updates.stored_sample == "latest_confident":
        return confident
    return (conf > store_conf) & confident


def adaptation_due(frame_index: jax.Array, store_conf: jax.Array, cfg: FCNTConfig) -> jax.Array:
    """Every 20th frame ((t - t0 + 1) mod 20 == 0) with a stored sample above 0.35 (§6.2)."""
    return (((frame_index + 1) % cfg.updates.adaptation_interval) == 0) & (
        store_conf > cfg.localization.update_threshold)


def discrimination_due(g_distracter: jax.Array, s_distracter: jax.Array, conf: jax.Array,
                       cfg: FCNTConfig) -> jax.Array:
    """code: the SNet-map distracter test; paper: the GNet test (eq. 9); and conf > 0.35 (§6.3)."""
    trigger = s_distracter if cfg.updates.discrimination_trigger == "snet" else g_distracter
    return trigger & (conf > cfg.localization.update_threshold)


def _run_if(pred: jax.Array, update, state: TrackerState, batch_axis: str | None) -> TrackerState:
    """``update(state)`` where ``pred``, else ``state``: a real ``lax.cond``, also under vmap.

    Under ``vmap`` a ``lax.cond`` on a batched predicate becomes a select that runs the update for
    every sequence every frame. With ``batch_axis`` (the vmap axis name) the update runs, for the
    whole batch, only on frames where some sequence needs it, and each sequence keeps its own
    result only where its own ``pred`` holds: the same values, far less work.
    """
    if batch_axis is None:
        return jax.lax.cond(pred, update, lambda st: st, state)
    any_pred = jax.lax.psum(pred.astype(jnp.int32), batch_axis) > 0

    def masked(st):
        return jax.tree.map(lambda new, old: jnp.where(pred, new, old), update(st), st)

    return jax.lax.cond(any_pred, masked, lambda st: st, state)


def size_from_map(target: jax.Array, heat: jax.Array, roi: jax.Array, conf: jax.Array,
                  cfg: FCNTConfig) -> jax.Array:
    """``target`` with its width and height set to the size ``heat`` implies around its box
    (``localization.size_from_snet_map``, not in FCNT). Left unchanged where the scale is frozen
    (conf < update_threshold, spec §5.5, which also covers held frames) or the window holds no
    map: only a confident frame may resize the box, as in the code's freeze rule."""
    loc = cfg.localization
    box = geometry.state_to_box(target, loc.template_size)
    wh = localize.implied_size(heat, roi, box, loc.size_map_window)
    usable = jnp.all(jnp.isfinite(wh)) & jnp.all(wh > 0) & (conf >= loc.update_threshold)
    wh = jnp.where(usable, wh, 1.0)
    resized = target.at[2].set(wh[0] / loc.template_size).at[3].set(wh[1] / wh[0])
    return jnp.where(usable, resized, target)


def sized_by_filter(state: TrackerState, target: jax.Array, moved: jax.Array, frame: jax.Array,
                    cfg: FCNTConfig) -> tuple[jax.Array, scale_filter.ScaleModel, jax.Array, jax.Array]:
    """``target``'s centre with the size the DSST filter finds there, starting from the previous
    size, and the filter's model updated at that box (``scale_filter.enabled``, not in FCNT). Where
    the box did not move (held) the previous state and model are kept. Also the factor applied and
    the response's peak (NaN where held)."""
    tsize = cfg.localization.template_size
    previous = geometry.state_to_box(state.target, tsize)[2:4]
    centre = target[:2]
    size, factor, peak = scale_filter.estimate(state.scale_model, frame, centre, previous, state.image_hw,
                                               cfg.scale_filter)
    model = scale_filter.update_model(state.scale_model, frame, centre, size, state.image_hw, cfg.scale_filter)
    sized = geometry.box_to_state(jnp.concatenate([centre - size / 2, size]), tsize)

    def keep(new, old):
        return jnp.where(moved, new, old)

    nan = jnp.float32(jnp.nan)
    return (keep(sized, state.target), jax.tree.map(keep, model, state.scale_model),
            jnp.where(moved, factor, nan), jnp.where(moved, peak, nan))


def _peak(raw: jax.Array) -> jax.Array:
    """The largest finite value of a raw head output (NaN when none is finite)."""
    finite = jnp.isfinite(raw)
    return jnp.where(jnp.any(finite), jnp.max(jnp.where(finite, raw, -jnp.inf)), jnp.nan)


def step_fn(vgg_params, state: TrackerState, frame: jax.Array, cfg: FCNTConfig,
            return_maps: bool = False, batch_axis: str | None = None) -> tuple[TrackerState, StepOutput]:
    """Track one frame (not jitted here; see :data:`step`). ``batch_axis``: see :func:`_run_if`."""
    loc, upd = cfg.localization, cfg.updates
    size = cfg.roi.roi_size
    image_hw = state.image_hw
    t = state.frame_index
    key = jax.random.fold_in(state.key, t)

    # Features in the ROI around the previous box, and the two heat maps in the ROI frame.
    roi = _roi_for_state(state.target, state.roi_factor, cfg)
    conv4, conv5 = _features(vgg_params, frame, roi, image_hw, cfg)
    s_feat, g_raw, s_raw = head_outputs(state, conv4, conv5, cfg)
    # A non-finite output (diverged head, broken frame) must never poison the state: it is zeroed,
    # so every particle's confidence is 0, the box holds (spec §5.5) and the output says so.
    maps_finite = jnp.all(jnp.isfinite(g_raw)) & jnp.all(jnp.isfinite(s_raw))
    g_map = localize.roi_heat_map(jnp.where(jnp.isfinite(g_raw), g_raw, 0.0), roi, image_hw, size, loc.map_threshold)
    s_map = localize.roi_heat_map(jnp.where(jnp.isfinite(s_raw), s_raw, 0.0), roi, image_hw, size, loc.map_threshold)
    maps_usable = maps_finite & (jnp.any(g_map > 0) | jnp.any(s_map > 0))

    # Particles, scored on both maps.
    # The cloud's centre: the last state (FCNT), or its constant-velocity prediction (not in FCNT).
    centre = localize.predicted_state(state.target, state.velocity) if loc.constant_velocity else state.target
    particles = localize.sample_particles(key, centre, state.sigma, loc.num_particles)
    boxes = localize.particle_boxes(particles, loc.template_size)
    g_conf_all = localize.particle_confidence(g_map, boxes, roi, size)
    s_conf_all = localize.particle_confidence(s_map, boxes, roi, size)
    if loc.matched_ranking:  # trace-time: the code preset's program ranks by the plain mean
        sigma_factor = cfg.roi.map_sigma_factor
        g_match = localize.particle_matched_confidence(g_map, boxes, roi, size, sigma_factor)
        s_match = localize.particle_matched_confidence(s_map, boxes, roi, size, sigma_factor)
    else:
        g_match, s_match = g_conf_all, s_conf_all
    # The ranking picks each net's particle; the confidence reported and tested against the move /
    # update thresholds stays the plain mean (so those thresholds keep their meaning).
    g_rank = localize.ranking_score(g_match, boxes, loc.gamma_g, loc.score_mode)
    s_rank = localize.ranking_score(s_match, boxes, loc.gamma_s, loc.score_mode)
    if loc.motion_prior:  # trace-time: the code preset's program has no such term
        prior = localize.motion_prior(particles, centre, state.sigma, loc.motion_prior_size)
        g_rank, s_rank = g_rank * prior, s_rank * prior
    g_best, s_best = jnp.argmax(g_rank), jnp.argmax(s_rank)
    g_particle, g_conf, g_box = particles[g_best], g_conf_all[g_best], boxes[g_best]
    s_particle, s_conf, s_box = particles[s_best], s_conf_all[s_best], boxes[s_best]
    if loc.matched_centre:  # trace-time: the code preset's program has no such step
        sigma_factor = cfg.roi.map_sigma_factor
        g_particle, g_conf = localize.matched_centre(particles, g_rank, g_map, roi, size, loc.template_size,
                                                     sigma_factor)
        s_particle, s_conf = localize.matched_centre(particles, s_rank, s_map, roi, size, loc.template_size,
                                                     sigma_factor)
        g_box = localize.particle_boxes(g_particle[None], loc.template_size)[0]
        s_box = localize.particle_boxes(s_particle[None], loc.template_size)[0]
    g_distracter, g_pd = localize.distracter_test(g_map, g_box, roi, image_hw, size,
                                                  loc.gnet_distracter_value, loc.distracter_ratio)
    s_distracter, s_pd = localize.distracter_test(s_map, g_box, roi, image_hw, size,
                                                  loc.snet_distracter_value, loc.distracter_ratio)
    target, conf, decided_by = localize.decide(state.target, g_particle, g_conf, s_particle, s_conf,
                                               g_distracter, loc)
    if loc.centre_to_map_centroid:  # trace-time: the code preset's program has no such step
        deciding_map = jnp.where(decided_by == localize.SNET, s_map, g_map)
        target = localize.centre_on_map_centroid(target, deciding_map, roi, decided_by != localize.HELD,
                                                 loc.template_size)
    if loc.size_from_snet_map:
        target = size_from_map(target, s_map, roi, conf, cfg)
    if loc.size_vote:  # trace-time: the code preset's program has no such step
        target = localize.voted_size(target, g_map, s_map, roi, conf, loc)
    if loc.size_consensus:  # trace-time: the code preset's program has no such test
        target = localize.size_consensus(state.target, target, decided_by, g_map, s_map, roi, size, loc)
    scale_model = state.scale_model
    scale_factor = scale_peak = jnp.float32(jnp.nan)
    if cfg.scale_filter.enabled:  # trace-time: the code preset's program has no such step
        target, scale_model, scale_factor, scale_peak = sized_by_filter(state, target, decided_by != localize.HELD,
                                                                        frame, cfg)
    new_box = geometry.state_to_box(target, loc.template_size)
    min_conf = jnp.minimum(state.min_conf, conf)

    # The map for the new box, in the ROI the features came from: centred on the previous box, of
    # the new box's size (the code's l_off alignment, spec §2.4).
    update_roi = _roi_for_state(state.target.at[2:].set(target[2:]), state.roi_factor, cfg)
    new_map = _map_for(new_box, update_roi, image_hw, cfg)

    # Stored sample (§6.1): before this frame's updates (code), or after them (latest_confident, so
    # that the updates pair this frame with an earlier one).
    def stored(st: TrackerState) -> TrackerState:
        store = should_store(conf, st.store_conf, cfg)
        return st.replace(
            store_features=jnp.where(store, s_feat, st.store_features),
            store_map=jnp.where(store, new_map, st.store_map),
            store_conf=jnp.where(store, conf, st.store_conf),
        )

    latest = upd.stored_sample == "latest_confident"
    if not latest:
        state = stored(state)

    # Adaptation every 20 frames (§6.2).
    adapt = adaptation_due(t, state.store_conf, cfg)

    def adaptation(st: TrackerState) -> TrackerState:
        if upd.adaptation_include_first_frame:
            feats = jnp.stack([st.first_features, st.store_features])
            maps = jnp.stack([st.first_map, st.store_map])
        else:
            feats, maps = st.store_features[None], st.store_map[None]
        st = _update_snet(st, feats, maps, jnp.ones_like(maps), upd.adaptation_iterations, cfg)
        return st.replace(store_conf=jnp.float32(loc.update_threshold))

    state = _run_if(adapt, adaptation, state, batch_axis)

    # Discrimination on a distracter (§6.3): the reference sample with its full loss, the current
    # frame with the loss masked to where its map is <= 0 (outside the truncated Gaussian).
    discriminate = discrimination_due(g_distracter, s_distracter, conf, cfg)

    def discrimination(st: TrackerState) -> TrackerState:
        ref_f, ref_m = ((st.store_features, st.store_map) if upd.discrimination_reference == "stored"
                        else (st.first_features, st.first_map))
        feats = jnp.stack([ref_f, s_feat])
        maps = jnp.stack([ref_m, new_map])
        weights = jnp.stack([jnp.ones_like(new_map), (new_map <= 0).astype(new_map.dtype)])
        return _update_snet(st, feats, maps, weights, upd.discrimination_iterations, cfg)

    state = _run_if(discriminate, discrimination, state, batch_axis)
    if latest:
        state = stored(state)

    # Scale re-estimation, once, at the reestimate_frame-th frame (§5.6).
    # (The paper samples scale from the start and has no such rule.)
    at_check = (t == (loc.reestimate_frame - 1)) & (not loc.scale_sampling_from_start)
    enable = jnp.where(at_check, localize.scale_sampling_decision(min_conf, state.initial_width), state.scale_sampling)
    if cfg.scale_filter.enabled:  # the filter sizes the box; the particles only place it
        enable = jnp.bool_(False)
    sigma = state.sigma.at[2].set(jnp.where(enable, state.scale_sigma, 0.0))

    velocity = target[:2] - state.target[:2] if loc.constant_velocity else state.velocity
    state = state.replace(frame_index=t + 1, target=target, min_conf=min_conf, scale_sampling=enable, sigma=sigma,
                          velocity=velocity, scale_model=scale_model)
    out = StepOutput(box=new_box, confidence=conf, decided_by=decided_by, g_distracter=g_distracter,
                     s_distracter=s_distracter, adapted=adapt, discriminated=discriminate, roi=roi,
                     maps_usable=maps_usable,
                     g_confidence=g_conf, s_confidence=s_conf, g_pd=g_pd, s_pd=s_pd,
                     g_peak=_peak(g_raw), s_peak=_peak(s_raw), g_box=g_box, s_box=s_box,
                     scale_factor=scale_factor, scale_peak=scale_peak,
                     g_map=g_map if return_maps else None, s_map=s_map if return_maps else None)
    return state, out


init = jax.jit(init_fn, static_argnames=("cfg",))
step = jax.jit(step_fn, static_argnames=("cfg", "return_maps"), donate_argnames=("state",))
