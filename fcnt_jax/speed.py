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
from fcnt_jax.run import compile_tracker, track_sequence


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


def device_info() -> dict:
    """Which machine the figures come from (speed.json's first keys)."""
    device = jax.devices()[0]
    return {"device": device.device_kind, "platform": device.platform, "device_count": jax.device_count()}


def phase_times(vgg_params, seq: Sequence, cfg: FCNTConfig, repeats: int = 5) -> dict[str, float]:
    """Seconds per call of each phase on the sequence's first frame, with a real initial state."""
    frame = load_frame(seq.frame_paths[0])
    box = jnp.asarray(seq.init_box, jnp.float32)
    hw = jnp.asarray(frame.shape[:2], jnp.float32)
    state = tracker.init(vgg_params, frame, box, jax.random.PRNGKey(0), cfg=cfg)
    loc, size = cfg.localization, cfg.roi.roi_size
    roi = tracker._roi_for_state(state.target, state.roi_factor, cfg)

    crop_backbone = jax.jit(lambda p, f, r: tracker._features(p, f, r, hw, cfg))
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
        "backbone_only_frame_s": time_call(backbone_only_call(vgg_params, seq, cfg), repeats=repeats),
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


def interleaved_ratio(vgg_params, seq: Sequence, cfg: FCNTConfig, log: Callable[[str], None] = print) -> dict:
    """The tracker's frame time over the backbone's, timed in alternation: each frame's step,
    synced, then one backbone-only call, synced.

    These machines' speed drifts by several percent within seconds, so two timings taken minutes
    apart (a tracked pass, then the backbone alone) can disagree by 30% between runs; alternating
    exposes both to the same drift. Each frame is decoded before its timed step (decoding is
    timed as its own phase). Returns the summed step and backbone times per frame and their ratio.
    """
    first = load_frame(seq.frame_paths[0])
    init_c, step_c, _ = compile_tracker(vgg_params, first.shape, cfg)
    state = init_c(vgg_params, first, jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(0),
                   image_hw=jnp.asarray(first.shape[:2], jnp.float32))
    state, _ = step_c(vgg_params, state, first)  # the official loop tracks the first frame again
    backbone_call = backbone_only_call(vgg_params, seq, cfg)
    jax.block_until_ready((state, backbone_call()))
    step_times, backbone_times = [], []
    log(f"{seq.name}: {len(seq) - 1} frames, each step followed by a backbone-only call ...")
    for path in seq.frame_paths[1:]:
        frame = jax.device_put(load_frame(path))  # decoded outside the timed region
        jax.block_until_ready(frame)
        start = time.perf_counter()
        state, out = step_c(vgg_params, state, frame)
        jax.block_until_ready(out.box)
        middle = time.perf_counter()
        jax.block_until_ready(backbone_call())
        step_times.append(middle - start)
        backbone_times.append(time.perf_counter() - middle)
    step_s, backbone_s = statistics.fmean(step_times), statistics.fmean(backbone_times)
    return {"frame_s": step_s, "backbone_only_frame_s": backbone_s, "ratio_to_backbone": step_s / backbone_s,
            "frames": len(step_times)}


