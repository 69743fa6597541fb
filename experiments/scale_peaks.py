"""The DSST scale filter's response peak against the box's size error, per sequence: is a low peak
a sign of a wrong size? (issue 19: on MotorRolling seed 0 the peak stayed near 0.2 while the box
grew and the truth shrank; on David, where the filter helped, it was near 0.3.)

    python -m experiments.scale_peaks --results_dirs=experiments/results/fcnt_plus_diagnostics_seed0/otb,\
experiments/results/fcnt_plus_diagnostics_seed0/otb_analysis \
        --dataset_roots=../shared/data/OTB,../shared/data/OTB_analysis \
        --output_dir=experiments/results/fcnt_plus_diagnostics_seed0

reads each ``<Seq>.json`` (a run of a preset with the filter, written since the per-frame record
keeps ``scale_peak``), finds the sequence's ground truth under ``--dataset_roots``, and writes
``scale_peaks.md`` / ``.json``: per sequence the peak's 10th / 50th / 90th percentile, the share
of frames the filter resized the box, and the box's size error (``eval.ablation.
scale_filter_summary``), sorted by the median peak, with the rank correlation between the two.
Then, frame by frame, the question a peak gate would rest on: where the filter resizes the box,
does its size error shrink more often when the peak is high? For each ``--windows`` length, the
windows of frames (``eval.ablation.scale_windows``, those in which the box was resized), pooled
over the sequences and cut into quartiles of their mean peak: the share in which the filter's
size ended nearer the truth's than the size held from the frame before (a gate closed over the
window), and both mean errors. Last, how much of the target's size change the box follows over
spans of ``--follow_lag`` frames where the truth shrank or grew by more than 5 %
(``eval.ablation.size_following``), per sequence and pooled. Seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_list("results_dirs", None, "folders holding <Seq>.json with per-frame scale peaks", required=True)
flags.DEFINE_list("dataset_roots", [], "OTB-layout roots where each sequence's ground truth is found")
flags.DEFINE_string("output_dir", None, "where scale_peaks.md / .json go", required=True)
flags.DEFINE_list("windows", ["1", "10", "30"], "window lengths (frames) for the size error's change by peak")
flags.DEFINE_integer("follow_lag", 10, "span (frames) over which the box's size change is set beside the truth's",
                     lower_bound=1)
FLAGS = flags.FLAGS


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (ties broken by order; enough for a handful of sequences)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else float("nan")


def by_peak_quartile(windows: np.ndarray) -> list[dict]:
    """Rows of ``scale_windows`` (pooled) in quartiles of their mean peak, resized windows only:
    per quartile its peak range, the windows, the share in which the filter's sizes ended nearer
    the truth's than the size held from the frame before would have, the mean size error at the
    window's end with the filter's sizes and with the held size, and the mean error before."""
    rows = windows[windows[:, 4] > 0]
    if len(rows) < 4:
        return []
    edges = np.quantile(rows[:, 0], [0.0, 0.25, 0.5, 0.75, 1.0])
    which = np.clip(np.searchsorted(edges, rows[:, 0], side="right") - 1, 0, 3)
    out = []
    for q in range(4):
        r = rows[which == q]
        mean = (lambda x: float(np.mean(x))) if len(r) else (lambda x: float("nan"))
        out.append({"peak_lo": float(edges[q]), "peak_hi": float(edges[q + 1]), "windows": int(len(r)),
                    "filter_nearer": mean(r[:, 2] < r[:, 3]), "error_filter": mean(r[:, 2]),
                    "error_held": mean(r[:, 3]), "error_before": mean(r[:, 1])})
    return out


def follow_pooled(following: dict[str, dict[str, tuple]]) -> dict[str, tuple]:
    """``size_following``'s rows pooled over sequences: spans summed, means weighted by spans."""
    out = {}
    for kind in ("shrink", "grow"):
        rows = [f[kind] for f in following.values() if f[kind][0] > 0]
        spans = sum(r[0] for r in rows)
        out[kind] = (spans, sum(r[0] * r[1] for r in rows) / spans if spans else float("nan"),
                     sum(r[0] * r[2] for r in rows) / spans if spans else float("nan"))
    return out


def _follow_cell(row: tuple) -> str:
    return f"{row[0]}, {row[1]:+.3f}, {row[2]:+.3f}" if row[0] else "0"


