"""Track one sequence with FCNT and write OTB-style results.

    python -m experiments.track --output_dir=out/demo                    # the bundled Crossing demo
    python -m experiments.track --sequence=../shared/data/OTB/Deer --output_dir=out --save_gif
    python -m experiments.track --sequence=my_frames/ --init_box=100,80,40,60 --output_dir=out

Writes ``<output_dir>/<Seq>.txt`` (one 1-based ``x,y,w,h`` line per frame; frame 1 = the given
box), ``<Seq>.json`` (init s incl. compilation, compilation s, tracking fps, precision@20 and AUC
when ground truth exists) and, with ``--save_gif``, ``<Seq>.gif``. Expected on the demo (code
preset, seed 0): precision@20 >= 0.9 (WORKSPACE.md has the measured value and speed).
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_string("sequence", None, "OTB / VOT / UAV123 sequence folder, or a folder of frames with "
                    "--init_box (default: the bundled Crossing demo)")
flags.DEFINE_string("init_box", None, "x,y,w,h (1-based, OTB convention) for a plain folder of frames")
flags.DEFINE_string("preset", "code", "config preset: code (official code) | paper")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_string("output_dir", "out", "where results go")
flags.DEFINE_integer("max_frames", None, "track only the first N frames")
flags.DEFINE_integer("seed", 0, "PRNG seed (particles, dropout, initialisation)")
flags.DEFINE_bool("save_gif", False, "write <Seq>.gif with boxes and the deciding heat map")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache, fetched once)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import DEMO_SEQUENCE, SequenceError, open_sequence
    from fcnt_jax.data.sequence import check_box_in_frame
    from fcnt_jax.run import ensure_writable_dir, stderr_log, track_sequence, write_results

    try:
        cfg = get_config(FLAGS.preset, FLAGS.set)
        seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE, FLAGS.init_box).truncated(FLAGS.max_frames)
        check_box_in_frame(seq.init_box, *seq.image_size(), where=str(seq.frame_paths[0]))
        out = ensure_writable_dir(Path(FLAGS.output_dir))
        params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    except (SequenceError, ValueError, weights.WeightsError) as e:
        stderr_log(f"error: {e}")
        return 2
    stderr_log(f"{seq.name}: {len(seq)} frames, preset {cfg.preset}; compiling (once per frame size)...")
    result = track_sequence(params, seq, cfg, FLAGS.seed, out / f"{seq.name}.gif" if FLAGS.save_gif else None,
                            log=stderr_log)
    txt, js = write_results(result, out, {"preset": cfg.preset, "seed": FLAGS.seed})
    t = result.timing
    summary = (f"{seq.name}: init {t['init_s']:.1f} s (compile {t['compile_s']:.1f} s), "
               f"tracking {t['track_fps']:.2f} fps")
    if result.scores:
        summary += f", precision@20 {result.scores['precision_20']:.3f}, AUC {result.scores['auc']:.3f}"
    print(summary)
    print(f"results: {txt} and {js}" + (f" and {out / (seq.name + '.gif')}" if FLAGS.save_gif else ""))
    if result.error:
        stderr_log(f"error: stopped early at a bad frame, {len(result.boxes)} of {len(seq)} boxes written: {result.error}")
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
