"""What a heat map says about the box's size: the measurements behind two of issue 19's candidates.

- :func:`fcnt_jax.localize.map_spread` (used by the tracker's ``size_from_snet_map``): the map's standard deviation along x and y inside a window around a box,
  in image pixels. The map M a head is trained to (spec §2) is a Gaussian with sigma = side / 3
  cut at the box, i.e. at +-1.5 sigma, whose standard deviation is :data:`SPREAD_PER_SIDE` x the
  box side. ``spread / SPREAD_PER_SIDE`` is then the size the map *implies*: the "box refined
  from the heat map's extent" idea, measurable before it is built.
- :func:`ranking_optimal_scale`: the factor that, applied to a box (same centre, same aspect),
  maximises the tracker's own ranking score (mean map value x area^gamma, spec §5.3) on a map.
  On M itself the optimum is the box (factor 1: the mean falls as 1/f^2 outside the truncated
  Gaussian while area^0.7 grows only as f^1.4); a factor > 1 on a real head's output is the
  ranking rule enlarging the box.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from fcnt_jax.localize import (SPREAD_PER_SIDE, implied_size, map_moments, map_spread,  # noqa: F401
                               particle_confidence, ranking_score)


SCALE_FACTORS = tuple(np.round(np.arange(0.6, 1.801, 0.05), 3).tolist())


def ranking_optimal_scale(heat: jax.Array, roi: jax.Array, box: jax.Array, gamma: float,
                          factors=SCALE_FACTORS, mode: str = "code") -> jax.Array:
    """The factor in ``factors`` whose scaled box (same centre and aspect) ranks best on ``heat``
    under the tracker's score (:func:`fcnt_jax.localize.ranking_score`)."""
    f = jnp.asarray(factors, jnp.float32)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    w, h = box[2] * f, box[3] * f
    boxes = jnp.stack([cx - w / 2, cy - h / 2, w, h], -1)
    conf = particle_confidence(heat, boxes, roi, heat.shape[0])
    return f[jnp.argmax(ranking_score(conf, boxes, gamma, mode))]


@jax.jit
def _frame_measures(g_map, s_map, roi, box, truth, gamma_g, gamma_s):
    out = {}
    for net, heat, gamma in (("g", g_map, gamma_g), ("s", s_map, gamma_s)):
        out[f"{net}_implied_wh"] = implied_size(heat, roi, box)
        out[f"{net}_optimal_scale_at_box"] = ranking_optimal_scale(heat, roi, box, gamma)
        out[f"{net}_optimal_scale_at_truth"] = ranking_optimal_scale(heat, roi, truth, gamma)
        # Where the map's mass over the box sits against the box's centre (x, y px): what the
        # centre_to_map_centroid candidate would move the box by.
        _, centroid, _ = map_moments(heat, roi, box, window=1.0)
        out[f"{net}_centroid_offset"] = centroid - (box[:2] + box[2:] / 2)
    return out


