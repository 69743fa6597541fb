"""fcnt_plus against code on the sequences outside the 16 dev sequences (issue 19: "no tuning to the
dev set"; the held-out sequences are scored by the user, these two are the only others we have):
VOT2015 *bag* (196 frames, a large deforming bag) and UAV123@10fps *wakeboard7* (67 frames, an
aerial view of a small target). All frames of each, scored OTB-style (P@20, AUC), seeds 0-2.

The runs (~25 min for fcnt_plus and code on this 2-core CPU; each arm of fcnt_plus as long):

    for p in fcnt_plus code; do
      python -m experiments.benchmark --dataset=vot --dataset_root=../shared/data/VOT2015 --preset=$p \
          --num_runs=3 --output_dir=experiments/results/outside_dev/vot/$p
      python -m experiments.benchmark --dataset=uav123 --dataset_root=../shared/data/UAV123_10fps --preset=$p \
          --num_runs=3 --output_dir=experiments/results/outside_dev/uav123/$p
    done

then the table (seconds):

    python -m experiments.outside_dev --results_dir=experiments/results/outside_dev \
        --sequence_dirs=../shared/data/VOT2015/bag,../shared/data/UAV123_10fps/data_seq/UAV123_10fps/wakeboard7

reads ``<results_dir>/<dataset>/<preset>/[run_*/]<Seq>.json`` and writes ``outside_dev.md`` / ``.json``
there (``outside_dev_<N>.*`` with ``--max_frames=N``, ``outside_dev_from<F>.*`` with ``--from_frame=F``):
per sequence and preset, P@20 / AUC per seed
(scored from the record's boxes) and their mean, and the box's size against the truth's
(``eval.ablation.size_bias``: mean |log| of the side ratio, and its signed mean, > 0 where the box
is too large).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_string("results_dir", "experiments/results/outside_dev", "<dataset>/<preset>/[run_*/] folders")
flags.DEFINE_integer("max_frames", None, "score only the first N frames of each sequence (default: all)",
                     lower_bound=2)
flags.DEFINE_integer("from_frame", 1, "score from this frame (1-based) on, e.g. the frames after the held-out "
                     "protocol's 120", lower_bound=1)
flags.DEFINE_list("sequence_dirs", None, "the sequences' folders (their ground truth); a result is matched by "
                  "its sequence's name", required=True)
FLAGS = flags.FLAGS


def collect(results_dir: Path, truths: dict[str, np.ndarray], max_frames: int | None = None,
            from_frame: int = 1) -> dict[str, dict[str, list[dict]]]:
    """{sequence: {preset: [one row per run, by seed]}} from every ``<Seq>.json`` found, scored
    here from its per-frame boxes on frames ``from_frame`` .. ``max_frames`` (1-based; all where
    not given)."""
    from experiments import read_record
    from fcnt_jax.eval.ablation import size_bias
    from fcnt_jax.eval.metrics import sequence_scores
    from fcnt_jax.geometry import box_from_otb

    table: dict[str, dict[str, list[dict]]] = {}
    # A benchmark run with --num_runs writes run_<k>/ folders, a single run the preset's folder itself.
    for path in sorted([*results_dir.glob("*/*/*.json"), *results_dir.glob("*/*/run_*/*.json")]):
        if path.stem == "config":
            continue
        if path.stem not in truths:
            raise app.UsageError(f"{path}: no sequence {path.stem} among --sequence_dirs")
        record = read_record(path)
        span = slice(from_frame - 1, max_frames)
        boxes = np.asarray((record.get("per_frame") or {}).get("box", []), np.float64).reshape(-1, 4)[span]
        if len(boxes) < 2 and from_frame > 1:
            continue  # a sequence that ends before the range: not in this table
        if len(boxes) < 2:
            raise app.UsageError(f"{path}: no per-frame boxes to score")
        truth = truths[path.stem][span]
        scores = sequence_scores(box_from_otb(boxes), truth)
        error, signed = size_bias(boxes, truth, given_first=from_frame == 1)
        preset = (path.parent.parent if path.parent.name.startswith("run_") else path.parent).name
        table.setdefault(path.stem, {}).setdefault(preset, []).append(
            {"seed": record.get("seed"), "frames": int(min(len(boxes), len(truth))),
             "precision_20": scores["precision_20"], "auc": scores["auc"], "size_error": error, "size_signed": signed})
    for presets in table.values():
        for runs in presets.values():
            runs.sort(key=lambda r: (r["seed"] is None, r["seed"]))
    return table


def lines_for(table: dict[str, dict[str, list[dict]]]) -> list[str]:
    """Per sequence, one row per preset (fcnt_plus first, code second, then the others by name)."""
    order = {"fcnt_plus": 0, "code": 1}
    out = []
    for seq, presets in table.items():
        out += ["", f"### {seq}", "",
                "| preset | seeds | P@20 per seed | AUC per seed | P@20 / AUC (mean) | size error (signed) |",
                "|---|---|---|---|---|---|"]
        for preset in sorted(presets, key=lambda p: (order.get(p, 2), p)):
            runs = presets[preset]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in ("precision_20", "auc", "size_error", "size_signed")}
            seeds = ", ".join(str(r["seed"]) for r in runs)
            per_seed = {k: " / ".join(f"{r[k]:.3f}" for r in runs) for k in ("precision_20", "auc")}
            out.append(f"| {preset} | {seeds} | {per_seed['precision_20']} | {per_seed['auc']} | "
                       f"{mean['precision_20']:.3f} / {mean['auc']:.3f} | "
                       f"{mean['size_error']:.3f} ({mean['size_signed']:+.3f}) |")
    return out


def main(argv):
    del argv
    from fcnt_jax.data import open_sequence
    from fcnt_jax.run import write_text_atomic

    truths = {}
    for folder in map(Path, FLAGS.sequence_dirs):
        if not folder.is_dir():
            raise app.UsageError(f"--sequence_dirs: {folder} is not a folder")
        truths[folder.name] = np.asarray(open_sequence(folder).groundtruth, np.float64)
    results = Path(FLAGS.results_dir)
    if FLAGS.max_frames is not None and FLAGS.max_frames < FLAGS.from_frame + 1:
        raise app.UsageError(f"--max_frames {FLAGS.max_frames} leaves fewer than 2 frames from --from_frame "
                             f"{FLAGS.from_frame}")
    table = collect(results, truths, FLAGS.max_frames, FLAGS.from_frame)
    if not table:
        raise app.UsageError(f"no <dataset>/<preset>/[run_*/]<Seq>.json under {results}")
    last = "the end" if FLAGS.max_frames is None else str(FLAGS.max_frames)
    frames = ("every frame" if FLAGS.from_frame == 1 and FLAGS.max_frames is None
              else f"frames {FLAGS.from_frame} to {last}")
    text = (f"fcnt_plus and code (and any arm run) on the sequences outside the 16 dev sequences, {frames}, "
            "scored OTB-style. Size error: mean |log(sqrt(box area) / sqrt(truth area))| over "
            f"{'the frames after the first' if FLAGS.from_frame == 1 else 'those frames'}, mean over seeds; in brackets its signed mean (> 0: the box larger than the target). "
            "python -m experiments.outside_dev.\n" + "\n".join(lines_for(table)) + "\n")
    stem = "outside_dev" + (f"_from{FLAGS.from_frame}" if FLAGS.from_frame > 1 else "") + (
        f"_{FLAGS.max_frames}" if FLAGS.max_frames is not None else "")
    write_text_atomic(results / f"{stem}.json", json.dumps(table, indent=2))
    write_text_atomic(results / f"{stem}.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
