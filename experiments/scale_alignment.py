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


def planted_zooms(frames: int) -> np.ndarray:
    """The zoom of each frame after the first: 1.01^-1 ... 1.01^-frames, then back to 1."""
    down = 1.01 ** -np.arange(1, frames + 1)
    return np.concatenate([down, 1.01 ** (-frames + np.arange(1, frames + 1))])


def run_filter(image: np.ndarray, box: np.ndarray, zooms: np.ndarray, jitter: float, rng: np.random.Generator,
               cfg) -> np.ndarray:
    """The filter on ``image`` zoomed by each of ``zooms`` about ``box``'s centre, estimated and
    updated at that centre plus N(0, (jitter x side)^2) per axis: rows (true zoom, the box's side
    over the first box's (width), the response peak)."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax import scale_filter as sf
    from fcnt_jax.eval.planted import zoomed

    hw = jnp.asarray(image.shape[:2], jnp.float32)
    centre = box[:2] + box[2:] / 2
    estimate = jax.jit(lambda m, f, c, s: sf.estimate(m, f, c, s, hw, cfg))
    update = jax.jit(lambda m, f, c, s: sf.update_model(m, f, c, s, hw, cfg))
    model = sf.init_model(jnp.asarray(image), jnp.asarray(box, jnp.float32), hw, cfg)
    size = jnp.asarray(box[2:4], jnp.float32)
    rows = []
    for zoom in zooms:
        frame = jnp.asarray(zoomed(image, centre, float(zoom)))
        at = jnp.asarray(centre + rng.normal(0.0, jitter, 2) * np.asarray(size), jnp.float32)
        size, _, peak = estimate(model, frame, at, size)
        model = update(model, frame, at, size)
        rows.append((float(zoom), float(size[0]) / float(box[2]), float(peak)))
    return np.asarray(rows)


def filter_at_true_centre(seq, max_frames: int, cfg) -> np.ndarray:
    """The filter on ``seq``'s own frames (the first ``max_frames``), trained on its first box and
    run as the tracker runs it, but at the truth's centre on every frame (an oracle centre; a frame
    without a valid truth holds the size and model). The boxes (0-based ``x, y, w, h``) per frame,
    the first the given box."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax import scale_filter as sf
    from fcnt_jax.data.sequence import load_frame

    seq = seq.truncated(max_frames)
    gt = np.asarray(seq.groundtruth, np.float64)
    first = load_frame(seq.frame_paths[0])
    hw = jnp.asarray(first.shape[:2], jnp.float32)
    box = np.asarray(seq.init_box, np.float64)
    estimate = jax.jit(lambda m, f, c, s: sf.estimate(m, f, c, s, hw, cfg))
    update = jax.jit(lambda m, f, c, s: sf.update_model(m, f, c, s, hw, cfg))
    model = sf.init_model(jnp.asarray(first), jnp.asarray(box, jnp.float32), hw, cfg)
    size = jnp.asarray(box[2:4], jnp.float32)
    boxes = [box]
    for t in range(1, len(seq)):
        centre = gt[t, :2] + gt[t, 2:] / 2
        if np.all(np.isfinite(centre)):
            frame = jnp.asarray(load_frame(seq.frame_paths[t]))
            at = jnp.asarray(centre, jnp.float32)
            size, _, _ = estimate(model, frame, at, size)
            model = update(model, frame, at, size)
        else:
            centre = boxes[-1][:2] + boxes[-1][2:] / 2
        w, h = (float(v) for v in size)
        boxes.append(np.array([centre[0] - w / 2, centre[1] - h / 2, w, h]))
    return np.asarray(boxes)


def tracker_alignment(record: dict, groundtruth: np.ndarray) -> tuple[float, float]:
    """From a tracker's per-frame record, frames after the first with a sized truth: the median of
    the centre error over the truth's side (sqrt of its area), and the median scale-filter peak."""
    from fcnt_jax.eval.metrics import centre_error
    from fcnt_jax.geometry import box_from_otb

    frames = record.get("per_frame") or {}
    boxes = box_from_otb(np.asarray(frames.get("box", []), np.float64).reshape(-1, 4))
    gt = np.asarray(groundtruth, np.float64).reshape(-1, 4)
    n = min(len(boxes), len(gt))
    ok = np.all(np.isfinite(gt[:n]), axis=1) & (gt[:n, 2] > 0) & (gt[:n, 3] > 0)
    ok[:1] = False
    error = centre_error(boxes[:n][ok], gt[:n][ok]) / np.sqrt(gt[:n][ok, 2] * gt[:n][ok, 3])
    peaks = np.array([np.nan if v is None else v for v in frames.get("scale_peak", [])], np.float64)[1:]
    peaks = peaks[np.isfinite(peaks)]
    return (float(np.median(error)) if len(error) else float("nan"),
            float(np.median(peaks)) if len(peaks) else float("nan"))


def main(argv):
    del argv
    from experiments import records_in, sequence_folders, truth_under
    from fcnt_jax.config import get_config
    from fcnt_jax.eval.ablation import size_bias, size_following
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
    lines = [] if not jitters else [f"The scale filter on a planted zoom (first frame and box of each sequence, 1 % smaller per frame for "
             f"{FLAGS.frames} frames, then back), estimated at the true centre plus Gaussian noise of sd jitter x the "
             "box side per axis (python -m experiments.scale_alignment). Size error: |log| of the box's side over "
             "the truth's; mean over the sequences, and the median over them of each one's median peak.", "",
             f"| centre jitter | sequences | size error at the turn (frame {FLAGS.frames + 1}) | at the end | "
             "median peak |", "|---|---|---|---|---|"]
    summary = {}
    for j in map(str, jitters):
        r = [s[j] for s in per_sequence.values()]
        summary[j] = {k: float(np.mean([x[k] for x in r])) for k in ("error_turn", "error_end")}
        summary[j]["peak_median"] = float(np.median([x["peak_median"] for x in r]))
        lines.append(f"| {j} | {len(r)} | {summary[j]['error_turn']:.3f} | {summary[j]['error_end']:.3f} | "
                     f"{summary[j]['peak_median']:.3f} |")
    lines += [""] if jitters else []
    tracked, tracked_size = {}, {}
    for path, record in records_in(FLAGS.records):
        truth = truth_under(FLAGS.dataset_roots, path.stem)
        if truth is not None:
            tracked[path.stem] = tracker_alignment(record, truth)
            boxes = np.asarray(record["per_frame"]["box"], np.float64)
            tracked_size[path.stem] = {"size_error": size_bias(boxes, truth)[0],
                                       **size_following(record, truth, 10)}
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
        if len(FLAGS.real_max_frames) != len(FLAGS.dataset_roots) or not all(
                n.isdigit() and int(n) >= 2 for n in FLAGS.real_max_frames):
            raise app.UsageError(f"--real_max_frames: one whole number >= 2 per --dataset_roots, got "
                                 f"{FLAGS.real_max_frames}")
        for root, n in zip(FLAGS.dataset_roots, map(int, FLAGS.real_max_frames)):
            for folder in sequence_folders([root]):
                seq = open_sequence(folder)
                boxes = filter_at_true_centre(seq, n, cfg)
                truth = np.asarray(seq.groundtruth, np.float64)[:len(boxes)]
                follow = size_following({"per_frame": {"box": boxes.tolist()}}, truth, 10)
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
