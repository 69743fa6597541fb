"""Does the DSST scale filter need an aligned centre? (issue 19: in tracking its response peak sits
at 0.2-0.4 and it follows about a third of the target's size changes, "What the new per-frame
diagnostics show" in WORKSPACE.md; DSST estimates scale at its own translation filter's centre, in
fcnt_plus it gets the centre FCNT's particles chose.)

    python -m experiments.scale_alignment --dataset_roots=../shared/data/OTB,../shared/data/OTB_analysis \
        --records=experiments/results/fcnt_plus_diagnostics_seed0/otb,experiments/results/fcnt_plus_diagnostics_seed0/otb_analysis \
        --output_dir=experiments/results/scale_alignment

A planted truth: each sequence's first frame and box, zoomed about the box's centre by 1 % less per
frame for ``--frames`` frames, then back up to the start (so the target shrinks to 0.74x and grows
back). The filter (fcnt_plus's configuration) is trained on the first frame and run frame by frame as
the tracker runs it (estimate from the previous size, then update at the new one), at the true
centre moved by Gaussian noise whose sd per axis is ``--jitters`` x the current box side (seeded
by ``--seed``). Per jitter, over the sequences: the box's size error (|log| of its side over the
truth's) at the turn and at the end, and the filter's median response peak. With ``--records``
(a fcnt_plus run's ``<Seq>.json``), beside it the tracker's own centre error over the truth's side
(median over frames) and its median peak, so the two can be read together. With
``--real_max_frames`` (one N per root), also the filter on each sequence's own first N frames at
the truth's centre on every frame (an oracle centre), its size error and how much of the truth's
size change it follows beside the tracker's (``--jitters=`` skips the planted run):

    python -m experiments.scale_alignment --jitters= --real_max_frames=120,150 \
        --dataset_roots=../shared/data/OTB,../shared/data/OTB_analysis --records=... \
        --output_dir=experiments/results/scale_alignment/true_centre

A few minutes each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_list("dataset_roots", None, "OTB-layout roots; every sequence folder is used", required=True)
flags.DEFINE_list("records", [], "folders with a fcnt_plus run's <Seq>.json (per-frame box and scale_peak)")
flags.DEFINE_list("jitters", ["0", "0.05", "0.1", "0.2"], "centre noise sd per axis, as a fraction of the box side")
flags.DEFINE_integer("frames", 30, "frames of shrinking (1 % each), then as many growing back", lower_bound=1)
flags.DEFINE_integer("seed", 0, "seed of the centre noise")
flags.DEFINE_list("real_max_frames", [], "also run the filter on each sequence's real frames at the true centre (an "
                  "oracle centre), on its first N frames: N per root of --dataset_roots, in order (the dev sets' 120, "
                  "150); empty: not run")
flags.DEFINE_string("output_dir", None, "where scale_alignment.md / .json go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from experiments import records_in, sequence_folders, truth_under
    from fcnt_jax.config import get_config
    from fcnt_jax.eval.ablation import size_bias, size_following, tracker_alignment
    from fcnt_jax.eval.planted import filter_at_true_centre, planted_zooms, run_filter
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import load_frame
    from fcnt_jax.run import write_text_atomic

    try:
        jitters = [float(j) for j in FLAGS.jitters]
    except ValueError as e:
        raise app.UsageError(f"--jitters: numbers, got {FLAGS.jitters}") from e
    if any(j < 0 for j in jitters):
        raise app.UsageError(f"--jitters: fractions >= 0, got {FLAGS.jitters}")
    if not jitters and not FLAGS.real_max_frames:
        raise app.UsageError("nothing to run: give --jitters or --real_max_frames")
    if FLAGS.real_max_frames and (len(FLAGS.real_max_frames) != len(FLAGS.dataset_roots) or not all(
            n.isdigit() and int(n) >= 2 for n in FLAGS.real_max_frames)):
        raise app.UsageError(f"--real_max_frames: one whole number >= 2 per --dataset_roots, got "
                             f"{FLAGS.real_max_frames}")
    cfg = get_config("fcnt_plus").scale_filter
    zooms = planted_zooms(FLAGS.frames)
    turn = FLAGS.frames - 1
    per_sequence = {}
    for folder in sequence_folders(FLAGS.dataset_roots) if jitters else []:  # --jitters= : no planted run
        seq = open_sequence(folder)
        image, box = load_frame(seq.frame_paths[0]), np.asarray(seq.init_box, np.float64)
        rows = {}
        for k, jitter in enumerate(jitters):
            rng = np.random.default_rng([FLAGS.seed, k])
            out = run_filter(image, box, zooms, jitter, rng, cfg)
            error = np.abs(np.log(out[:, 1] / out[:, 0]))
            rows[str(jitter)] = {"error_turn": float(error[turn]), "error_end": float(error[-1]),
                                 "peak_median": float(np.median(out[:, 2]))}
        per_sequence[seq.name] = rows
        print(f"{seq.name}: " + "; ".join(f"jitter {j}: size error {r['error_turn']:.3f} / {r['error_end']:.3f}, "
                                         f"peak {r['peak_median']:.2f}" for j, r in rows.items()), flush=True)
    lines, summary = [], {}
    if jitters:
        lines += [f"The scale filter on a planted zoom (first frame and box of each sequence, 1 % smaller per frame "
                  f"for {FLAGS.frames} frames, then back), estimated at the true centre plus Gaussian noise of sd "
                  "jitter x the box side per axis (python -m experiments.scale_alignment). Size error: |log| of the "
                  "box's side over the truth's; mean over the sequences, and the median over them of each one's "
                  "median peak.", "", f"| centre jitter | sequences | size error at the turn (frame "
                  f"{FLAGS.frames + 1}) | at the end | median peak |", "|---|---|---|---|---|"]
    for j in map(str, jitters):
        r = [s[j] for s in per_sequence.values()]
        summary[j] = {k: float(np.mean([x[k] for x in r])) for k in ("error_turn", "error_end")}
        summary[j]["peak_median"] = float(np.median([x["peak_median"] for x in r]))
        lines.append(f"| {j} | {len(r)} | {summary[j]['error_turn']:.3f} | {summary[j]['error_end']:.3f} | "
                     f"{summary[j]['peak_median']:.3f} |")
    lines += [""] if jitters else []
    tracked, tracked_size = {}, {}
    for path, record in records_in(FLAGS.records, "--records"):
        truth = truth_under(FLAGS.dataset_roots, path.stem)
        if truth is not None:
            tracked[path.stem] = tracker_alignment(record, truth)
            boxes = np.asarray(record["per_frame"]["box"], np.float64)
            tracked_size[path.stem] = {"size_error": size_bias(boxes, truth)[0], **size_following(boxes, truth, 10)}
    if tracked:
        lines += ["The tracker's own run (--records): per sequence, the median centre error over the truth's side "
                  "and the median peak of the filter.", "", "| sequence | centre error / side | median peak |",
                  "|---|---|---|"]
        lines += [f"| {name} | {e:.3f} | {p:.3f} |" for name, (e, p) in tracked.items()]
        errors = np.array([e for e, _ in tracked.values()])
        lines.append(f"| **median of the {len(tracked)}** | {np.nanmedian(errors):.3f} | "
                     f"{np.nanmedian([p for _, p in tracked.values()]):.3f} |")
        lines.append("")
    oracle = {}
    if FLAGS.real_max_frames:
        for root, n in zip(FLAGS.dataset_roots, map(int, FLAGS.real_max_frames)):
            for folder in sequence_folders([root]):
                seq = open_sequence(folder)
                boxes = filter_at_true_centre(seq, n, cfg)
                truth = np.asarray(seq.groundtruth, np.float64)[:len(boxes)]
                follow = size_following(boxes, truth, 10)
                oracle[seq.name] = {"frames": len(boxes), "size_error": size_bias(boxes, truth)[0],
                                    "shrink": follow["shrink"], "grow": follow["grow"]}
                print(f"{seq.name}: at the true centre, size error {oracle[seq.name]['size_error']:.3f}", flush=True)
        lines += ["On the real frames (the first N of each sequence), the filter run at the truth's centre on every "
                  "frame (an oracle centre), beside the tracker's record (--records): the size error (mean |log| of "
                  "the side over the truth's, frames after the first) and, over spans of 10 frames where the truth's "
                  "log side fell or rose by more than 0.05, the box's mean change against the truth's "
                  "(eval.ablation.size_following).", "",
                  "| sequence | size error: true centre / tracker | shrink: truth, box at the true centre / tracker's "
                  "box | grow: truth, box / tracker's |", "|---|---|---|---|"]
        for name, o in oracle.items():
            t = tracked_size.get(name, {})
            lines.append(f"| {name} | {o['size_error']:.3f} / {t.get('size_error', float('nan')):.3f} | "
                         + " | ".join(f"{o[k][1]:+.3f}, {o[k][2]:+.3f} / {t[k][2]:+.3f}" if o[k][0] and k in t
                                      and t[k][0] else "-" for k in ("shrink", "grow")) + " |")
        lines.append(f"| **mean of the {len(oracle)}** | {np.mean([o['size_error'] for o in oracle.values()]):.3f} / "
                     f"{np.nanmean([tracked_size.get(n, {}).get('size_error', np.nan) for n in oracle]):.3f} | | |")
    text = "\n".join(lines).strip() + "\n"
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "scale_alignment.json", json.dumps(
        {"frames": FLAGS.frames, "seed": FLAGS.seed, "sequences": per_sequence, "summary": summary,
         "tracker": {k: {"centre_error_over_side": e, "peak_median": p} for k, (e, p) in tracked.items()},
         "true_centre": oracle, "tracker_size": tracked_size}, indent=2))
    write_text_atomic(out / "scale_alignment.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