def measure(vgg_params, seq: Sequence, cfg: FCNTConfig, batch_sizes: tuple[int, ...] = (1,), repeats: int = 5,
            log: Callable[[str], None] = print, checkpoint: Callable[[dict], None] | None = None) -> dict:
    """The whole table of speed.json for one sequence (already truncated to the frames to track).

    ``frame_s`` / ``fps_single`` come from tracking the sequence as users do (no per-frame sync);
    ``ratio_to_backbone`` from :func:`interleaved_ratio` over the same frames. ``checkpoint`` gets
    the table as it grows, after each part (single sequence, ratio, phases, each batch size), so
    a run cut off by a time limit or an out-of-memory crash keeps what it measured.
    ``backbone_tflops`` is the convolution throughput each frame rate implies
    (:func:`backbone.conv_flops` of the crop x fps), to read against the device's peak.
    """
    from fcnt_jax.batch import track_batch

    if len(seq) < 2:
        raise ValueError(f"{seq.name}: the speed benchmark needs at least 2 frames, got {len(seq)}")
    save = checkpoint or (lambda d: None)
    gflop = backbone.conv_flops(cfg.roi.roi_size, cfg.roi.roi_size) / 1e9
    log(f"{seq.name}: tracking {len(seq)} frames ...")
    result = track_sequence(vgg_params, seq, cfg, log=log, progress_every=0)
    data = {
        **device_info(), "backbone_dtype": cfg.backbone_dtype,
        "sequence": seq.name, "frames": len(seq),
        "compile_s": result.timing["compile_s"], "init_s": result.timing["init_after_compile_s"],
        "frame_s": 1.0 / result.timing["track_fps"], "fps_single": result.timing["track_fps"],
        "backbone_gflop_per_frame": gflop,
        "backbone_tflops": {"single": gflop * result.timing["track_fps"] / 1e3},
        **result.updates,
        "precision_20": (result.scores or {}).get("precision_20"), "auc": (result.scores or {}).get("auc"),
        "tracking_error": result.error,  # None, or why the sequence stopped early (a broken frame)
        "fps_batch": {},
    }
    save(data)
    # Only the frames the tracker got through (a broken frame stops a sequence; its error is kept).
    ratio = interleaved_ratio(vgg_params, seq.truncated(len(result.boxes)), cfg, log)
    data.update(backbone_only_frame_s=ratio["backbone_only_frame_s"], ratio_to_backbone=ratio["ratio_to_backbone"],
                interleaved=ratio)
    save(data)
    log("timing each phase ...")
    phases = phase_times(vgg_params, seq, cfg, repeats)
    updates_s = (result.updates["adapted"] * phases["adaptation_call_s"]
                 + result.updates["discriminated"] * phases["discrimination_call_s"]) / len(seq)
    breakdown = {"decode": phases["decode_s"], "crop_backbone": phases["crop_backbone_s"],
                 "heads_forward": phases["heads_forward_s"], "localisation": phases["localisation_s"],
                 "updates_amortised": updates_s}
    data.update(breakdown_s=breakdown, breakdown_sum_s=sum(breakdown.values()), phase_calls_s=phases,
                peak_memory_mb=peak_memory_mb())
    save(data)
    for b in batch_sizes:
        log(f"batch of {b} ...")
        try:
            out = track_batch(vgg_params, [seq] * b, cfg, batch_size=b, log=lambda m: None)
            data["fps_batch"][str(b)] = out[0].timing["batch_fps"]
            data["backbone_tflops"][f"batch_{b}"] = gflop * out[0].timing["batch_fps"] / 1e3
        except Exception as e:  # out of memory on a large batch: report it, keep the rest
            data["fps_batch"][str(b)] = f"failed: {type(e).__name__}: {str(e)[:120]}"
        data["peak_memory_mb"] = peak_memory_mb()
        save(data)
    return data


def preset_costs(vgg_params, seq: Sequence, cfgs: dict[str, FCNTConfig], rounds: int = 2,
                 log: Callable[[str], None] = print) -> dict:
    """First-frame init (after compilation) and frame time of each preset on the same frames, and
    their ratios to the first preset's (issue 19's cost targets: fcnt_plus's frame time <= 1.5x and
    init <= 2x code's). The presets are tracked in turn, ``rounds`` times (A B A B ...), and each
    keeps its fastest round, so that a slow spell of a noisy machine does not land on one preset."""
    if len(seq) < 2:
        raise ValueError(f"{seq.name}: the preset comparison needs at least 2 frames, got {len(seq)}")
    best: dict[str, dict] = {}
    for r in range(rounds):
        for name, cfg in cfgs.items():
            log(f"{seq.name}: {name}, round {r + 1}/{rounds} ...")
            timing = track_sequence(vgg_params, seq, cfg, log=lambda m: None, progress_every=0).timing
            run = {"init_s": timing["init_after_compile_s"], "frame_s": 1.0 / timing["track_fps"],
                   "compile_s": timing["compile_s"]}
            kept = best.setdefault(name, run)  # compile_s: the first round's (later rounds hit the cache)
            best[name] = {**kept, "init_s": min(kept["init_s"], run["init_s"]),
                          "frame_s": min(kept["frame_s"], run["frame_s"])}
    first = next(iter(best.values()))
    return {"sequence": seq.name, "frames": len(seq), "rounds": rounds, "presets": best,
            "ratios": {name: {"init": v["init_s"] / first["init_s"], "frame": v["frame_s"] / first["frame_s"]}
                       for name, v in best.items()}}