def main(argv):
    del argv
    from experiments import records_in, truth_under
    from fcnt_jax.eval.ablation import scale_filter_summary, scale_windows, size_following
    from fcnt_jax.run import write_text_atomic

    if not all(w.isdigit() and int(w) >= 1 for w in FLAGS.windows):
        raise app.UsageError(f"--windows: whole numbers of frames >= 1, got {FLAGS.windows}")
    lengths = [int(w) for w in FLAGS.windows]
    rows, windows, following = {}, {w: [] for w in lengths}, {}
    for path, record in records_in(FLAGS.results_dirs):
        truth = truth_under(FLAGS.dataset_roots, path.stem)
        summary = scale_filter_summary(record, truth)
        if truth is not None:
            for w in lengths:
                windows[w].append(scale_windows(record, truth, w))
            if summary:
                following[path.stem] = size_following(record["per_frame"]["box"], truth, FLAGS.follow_lag)
        if summary:
            rows[path.stem] = {**summary, "auc": record.get("auc")}
    if not rows:
        raise app.UsageError(f"no sequence under {FLAGS.results_dirs} has per-frame scale peaks (a preset with "
                             "the scale filter, run since scale_peak is recorded)")
    ordered = sorted(rows, key=lambda n: rows[n]["peak_median"])
    lines = ["| sequence | peak 10th / 50th / 90th percentile | frames resized | size error | AUC |",
             "|---|---|---|---|---|"]
    for name in ordered:
        r = rows[name]
        err = f"{r['size_error']:.3f}" if "size_error" in r else ""
        auc = f"{r['auc']:.3f}" if r.get("auc") is not None else ""
        lines.append(f"| {name} | {r['peak_q10']:.3f} / {r['peak_median']:.3f} / {r['peak_q90']:.3f} | "
                     f"{r['resized_share']:.2f} | {err} | {auc} |")
    with_error = [n for n in ordered if "size_error" in rows[n]]
    rho = spearman(np.array([rows[n]["peak_median"] for n in with_error]),
                   np.array([rows[n]["size_error"] for n in with_error]))
    text = ("Per sequence, the scale filter's response peak (frames after the first) and the box's size error "
            "(mean |log(sqrt(box area) / sqrt(truth area))|; python -m experiments.scale_peaks).\n\n"
            + "\n".join(lines) + f"\n\nRank correlation, median peak against size error ({len(with_error)} "
            f"sequences): {rho:.2f} (negative: a lower peak goes with a larger size error).\n")
    quartiles = {w: by_peak_quartile(np.concatenate(windows[w]) if windows[w] else np.zeros((0, 5)))
                 for w in lengths}
    for w, table in quartiles.items():
        if not table:
            continue
        text += (f"\nWindows of {w} frame(s) in which the filter resized the box, pooled over the sequences, by "
                 "quartile of the window's mean peak: the share in which the filter's size on the window's last "
                 "frame is nearer the truth's than the size held from the frame before it would be (what a gate "
                 "closed over the window would give), and both mean size errors there.\n\n"
                 "| mean peak | windows | filter nearer | size error, filter | size error, held | error before |\n"
                 "|---|---|---|---|---|---|\n"
                 + "".join(f"| {q['peak_lo']:.3f}-{q['peak_hi']:.3f} | {q['windows']} | {q['filter_nearer']:.2f} | "
                           f"{q['error_filter']:.3f} | {q['error_held']:.3f} | {q['error_before']:.3f} |\n"
                           for q in table))
    pooled = follow_pooled(following)
    if following:
        text += (f"\nHow much of the target's size change the box follows: over spans of {FLAGS.follow_lag} frames, "
                 "where the truth's side shrank or grew by more than 5 % (log), the mean change of the truth's and "
                 "of the box's log side (eval.ablation.size_following).\n\n"
                 "| sequence | shrink: spans, truth, box | grow: spans, truth, box |\n|---|---|---|\n"
                 + "".join(f"| {name} | {_follow_cell(f['shrink'])} | {_follow_cell(f['grow'])} |\n"
                           for name, f in list(following.items()) + [("**pooled**", pooled)]))
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "scale_peaks.json", json.dumps({"sequences": rows, "spearman_peak_vs_size_error": rho,
                                                            "windows_by_peak_quartile": {str(w): q for w, q in quartiles.items()},
                                                            "size_following": {"lag": FLAGS.follow_lag,
                                                                               "sequences": following,
                                                                               "pooled": pooled}},
                                                           indent=2))
    write_text_atomic(out / "scale_peaks.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
