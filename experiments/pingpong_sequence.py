"""A long real sequence for memory checks: an OTB sequence played forward, backward, forward, ...

    python -m experiments.pingpong_sequence --sequence=../shared/data/OTB/David --frames=1000 --output_dir=/tmp/David1000
    /usr/bin/time -v python -m experiments.track --sequence=/tmp/David1000 --output_dir=/tmp/david1000_out

The folder holds symlinks to the original frames (``img/0001.jpg`` ...) and the matching ground
truth rows, so it is an OTB-layout sequence of real frames with correct boxes. The data set has
no sequence of 1000 frames; issue 6 asks for peak memory on one. Expected (this 2-core CPU,
David): maximum RSS ~0.82 GiB over 1000 frames (WORKSPACE.md, "Speed").
"""

from __future__ import annotations

import os
from pathlib import Path

from absl import app, flags

from experiments import run_main

flags.DEFINE_string("sequence", None, "OTB sequence folder (img/ + groundtruth_rect.txt)", required=True)
flags.DEFINE_integer("frames", 1000, "length of the new sequence", lower_bound=1)
flags.DEFINE_string("output_dir", None, "new sequence folder (must not exist)", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import pingpong_order
    from fcnt_jax.geometry import box_to_otb

    src = open_sequence(Path(FLAGS.sequence))
    out = Path(FLAGS.output_dir)
    if out.exists():
        raise app.UsageError(f"{out} exists: give a new folder")
    gt = src.groundtruth
    if gt is None:
        raise app.UsageError(f"{FLAGS.sequence}: no ground truth")
    (out / "img").mkdir(parents=True)
    order = pingpong_order(len(src), FLAGS.frames)
    for t, i in enumerate(order, 1):
        os.symlink(Path(src.frame_paths[i]).resolve(), out / "img" / f"{t:04d}.jpg")
    rows = [",".join(f"{v:g}" for v in box_to_otb(gt[i])) for i in order]  # back to OTB's 1-based x, y
    (out / "groundtruth_rect.txt").write_text("\n".join(rows) + "\n")
    (out / "SOURCE.txt").write_text(f"{src.name} played forward and backward to {FLAGS.frames} frames "
                                    f"(experiments.pingpong_sequence)\n")
    print(f"{out}: {FLAGS.frames} frames from {src.name} ({len(src)} frames)")
    return 0


if __name__ == "__main__":
    run_main(main)