def batch_init_costs(vgg_params, seq: Sequence, cfgs: dict[str, FCNTConfig], batch_size: int, rounds: int = 2,
                     repeats: int = 3, log: Callable[[str], None] = print) -> dict:
    """Seconds of one ``batch.batch_init`` of ``batch_size`` copies of the sequence's first frame for
    each preset (compiled first; the median of ``repeats`` calls, the fastest of ``rounds`` taken
    in turn, A B A B), and the ratio to the first preset's. A step of the first frame that only
    some sequences take (fcnt_plus's GNet refit, where GNet's own distracter test fires) is paid by
    the whole batch when vmap turns its condition into a select; this is what shows it."""
    from fcnt_jax.batch import batch_init

    if batch_size < 1:
        raise ValueError(f"batch_init_costs: batch_size must be >= 1, got {batch_size}")
    frame = jnp.asarray(load_frame(seq.frame_paths[0]))
    frames = jnp.stack([frame] * batch_size)
    boxes = jnp.asarray([seq.init_box] * batch_size, jnp.float32)
    keys = jnp.stack([jax.random.PRNGKey(0)] * batch_size)
    hws = jnp.asarray([frame.shape[:2]] * batch_size, jnp.float32)
    best: dict[str, float] = {}
    for r in range(rounds):
        for name, cfg in cfgs.items():
            log(f"{seq.name}: batch_init of {batch_size}, {name}, round {r + 1}/{rounds} ...")
            seconds = time_call(lambda: batch_init(vgg_params, frames, boxes, keys, hws, cfg=cfg), repeats=repeats)
            best[name] = min(best.get(name, seconds), seconds)
    first = next(iter(best.values()))
    return {"sequence": seq.name, "batch_size": batch_size, "rounds": rounds, "init_s": best,
            "ratios": {name: v / first for name, v in best.items()}}


def batch_init_table(costs: dict) -> str:
    rows = [f"| preset | batch_init of {costs['batch_size']} s | / first |", "|---|---|---|"]
    rows += [f"| {name} | {v:.2f} | {costs['ratios'][name]:.2f} |" for name, v in costs["init_s"].items()]
    return "\n".join(rows)


def preset_costs_table(costs: dict) -> str:
    rows = ["| preset | init s (after compile) | frame s | init / first | frame / first |", "|---|---|---|---|---|"]
    for name, v in costs["presets"].items():
        ratio = costs["ratios"][name]
        rows.append(f"| {name} | {v['init_s']:.2f} | {v['frame_s']:.3f} | {ratio['init']:.2f} | {ratio['frame']:.2f} |")
    return "\n".join(rows)


