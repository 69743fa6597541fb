"""How much of a heat map's implied size comes from the target and how much from the box it was
cropped for (fcnt_jax.eval.map_shape.scale_response): the question behind both rejected
map-spread size fixes (size_from_snet_map, size_vote).

    python -m experiments.scale_response --otb_root=../shared/data/OTB --analysis_root=../shared/data/OTB_analysis \
        --frames=1,31,61,91 --output_dir=experiments/results/scale_response

On each listed frame the truth box is scaled by each of ``--factors`` (default 0.8 ... 1.25; same
centre), the ROI cropped for it as the tracker would, and each net's implied size and raw peak
read there. Slope of log(implied) on log(factor): 0 = the size comes from the target alone, 1 =
from the box alone. Where each net's raw peak is highest over the factors (frames after the
first) is the signal a crop-scale search would follow. Heads as trained on frame 1 (GNet never
changes; SNet's online updates are not in it). Writes ``<Seq>.json`` and ``scale_response.md`` /
``.json``. ~30 s a sequence here (2-core CPU) with 5 factors and 4 frames. What it showed:
WORKSPACE.md, "The size vote" (the peak: its last paragraph).
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import flags

from experiments import run_main, sequence_folders

flags.DEFINE_string("otb_root", "../shared/data/OTB", "folder of OTB sequences ('' to skip)")
flags.DEFINE_string("analysis_root", "../shared/data/OTB_analysis", "second folder of sequences ('' to skip)")
flags.DEFINE_list("sequences", [], "only these sequence names (default: every dev sequence)")
flags.DEFINE_list("frames", ["1", "31", "61", "91"], "1-based frames to measure on")
flags.DEFINE_list("factors", ["0.8", "0.9", "1.0", "1.1", "1.25"], "box scale factors around the truth (1.0 among them)")
flags.DEFINE_string("preset", "fcnt_plus", "config preset")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from absl import app

    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import SequenceError, open_sequence
    from fcnt_jax.eval.map_shape import (peak_best_factors, peak_lines, response_lines, scale_response,
                                         summarise_response)
    from fcnt_jax.run import stderr_log, write_text_atomic

    try:
        frame_numbers = [int(f) for f in FLAGS.frames]
    except ValueError as e:
        raise app.UsageError(f"--frames: expected 1-based frame numbers, got {FLAGS.frames}") from e
    if not frame_numbers or min(frame_numbers) < 1:
        raise app.UsageError(f"--frames: expected 1-based frame numbers, got {FLAGS.frames}")
    try:
        factors = tuple(float(f) for f in FLAGS.factors)
    except ValueError as e:
        raise app.UsageError(f"--factors: expected numbers, got {FLAGS.factors}") from e
    if 1.0 not in factors or min(factors) <= 0:
        raise app.UsageError(f"--factors: expected positive factors with 1.0 among them, got {FLAGS.factors}")
    cfg = get_config(FLAGS.preset)
    folders = sequence_folders([FLAGS.otb_root, FLAGS.analysis_root], FLAGS.sequences)
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    summaries, best_peaks, failed = {}, {}, False
    for path in folders:
        try:
            seq = open_sequence(path)
            rows = scale_response(params, seq, cfg, frame_numbers, factors, seed=FLAGS.seed, log=stderr_log)
        except (SequenceError, ValueError, OSError) as e:
            stderr_log(f"{path}: skipped: {e}")
            failed = True
            continue
        write_text_atomic(out / f"{seq.name}.json", json.dumps(rows))
        summaries[seq.name] = summarise_response(rows)
        best_peaks[seq.name] = peak_best_factors(rows)
    header = (f"Scale response of the implied size, preset {FLAGS.preset}, seed {FLAGS.seed}, frames "
              f"{','.join(map(str, frame_numbers))} (python -m experiments.scale_response).\n\n")
    text = (header + "\n".join(response_lines(summaries)) + "\n\nWhere each net's raw peak is highest over the "
            "crop factors (frames after the first; the crop-scale search's signal):\n\n"
            + "\n".join(peak_lines(best_peaks, factors)) + "\n")
    write_text_atomic(out / "scale_response.json", json.dumps(
        {"preset": FLAGS.preset, "seed": FLAGS.seed, "frames": frame_numbers, "sequences": summaries,
         "peak_best_factors": best_peaks}, indent=2))
    write_text_atomic(out / "scale_response.md", text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
