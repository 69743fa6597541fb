"""Are two presets' runs the same run? Per set, seed and sequence: the largest difference between
their per-frame boxes, from the result folders experiments.fcnt_plus wrote
(``seed<s>/<set>/<config.result_folder(preset)>/<Seq>.json``).

    python -m experiments.compare_boxes --presets=fcnt_plus_no_gnet_refit_no_scale_filter,fcnt_plus_no_scale_filter \
        --results_dir=experiments/results/fcnt_plus --output_dir=experiments/results/fcnt_plus/gnet_refit_same_boxes

Used for gnet_refit's criterion (c) (run as the candidate fcnt_plus_gnet_refit, today's
fcnt_plus_no_scale_filter): where its trigger does not fire, its run must be
fcnt_plus_no_gnet_refit_no_scale_filter's (the preset names of today). Writes
``compare_boxes.md`` / ``.json``; seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_list("presets", None, "two presets: the reference, then the one compared", required=True)
flags.DEFINE_string("results_dir", "experiments/results/fcnt_plus", "experiments.fcnt_plus's --output_dir")
flags.DEFINE_list("seeds", ["0", "1", "2"], "seeds")
flags.DEFINE_list("sets", ["otb", "otb_analysis"], "sets")
flags.DEFINE_string("output_dir", None, "where compare_boxes.md / .json go", required=True)
FLAGS = flags.FLAGS


def compare(reference: Path, other: Path) -> dict[str, float | None]:
    """Per sequence in either folder: max |box difference| over frames (px); None where one folder
    lacks the sequence or the frame counts differ (not the same run)."""
    names = sorted({p.stem for folder in (reference, other) for p in folder.glob("*.json")} - {"config"})
    out: dict[str, float | None] = {}
    for name in names:
        a, b = reference / f"{name}.json", other / f"{name}.json"
        if not (a.exists() and b.exists()):
            out[name] = None
            continue
        try:
            boxes_a = np.asarray(json.loads(a.read_text())["per_frame"]["box"], np.float64)
            boxes_b = np.asarray(json.loads(b.read_text())["per_frame"]["box"], np.float64)
        except (ValueError, KeyError, TypeError) as e:
            raise app.UsageError(f"{a} or {b}: no per-frame boxes ({e})") from e
        out[name] = float(np.max(np.abs(boxes_a - boxes_b))) if boxes_a.shape == boxes_b.shape else None
    return out


def main(argv):
    del argv
    from fcnt_jax.config import result_folder
    from fcnt_jax.run import write_text_atomic

    if len(FLAGS.presets) != 2:
        raise app.UsageError(f"--presets: give two, got {FLAGS.presets}")
    ref, other = FLAGS.presets
    root = Path(FLAGS.results_dir)
    table, lines = {}, [f"| set | seed | sequence | max box difference, {other} vs {ref} (px) |", "|---|---|---|---|"]
    for set_name in FLAGS.sets:
        for seed in FLAGS.seeds:
            folders = [root / f"seed{seed}" / set_name / result_folder(p) for p in (ref, other)]
            if not all(f.is_dir() for f in folders):
                continue
            diffs = compare(*folders)
            table.setdefault(set_name, {})[seed] = diffs
            for name, d in diffs.items():
                lines.append(f"| {set_name} | {seed} | {name} | {'missing' if d is None else f'{d:.4g}'} |")
    if not table:
        raise app.UsageError(f"no set and seed under {root} has both presets' folders")
    text = f"Per-frame boxes, {other} against {ref} (python -m experiments.compare_boxes).\n\n" + "\n".join(lines) + "\n"
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "compare_boxes.json", json.dumps({"presets": [ref, other], "max_box_difference": table},
                                                             indent=2))
    write_text_atomic(out / "compare_boxes.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