def dtype_accuracy_change(vgg_params, sequences: list[Sequence], cfg: FCNTConfig,
                          dtypes: tuple[str, str] = ("float32", "bfloat16"),
                          log: Callable[[str], None] = print,
                          checkpoint: Callable[[dict], None] | None = None) -> dict:
    """What the backbone's compute dtype costs in accuracy: every sequence tracked in both dtypes.

    Per sequence: both runs' precision@20 / AUC, their change (second dtype minus first), how far
    apart the two runs' boxes are (mean and largest centre distance in px, frames more than 1 px
    apart), which says whether the dtype moved the track or only rounded it, and both runs' tracking
    fps. The summary gives the mean and the median change (one chaotic sequence moves the mean) and
    the second dtype's total tracking time over the first's, measured in the same run. A sequence
    that fails (a broken frame, no ground truth) is reported under ``failed`` and the rest go on.
    ``checkpoint`` gets the result so far after each sequence (a run cut off keeps those).
    """
    import dataclasses

    from fcnt_jax.eval.metrics import centre_error

    per_sequence, failed = {}, {}

    def result() -> dict:
        return {"dtypes": list(dtypes), "per_sequence": per_sequence, "failed": failed,
                **summarise_changes(list(per_sequence.values()), dtypes)}

    for seq in sequences:
        try:
            runs = {}
            for dtype in dtypes:
                log(f"accuracy: {seq.name} in {dtype} ...")
                runs[dtype] = track_sequence(vgg_params, seq, dataclasses.replace(cfg, backbone_dtype=dtype),
                                             log=lambda m: None, progress_every=0)
            first, second = (runs[d] for d in dtypes)
            for r in (first, second):
                if r.error or not r.scores:
                    raise ValueError(r.error or f"{seq.name}: no ground truth to score against")
            shift = centre_error(second.boxes, first.boxes)
            per_sequence[seq.name] = {
                **{d: {k: runs[d].scores[k] for k in ("precision_20", "auc")} for d in dtypes},
                "change": {k: second.scores[k] - first.scores[k] for k in ("precision_20", "auc")},
                "box_shift_px": {"mean": float(shift.mean()), "max": float(shift.max()),
                                 "frames_over_1px": int((shift > 1.0).sum()), "frames": int(len(shift))},
                "track_fps": {d: runs[d].timing["track_fps"] for d in dtypes},
                "track_s": {d: runs[d].timing["track_s"] for d in dtypes},
            }
            log(f"accuracy: {seq.name}: P@20 {per_sequence[seq.name]['change']['precision_20']:+.3f}, "
                f"AUC {per_sequence[seq.name]['change']['auc']:+.3f}, boxes {shift.mean():.2f} px apart on average")
        except Exception as e:  # one bad sequence is reported, the others still count
            failed[seq.name] = f"{type(e).__name__}: {e}"
            log(f"accuracy: {seq.name} failed: {failed[seq.name]}")
        if checkpoint:
            checkpoint(result())
    return result()


def summarise_changes(rows: list[dict], dtypes: tuple[str, str]) -> dict:
    """Mean and median change of precision@20 / AUC over the sequences' rows (None without rows),
    and the second dtype's total tracking time over the first's."""
    import numpy as np

    summary = {f"{stat.__name__}_{k}": float(stat([r["change"][k] for r in rows])) if rows else None
               for stat in (np.mean, np.median) for k in ("precision_20", "auc")}
    summary["track_time_ratio"] = (sum(r["track_s"][dtypes[1]] for r in rows)
                                   / sum(r["track_s"][dtypes[0]] for r in rows)) if rows else None
    return summary


def markdown_table(data: dict) -> str:
    """speed.json as the printed table: the speed part where it was timed, then the bfloat16
    comparison where it ran."""
    rows = speed_rows(data) if "fps_single" in data else [("device", f"{data['device']} ({data['platform']})")]
    rows += accuracy_rows(data.get("bfloat16_change"))
    table = "| quantity | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    if "preset_costs" in data:
        costs = data["preset_costs"]
        table += (f"\n\nPresets on {costs['sequence']} ({costs['frames']} frames, fastest of {costs['rounds']} "
                  f"rounds):\n\n" + preset_costs_table(costs))
    if "batch_init_costs" in data:
        costs = data["batch_init_costs"]
        table += (f"\n\nbatch_init of {costs['batch_size']} copies of {costs['sequence']}'s first frame (fastest of "
                  f"{costs['rounds']} rounds):\n\n" + batch_init_table(costs))
    return table


def speed_rows(data: dict) -> list[tuple[str, str]]:
    """The speed table's rows; the parts a cut-off run did not reach are named as missing."""
    rows = [("device", f"{data['device']} ({data['platform']}, {data['device_count']} device(s))"),
            ("backbone dtype", data["backbone_dtype"]), ("frames tracked", data["frames"]),
            ("compile_s", f"{data['compile_s']:.2f}"), ("init_s (after compile)", f"{data['init_s']:.3f}"),
            ("frame_s (whole step)", f"{data['frame_s']:.4f}"), ("fps_single", f"{data['fps_single']:.2f}")]
    if "breakdown_s" in data:
        rows += [(f"  {k}", f"{v:.4f} s") for k, v in data["breakdown_s"].items()]
        rows += [("  sum of phases", f"{data['breakdown_sum_s']:.4f} s")]
    if "interleaved" in data:
        rows += [("backbone_only_frame_s", f"{data['backbone_only_frame_s']:.4f}"),
                 ("ratio_to_backbone (interleaved)", f"{data['ratio_to_backbone']:.3f} "
                  f"(step {data['interleaved']['frame_s']:.4f} s / backbone {data['backbone_only_frame_s']:.4f} s)")]
    rows += [(f"fps_batch (B={b})", v if isinstance(v, str) else f"{v:.2f}") for b, v in data["fps_batch"].items()]
    rows += [(f"backbone TFLOP/s ({k}: {data['backbone_gflop_per_frame']:.1f} GFLOP x fps)", f"{v:.2f}")
             for k, v in data.get("backbone_tflops", {}).items()]  # absent from runs before it existed
    if "peak_memory_mb" in data:
        rows += [("peak_memory_mb", f"{data['peak_memory_mb']:.0f}")]
    missing = [part for part, key in (("ratio", "interleaved"), ("phase breakdown", "breakdown_s")) if key not in data]
    if missing:
        rows += [("not measured (run cut off)", ", ".join(missing))]
    if data["tracking_error"]:
        rows += [("tracking stopped early", data["tracking_error"])]
    return rows


