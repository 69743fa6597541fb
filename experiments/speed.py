"""Speed and memory: the frame time split by phase, single and batched fps, the ratio to the backbone.

    python -m experiments.speed --output_dir=experiments/results/speed_cpu --max_frames=40 --batch_sizes=1,2

Tracks the bundled demo (or --sequence) once, times each phase of the step as its own jitted
function, then tracks batches of copies of the sequence; prints a table and writes
<output_dir>/speed.json and speed.png (the frame time by phase and the frame rates, as bars). With
--accuracy_root it also tracks those sequences in float32 and in bfloat16 and reports the change in
precision@20 / AUC (--notime_tracker: only that). speed.json and speed.png are rewritten after every
part, so a run cut off (a device call's time limit, out of memory) keeps what it measured.
Expected figures: WORKSPACE.md ("Speed").
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from absl import app, flags

from experiments import run_main

flags.DEFINE_string("sequence", None, "sequence folder (default: the bundled demo)")
flags.DEFINE_string("frame_size", None, "resize the frames to WxH first (e.g. 640x480)")
flags.DEFINE_integer("max_frames", 40, "frames to track")
flags.DEFINE_list("batch_sizes", ["1", "4", "16", "64"], "batch sizes for fps_batch")
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "backbone compute dtype")
flags.DEFINE_integer("repeats", 5, "timed repetitions per phase (median)")
flags.DEFINE_bool("time_tracker", True, "time the tracker (the speed table); --notime_tracker with "
                  "--accuracy_root runs only the bfloat16 comparison (a GPU's 10-minute calls: one part each)")
flags.DEFINE_string("accuracy_root", None, "OTB folder: also report the bfloat16 change in precision/AUC")
flags.DEFINE_integer("accuracy_max_frames", None, "frames per sequence for the accuracy comparison")
flags.DEFINE_list("compare_presets", None, "also track the sequence with each of these presets in turn (e.g. "
                  "code,fcnt_plus) and report init and frame time with their ratios to the first "
                  "(--notime_tracker: only that)")
flags.DEFINE_integer("compare_batch_init", 0, "with --compare_presets: also time one batched first frame "
                     "(batch.batch_init) of this many copies per preset, ratios to the first (0: off)")
flags.DEFINE_integer("compare_rounds", 2, "rounds of the preset comparison (each preset keeps its fastest)")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where speed.json goes")
flags.DEFINE_string("table_from", None, "print the table of this speed.json (a cut-off run's too) and stop; "
                    "with --output_dir, also draw its speed.png there")
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
    from fcnt_jax.eval.report import save_png
    from fcnt_jax.speed import (batch_init_costs, device_info, dtype_accuracy_change, markdown_table, measure,
                                preset_costs, speed_chart)

    def draw(chart, folder: Path) -> None:
        if chart is not None:  # None before the first part is timed
            save_png(chart, folder / "speed.png")

    if FLAGS.table_from:
        try:
            stored = json.loads(Path(FLAGS.table_from).read_text())
            table, chart = markdown_table(stored), speed_chart(stored)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise app.UsageError(f"--table_from={FLAGS.table_from}: not a readable speed.json "
                                 f"({type(e).__name__}: {e})") from e
        print(table)
        if FLAGS.output_dir:
            Path(FLAGS.output_dir).mkdir(parents=True, exist_ok=True)
            draw(chart, Path(FLAGS.output_dir))
        return 0
    if not FLAGS.output_dir:
        raise app.UsageError("--output_dir is required (or --table_from=speed.json to print a table)")
    if not FLAGS.time_tracker and not FLAGS.accuracy_root and not FLAGS.compare_presets:
        raise app.UsageError("--notime_tracker leaves nothing to do without --accuracy_root or --compare_presets")
    if FLAGS.compare_batch_init < 0 or (FLAGS.compare_batch_init and not FLAGS.compare_presets):
        raise app.UsageError(f"--compare_batch_init={FLAGS.compare_batch_init}: needs --compare_presets and a "
                             "batch size >= 1 (0: off)")
    try:
        compared = {p: get_config(p, [f"backbone_dtype={FLAGS.dtype}"]) for p in FLAGS.compare_presets or []}
    except ValueError as e:
        raise app.UsageError(f"--compare_presets: {e}") from e
    cfg = get_config("code", [f"backbone_dtype={FLAGS.dtype}"])
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m experiments.speed " + " ".join(sys.argv[1:])
    data = {"command": command}

    def save(part: dict | None = None):  # after every part, atomically: a run cut off keeps what it measured
        current = {**data, **(part or {})}
        write_text_atomic(out / "speed.json", json.dumps(current, indent=2) + "\n")
        draw(speed_chart(current), out)

    if FLAGS.time_tracker:
        seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE).truncated(FLAGS.max_frames)
        with tempfile.TemporaryDirectory() as tmp:
            if FLAGS.frame_size:
                seq = resized_copy(seq, FLAGS.frame_size, Path(tmp))
            data.update(measure(params, seq, cfg, tuple(int(b) for b in FLAGS.batch_sizes), FLAGS.repeats,
                                log=stderr_log, checkpoint=save))
    else:
        data.update(device_info())
    save()
    if compared:
        seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE).truncated(FLAGS.max_frames)
        data["preset_costs"] = preset_costs(params, seq, compared, FLAGS.compare_rounds, log=stderr_log)
        save()
        if FLAGS.compare_batch_init > 0:
            data["batch_init_costs"] = batch_init_costs(params, seq, compared, FLAGS.compare_batch_init,
                                                        FLAGS.compare_rounds, log=stderr_log)
            save()
    if FLAGS.accuracy_root:
        sequences = [q.truncated(FLAGS.accuracy_max_frames) for q in load_sequences("otb", Path(FLAGS.accuracy_root))]
        data["bfloat16_change"] = dtype_accuracy_change(
            params, sequences, cfg, log=stderr_log, checkpoint=lambda partial: save({"bfloat16_change": partial}))
        save()
    print(markdown_table(data))
    return 0


if __name__ == "__main__":
    run_main(main)
