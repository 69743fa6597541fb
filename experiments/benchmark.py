"""Track a whole data set, resumably, and print a summary table.

    python -m experiments.benchmark --dataset=otb --dataset_root=../shared/data/OTB \
        --max_frames=120 --output_dir=experiments/results/fcnt_code_120

Re-running the same command skips sequences already done; a failing sequence is logged (and
recorded in results.jsonl) and the run goes on. Writes <Seq>.txt / <Seq>.json per sequence,
results.jsonl, summary.md (with --num_runs=R > 1: one run_001 ... run_R folder each, seeds
seed .. seed+R-1). GOT-10k, LaSOT and TrackingNet results are also written in the benchmark's own
format under <output_dir>/submission/ (got10k: <seq>/<seq>_001.txt + <seq>_time.txt; lasot and
trackingnet: <seq>.txt), and each sequence's JSON names the scoring rule applied. Presets: code, paper and the paper's ablations fcnt_g, fcnt_s, fcnt_512,
fcnt_256, fcnt_128, fcnt_64. Expected (code preset, 8 dev OTB sequences): see WORKSPACE.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags

from experiments import run_main

flags.DEFINE_enum("dataset", "otb", ["otb", "vot", "uav123", "got10k", "lasot", "trackingnet"],
                  "data set layout (got10k, lasot and trackingnet also write their submission format)")
flags.DEFINE_string("dataset_root", None, "folder holding the sequences", required=True)
flags.DEFINE_list("sequences", None, "only these sequences (comma-separated names)")
flags.DEFINE_string("preset", "code", "config preset: code | paper | fcnt_g | fcnt_s | fcnt_512 | "
                    "fcnt_256 | fcnt_128 | fcnt_64")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_integer("max_frames", None, "track only the first N frames of each sequence")
flags.DEFINE_integer("seed", 0, "PRNG seed (of the first run)")
flags.DEFINE_integer("num_runs", 1, "repetitions with seeds seed, seed+1, ...", lower_bound=1)
flags.DEFINE_integer("batch_size", 1, "track this many sequences at once in lockstep (one vmapped step, "
                     "sharded over the devices; implies a common canvas)", lower_bound=1)
flags.DEFINE_bool("pad_to_common", False, "zero-pad all frames to the largest frame size: one compilation "
                  "for the whole data set (results differ from experiments.track by float rounding only)")
flags.DEFINE_bool("distributed", False, "call jax.distributed.initialize() first (several hosts; with "
                  "--batch_size each process tracks the sequences on its own devices)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import process_suffix, run_benchmark, run_dir, select_folders, summary_table
    from fcnt_jax.config import get_config
    from fcnt_jax.data import SequenceError
    from fcnt_jax.run import ensure_writable_dir, stderr_log, write_text_atomic

    try:
        cfg = get_config(FLAGS.preset, FLAGS.set)
        select_folders(FLAGS.dataset, Path(FLAGS.dataset_root), FLAGS.sequences)  # fail early on bad names
        ensure_writable_dir(Path(FLAGS.output_dir))
    except (ValueError, SequenceError) as e:
        raise app.UsageError(str(e))
    if FLAGS.distributed:
        import jax

        jax.distributed.initialize()  # coordinator, process count and index from the environment
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    failed = False
    for run in range(FLAGS.num_runs):
        out = run_dir(Path(FLAGS.output_dir), run, FLAGS.num_runs)
        if FLAGS.num_runs > 1:
            stderr_log(f"run {run + 1}/{FLAGS.num_runs} (seed {FLAGS.seed + run}) -> {out}")
        rows = run_benchmark(params, FLAGS.dataset, Path(FLAGS.dataset_root), out, cfg, FLAGS.sequences,
                             FLAGS.max_frames, FLAGS.seed + run, log=stderr_log,
                             pad_to_common=FLAGS.pad_to_common, batch_size=FLAGS.batch_size)
        table = summary_table(rows)
        print(table)
        write_text_atomic(out / f"summary{process_suffix()}.md", table + "\n")
        failed |= any("error" in r for r in rows)
    print(f"results in {FLAGS.output_dir}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
