"""What the heat maps say about the box's size, per frame: two of issue 19's candidate fixes,
measured before they are built (fcnt_jax.eval.map_shape).

    python -m experiments.map_shape --sequence=../shared/data/OTB/Diving,../shared/data/OTB/David \
        --max_frames=120 --preset=fcnt_plus_scale_from_start --output_dir=experiments/results/map_shape

(the committed run used fcnt_plus as it then was, now called ``fcnt_plus_scale_from_start``).

Per sequence and net: whether the size the map implies around the box (its spread / 0.2476)
follows the truth's width and height (correlation, mean |log ratio| beside the box's own), and
the factor that maximises the tracker's ranking score around the truth box on frame 1 and later
(1 = the ranking rule keeps the true size). Writes ``<Seq>.json`` (per frame) and
``map_shape.md`` / ``.json``. ~2.5 s a frame here (2-core CPU, maps returned). What it showed:
WORKSPACE.md, "fcnt_plus (issue 19)".
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_list("sequence", None, "sequence folders", required=True)
flags.DEFINE_integer("max_frames", 120, "measure the first N frames")
flags.DEFINE_string("preset", "fcnt_plus", "config preset")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import SequenceError, open_sequence
    from fcnt_jax.eval.map_shape import measure_sequence, summarise_sequence, summary_lines
    from fcnt_jax.run import stderr_log, write_text_atomic

    cfg = get_config(FLAGS.preset, FLAGS.set)
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    summaries, failed = {}, False
    for path in FLAGS.sequence:
        try:
            seq = open_sequence(path)
            rows = measure_sequence(params, seq, cfg, FLAGS.max_frames, FLAGS.seed, log=stderr_log)
        except (SequenceError, ValueError, OSError) as e:
            stderr_log(f"{path}: skipped: {e}")
            failed = True
            continue
        write_text_atomic(out / f"{seq.name}.json", json.dumps(rows))
        summaries[seq.name] = summarise_sequence(rows)
    header = (f"Heat-map shape, preset {FLAGS.preset}, seed {FLAGS.seed}, first {FLAGS.max_frames} frames "
              f"(python -m experiments.map_shape).\n\n")
    text = header + "\n".join(summary_lines(summaries)) + "\n"
    write_text_atomic(out / "map_shape.json", json.dumps({"preset": FLAGS.preset, "seed": FLAGS.seed,
                                                          "max_frames": FLAGS.max_frames,
                                                          "sequences": summaries}, indent=2))
    write_text_atomic(out / "map_shape.md", text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
