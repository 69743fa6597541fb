"""The size oracle (issue 19, ``fcnt_jax/eval/oracle.py``): each sequence tracked twice, as the preset
does and with the box given the truth's width and height after every frame, and the two centres
scored. Where the right size does not bring the box nearer the target, no size rule can lift the
tracker's precision there.

    python -m experiments.size_oracle --preset=fcnt_plus_no_scale_filter --max_frames=120 \
        --sequences=../shared/data/OTB/Couple,...,../shared/data/OTB/MotorRolling \
        --output_dir=experiments/results/size_oracle/otb

Measured on this 2-core CPU, 2026-12-07: the eight OTB dev sequences at 120 frames ~26 min, the
eight OTB_analysis ones at 150 ~29 min; each sequence is tracked twice. The preset must not run
the scale filter, which sizes the box itself (fcnt_plus_no_scale_filter is fcnt_plus without it).

Writes size_oracle.md / .json after each sequence: per sequence, the precision (share within
--threshold px) and median centre error, tracked as is and with the truth's size. Only the centre
is scored: the oracle's box has the truth's size by construction.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from absl import app, flags

from experiments import run_main

flags.DEFINE_list("sequences", None, "sequence folders (any layout open_sequence reads)", required=True)
flags.DEFINE_string("preset", "fcnt_plus_no_scale_filter", "tracker preset (without the scale filter)")
flags.DEFINE_list("set", [], "config overrides, key=value")
flags.DEFINE_integer("max_frames", None, "track only the first N frames")
flags.DEFINE_float("factor", 1.0, "the size given is the truth's times this")
flags.DEFINE_float("threshold", 20.0, "precision threshold, px")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where size_oracle.md / .json go", required=True)
FLAGS = flags.FLAGS


def _scores(errors: np.ndarray, threshold: float) -> dict:
    """Precision and median centre error over the frames after the first with a finite error."""
    e = np.asarray(errors, np.float64)[1:]
    e = e[np.isfinite(e)]
    return {"frames": int(len(e)), "precision": float(np.mean(e <= threshold)) if len(e) else None,
            "median_error": float(np.median(e)) if len(e) else None}


def summary_lines(rows: list[dict], header: str) -> list[str]:
    """The markdown table of ``rows`` (one per sequence, failed ones named) and their mean."""
    def cell(s):
        return f"{s['precision']:.3f} / {s['median_error']:.1f}" if s["precision"] is not None else "-"

    lines = [header, "", "| sequence | frames | as tracked: precision / median px | truth's size: precision / median px |"
             " change in precision |", "|---|---|---|---|---|"]
    done = [r for r in rows if "error" not in r]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['sequence']} | failed: {r['error']} | | | |")
            continue
        a, b = r["tracked"], r["oracle"]
        change = (f"{b['precision'] - a['precision']:+.3f}" if a["precision"] is not None and b["precision"] is not None
                  else "-")
        lines.append(f"| {r['sequence']} | {a['frames']} | {cell(a)} | {cell(b)} | {change} |")
    if done:
        mean = {k: float(np.mean([r[k]["precision"] for r in done if r[k]["precision"] is not None] or [np.nan]))
                for k in ("tracked", "oracle")}
        lines.append(f"| mean of {len(done)} | | {mean['tracked']:.3f} | {mean['oracle']:.3f} | "
                     f"{mean['oracle'] - mean['tracked']:+.3f} |")
    return lines


def _track_one(path: str, cfg, load_params) -> dict:
    """One sequence's row: tracked as is and with the truth's size, both scored."""
    from fcnt_jax.data import open_sequence
    from fcnt_jax.eval.oracle import size_oracle
    from fcnt_jax.run import stderr_log

    seq = open_sequence(path)
    if seq.groundtruth is None:
        raise ValueError(f"{path}: no ground truth")
    if FLAGS.max_frames:
        seq = seq.truncated(FLAGS.max_frames)
    params = load_params()
    tracked = size_oracle(params, seq, cfg, None, FLAGS.seed, log=stderr_log)
    oracle = size_oracle(params, seq, cfg, FLAGS.factor, FLAGS.seed, log=stderr_log)
    return {"sequence": seq.name, "tracked": _scores(tracked["error"], FLAGS.threshold),
            "oracle": _scores(oracle["error"], FLAGS.threshold),
            "tracked_box": tracked["box"].tolist(), "oracle_box": oracle["box"].tolist()}


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.run import stderr_log, write_text_atomic

    if not (np.isfinite(FLAGS.factor) and FLAGS.factor > 0):
        raise app.UsageError(f"--factor={FLAGS.factor}: must be > 0")
    if FLAGS.max_frames is not None and FLAGS.max_frames < 2:
        raise app.UsageError(f"--max_frames={FLAGS.max_frames}: must be >= 2")
    try:
        cfg = get_config(FLAGS.preset, FLAGS.set)
    except ValueError as e:
        raise app.UsageError(f"--preset / --set: {e}") from e
    if cfg.scale_filter.enabled:
        raise app.UsageError(f"--preset={FLAGS.preset}: it sizes its box with the scale filter; the oracle gives the "
                             "size itself (use fcnt_plus_no_scale_filter, or --set=scale_filter.enabled=false)")
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    load_params = functools.cache(lambda: backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights)))
    rows = []
    header = (f"Preset {FLAGS.preset}{' ' + ','.join(FLAGS.set) if FLAGS.set else ''}, seed {FLAGS.seed}"
              f"{f', first {FLAGS.max_frames} frames' if FLAGS.max_frames else ''}: each sequence tracked as is and "
              f"with its box given the truth's width and height x {FLAGS.factor:g} after every frame; centre scored "
              f"on the frames after the first (precision = share within {FLAGS.threshold:g} px). "
              "python -m experiments.size_oracle.")
    for path in FLAGS.sequences:
        try:
            rows.append(_track_one(path, cfg, load_params))
        except weights.WeightsError:
            raise  # the weights are everyone's: stop with their message
        except Exception as e:  # one failing sequence is reported; the others go on
            stderr_log(f"{path}: failed: {type(e).__name__}: {e}")
            rows.append({"sequence": Path(path).name, "error": f"{type(e).__name__}: {e}"})
        text = "\n".join(summary_lines(rows, header)) + "\n"
        write_text_atomic(out / "size_oracle.json", json.dumps({
            "preset": FLAGS.preset, "set": FLAGS.set, "seed": FLAGS.seed, "max_frames": FLAGS.max_frames,
            "factor": FLAGS.factor, "threshold": FLAGS.threshold, "boxes": "0-based x, y, w, h; row 0 the given box",
            "sequences": rows}, indent=1))
        write_text_atomic(out / "size_oracle.md", text)
    print(text)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    run_main(main)
