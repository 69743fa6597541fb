"""Channel selectors judged by tracking: every ``selection.method`` at each K, on the dev sequences.

    python -m experiments.selectors --output_dir=experiments/results/selectors

runs the code preset with ``selection.method=<m>`` and ``selection.num_channels=<K>`` for every
method, K (default 384 and 64) and seed, on ``--otb_root`` (first ``--otb_frames``) and
``--analysis_root`` (first ``--analysis_frames``), each run resumable (experiments.benchmark's
runner; rerun the same command after an interruption). Writes
``<output_dir>/k<K>/<method>/seed<s>/<set>/`` results, one report per K, set and seed (OPE plots and
per-sequence tables) under ``<output_dir>/report/``, and ``<output_dir>/selectors.md`` / ``.json``:
mean precision@20 and AUC per method and K, with the spread over seeds.

Cost: the backbone dominates (measured here, a 2-core CPU: ~1.6 s a frame, ~20 s a first frame after
compilation), so the full default study (7 methods x 2 K x 16 sequences, 2160 frames each) is ~15
CPU-hours per seed; ``--sequences``, ``--otb_frames``, ``--methods`` and ``--num_channels`` cut it down. The
measured tables and what they show are in WORKSPACE.md ("Selectors judged by tracking").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

from experiments import run_main

from fcnt_jax.config import SELECTION_METHODS
from fcnt_jax.eval.ablation import per_sequence_auc_lines, seed_table

flags.DEFINE_string("otb_root", "../shared/data/OTB", "OTB-layout dev sequences ('' to skip)")
flags.DEFINE_integer("otb_frames", 120, "track and score the first N frames of --otb_root's sequences")
flags.DEFINE_string("analysis_root", "../shared/data/OTB_analysis", "extra OTB-layout dev sequences ('' to skip)")
flags.DEFINE_integer("analysis_frames", 150, "track and score the first N frames of --analysis_root's sequences")
flags.DEFINE_list("sequences", None, "only these sequences (names from either root)")
flags.DEFINE_list("methods", list(SELECTION_METHODS), "selection.method values, in order")
flags.DEFINE_list("num_channels", ["384", "64"], "selection.num_channels values (K)")
flags.DEFINE_list("seeds", ["0"], "PRNG seeds")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS


def _sets() -> list[tuple[str, Path, int]]:
    sets = []
    if FLAGS.otb_root:
        sets.append(("otb", Path(FLAGS.otb_root), FLAGS.otb_frames))
    if FLAGS.analysis_root:
        sets.append(("otb_analysis", Path(FLAGS.analysis_root), FLAGS.analysis_frames))
    if not sets:
        raise app.UsageError("give --otb_root and/or --analysis_root")
    return sets


def summarise(rows: dict[tuple[int, str, int], list[dict]]) -> tuple[str, dict]:
    """Markdown and JSON: per K and method, the mean over sequences of each seed, then the mean and
    range over seeds. ``rows[(K, method, seed)]`` holds one row per sequence."""
    table = seed_table({(str(k), method, seed): r for (k, method, seed), r in rows.items()})
    lines = []
    for k, methods in table.items():
        lines += [f"### K = {k}", "", "| method | sequences | precision@20 | AUC | AUC range over seeds |",
                  "|---|---|---|---|---|"]
        for method, entry in methods.items():
            seeds = entry["seeds"].values()
            if not seeds:
                lines.append(f"| {method} | 0 | | | |")
                continue
            p = np.mean([s["precision_20"] for s in seeds])
            a = [s["auc"] for s in seeds]
            spread = f"{min(a):.3f}-{max(a):.3f} ({len(a)} seeds)" if len(a) > 1 else "1 seed"
            n = min(s["sequences"] for s in seeds)
            lines.append(f"| {method} | {n} | {p:.3f} | {np.mean(a):.3f} | {spread} |")
        lines += ["", f"Per sequence, AUC (mean over seeds), K = {k}:", ""]
        lines += per_sequence_auc_lines(methods, "method") + [""]
    return "\n".join(lines), table


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import dev_sets, run_benchmark, summary_table
    from fcnt_jax.config import get_config
    from fcnt_jax.eval.report import write_report
    from fcnt_jax.run import stderr_log, write_text_atomic

    sets = _sets()
    try:
        ks = [int(k) for k in FLAGS.num_channels]
        seeds = [int(s) for s in FLAGS.seeds]
        configs = {(k, m): get_config("code", [f"selection.method={m}", f"selection.num_channels={k}"])
                   for k in ks for m in FLAGS.methods}
        per_set = dev_sets(sets, FLAGS.sequences)
    except ValueError as e:
        raise app.UsageError(str(e))
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    out = Path(FLAGS.output_dir)
    rows: dict[tuple[int, str, int], list[dict]] = {}
    failed = False
    runs = [(k, m, s) for (k, m) in configs for s in seeds]
    for i, (k, method, seed) in enumerate(runs, 1):
        stderr_log(f"== {i}/{len(runs)}: method={method} K={k} seed={seed} ==")
        for set_name, (root, frames, chosen, _) in per_set.items():
            folder = out / f"k{k}" / method / f"seed{seed}" / set_name
            r = run_benchmark(params, "otb", root, folder, configs[(k, method)], chosen, frames, seed,
                              log=stderr_log, pad_to_common=True)
            write_text_atomic(folder / "summary.md", summary_table(r) + "\n")
            rows.setdefault((k, method, seed), []).extend(r)
            failed |= any("error" in x for x in r)
    for k in ks:
        for seed in seeds:
            for set_name, (_, frames, _, sequences) in per_set.items():
                folders = [out / f"k{k}" / m / f"seed{seed}" / set_name for m in FLAGS.methods]
                write_report(folders, sequences, out / "report" / f"k{k}_{set_name}_seed{seed}", frames,
                             names=list(FLAGS.methods), highlight="saliency", log=stderr_log)
    text, table = summarise(rows)
    protocol = {"sets": {n: {"root": str(r), "frames": f, "sequences": c} for n, (r, f, c, _) in per_set.items()},
                "methods": list(FLAGS.methods), "num_channels": ks, "seeds": seeds, "preset": "code"}
    write_text_atomic(out / "selectors.json", json.dumps({"protocol": protocol, "results": table}, indent=2))
    header = ("Selectors judged by tracking (code preset; sets: "
              + ", ".join(f"{n} first {f} frames ({len(c)} sequences)" for n, (_, f, c, _) in per_set.items())
              + f"; seeds {seeds}). Per-sequence OPE reports: report/.\n\n")
    write_text_atomic(out / "selectors.md", header + text)
    print(header + text)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