def measure_sequence(vgg_params, seq, cfg, max_frames: int | None = None, seed: int = 0,
                     log=print) -> list[dict]:
    """Track ``seq`` (its first ``max_frames``) with the heat maps returned and, per frame, the box,
    the truth (0-based, as Sequence holds it), the deciding net, and for each net the size its map implies around the
    box (:func:`map_spread`), the ranking-optimal factor around the box and around the truth, and
    the offset of its map's centroid over the box from the box's centre.
    Frames without a truth box are measured around the box only (truth-side fields NaN)."""
    from fcnt_jax.run import compile_tracker

    n = len(seq) if max_frames is None else min(len(seq), max_frames)
    loc = cfg.localization
    rows = []
    with seq.frames(stop=n) as frames:
        stream = iter(frames)
        first = next(stream)
        init_c, step_c, _ = compile_tracker(vgg_params, first.shape, cfg, return_maps=True)
        hw = jnp.asarray(first.shape[:2], jnp.float32)
        state = init_c(vgg_params, first, jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(seed),
                       image_hw=hw)
        for i, frame in enumerate(itertools.chain([first], stream)):  # frames stream, never all held
            state, out = step_c(vgg_params, state, frame)  # frame 1 is tracked again, as run.py does
            truth = None if seq.groundtruth is None else np.asarray(seq.groundtruth[i], np.float64)
            known = truth is not None and bool(np.all(np.isfinite(truth))) and truth[2] > 0 and truth[3] > 0
            truth0 = truth if known else np.asarray(out.box)
            m = jax.device_get(_frame_measures(out.g_map, out.s_map, out.roi, out.box,
                                               jnp.asarray(truth0, jnp.float32), loc.gamma_g, loc.gamma_s))
            row = {"frame": i + 1, "box": np.asarray(out.box).tolist(),
                   "truth": truth0.tolist() if known else None, "decided_by": int(out.decided_by)}
            for k, v in m.items():
                v = np.asarray(v, np.float64)
                if k.endswith("at_truth") and not known:
                    v = np.full_like(v, np.nan)
                row[k] = v.tolist()
            rows.append(row)
            if (i + 1) % 20 == 0 or i + 1 == n:
                log(f"{seq.name}: frame {i + 1}/{n}")
    return rows


