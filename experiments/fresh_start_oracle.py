"""The fresh-start oracle (issue 19, ``fcnt_jax/eval/oracle.py``): on each frame t, the tracker
started afresh on the truth of frame t - --horizon and tracked up to t. Where the tracker drifts
but the oracle stays on the target (and well inside the error of that truth held still), the
model learnt the drift from its own boxes and a better update could keep it; where the oracle
loses the target too, the features and heads cannot follow it even from a perfect start.

    python -m experiments.fresh_start_oracle --sequence=../shared/data/OTB/Diving --preset=fcnt_plus \
        --ranges=12-72,73-120 --every=3 --horizon=10 \
        --record=experiments/results/fcnt_plus_diagnostics_seed0/otb/Diving.json \
        --output_dir=experiments/results/fresh_start_oracle/Diving_h10

(Measured on this 2-core CPU, 2026-12-07: this command, 37 frames at h = 10, ~9 min; Diving's 60
frames at h = 1, ~15 min; MotorRolling's 37 at h = 10, ~12 min.) Writes fresh_start_oracle.md / .json: per
range, the oracle's precision (share within --threshold px) and median centre error, the same for
the start box held still, and the tracker's on the same frames from --record, if given.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

from experiments import run_main

flags.DEFINE_string("sequence", None, "sequence folder (OTB layout)", required=True)
flags.DEFINE_string("preset", "fcnt_plus", "tracker preset")
flags.DEFINE_list("set", [], "config overrides, key=value")
flags.DEFINE_string("ranges", None, "1-based inclusive frame ranges, e.g. 2-72,73-120", required=True)
flags.DEFINE_integer("every", 1, "every n-th frame of each range")
flags.DEFINE_integer("horizon", 1, "frames tracked from the fresh start on the truth of t - horizon")
flags.DEFINE_string("record", None, "the tracker's <Seq>.json (per-frame boxes) to score on the same frames")
flags.DEFINE_float("threshold", 20.0, "precision threshold, px")
flags.DEFINE_integer("seed", 0, "PRNG seed of each fresh start")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where fresh_start_oracle.md / .json go", required=True)
FLAGS = flags.FLAGS


def _nullable(values) -> list:
    """Floats for JSON, None where not finite."""
    return [float(v) if np.isfinite(v) else None for v in values]


def main(argv):
    del argv
    from experiments import read_record
    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.eval import metrics
    from fcnt_jax.eval.oracle import fresh_start_oracle, parse_frame_ranges, range_summary
    from fcnt_jax.geometry import box_from_otb
    from fcnt_jax.run import stderr_log, write_text_atomic

    if FLAGS.every < 1:
        raise app.UsageError(f"--every={FLAGS.every}: must be >= 1")
    if FLAGS.horizon < 1:
        raise app.UsageError(f"--horizon={FLAGS.horizon}: must be >= 1")
    try:
        ranges = parse_frame_ranges(FLAGS.ranges)
    except ValueError as e:
        raise app.UsageError(f"--ranges={FLAGS.ranges}: {e}") from e
    try:
        cfg = get_config(FLAGS.preset, FLAGS.set)
    except ValueError as e:
        raise app.UsageError(f"--preset / --set: {e}") from e
    seq = open_sequence(FLAGS.sequence)
    if seq.groundtruth is None:
        raise app.UsageError(f"--sequence={FLAGS.sequence}: no ground truth")
    last = min(len(seq), len(seq.groundtruth))
    if max(hi for _, hi in ranges) > last or min(lo for lo, _ in ranges) < FLAGS.horizon + 1:
        raise app.UsageError(f"--ranges={FLAGS.ranges}: {seq.name} has frames {FLAGS.horizon + 1}..{last} to predict "
                             f"with --horizon={FLAGS.horizon}")
    frames = sorted({t - 1 for lo, hi in ranges for t in range(lo, hi + 1, FLAGS.every)})
    tracked = None
    if FLAGS.record:
        try:
            record = read_record(Path(FLAGS.record))
            tracked = box_from_otb(np.asarray(record["per_frame"]["box"], np.float64).reshape(-1, 4))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise app.UsageError(f"--record={FLAGS.record}: no per-frame boxes ({type(e).__name__}: {e})") from e
        if len(tracked) < frames[-1] + 1:
            raise app.UsageError(f"--record={FLAGS.record}: {len(tracked)} frames, the ranges reach {frames[-1] + 1}")
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    oracle = fresh_start_oracle(params, seq, cfg, frames, FLAGS.horizon, FLAGS.seed, log=stderr_log)
    rows = range_summary(oracle["frame"], oracle["error"], ranges, FLAGS.threshold)
    held_rows = range_summary(oracle["frame"], oracle["held_error"], ranges, FLAGS.threshold)
    tracker_rows = None
    if tracked is not None:
        errors = metrics.centre_error(tracked[oracle["frame"]], np.asarray(seq.groundtruth)[oracle["frame"]])
        errors[~np.isfinite(oracle["error"])] = np.nan  # the oracle's frames only: the same frames scored
        tracker_rows = range_summary(oracle["frame"], errors, ranges, FLAGS.threshold)
    lines = [f"{seq.name}, preset {FLAGS.preset}{' ' + ','.join(FLAGS.set) if FLAGS.set else ''}: the tracker "
             f"started afresh on the truth of frame t-{FLAGS.horizon} and tracked to frame t, scored there (every "
             f"{FLAGS.every}); held: that truth kept still; precision = share within {FLAGS.threshold:g} px. "
             "python -m experiments.fresh_start_oracle.", "",
             "| frames | scored | oracle precision / median error px | held precision / median error px | "
             "tracker precision / median error px |", "|---|---|---|---|---|"]
    for i, row in enumerate(rows):
        t, h = (tracker_rows[i] if tracker_rows else None), held_rows[i]
        lines.append(f"| {row['range']} | {row['frames']} | {row['precision']:.3f} / {row['median_error']:.1f} | "
                     f"{h['precision']:.3f} / {h['median_error']:.1f} | "
                     + (f"{t['precision']:.3f} / {t['median_error']:.1f} |" if t else "- |"))
    text = "\n".join(lines) + "\n"
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "fresh_start_oracle.json", json.dumps({
        "sequence": seq.name, "preset": FLAGS.preset, "set": FLAGS.set, "every": FLAGS.every, "horizon": FLAGS.horizon,
        "threshold": FLAGS.threshold, "ranges": rows, "held_ranges": held_rows, "tracker_ranges": tracker_rows,
        "held_error": _nullable(oracle["held_error"]),
        "frames": (oracle["frame"] + 1).tolist(), "error": _nullable(oracle["error"]),
        "box": [None if not np.all(np.isfinite(b)) else [float(v) for v in b] for b in oracle["box"]]}, indent=2))
    write_text_atomic(out / "fresh_start_oracle.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    run_main(main)
