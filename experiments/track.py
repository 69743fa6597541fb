"""Track one sequence with FCNT and write OTB-style results.

    python -m experiments.track --output_dir=out/demo                    # the bundled Crossing demo
    python -m experiments.track --sequence=../shared/data/OTB/Deer --output_dir=out --save_gif
    python -m experiments.track --sequence=my_frames/ --init_box=100,80,40,60 --output_dir=out
    python -m experiments.track --sequence=clip.mp4 --init_box=100,80,40,60 --output_dir=out --save_video=out/clip_tracked.mp4

Writes ``<output_dir>/<Seq>.txt`` (one 1-based ``x,y,w,h`` line per frame; frame 1 = the given
box), ``<Seq>.json`` (init s incl. compilation, compilation s, tracking fps, precision@20 and AUC
when ground truth exists), with ``--save_gif`` ``<Seq>.gif`` and with ``--save_video=PATH`` the
tracked video (boxes drawn; mp4, mkv, mov or avi by the extension). Expected on the demo (code
preset, seed 0): precision@20 >= 0.9 (WORKSPACE.md has the measured value and speed).
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_string("sequence", None, "OTB / VOT / UAV123 / GOT-10k / LaSOT / TrackingNet sequence folder, a "
                    "video file (mp4, avi, mkv, mov, ...), or a folder of frames with --init_box (default: the "
                    "bundled Crossing demo)")
flags.DEFINE_string("init_box", None, "x,y,w,h (1-based, OTB convention) for a plain folder of frames or a video")
flags.DEFINE_string("groundtruth", None, "ground truth of a video file (VOT rules: 4- or 8-number rows, 0-based; "
                    "default: <stem>.groundtruth.txt beside it, when present)")
flags.DEFINE_string("preset", "code", "config preset: code (official code) | paper")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_string("output_dir", "out", "where results go")
flags.DEFINE_integer("max_frames", None, "track only the first N frames")
flags.DEFINE_integer("seed", 0, "PRNG seed (particles, dropout, initialisation)")
flags.DEFINE_bool("save_gif", False, "write <Seq>.gif with boxes and the deciding heat map")
flags.DEFINE_string("save_video", None, "write the tracked video (boxes drawn) to this .mp4/.mkv/.mov/.avi file")
flags.DEFINE_float("video_fps", None, "frame rate of --save_video (default: the source video's, else 30)")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache, fetched once)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import DEMO_SEQUENCE, SequenceError, open_sequence, read_video
    from fcnt_jax.data.sequence import check_box_in_frame
    from fcnt_jax.data.video import video_codec_for
    from fcnt_jax.run import ensure_writable_dir, save_tracked_video, stderr_log, track_sequence, write_results

    try:
        cfg = get_config(FLAGS.preset, FLAGS.set)
        if FLAGS.groundtruth:
            if not FLAGS.sequence:
                raise SequenceError("--groundtruth goes with --sequence=<video file>")
            seq = read_video(FLAGS.sequence, FLAGS.init_box, FLAGS.groundtruth)
        else:
            seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE, FLAGS.init_box)
        seq = seq.truncated(FLAGS.max_frames)
        if FLAGS.save_video:
            video_codec_for(FLAGS.save_video)
            ensure_writable_dir(Path(FLAGS.save_video).parent)
        check_box_in_frame(seq.init_box, *seq.image_size(), where=str(seq.frame_paths[0]))
        out = ensure_writable_dir(Path(FLAGS.output_dir))
        params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    except (SequenceError, ValueError, weights.WeightsError) as e:
        stderr_log(f"error: {e}")
        return 2
    video = seq.meta.get("video")
    if video is not None:
        stderr_log(f"video {video.describe()}")
    stderr_log(f"{seq.name}: {len(seq)} frames, preset {cfg.preset}; compiling (once per frame size)...")
    result = track_sequence(params, seq, cfg, FLAGS.seed, out / f"{seq.name}.gif" if FLAGS.save_gif else None,
                            log=stderr_log)
    extra = {"preset": cfg.preset, "seed": FLAGS.seed}
    if video is not None:
        extra["video"] = {"path": str(video.path), "frames": video.num_frames, "fps": video.fps,
                          "width": video.width, "height": video.height, "codec": video.codec}
    txt, js = write_results(result, out, extra, seq.groundtruth, cfg.localization.distracter_ratio)
    t = result.timing
    summary = (f"{seq.name}: init {t['init_s']:.1f} s (compile {t['compile_s']:.1f} s), "
               f"tracking {t['track_fps']:.2f} fps")
    if result.scores:
        summary += f", precision@20 {result.scores['precision_20']:.3f}, AUC {result.scores['auc']:.3f}"
    print(summary)
    print(f"results: {txt} and {js}" + (f" and {out / (seq.name + '.gif')}" if FLAGS.save_gif else ""))
    if FLAGS.save_video:
        count = save_tracked_video(seq, result.boxes, Path(FLAGS.save_video), FLAGS.video_fps)
        print(f"tracked video: {FLAGS.save_video} ({count} frames)")
    if result.error:
        stderr_log(f"error: stopped early at a bad frame, {len(result.boxes)} of {len(seq)} boxes written: {result.error}")
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