def _log_error(est: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(est) & np.isfinite(truth) & (est > 0) & (truth > 0)
    return float(np.mean(np.abs(np.log(est[ok] / truth[ok])))) if ok.any() else float("nan")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def summarise_sequence(rows: list[dict]) -> dict:
    """Per net: how well the map-implied width and height follow the truth (correlation, mean
    |log ratio|, beside the tracker's own box's), and the ranking-optimal factor around the truth
    on frame 1 and its median over the later frames; plus the box/truth area ratio (median)."""
    with_truth = [r for r in rows if r["truth"] is not None]
    truth = np.array([r["truth"] for r in with_truth], np.float64).reshape(-1, 4)
    box = np.array([r["box"] for r in with_truth], np.float64).reshape(-1, 4)
    summary = {"frames": len(rows), "frames_with_truth": len(with_truth),
               "box_area_over_truth_median": float(np.median(box[:, 2] * box[:, 3] / (truth[:, 2] * truth[:, 3])))
               if len(with_truth) else float("nan"),
               "box_log_error_wh": [_log_error(box[:, 2], truth[:, 2]), _log_error(box[:, 3], truth[:, 3])]}
    for net in ("g", "s"):
        implied = np.array([r[f"{net}_implied_wh"] for r in with_truth], np.float64).reshape(-1, 2)
        at_truth = np.array([r[f"{net}_optimal_scale_at_truth"] for r in with_truth], np.float64)
        summary[net] = {
            "implied_corr_wh": [_corr(implied[:, 0], truth[:, 2]), _corr(implied[:, 1], truth[:, 3])],
            "implied_log_error_wh": [_log_error(implied[:, 0], truth[:, 2]), _log_error(implied[:, 1], truth[:, 3])],
            "optimal_scale_at_truth_first": float(at_truth[0]) if len(at_truth) else float("nan"),
            "optimal_scale_at_truth_median_later": float(np.nanmedian(at_truth[1:])) if len(at_truth) > 1
            else float("nan"),
        }
    return summary


def summary_lines(summaries: dict[str, dict]) -> list[str]:
    """A markdown table: one row per sequence and net."""
    lines = ["| sequence | net | implied w: corr / log err | implied h: corr / log err | box's log err w / h "
             "| optimal scale at truth: frame 1 / later (median) | box area / truth (median) |",
             "|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        for net in ("g", "s"):
            n = s[net]
            lines.append(f"| {name} | {'GNet' if net == 'g' else 'SNet'} "
                         f"| {n['implied_corr_wh'][0]:.2f} / {n['implied_log_error_wh'][0]:.2f} "
                         f"| {n['implied_corr_wh'][1]:.2f} / {n['implied_log_error_wh'][1]:.2f} "
                         f"| {s['box_log_error_wh'][0]:.2f} / {s['box_log_error_wh'][1]:.2f} "
                         f"| {n['optimal_scale_at_truth_first']:.2f} / {n['optimal_scale_at_truth_median_later']:.2f} "
                         f"| {s['box_area_over_truth_median']:.2f} |")
    return lines


def size_votes(rows: list[dict], tolerance: float = 0.05) -> dict:
    """Per side (w, h): on the frames where the box's side is off the truth's by more than
    ``tolerance`` in |log ratio|, how often each net's implied side points the truth's way from
    the box (the sign of log(implied / box) that of log(truth / box)), and, where the two nets
    point the same way (``localization.size_vote``'s step), how often that is the truth's way. On
    the other frames (the box within ``tolerance``: "on"), how often both point the same way
    anyway, a step away from a right size, and the mean of the voted step there (log, signed):
    a bias in it is a ratchet."""
    out = {}
    for k, side in enumerate("wh"):
        counts = {"off": 0, "g_right": 0, "g_wrong": 0, "s_right": 0, "s_wrong": 0, "agree_right": 0, "agree_wrong": 0,
                  "on": 0, "agree_on": 0, "mean_step_on": 0.0}
        for r in rows:
            if r["truth"] is None:
                continue
            box, truth = r["box"][2 + k], r["truth"][2 + k]
            g, s = r["g_implied_wh"][k], r["s_implied_wh"][k]
            values = np.array([box, truth, g, s], np.float64)
            if not (np.all(np.isfinite(values)) and np.all(values > 0)):
                continue
            to_truth, g_log, s_log = np.log(truth / box), np.log(g / box), np.log(s / box)
            if abs(to_truth) <= tolerance:
                counts["on"] += 1
                if g_log * s_log > 0:
                    counts["agree_on"] += 1
                    counts["mean_step_on"] += float(np.sign(g_log) * min(abs(g_log), abs(s_log)))
                continue
            counts["off"] += 1
            counts["g_right" if g_log * to_truth > 0 else "g_wrong"] += 1
            counts["s_right" if s_log * to_truth > 0 else "s_wrong"] += 1
            if g_log * s_log > 0:
                counts["agree_right" if g_log * to_truth > 0 else "agree_wrong"] += 1
        counts["mean_step_on"] = counts["mean_step_on"] / counts["on"] if counts["on"] else float("nan")
        out[side] = counts
    return out


def size_vote_lines(votes: dict[str, dict]) -> list[str]:
    """A markdown table: one row per sequence and side, and the totals."""
    lines = ["| sequence | side | frames off the truth's side | GNet right / wrong | SNet right / wrong "
             "| both agree: right / wrong | frames on it | both agree there (a step away) | mean voted step there |",
             "|---|---|---|---|---|---|---|---|---|"]
    total, step_sum = {}, 0.0
    for name, per_side in votes.items():
        for side, c in per_side.items():
            for key, value in c.items():
                if key != "mean_step_on":
                    total[key] = total.get(key, 0) + value
            step_sum += c["mean_step_on"] * c["on"] if c["on"] else 0.0
            lines.append(f"| {name} | {side} | {c['off']} | {c['g_right']} / {c['g_wrong']} "
                         f"| {c['s_right']} / {c['s_wrong']} | {c['agree_right']} / {c['agree_wrong']} "
                         f"| {c['on']} | {c['agree_on']} | {c['mean_step_on']:+.4f} |")
    if total:
        mean_on = step_sum / total["on"] if total["on"] else float("nan")
        lines.append(f"| all | w, h | {total['off']} | {total['g_right']} / {total['g_wrong']} "
                     f"| {total['s_right']} / {total['s_wrong']} | {total['agree_right']} / {total['agree_wrong']} "
                     f"| {total['on']} | {total['agree_on']} | {mean_on:+.4f} |")
    return lines


RESPONSE_FACTORS = (0.8, 0.9, 1.0, 1.1, 1.25)


def _scale_signals_at(vgg_params, state, frame, box, cfg):
    """Both nets' implied (w, h) around ``box`` and their raw peaks (the largest value of the head's
    output, before the map is divided by it, as the tracker records it), with the ROI the tracker
    would crop for ``box``."""
    from fcnt_jax import geometry, localize, tracker

    loc, size = cfg.localization, cfg.roi.roi_size
    roi = tracker._roi_for_state(geometry.box_to_state(box, loc.template_size), state.roi_factor, cfg)
    conv4, conv5 = tracker._features(vgg_params, frame, roi, state.image_hw, cfg)
    _, g_raw, s_raw = tracker.head_outputs(state, conv4, conv5, cfg)
    implied = []
    for raw in (g_raw, s_raw):
        heat = localize.roi_heat_map(raw, roi, state.image_hw, size, loc.map_threshold)
        implied.append(implied_size(heat, roi, box, loc.size_map_window))
    return jnp.stack(implied), jnp.stack([tracker._peak(g_raw), tracker._peak(s_raw)])


_scale_signals_at_jit = jax.jit(_scale_signals_at, static_argnames=("cfg",))


def response_slope(factors, implied) -> float:
    """Least-squares slope of log(implied) on log(factor): 0 when the implied size ignores the box
    (all of it from the target), 1 when it scales with the box (none of it from the target)."""
    x, y = np.log(np.asarray(factors, np.float64)), np.log(np.asarray(implied, np.float64))
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    x, y = x[ok], y[ok]
    return float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))


