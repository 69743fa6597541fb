"""Does GNet see a distracter on the very frame it was trained on? Per dev sequence and seed:
P_d of GNet's map of the first frame at the given box after the preset's first-frame training
(fcnt_jax.eval.first_frame), and whether the test fires, the trigger of
``heads.gnet_underfit_iterations`` (fcnt_plus's gnet_refit fix; the default preset here is the one
before it, whose GNet is the 50-iteration one the trigger tests).

    python -m experiments.first_frame_fit --seeds=0,1,2 --output_dir=experiments/results/first_frame_fit

Writes ``first_frame_fit.md`` / ``.json``. ~10 s a sequence and seed here (2-core CPU). What it
showed: WORKSPACE.md, "GNet refitted where it sees a distracter on its own frame".
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import flags

from experiments import run_main, sequence_folders

flags.DEFINE_string("otb_root", "../shared/data/OTB", "folder of OTB sequences ('' to skip)")
flags.DEFINE_string("analysis_root", "../shared/data/OTB_analysis", "second folder of sequences ('' to skip)")
flags.DEFINE_list("sequences", [], "only these sequence names (default: every one)")
flags.DEFINE_list("seeds", ["0", "1", "2"], "PRNG seeds")
flags.DEFINE_string("preset", "fcnt_plus_no_gnet_refit_no_scale_filter", "config preset whose first-frame GNet is tested")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from absl import app

    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import SequenceError, open_sequence
    from fcnt_jax.eval.first_frame import first_frame_pd
    from fcnt_jax.run import stderr_log, write_text_atomic

    try:
        seeds = [int(s) for s in FLAGS.seeds]
        cfg = get_config(FLAGS.preset)
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    folders = sequence_folders([FLAGS.otb_root, FLAGS.analysis_root], FLAGS.sequences)
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    ratio = cfg.localization.distracter_ratio
    results, failed = {}, False
    lines = [f"| sequence | {' | '.join(f'P_d, seed {s}' for s in seeds)} | fires (P_d >= {ratio}) |",
             "|---|" + "---|" * len(seeds) + "---|"]
    for path in folders:
        try:
            seq = open_sequence(path)
            per_seed = first_frame_pd(params, seq, cfg, seeds)
        except (SequenceError, ValueError, OSError) as e:
            stderr_log(f"{path}: skipped: {e}")
            failed = True
            continue
        results[seq.name] = per_seed
        fired = [str(s) for s, r in per_seed.items() if r["fires"]]
        pds = " | ".join(f"{per_seed[s]['pd']:.3f}" for s in seeds)
        lines.append(f"| {seq.name} | {pds} "
                     f"| {'seeds ' + ', '.join(fired) if fired else 'no'} |")
        stderr_log(f"{seq.name}: " + ", ".join(f"seed {s} P_d {r['pd']:.3f}" for s, r in per_seed.items()))
    text = (f"GNet's distracter test on its own first frame, preset {FLAGS.preset} "
            f"(python -m experiments.first_frame_fit).\n\n" + "\n".join(lines) + "\n")
    write_text_atomic(out / "first_frame_fit.json", json.dumps(
        {"preset": FLAGS.preset, "seeds": seeds, "distracter_ratio": ratio, "sequences": results}, indent=2))
    write_text_atomic(out / "first_frame_fit.md", text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
