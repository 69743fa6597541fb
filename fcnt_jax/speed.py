"""Where a frame's time goes: each phase of ``step`` timed as its own jitted function, beside the
whole tracker and the backbone alone, all in one run (ratios are what is comparable across these
noisy machines; absolute times only from a GPU).

Phases: decode (Pillow, host), crop + backbone, GNet/SNet forward (+ heat maps in the ROI frame),
localisation (particles, scores, distracter test, decision), updates (the adaptation and
discrimination SGD steps, amortised by how often they ran in the tracked frames).
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp

from fcnt_jax import backbone, geometry, localize, tracker
from fcnt_jax.config import FCNTConfig
from fcnt_jax.data import Sequence
from fcnt_jax.data.sequence import load_frame
from fcnt_jax.run import track_sequence


def time_call(fn: Callable, *args, repeats: int = 5) -> float:
    """Median seconds of ``fn(*args)`` after one warm-up call (compilation), outputs synced."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb() -> float:
    """Peak device memory where the backend reports it (GPU/TPU), else the process's peak RSS."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase_times(vgg_params, seq: Sequence, cfg: FCNTConfig, repeats: int = 5) -> dict[str, float]:
    """Seconds per call of each phase on the sequence's first frame, with a real initial state."""
    frame = load_frame(seq.frame_paths[0])
    box = jnp.asarray(seq.init_box, jnp.float32)
    hw = jnp.asarray(frame.shape[:2], jnp.float32)
    state = tracker.init(vgg_params, frame, box, jax.random.PRNGKey(0), cfg=cfg)
    loc, size = cfg.localization, cfg.roi.roi_size
    roi = tracker._roi_for_state(state.target, state.roi_factor, loc.template_size)
    dtype = jnp.bfloat16 if cfg.backbone_dtype == "bfloat16" else jnp.float32

    crop_backbone = jax.jit(lambda p, f, r: tracker._features(p, f, r, hw, cfg))
    crop = jax.jit(lambda f, r: geometry.crop_roi(f, r, size, image_hw=hw))(frame, roi)
    backbone_only = jax.jit(lambda p, c: backbone.features(p, c[None], dtype))
    conv4, conv5 = crop_backbone(vgg_params, frame, roi)

    def heads_forward(st, c4, c5):
        _, g, s = tracker.head_outputs(st, c4, c5, cfg)
        return (localize.roi_heat_map(g, roi, hw, size, loc.map_threshold),
                localize.roi_heat_map(s, roi, hw, size, loc.map_threshold))

    heads_jit = jax.jit(heads_forward)
    g_map, s_map = heads_jit(state, conv4, conv5)

    def localisation(st, g_map, s_map):
        particles = localize.sample_particles(st.key, st.target, st.sigma, loc.num_particles)
        boxes = localize.particle_boxes(particles, loc.template_size)
        g_conf = localize.particle_confidence(g_map, boxes, roi, size)
        s_conf = localize.particle_confidence(s_map, boxes, roi, size)
        g_best = jnp.argmax(localize.ranking_score(g_conf, boxes, loc.gamma_g, loc.score_mode))
        s_best = jnp.argmax(localize.ranking_score(s_conf, boxes, loc.gamma_s, loc.score_mode))
        g_d, _ = localize.distracter_test(g_map, boxes[g_best], roi, hw, size, loc.gnet_distracter_value,
                                          loc.distracter_ratio)
        return localize.decide(st.target, particles[g_best], g_conf[g_best], particles[s_best], s_conf[s_best],
                               g_d, loc)

    def update(st, steps):
        feats = jnp.stack([st.first_features, st.store_features])
        maps = jnp.stack([st.first_map, st.store_map])
        return tracker._update_snet(st, feats, maps, jnp.ones_like(maps), steps, cfg).snet

    upd = cfg.updates
    return {
        "decode_s": time_call(load_frame, seq.frame_paths[0], repeats=repeats),
        "crop_backbone_s": time_call(crop_backbone, vgg_params, frame, roi, repeats=repeats),
        "backbone_only_frame_s": time_call(backbone_only, vgg_params, crop, repeats=repeats),
        "heads_forward_s": time_call(heads_jit, state, conv4, conv5, repeats=repeats),
        "localisation_s": time_call(jax.jit(localisation), state, g_map, s_map, repeats=repeats),
        "adaptation_call_s": time_call(jax.jit(lambda st: update(st, upd.adaptation_iterations)), state,
                                       repeats=repeats),
        "discrimination_call_s": time_call(jax.jit(lambda st: update(st, upd.discrimination_iterations)), state,
                                           repeats=repeats),
    }