def scale_response(vgg_params, seq, cfg, frame_numbers, factors=RESPONSE_FACTORS, seed: int = 0,
                   log=print) -> list[dict]:
    """On each of ``frame_numbers`` (1-based) with a truth box, the truth box scaled by each factor
    (same centre), the ROI cropped for it as the tracker would, and both nets' implied (w, h) there
    (heads as trained on frame 1 by ``init``; GNet is never updated, SNet is, so SNet's rows are
    its first-frame self). The box-independent part of a map's size estimate, measured with the
    truth held fixed, which a closed-loop run cannot separate from the box it resized. Also each
    net's raw peak per factor: a crop-scale search (pick the crop whose response peaks highest, as
    correlation-filter and Siamese trackers do) has a signal only if that peak is highest at 1."""
    from fcnt_jax import tracker

    wanted = sorted(set(int(n) for n in frame_numbers))
    rows = []
    with seq.frames(stop=wanted[-1]) as frames:
        state = None
        for i, frame in enumerate(frames):
            if state is None:
                hw = jnp.asarray(frame.shape[:2], jnp.float32)
                state = tracker.init(vgg_params, frame, jnp.asarray(seq.init_box, jnp.float32),
                                     jax.random.PRNGKey(seed), cfg=cfg, image_hw=hw)
            if i + 1 not in wanted or seq.groundtruth is None:
                continue
            truth = np.asarray(seq.groundtruth[i], np.float64)
            if not (np.all(np.isfinite(truth)) and truth[2] > 0 and truth[3] > 0):
                continue
            centre = truth[:2] + truth[2:] / 2
            implied, peaks = [], []
            for f in factors:
                box = np.concatenate([centre - f * truth[2:] / 2, f * truth[2:]])
                sizes, peak = _scale_signals_at_jit(vgg_params, state, frame, jnp.asarray(box, jnp.float32), cfg)
                implied.append(np.asarray(sizes, np.float64))
                peaks.append(np.asarray(peak, np.float64))
            implied, peaks = np.stack(implied), np.stack(peaks)  # (factor, net, side), (factor, net)
            rows.append({"frame": i + 1, "truth": truth.tolist(), "factors": list(factors),
                         "g_implied_wh": implied[:, 0].tolist(), "s_implied_wh": implied[:, 1].tolist(),
                         "g_peak": peaks[:, 0].tolist(), "s_peak": peaks[:, 1].tolist()})
            log(f"{seq.name}: frame {i + 1} measured")
    return rows


