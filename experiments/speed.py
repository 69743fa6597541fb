"""Speed and memory: the frame time split by phase, single and batched fps, the ratio to the backbone.

    python -m experiments.speed --output_dir=experiments/results/speed_cpu --max_frames=40 --batch_sizes=1,2

Tracks the bundled demo (or --sequence) once, times each phase of the step as its own jitted
function, then tracks batches of copies of the sequence; prints a table and writes
<output_dir>/speed.json. With --accuracy_root it also tracks those sequences in float32 and in
bfloat16 and reports the change in precision@20 / AUC. Expected figures: WORKSPACE.md ("Speed").
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from absl import app, flags

flags.DEFINE_string("sequence", None, "sequence folder (default: the bundled demo)")
flags.DEFINE_string("frame_size", None, "resize the frames to WxH first (e.g. 640x480)")
flags.DEFINE_integer("max_frames", 40, "frames to track")
flags.DEFINE_list("batch_sizes", ["1", "4", "16", "64"], "batch sizes for fps_batch")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "backbone compute dtype")
flags.DEFINE_integer("repeats", 5, "timed repetitions per phase (median)")
flags.DEFINE_string("accuracy_root", None, "OTB folder: also report the bfloat16 change in precision/AUC")
flags.DEFINE_integer("accuracy_max_frames", None, "frames per sequence for the accuracy comparison")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where speed.json goes", required=True)
FLAGS = flags.FLAGS


def resized_copy(seq, size: str, folder: Path):
    """The sequence with every frame resized to WxH (boxes scaled), as a plain frame folder."""
    import dataclasses

    import numpy as np
    from PIL import Image

    from fcnt_jax.data.sequence import load_frame

    w, h = (int(v) for v in size.lower().split("x"))
    oh, ow = seq.image_size()
    scale = np.array([w / ow, h / oh, w / ow, h / oh])
    paths = []
    for i, p in enumerate(seq.frame_paths):
        out = folder / f"{i + 1:06d}.png"
        Image.fromarray(load_frame(p)).resize((w, h), Image.BILINEAR).save(out)
        paths.append(out)
    gt = None if seq.groundtruth is None else seq.groundtruth * scale
    return dataclasses.replace(seq, frame_paths=tuple(paths), init_box=seq.init_box * scale, groundtruth=gt)


def main(argv):
    del argv

    from fcnt_jax import backbone, weights
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.config import get_config
    from fcnt_jax.data import DEMO_SEQUENCE, open_sequence
    from fcnt_jax.run import stderr_log, write_text_atomic
    from fcnt_jax.speed import dtype_accuracy_change, measure

    cfg = get_config("code", [f"backbone_dtype={FLAGS.dtype}"])
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE).truncated(FLAGS.max_frames)
    with tempfile.TemporaryDirectory() as tmp:
        if FLAGS.frame_size:
            seq = resized_copy(seq, FLAGS.frame_size, Path(tmp))
        data = measure(params, seq, cfg, tuple(int(b) for b in FLAGS.batch_sizes), FLAGS.repeats, log=stderr_log)
    data["command"] = "python -m experiments.speed " + " ".join(sys.argv[1:])
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    def save():
        write_text_atomic(out / "speed.json", json.dumps(data, indent=2) + "\n")

    save()  # now, and again after the (long) accuracy comparison: a failure there loses nothing
    if FLAGS.accuracy_root:
        sequences = [q.truncated(FLAGS.accuracy_max_frames) for q in load_sequences("otb", Path(FLAGS.accuracy_root))]
        data["bfloat16_change"] = dtype_accuracy_change(params, sequences, cfg, log=stderr_log)
        save()
    rows = [("device", f"{data['device']} ({data['platform']}, {data['device_count']} device(s))"),
            ("backbone dtype", data["backbone_dtype"]), ("frames tracked", data["frames"]),
            ("compile_s", f"{data['compile_s']:.2f}"), ("init_s (after compile)", f"{data['init_s']:.3f}"),
            ("frame_s (whole step)", f"{data['frame_s']:.4f}"), ("fps_single", f"{data['fps_single']:.2f}")]
    rows += [(f"  {k}", f"{v:.4f} s") for k, v in data["breakdown_s"].items()]
    rows += [("  sum of phases", f"{data['breakdown_sum_s']:.4f} s"),
             ("backbone_only_frame_s", f"{data['backbone_only_frame_s']:.4f}"),
             ("ratio_to_backbone (interleaved)", f"{data['ratio_to_backbone']:.3f} "
              f"(step {data['interleaved']['frame_s']:.4f} s / backbone {data['backbone_only_frame_s']:.4f} s)")]
    rows += [(f"fps_batch (B={b})", v if isinstance(v, str) else f"{v:.2f}") for b, v in data["fps_batch"].items()]
    rows += [("peak_memory_mb", f"{data['peak_memory_mb']:.0f}")]
    change = data.get("bfloat16_change")
    if change and change["per_sequence"]:
        rows += [(f"bfloat16 change P@20 / AUC, mean of {len(change['per_sequence'])} (median)",
                  f"{change['mean_precision_20']:+.3f} / {change['mean_auc']:+.3f} "
                  f"({change['median_precision_20']:+.3f} / {change['median_auc']:+.3f})"),
                 ("bfloat16 tracking time / float32's (same run)", f"{change['track_time_ratio']:.3f}")]
        rows += [(f"  {name}", f"{r['change']['precision_20']:+.3f} / {r['change']['auc']:+.3f} "
                               f"(boxes {r['box_shift_px']['mean']:.2f} px apart, max {r['box_shift_px']['max']:.1f})")
                 for name, r in change["per_sequence"].items()]
    if change and change["failed"]:
        rows += [(f"  {name} failed", why) for name, why in change["failed"].items()]
    if data["tracking_error"]:
        rows += [("tracking stopped early", data["tracking_error"])]
    print("| quantity | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows))
    return 0


if __name__ == "__main__":
    app.run(main)