def accuracy_rows(change: dict | None) -> list[tuple[str, str]]:
    """The bfloat16 comparison's rows: the summary, then one per sequence and per failure."""
    rows = []
    if change and change["per_sequence"]:
        rows += [(f"bfloat16 change P@20 / AUC, mean of {len(change['per_sequence'])} (median)",
                  f"{change['mean_precision_20']:+.3f} / {change['mean_auc']:+.3f} "
                  f"({change['median_precision_20']:+.3f} / {change['median_auc']:+.3f})"),
                 ("bfloat16 tracking time / float32's (same run)", f"{change['track_time_ratio']:.3f}")]
        rows += [(f"  {name}", f"{r['change']['precision_20']:+.3f} / {r['change']['auc']:+.3f} "
                               f"(boxes {r['box_shift_px']['mean']:.2f} px apart, max {r['box_shift_px']['max']:.1f})")
                 for name, r in change["per_sequence"].items()]
    if change and change["failed"]:
        rows += [(f"  {name} failed", why) for name, why in change["failed"].items()]
    return rows


PHASE_NAMES = {"decode": "decode", "crop_backbone": "backbone (+ crop)", "heads_forward": "GNet/SNet forward",
               "localisation": "localisation", "updates_amortised": "updates (amortised)"}


def speed_chart(data: dict):
    """speed.json as a picture (a PIL image), or None before the first part is timed.

    Top: the frame time in ms, split by phase, beside the whole step and the backbone alone timed
    in alternation (their quotient is ``ratio_to_backbone``). Bottom: frames per second, one
    sequence and each batch size's aggregate. A cut-off run draws the parts it reached.
    """
    from fcnt_jax.eval.report import bar_chart, stack_images

    if "fps_single" not in data:
        return None
    where = f"{data['device']}, {data['backbone_dtype']} backbone"
    panels, rows = [], []
    if "breakdown_s" in data:
        rows.append(("step, phases timed apart",
                     [(PHASE_NAMES.get(k, k), v * 1e3) for k, v in data["breakdown_s"].items()]))
    if "interleaved" in data:
        rows += [("step, interleaved", [("whole step", data["interleaved"]["frame_s"] * 1e3)]),
                 ("VGG-16 alone, interleaved", [("backbone (+ crop)", data["backbone_only_frame_s"] * 1e3)])]
    if rows:
        ratio = f": ratio_to_backbone {data['ratio_to_backbone']:.2f}" if "interleaved" in data else ""
        panels.append(bar_chart(rows, f"Frame time ({where}){ratio}", "ms per frame",
                                colours={"whole step": (127, 127, 127)}, value_format="{:.1f} ms"))
    fps = [("one sequence", [("fps", data["fps_single"])])]
    fps += [(f"batch of {b} (aggregate)", [("fps", v)]) for b, v in data["fps_batch"].items()
            if not isinstance(v, str)]
    failed = [b for b, v in data["fps_batch"].items() if isinstance(v, str)]
    note = f" (B={', '.join(failed)} failed)" if failed else ""
    note += "; frame time not measured (run cut off)" if not rows else ""
    fmt = "{:.2f}" if max(segments[0][1] for _, segments in fps) < 10 else "{:.0f}"
    panels.append(bar_chart(fps, f"Frames per second ({where}){note}", "frames per second", value_format=fmt))
    return stack_images(panels)
