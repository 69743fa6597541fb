"""Precision / success plots and a markdown table for any number of result folders.

    python -m experiments.report --dataset_root=../shared/data/OTB --max_frames=120 \
        --results=experiments/results/fcnt_code_otb8_120,../shared/data/results/* \
        --names=FCNT --output_dir=experiments/results/report_otb8_120

A tracker's name is its folder's name (``--names`` renames the first ones, in order). Writes
precision_plots.png, success_plots.png, attributes/<kind>_plots_<ATTR>.png,
success_plots_attributes.png, report.md and report.json. Expected: see WORKSPACE.md.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from absl import app, flags

from experiments import run_main

flags.DEFINE_list("results", None, "result folders (globs allowed), one tracker each", required=True)
flags.DEFINE_list("names", [], "display names for the first result folders, in order")
flags.DEFINE_enum("dataset", "otb", ["otb", "vot", "uav123", "got10k", "lasot", "trackingnet"],
                  "data set layout")
flags.DEFINE_string("dataset_root", None, "folder holding the sequences", required=True)
flags.DEFINE_list("sequences", None, "only these sequences (default: every sequence of the data set)")
flags.DEFINE_integer("max_frames", None, "score only the first N frames of each sequence")
flags.DEFINE_integer("first_frame", 1, "score only from this frame (1-based) on, e.g. 121: the frames after a "
                     "120-frame protocol; sequences that end before it are left out and named", lower_bound=1)
flags.DEFINE_enum("invalid", "exclude", ["exclude", "fail"],
                  "frames without valid ground truth: left out, or counted as failures")
flags.DEFINE_string("highlight", None, "tracker drawn with a thicker line (default: the first)")
flags.DEFINE_string("output_dir", None, "where the report goes", required=True)
FLAGS = flags.FLAGS


def expand(entries: list[str]) -> list[Path]:
    """Folders from names or globs, in the order given; a name that matches nothing is an error."""
    folders = []
    for entry in entries:
        matches = sorted(glob.glob(entry)) if any(c in entry for c in "*?[") else [entry]
        matches = [m for m in matches if Path(m).is_dir()]
        if not matches:
            raise app.UsageError(f"--results: {entry}: no such result folder")
        folders += [Path(m) for m in matches]
    return folders


def main(argv):
    del argv
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.eval.report import write_report

    folders = expand(FLAGS.results)
    renamed = []
    for i, folder in enumerate(folders):
        renamed.append((FLAGS.names[i] if i < len(FLAGS.names) else folder.name, folder))
    sequences = load_sequences(FLAGS.dataset, Path(FLAGS.dataset_root), FLAGS.sequences)
    data = write_report([f for _, f in renamed], sequences, Path(FLAGS.output_dir), FLAGS.max_frames,
                        FLAGS.invalid, highlight=FLAGS.highlight or renamed[0][0],
                        names=[n for n, _ in renamed], first_frame=FLAGS.first_frame)
    print((Path(FLAGS.output_dir) / "report.md").read_text())
    print(f"report written to {FLAGS.output_dir}", file=sys.stderr)
    return 1 if data["skipped"] else 0


if __name__ == "__main__":
    run_main(main)
