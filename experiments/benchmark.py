"""Track a whole data set, resumably, and print a summary table.

    python -m experiments.benchmark --dataset=otb --dataset_root=../shared/data/OTB \
        --max_frames=120 --output_dir=experiments/results/fcnt_code_120

Re-running the same command skips sequences already done; a failing sequence is logged (and
recorded in results.jsonl) and the run goes on. Writes <Seq>.txt / <Seq>.json per sequence,
results.jsonl, summary.md. Expected (code preset, 8 dev OTB sequences): see WORKSPACE.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags

flags.DEFINE_enum("dataset", "otb", ["otb", "vot", "uav123"], "data set layout")
flags.DEFINE_string("dataset_root", None, "folder holding the sequences", required=True)
flags.DEFINE_list("sequences", None, "only these sequences (comma-separated names)")
flags.DEFINE_string("preset", "code", "config preset: code | paper")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_integer("max_frames", None, "track only the first N frames of each sequence")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import run_benchmark, summary_table
    from fcnt_jax.config import get_config
    from fcnt_jax.run import stderr_log, write_text_atomic

    cfg = get_config(FLAGS.preset, FLAGS.set)
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    out = Path(FLAGS.output_dir)
    rows = run_benchmark(params, FLAGS.dataset, Path(FLAGS.dataset_root), out, cfg, FLAGS.sequences,
                         FLAGS.max_frames, FLAGS.seed, log=stderr_log)
    table = summary_table(rows)
    print(table)
    write_text_atomic(out / "summary.md", table + "\n")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(app.run(main))