def summarise_response(rows: list[dict]) -> dict:
    """Per net and side: the median over frames of the response slope (:func:`response_slope`)
    and of log(implied / truth) at factor 1 (the estimate's bias on a right-sized box)."""
    out = {"frames": [r["frame"] for r in rows]}
    for net in ("g", "s"):
        slopes, biases = [], []
        for r in rows:
            implied = np.asarray(r[f"{net}_implied_wh"], np.float64)
            factors = np.asarray(r["factors"], np.float64)
            slopes.append([response_slope(factors, implied[:, k]) for k in (0, 1)])
            at_one = int(np.argmin(np.abs(factors - 1.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                biases.append(np.log(implied[at_one] / np.asarray(r["truth"][2:], np.float64)).tolist())
        slopes, biases = np.array(slopes).reshape(-1, 2), np.array(biases).reshape(-1, 2)
        out[net] = {"slope_wh": [float(np.nanmedian(slopes[:, k])) if np.isfinite(slopes[:, k]).any()
                                 else float("nan") for k in (0, 1)],
                    "log_bias_wh": [float(np.nanmedian(biases[:, k])) if np.isfinite(biases[:, k]).any()
                                    else float("nan") for k in (0, 1)]}
    return out


def response_lines(summaries: dict[str, dict]) -> list[str]:
    """A markdown table: one row per sequence, both nets, and the median over sequences."""
    lines = ["| sequence | frames | GNet slope w / h | GNet log bias w / h | SNet (frame-1) slope w / h "
             "| SNet (frame-1) log bias w / h |", "|---|---|---|---|---|---|"]
    rows = list(summaries.items())
    if len(rows) > 1:
        median = {net: {key: np.nanmedian([s[net][key] for _, s in rows], axis=0).tolist()
                        for key in ("slope_wh", "log_bias_wh")} for net in ("g", "s")}
        rows.append((f"median of {len(rows)}", {**median, "frames": []}))
    for name, s in rows:
        g, sn = s["g"], s["s"]
        frames = len(s["frames"]) if s["frames"] else ""
        lines.append(f"| {name} | {frames} | {g['slope_wh'][0]:.2f} / {g['slope_wh'][1]:.2f} "
                     f"| {g['log_bias_wh'][0]:+.2f} / {g['log_bias_wh'][1]:+.2f} "
                     f"| {sn['slope_wh'][0]:.2f} / {sn['slope_wh'][1]:.2f} "
                     f"| {sn['log_bias_wh'][0]:+.2f} / {sn['log_bias_wh'][1]:+.2f} |")
    return lines


def peak_best_factors(rows: list[dict], first_frame: int = 2) -> dict:
    """Per net, the crop factor at which the raw peak is highest, on each row from ``first_frame``
    on (frame 1 is the heads' training crop, where factor 1 wins by construction). Rows without
    peaks (written before they were recorded) are skipped."""
    out = {}
    for net in ("g", "s"):
        best = [float(r["factors"][int(np.argmax(r[f"{net}_peak"]))]) for r in rows
                if r["frame"] >= first_frame and f"{net}_peak" in r]
        out[net] = best
    return out


def peak_lines(best: dict[str, dict], factors=RESPONSE_FACTORS) -> list[str]:
    """A markdown table: per sequence and net, how many measured frames had their highest raw peak
    at each crop factor, and the median log of that factor (0: the search would keep the right
    size); a last row pools every sequence."""
    head = " | ".join(f"{f:g}" for f in factors)
    lines = [f"| sequence | net | best crop factor: {head} | median log factor |",
             "|---|---|" + "---|" * len(factors) + "---|"]
    pooled = {"g": [], "s": []}
    rows = list(best.items())
    for name, b in rows:
        for net in ("g", "s"):
            pooled[net] += b[net]
    if len(rows) > 1:
        rows.append((f"all {len(rows)}", pooled))
    for name, b in rows:
        for net, label in (("g", "GNet"), ("s", "SNet (frame-1)")):
            vals = np.asarray(b[net], np.float64)
            counts = " | ".join(str(int(np.sum(np.isclose(vals, f)))) for f in factors)
            med = f"{np.median(np.log(vals)):+.2f}" if vals.size else ""
            lines.append(f"| {name} | {label} | {counts} | {med} |")
    return lines
