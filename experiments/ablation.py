"""The paper's ablations (Tables 2-3) on a data set: FCNT, FCNT_G, FCNT_S, FCNT_512/256/128/64, paper.

    python -m experiments.ablation --dataset_root=../shared/data/OTB --max_frames=120 \
        --output_dir=experiments/results/ablation_otb8_120

Runs experiments.benchmark's runner once per preset into <output_dir>/<preset>/ (resumable: rerun
the same command after an interruption), every frame padded to one canvas so that each preset
compiles once, then writes the report of all variants (table per attribute, plots) to
<output_dir>/report/. Expected on the 8 dev OTB sequences (~2 h on a 2-core CPU): FCNT precision@20
0.803 / AUC 0.550, the six ablations between AUC 0.552 and 0.579, the paper preset collapsed at
0.158 / 0.148; the table and what it shows are in WORKSPACE.md ("Ablations").
"""

from __future__ import annotations

from pathlib import Path

from absl import app, flags

from experiments import run_main

from fcnt_jax.config import ABLATIONS

# Display names of the paper's Tables 2-3.
DISPLAY = {"code": "FCNT", "paper": "FCNT (paper preset)", "fcnt_g": "FCNT_G", "fcnt_s": "FCNT_S",
           "fcnt_512": "FCNT_512", "fcnt_256": "FCNT_256", "fcnt_128": "FCNT_128", "fcnt_64": "FCNT_64"}

flags.DEFINE_enum("dataset", "otb", ["otb", "vot", "uav123", "got10k", "lasot", "trackingnet"], "data set layout")
flags.DEFINE_string("dataset_root", None, "folder holding the sequences", required=True)
flags.DEFINE_list("sequences", None, "only these sequences")
flags.DEFINE_list("presets", list(ABLATIONS), "variants to run, in order")
flags.DEFINE_integer("max_frames", None, "track and score only the first N frames of each sequence")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_bool("pad_to_common", True, "one compilation per preset (see experiments.benchmark)")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import load_sequences, run_benchmark, summary_table
    from fcnt_jax.config import get_config
    from fcnt_jax.eval.report import write_report
    from fcnt_jax.run import stderr_log, write_text_atomic

    try:
        configs = {p: get_config(p) for p in FLAGS.presets}
        sequences = load_sequences(FLAGS.dataset, Path(FLAGS.dataset_root), FLAGS.sequences)
    except ValueError as e:
        raise app.UsageError(str(e))
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    out = Path(FLAGS.output_dir)
    failed = False
    for i, (preset, cfg) in enumerate(configs.items(), 1):
        stderr_log(f"== {i}/{len(configs)}: {preset} ==")
        rows = run_benchmark(params, FLAGS.dataset, Path(FLAGS.dataset_root), out / preset, cfg, FLAGS.sequences,
                             FLAGS.max_frames, FLAGS.seed, log=stderr_log, pad_to_common=FLAGS.pad_to_common)
        write_text_atomic(out / preset / "summary.md", summary_table(rows) + "\n")
        failed |= any("error" in r for r in rows)
    write_report([out / p for p in configs], sequences, out / "report", FLAGS.max_frames,
                 names=[DISPLAY.get(p, p) for p in configs], highlight="FCNT", log=stderr_log)
    print((out / "report" / "report.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
