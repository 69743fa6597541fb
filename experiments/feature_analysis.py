"""The paper's Section 3 feature analyses on real sequences: Fig. 2-4, Observations 1-2, Table 1.

    python -m experiments.feature_analysis --otb_root=../shared/data/OTB \
        --analysis_root=../shared/data/OTB_analysis --output_dir=experiments/results/feature_analysis

Writes fig2_<Seq>.png (Observation 1: the map most active in the box and its input-gradient
saliency), fig3_histogram.png (Observation 2), fig4_Girl.png and fig4_MotorRolling.png (eq. (1)
codes of a first frame applied to other images), feature_analysis.json (every number),
summary.md and table1.md (Table 1 beside the paper's). The protocol is in
fcnt_jax/feature_analysis.py; expected results and their reading are in WORKSPACE.md. About 15 min
on a 2-core CPU (some 600 VGG-16 forward passes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from absl import app, flags

from experiments import run_main

flags.DEFINE_string("otb_root", None, "OTB-layout folder with the dev sequences (David, Freeman1, ...)", required=True)
flags.DEFINE_string("analysis_root", None, "OTB-layout folder with the analysis sequences (Girl, Boy, Surfer, Coke, ...)",
                    required=True)
flags.DEFINE_string("output_dir", None, "where figures and tables go", required=True)
flags.DEFINE_integer("max_frames", 150, "use the first N frames of each face / non-face sequence", lower_bound=1)
flags.DEFINE_integer("stride", 3, "every k-th of those frames", lower_bound=1)
flags.DEFINE_integer("train_per_identity", 20, "experiment 2's training images per identity (the paper: 20)",
                     lower_bound=1)
flags.DEFINE_list("lam_ratios", ["0.01", "0.1", "0.3"], "eq. (1)'s lambda as fractions of lam_max")
flags.DEFINE_float("headline_lam_ratio", 0.1, "the lambda fraction of Table 1 and Fig. 4")
flags.DEFINE_integer("iterations", 3000, "FISTA iterations per eq. (1) solve")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.config import get_config
    from fcnt_jax.data import SequenceError
    from fcnt_jax.feature_analysis import run_feature_analysis, summary_markdown, table1_markdown
    from fcnt_jax.files import write_text_atomic
    from fcnt_jax.run import ensure_writable_dir, stderr_log

    try:
        sequences = {s.name: s for root in (FLAGS.otb_root, FLAGS.analysis_root)
                     for s in load_sequences("otb", Path(root))}
        out = ensure_writable_dir(Path(FLAGS.output_dir))
        ratios = tuple(float(r) for r in FLAGS.lam_ratios)
    except (SequenceError, ValueError) as e:
        raise app.UsageError(str(e))
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    result = run_feature_analysis(params, sequences, get_config("code"), out, FLAGS.max_frames, FLAGS.stride,
                                  FLAGS.train_per_identity, ratios, FLAGS.headline_lam_ratio, FLAGS.iterations,
                                  log=stderr_log)
    write_text_atomic(out / "feature_analysis.json", json.dumps(result, indent=1) + "\n")
    write_text_atomic(out / "table1.md", table1_markdown(result))
    summary = summary_markdown(result)
    write_text_atomic(out / "summary.md", summary)
    print(summary)
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
