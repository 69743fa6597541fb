"""A truncated copy of real OTB sequences, small enough to carry to a device machine.

    python -m experiments.copy_otb --root=../shared/data/OTB --max_frames=120 --output_dir=.devcarry/otb120

Copies the frames each sequence tracks (byte for byte, first --max_frames) and their ground truth
into a new OTB-layout folder with its own OTB100.json; the copy reads back as the same sequences,
truncated (`fcnt_jax.data.otb.write_otb_copy`). The 8 dev sequences x 120 frames come to 20.9 MiB.
A device call carries the repository and at most 64 MiB in all: WORKSPACE.md ("On a lent GPU").
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_string("root", None, "OTB data set folder", required=True)
flags.DEFINE_list("sequences", None, "only these sequences (default: all in --root)")
flags.DEFINE_integer("max_frames", None, "frames per sequence (default: all)", lower_bound=2)
flags.DEFINE_string("output_dir", None, "the copy's folder (must not exist)", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.data.otb import write_otb_copy

    sequences = [s.truncated(FLAGS.max_frames) for s in load_sequences("otb", Path(FLAGS.root), FLAGS.sequences)]
    out = write_otb_copy(sequences, Path(FLAGS.output_dir))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {len(sequences)} sequences, {sum(len(s) for s in sequences)} frames, {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    run_main(main)
