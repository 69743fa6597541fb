"""Summaries of a preset ablation (issue 19's fcnt_plus study): per preset and set the mean scores
and their spread over seeds, each sequence's AUC change against a reference preset, the issue's
targets, and what the fixes act on, read from the per-frame diagnostics. Used by
experiments.fcnt_plus; kept here so that it is importable without that script's flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fcnt_jax.config import PRESETS, presets_by_result_folder
from fcnt_jax.eval import metrics
from fcnt_jax.geometry import box_from_otb

# What the issue measures fcnt_plus against on the 8 OTB dev sequences, first 120 frames (issue 19:
# HCF and MDNet's published results on those frames).
TARGETS = {"HCF": (0.945, 0.646), "MDNet": (0.956, 0.694)}
MAX_AUC_LOSS = 0.05  # issue 19: no dev sequence may lose more than this against code


def seed_table(rows: dict[tuple, list[dict]]) -> dict:
    """``rows[(group, name, seed)]`` (one row per sequence; failed rows lack "auc") ->
    ``table[group][name] = {"seeds": {seed: means over sequences}, "sequences": {seq: {seed: scores}}}``."""
    table: dict = {}
    for (group, name, seed), seq_rows in rows.items():
        scored = [r for r in seq_rows if "auc" in r]
        entry = table.setdefault(group, {}).setdefault(name, {"seeds": {}, "sequences": {}})
        if scored:
            entry["seeds"][str(seed)] = {"precision_20": float(np.mean([r["precision_20"] for r in scored])),
                                         "auc": float(np.mean([r["auc"] for r in scored])), "sequences": len(scored)}
        for r in scored:
            entry["sequences"].setdefault(r["sequence"], {})[str(seed)] = {"precision_20": r["precision_20"],
                                                                           "auc": r["auc"]}
    return table


def per_sequence_auc_lines(entries: dict, label: str) -> list[str]:
    """A markdown table: one row per entry of a :func:`seed_table` group, one column per sequence,
    the AUC averaged over seeds (blank where the entry has no score)."""
    names = sorted({s for e in entries.values() for s in e["sequences"]})
    lines = [f"| {label} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, entry in entries.items():
        cells = []
        for name in names:
            per_seed = entry["sequences"].get(name, {})
            cells.append(f"{np.mean([v['auc'] for v in per_seed.values()]):.3f}" if per_seed else "")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def summarise(rows: dict[tuple[str, str, int], list[dict]], reference: str = "code") -> tuple[str, dict]:
    """Markdown and JSON from ``rows[(preset, set, seed)]`` (one row per sequence): per preset and
    set the mean over sequences of each seed, its mean and range over seeds, and per sequence the
    AUC (mean over seeds) with its change against ``reference`` on the seeds both have."""
    table = seed_table({(set_name, preset, seed): r for (preset, set_name, seed), r in rows.items()})
    lines = []
    for set_name, presets in table.items():
        ref = presets.get(reference, {"sequences": {}})["sequences"]
        for entry in presets.values():
            by_seed = {}
            for name, per_seed in entry["sequences"].items():
                common = sorted(set(per_seed) & set(ref.get(name, {})))
                if common:
                    by_seed[name] = {s: per_seed[s]["auc"] - ref[name][s]["auc"] for s in common}
            entry["auc_change_by_seed_vs_" + reference] = by_seed
            entry["auc_change_vs_" + reference] = {name: float(np.mean(list(c.values()))) for name, c in by_seed.items()}
        lines += [f"### {set_name}", "",
                  f"| preset | sequences | precision@20 | AUC | AUC range over seeds | worst AUC change vs {reference} |",
                  "|---|---|---|---|---|---|"]
        for preset, entry in presets.items():
            seeds = list(entry["seeds"].values())
            if not seeds:
                lines.append(f"| {preset} | 0 | | | | |")
                continue
            a = [s["auc"] for s in seeds]
            spread = f"{min(a):.3f}-{max(a):.3f} ({len(a)} seeds)" if len(a) > 1 else "1 seed"
            changes = entry["auc_change_vs_" + reference]
            worst = ""
            if changes and preset != reference:
                name = min(changes, key=changes.get)
                worst = f"{changes[name]:+.3f} ({name})"
            n = min(s["sequences"] for s in seeds)
            lines.append(f"| {preset} | {n} | {np.mean([s['precision_20'] for s in seeds]):.3f} | {np.mean(a):.3f} "
                         f"| {spread} | {worst} |")
        lines += ["", f"Per sequence, AUC (mean over seeds), {set_name}:", ""]
        lines += per_sequence_auc_lines(presets, "preset") + [""]
    return "\n".join(lines), table


def all_sets_lines(table: dict, expected: dict[str, list[str]], reference: str = "code") -> tuple[list[str], dict]:
    """Per preset and seed, the mean over every sequence of every set (issue 19's "16 dev
    sequences") and its change against ``reference`` on the same seed. A row is only written where
    the preset scored every sequence ``expected`` names for that seed: a partial run would
    otherwise be averaged over other sequences than its neighbours."""
    result: dict = {}
    presets = list(dict.fromkeys(p for by_preset in table.values() for p in by_preset))
    for preset in presets:
        per_seq = {set_name: table.get(set_name, {}).get(preset, {"sequences": {}})["sequences"] for set_name in expected}
        seeds = sorted({s for by_seq in per_seq.values() for by_seed in by_seq.values() for s in by_seed})
        for seed in seeds:
            scores = [per_seq[set_name].get(name, {}).get(seed) for set_name, names in expected.items() for name in names]
            if scores and all(scores):
                result.setdefault(preset, {})[seed] = {
                    "precision_20": float(np.mean([x["precision_20"] for x in scores])),
                    "auc": float(np.mean([x["auc"] for x in scores])), "sequences": len(scores)}
    total = sum(len(v) for v in expected.values())
    lines = ["", f"### All {total} sequences together (presets and seeds that scored every one)", "",
             f"| preset | seed | precision@20 | AUC | AUC change vs {reference} |", "|---|---|---|---|---|"]
    for preset, per_seed in result.items():
        for seed, m in per_seed.items():
            ref = result.get(reference, {}).get(seed)
            change = f"{m['auc'] - ref['auc']:+.3f}" if ref and preset != reference else ""
            lines.append(f"| {preset} | {seed} | {m['precision_20']:.3f} | {m['auc']:.3f} | {change} |")
    return lines, result


def holds_results(folder: Path) -> bool:
    """Whether a result folder holds any sequence's record (``<Seq>.json``). A runner claims its
    folders before tracking (writing ``config.json``), so a run stopped early leaves claimed
    folders with nothing in them, which are no results."""
    return folder.is_dir() and any(p.name != "config.json" for p in folder.glob("*.json"))


def results_on_disk(out: Path, set_names: list[str], seeds: list[int], presets: list[str]) -> tuple[list[int], list[str]]:
    """The seeds and presets to summarise: those asked for, and every known preset and seed with a
    result folder under ``out`` (``seed<s>/<set>/<config.result_folder(preset)>/``) that holds
    results (:func:`holds_results`); presets in config.PRESETS' order, code last (the reference)."""
    by_folder = presets_by_result_folder()
    found_seeds, found_presets = set(seeds), set(presets)
    for folder in out.glob("seed*/*/*"):
        seed, set_name, preset = folder.parent.parent.name[4:], folder.parent.name, by_folder.get(folder.name)
        if holds_results(folder) and seed.isdigit() and set_name in set_names and preset is not None:
            found_seeds.add(int(seed))
            found_presets.add(preset)
    order = [p for p in PRESETS if p in found_presets and p != "code"] + (["code"] if "code" in found_presets else [])
    return sorted(found_seeds), order


def _sized_frames(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Frames whose truth is finite and both boxes have a positive size (a visible target)."""
    return np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def mechanisms(row: dict, groundtruth: np.ndarray | None, distracter_ratio: float = 0.2) -> dict:
    """What each fix acts on, from one sequence's per-frame record: frames SNet decided, frames the
    GNet fallback took (GNet decided although its distracter test fired), frames held, whether the
    box's width never changed (scale never sampled: a sampled aspect can then move only the
    height), and the box's size and shape against the ground truth (geometric means over frames
    with a visible target: area ratio > 1 is a box too big; aspect ratio (h/w over the truth's)), and
    the AUC the boxes would score with the truth's size at their centres and with their sizes at the
    truth's centres (how much a size fix, or a centre fix, could buy at most), and with the first
    box's size at their centres (what the box's size changes bought)."""
    frames = row.get("per_frame") or {}
    # Counts from the second frame on, as decided_by_counts (the first is the training frame).
    by = frames.get("decided_by", [])[1:]
    if "g_distracter" in frames:  # the tracker's own test
        g_distracter = frames["g_distracter"][1:]
    else:  # records written before it was kept: the test redone on P_d as rounded in the JSON
        g_distracter = [p is not None and p >= distracter_ratio for p in frames.get("g_pd", [])[1:]]
    out = {"snet": by.count("snet"), "held": by.count("held"),
           "fallback": sum(1 for b, d in zip(by, g_distracter) if b == "gnet" and d)}
    boxes = np.asarray(frames.get("box", []), np.float64)
    if len(boxes):
        out["width_fixed"] = int(np.all(boxes[:, 2] == boxes[0, 2]))
    if groundtruth is not None and len(boxes):
        gt = np.asarray(groundtruth, np.float64)[:len(boxes)]
        ok = _sized_frames(boxes, gt)
        if ok.any():
            b, g = boxes[ok], gt[ok]
            out["area_ratio"] = float(np.exp(np.mean(np.log(b[:, 2] * b[:, 3] / (g[:, 2] * g[:, 3])))))
            out["aspect_ratio"] = float(np.exp(np.mean(np.log((b[:, 3] / b[:, 2]) / (g[:, 3] / g[:, 2])))))
            tracked = box_from_otb(boxes)  # the per-frame record's boxes are OTB's, 1-based
            out["auc_truth_size"] = metrics.sequence_scores(metrics.with_truth_size(tracked, gt), gt)["auc"]
            out["auc_truth_centre"] = metrics.sequence_scores(metrics.with_truth_centre(tracked, gt), gt)["auc"]
            out["auc_first_size"] = metrics.sequence_scores(metrics.with_sizes(tracked, tracked[0, 2:]), gt)["auc"]
    return out


def mechanism_lines(rows: dict[tuple[str, str, int], list[dict]], truths: dict[str, np.ndarray]) -> tuple[str, dict]:
    """Per preset, set and seed, summed over sequences: frames SNet decided, fallback frames, held
    frames, sequences whose box width never changed; the mean over sequences of the box's area and
    aspect ratio to the ground truth; and the mean AUC with the truth's size at the boxes' centres,
    with the boxes' sizes at the truth's centres and with the first box's size at the boxes'
    centres (``mechanisms``)."""
    table: dict = {}
    lines = ["### What the fixes act on", "",
             "AUC with the truth's size / centre: the mean AUC the boxes would score with the truth's size at their "
             "own centres / with their own sizes at the truth's centres, the most a size / centre fix could buy; "
             "with the first size: with the first box's size at their own centres (no size change).", "",
             "| preset | set | seed | SNet decided | GNet fallback | held | width never resized (sequences) "
             "| box area / truth | box aspect / truth | AUC with the truth's size | AUC with the truth's centre "
             "| AUC with the first size |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (preset, set_name, seed), seq_rows in rows.items():
        per_seq = {r["sequence"]: mechanisms(r, truths.get(r["sequence"])) for r in seq_rows if "per_frame" in r}
        if not per_seq:
            continue
        table.setdefault(preset, {}).setdefault(set_name, {})[str(seed)] = per_seq
        total = {k: sum(m.get(k, 0) for m in per_seq.values()) for k in ("snet", "fallback", "held", "width_fixed")}
        area = [m["area_ratio"] for m in per_seq.values() if "area_ratio" in m]
        aspect = [m["aspect_ratio"] for m in per_seq.values() if "aspect_ratio" in m]
        fmt = (lambda v: f"{float(np.exp(np.mean(np.log(v)))):.2f}" if v else "")
        oracle = {k: [m[k] for m in per_seq.values() if k in m]
                  for k in ("auc_truth_size", "auc_truth_centre", "auc_first_size")}
        mean = {k: f"{float(np.mean(v)):.3f}" if v else "" for k, v in oracle.items()}
        lines.append(f"| {preset} | {set_name} | {seed} | {total['snet']} | {total['fallback']} | {total['held']} "
                     f"| {total['width_fixed']} of {len(per_seq)} | {fmt(area)} | {fmt(aspect)} "
                     f"| {mean['auc_truth_size']} | {mean['auc_truth_centre']} | {mean['auc_first_size']} |")
    lines += area_lines(table)
    return "\n".join(lines) + "\n", table


def area_lines(table: dict) -> list[str]:
    """Per set, one row per preset and seed: each sequence's box area over the truth's (geometric
    mean over frames, ``mechanisms``), so that a box that grows is seen where it grows."""
    lines = []
    for set_name in dict.fromkeys(s for sets in table.values() for s in sets):
        names = sorted({q for sets in table.values() for per_seq in sets.get(set_name, {}).values() for q in per_seq})
        lines += ["", f"Box area / truth per sequence, {set_name}:", "",
                  "| preset | seed | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for preset, sets in table.items():
            for seed, per_seq in sets.get(set_name, {}).items():
                cells = [f"{per_seq[q]['area_ratio']:.2f}" if "area_ratio" in per_seq.get(q, {}) else ""
                         for q in names]
                lines.append(f"| {preset} | {seed} | " + " | ".join(cells) + " |")
    return lines


def target_lines(table: dict, set_name: str = "otb", preset: str = "fcnt_plus", reference: str = "code") -> list[str]:
    """The issue's targets (HCF's and MDNet's scores on ``set_name``) checked against what was
    measured, and its "no dev sequence loses more than 0.05 AUC against code" on every set in the
    table: judged on the change averaged over the seeds both presets ran, with the worst single
    seed beside it, since one preset's seeds can hide a loss the mean does not show."""
    entry = table.get(set_name, {}).get(preset)
    lines = []
    if entry and entry["seeds"]:
        seeds = list(entry["seeds"].values())
        p, a = np.mean([s["precision_20"] for s in seeds]), np.mean([s["auc"] for s in seeds])
        lines = [f"Targets ({preset} on {set_name}, {len(seeds)} seed(s), {min(s['sequences'] for s in seeds)} "
                 f"sequences): precision@20 {p:.3f}, AUC {a:.3f}"]
        for name, (tp, ta) in TARGETS.items():
            lines.append(f"- >= {name} ({tp:.3f} / {ta:.3f}): precision {'met' if p >= tp else 'not met'}, "
                         f"AUC {'met' if a >= ta else 'not met'}")
    for checked_set, presets in table.items():
        checked = presets.get(preset)
        changes = checked.get("auc_change_vs_" + reference, {}) if checked else {}
        if not changes:
            continue
        worst = min(changes, key=changes.get)
        ok = changes[worst] >= -MAX_AUC_LOSS
        by_seed = checked["auc_change_by_seed_vs_" + reference]
        loss, q, s = min((change, q, s) for q, c in by_seed.items() for s, change in c.items())
        if not lines:
            lines = [f"Targets ({preset}):"]
        lines.append(f"- no {checked_set} sequence loses more than {MAX_AUC_LOSS} AUC against {reference} (mean "
                     f"over the seeds both ran): {'met' if ok else 'not met'} (worst {worst} {changes[worst]:+.3f}; "
                     f"worst single seed: {q} seed {s} {loss:+.3f})")
    return lines + [""] if lines else []


def scale_filter_summary(row: dict, groundtruth: np.ndarray | None) -> dict:
    """The DSST scale filter's behaviour on one sequence, from its per-frame record (frames after
    the first, which is the filter's own training sample): how many frames it ran, the 10th / 50th /
    90th percentile of its response peak, the share of those frames it changed the size, and, with
    the ground truth, the box's size error: the mean over frames of |log(sqrt(box area) /
    sqrt(truth area))| (0: the truth's size; log 1.1 ~ 0.095: 10 % off). Empty where the filter
    never ran (no finite peak), e.g. a preset without it or a record written before it was kept."""
    frames = row.get("per_frame") or {}
    peaks, factors = _floats(frames, "scale_peak")[1:], _floats(frames, "scale_factor")[1:]
    ran = np.isfinite(peaks)
    if not ran.any():
        return {}
    q10, q50, q90 = np.percentile(peaks[ran], [10, 50, 90])
    out = {"frames": int(ran.sum()), "peak_q10": float(q10), "peak_median": float(q50), "peak_q90": float(q90),
           "resized_share": float(np.mean(np.abs(factors[ran] - 1.0) > 1e-6))}
    boxes = np.asarray(frames.get("box", []), np.float64)
    if groundtruth is not None and len(boxes):
        error = _size_errors(boxes, np.asarray(groundtruth, np.float64))[1:]  # not the given box
        if np.isfinite(error).any():
            out["size_error"] = float(np.nanmean(error))
    return out


def _floats(frames: dict, key: str) -> np.ndarray:
    """A per-frame record's list as float64, its nulls (JSON's NaN) as NaN."""
    return np.array([np.nan if v is None else v for v in frames.get(key, [])], np.float64)


def _log_size_ratios(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per frame (as many as both have), log(sqrt(box area) / sqrt(truth area)), > 0 where the box
    is larger; NaN where :func:`_sized_frames` says the target or the box has no size."""
    n = min(len(boxes), len(gt))
    boxes, gt = boxes[:n], gt[:n]
    ratio = np.full(n, np.nan)
    ok = _sized_frames(boxes, gt)
    ratio[ok] = 0.5 * np.log((boxes[ok, 2] * boxes[ok, 3]) / (gt[ok, 2] * gt[ok, 3]))
    return ratio


def _size_errors(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per frame, |log(sqrt(box area) / sqrt(truth area))| (:func:`_log_size_ratios`)."""
    return np.abs(_log_size_ratios(boxes, gt))


def scale_windows(row: dict, groundtruth: np.ndarray, window: int) -> np.ndarray:
    """Does the scale filter bring the box's size toward the truth's, and does its peak say when?
    From one sequence's per-frame record: the frames after the first cut into consecutive windows
    of ``window`` frames; for each window in which the filter ran on every frame and the truth is
    sized on every frame and on the frame before, a row (mean peak over the window, size error on
    the frame before it, size error on its last frame, the size error its last frame would have had
    with the box's size held from the frame before (what a gate closed over the window would give),
    1.0 if the filter resized the box on any of its frames else 0.0). Size error as in
    :func:`scale_filter_summary`, |log(sqrt(box area) / sqrt(truth area))|. Shape (windows, 5);
    empty where the filter never ran."""
    frames = row.get("per_frame") or {}
    peaks, factors = _floats(frames, "scale_peak"), _floats(frames, "scale_factor")
    boxes = np.asarray(frames.get("box", []), np.float64)
    gt = np.asarray(groundtruth, np.float64)
    n = min(len(peaks), len(factors), len(boxes), len(gt))
    error = _size_errors(boxes[:n], gt[:n])
    rows = []
    for start in range(1, n - window + 1, window) if window >= 1 else ():
        span, last = slice(start, start + window), start + window - 1
        if np.all(np.isfinite(peaks[span])) and np.all(np.isfinite(error[start - 1:last + 1])):
            held = _size_errors(boxes[start - 1:start], gt[last:last + 1])[0]
            rows.append((peaks[span].mean(), error[start - 1], error[last], held,
                         float(np.any(np.abs(factors[span] - 1.0) > 1e-6))))
    return np.array(rows, np.float64).reshape(-1, 5)


def precision_by_range(boxes: np.ndarray, groundtruth: np.ndarray, split: int) -> tuple[float, float, float]:
    """P@20 of ``boxes`` against ``groundtruth`` (same base) on frames 1..split, split+1..N and all."""
    n = min(len(boxes), len(groundtruth))
    hit = metrics.centre_error(np.asarray(boxes)[:n], np.asarray(groundtruth)[:n]) <= 20.0
    return float(hit[:split].mean()), float(hit[split:].mean()), float(hit.mean())


def discrimination_updates(row: dict, groundtruth: np.ndarray) -> dict[str, np.ndarray]:
    """The frames on which SNet's discrimination update ran, from one sequence's per-frame record
    (its ``box`` / ``g_box`` / ``s_box`` in the record's 1-based OTB convention, ``groundtruth``
    0-based as the readers give it): per update its 0-based frame, the centre error of the box it
    trained on (px; NaN where the truth is not finite), the overlap of the two nets' own boxes
    IoU(g_box, s_box), the tracker's confidence, SNet's distracter ratio s_pd, and the centre error
    of the other net's own box (GNet's where SNet decided, else SNet's). Issue 19: do the nets'
    agreement or the confidence mark the updates that train SNet on a drifted box, and was the
    other net on the target when they did?"""
    frames = row.get("per_frame") or {}
    if "g_box" not in frames:
        raise ValueError("no per-frame g_box / s_box (a record written before they were kept)")
    if "decided_by" not in frames:
        raise ValueError("no per-frame decided_by")
    done = np.asarray(frames.get("discriminated", []), bool)
    boxes = {k: box_from_otb(np.asarray(frames[k], np.float64).reshape(-1, 4)) for k in ("box", "g_box", "s_box")}
    gt = np.asarray(groundtruth, np.float64).reshape(-1, 4)
    n = min(len(done), len(boxes["box"]), len(gt))
    at = np.flatnonzero(done[:n])
    snet_decided = np.asarray(frames["decided_by"], dtype=object)[at] == "snet"
    other = np.where(snet_decided[:, None], boxes["g_box"][at], boxes["s_box"][at])
    error = metrics.centre_error(boxes["box"][at], gt[at])  # NaN where the truth is not finite
    other_error = metrics.centre_error(other, gt[at])
    return {"frame": at, "error": error, "nets_iou": metrics.iou(boxes["g_box"][at], boxes["s_box"][at]),
            "confidence": _floats(frames, "confidence")[at], "s_pd": _floats(frames, "s_pd")[at],
            "other_error": other_error}


def size_bias(boxes: np.ndarray, groundtruth: np.ndarray, given_first: bool = True) -> tuple[float, float]:
    """The box's size against the truth's over the frames after the first (the given box; every
    frame where ``given_first`` is False, for a range that starts later): the mean of |log(sqrt(box
    area) / sqrt(truth area))| as in :func:`scale_filter_summary`, and the mean of the signed log
    (> 0: the box is larger than the target). NaN where no frame is sized."""
    ratio = _log_size_ratios(np.asarray(boxes, np.float64).reshape(-1, 4),
                             np.asarray(groundtruth, np.float64).reshape(-1, 4))[1 if given_first else 0:]
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio):
        return float("nan"), float("nan")
    return float(np.mean(np.abs(ratio))), float(np.mean(ratio))


def size_following(boxes: np.ndarray, groundtruth: np.ndarray, lag: int, least: float = 0.05) -> dict[str, tuple]:
    """How much of the target's size change the box follows: over every span of ``lag`` frames, the
    change of log sqrt(area) of the truth and of the box; the spans where the truth shrank by more
    than ``least`` and those where it grew by more, each as (spans, mean truth change, mean box
    change). A box that follows fully has equal means; a held size has box change 0."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    gt = np.asarray(groundtruth, np.float64).reshape(-1, 4)
    n = min(len(boxes), len(gt))
    boxes, gt = boxes[:n], gt[:n]
    ok = _sized_frames(boxes, gt)
    log_box = np.where(ok, 0.5 * np.log(np.where(ok, boxes[:, 2] * boxes[:, 3], 1.0)), np.nan)
    log_gt = np.where(ok, 0.5 * np.log(np.where(ok, gt[:, 2] * gt[:, 3], 1.0)), np.nan)
    d_box, d_gt = log_box[lag:] - log_box[:-lag], log_gt[lag:] - log_gt[:-lag]
    out = {}
    for name, spans in (("shrink", d_gt < -least), ("grow", d_gt > least)):
        spans &= np.isfinite(d_gt) & np.isfinite(d_box)
        out[name] = (int(spans.sum()), float(d_gt[spans].mean()) if spans.any() else float("nan"),
                     float(d_box[spans].mean()) if spans.any() else float("nan"))
    return out


def tracker_alignment(record: dict, groundtruth: np.ndarray) -> tuple[float, float]:
    """From a tracker's per-frame record, frames after the first with a sized truth: the median of
    the centre error over the truth's side (sqrt of its area), and the median scale-filter peak."""
    frames = record.get("per_frame") or {}
    boxes = box_from_otb(np.asarray(frames.get("box", []), np.float64).reshape(-1, 4))
    gt = np.asarray(groundtruth, np.float64).reshape(-1, 4)
    n = min(len(boxes), len(gt))
    boxes, gt = boxes[:n], gt[:n]
    ok = _sized_frames(boxes, gt)
    ok[:1] = False
    error = metrics.centre_error(boxes[ok], gt[ok]) / np.sqrt(gt[ok, 2] * gt[ok, 3])
    peaks = _floats(frames, "scale_peak")[1:]
    peaks = peaks[np.isfinite(peaks)]
    return (float(np.median(error)) if len(error) else float("nan"),
            float(np.median(peaks)) if len(peaks) else float("nan"))