def backbone_only_call(vgg_params, seq: Sequence, cfg: FCNTConfig) -> Callable[[], jax.Array]:
    """A no-argument call of VGG-16 alone (to conv4_3 and conv5_3) on the first frame's ROI crop:
    the denominator of ``ratio_to_backbone``."""
    frame = load_frame(seq.frame_paths[0])
    hw = jnp.asarray(frame.shape[:2], jnp.float32)
    roi = geometry.roi_for_box(jnp.asarray(seq.init_box, jnp.float32), cfg.roi.roi_scale)
    crop = jax.jit(lambda f, r: geometry.crop_roi(f, r, cfg.roi.roi_size, image_hw=hw))(frame, roi)
    dtype = jnp.bfloat16 if cfg.backbone_dtype == "bfloat16" else jnp.float32
    backbone_only = jax.jit(lambda p, c: backbone.features(p, c[None], dtype))
    return lambda: backbone_only(vgg_params, crop)


def measure(vgg_params, seq: Sequence, cfg: FCNTConfig, batch_sizes: tuple[int, ...] = (1,), repeats: int = 5,
            log: Callable[[str], None] = print, passes: int = 3) -> dict:
    """The whole table of speed.json for one sequence (already truncated to the frames to track).

    The sequence is tracked ``passes`` times (compiled once), each pass followed by the
    backbone-only timing: the ratio is each pass's frame time over the backbone time measured
    right after it, and the reported figures are medians over passes. These machines' speed
    drifts by several percent within minutes; a ratio of two timings taken side by side does not.
    """
    from fcnt_jax.batch import track_batch

    if passes < 1:
        raise ValueError(f"passes={passes}: must be >= 1")
    backbone_call = backbone_only_call(vgg_params, seq, cfg)
    runs = []
    for i in range(passes):
        log(f"{seq.name}: tracking {len(seq)} frames (pass {i + 1}/{passes}) ...")
        result = track_sequence(vgg_params, seq, cfg, log=log, progress_every=0)
        if i == 0:
            compile_s = result.timing["compile_s"]  # later passes reuse the compiled tracker
        frame_s = 1.0 / result.timing["track_fps"]
        backbone_s = time_call(backbone_call, repeats=repeats)
        runs.append({"frame_s": frame_s, "backbone_only_frame_s": backbone_s, "ratio_to_backbone": frame_s / backbone_s,
                     "init_s": result.timing["init_after_compile_s"]})
    frame_s = statistics.median(r["frame_s"] for r in runs)
    log("timing each phase ...")
    phases = phase_times(vgg_params, seq, cfg, repeats)
    updates_s = (result.updates["adapted"] * phases["adaptation_call_s"]
                 + result.updates["discriminated"] * phases["discrimination_call_s"]) / len(seq)
    breakdown = {"decode": phases["decode_s"], "crop_backbone": phases["crop_backbone_s"],
                 "heads_forward": phases["heads_forward_s"], "localisation": phases["localisation_s"],
                 "updates_amortised": updates_s}
    fps_batch = {}
    for b in batch_sizes:
        log(f"batch of {b} ...")
        try:
            out = track_batch(vgg_params, [seq] * b, cfg, batch_size=b, log=lambda m: None)
            fps_batch[str(b)] = out[0].timing["batch_fps"]
        except Exception as e:  # out of memory on a large batch: report it, keep the rest
            fps_batch[str(b)] = f"failed: {type(e).__name__}: {str(e)[:120]}"
    return {
        "device": jax.devices()[0].device_kind, "platform": jax.devices()[0].platform,
        "device_count": jax.device_count(), "backbone_dtype": cfg.backbone_dtype,
        "sequence": seq.name, "frames": len(seq),
        "compile_s": compile_s, "init_s": statistics.median(r["init_s"] for r in runs),
        "frame_s": frame_s, "fps_single": 1.0 / frame_s,
        "breakdown_s": breakdown, "breakdown_sum_s": sum(breakdown.values()),
        "phase_calls_s": phases, **result.updates,
        "fps_batch": fps_batch,
        "backbone_only_frame_s": statistics.median(r["backbone_only_frame_s"] for r in runs),
        "ratio_to_backbone": statistics.median(r["ratio_to_backbone"] for r in runs),
        "passes": runs,
        "peak_memory_mb": peak_memory_mb(),
        "precision_20": (result.scores or {}).get("precision_20"), "auc": (result.scores or {}).get("auc"),
    }
