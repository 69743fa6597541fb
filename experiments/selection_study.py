"""Feature-map selection study on first frames: Figure-1(c)-style PNG, energy in box, Hessian methods.

    python -m experiments.selection_study --sequence=../shared/data/OTB/Crossing --output_dir=out/study
    python -m experiments.selection_study --sequence=../shared/data/OTB/Crossing,../shared/data/OTB/Deer \
        --output_dir=out/study

Writes ``<output_dir>/<Seq>_selection.png`` and ``<Seq>_selection.json`` per sequence and
``summary.json`` + ``summary.md``; prints the tables. On the 8 dev OTB sequences the selected
channels hold more of the feature energy inside the target box than all 512 do (WORKSPACE.md has
the table); `hvp_probes` agrees with `closed_form` to float32 round-off and `hutchinson` does not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_list("sequence", None, "sequence folder(s), comma-separated (default: the bundled demo)")
flags.DEFINE_string("output_dir", "out/selection_study", "where the PNG and JSON files go")
flags.DEFINE_string("preset", "code", "config preset: code | paper")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable)")
flags.DEFINE_list("methods", "closed_form,hvp_probes,hutchinson,exact_deletion", "Hessian methods to run")
flags.DEFINE_integer("hutchinson_probes", 64, "Rademacher probes for the Hutchinson estimator")
flags.DEFINE_integer("chunk", 64, "HVP probes evaluated at once (memory ~ chunk x 46x46x512 floats)")
flags.DEFINE_integer("seed", 0, "PRNG seed")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import jax

    from fcnt_jax import backbone, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import DEMO_SEQUENCE, SequenceError, open_sequence
    from fcnt_jax.eval.report import save_png
    from fcnt_jax.files import write_text_atomic
    from fcnt_jax.selection_study import format_table, run_study

    cfg = get_config(FLAGS.preset, FLAGS.set)
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))
    paths = FLAGS.sequence or [str(DEMO_SEQUENCE)]
    results, failures = {}, {}
    print(f"device: {jax.devices()[0].device_kind}; preset {cfg.preset}; methods {FLAGS.methods}", flush=True)
    for i, path in enumerate(paths, 1):
        try:
            seq = open_sequence(path)
            with seq.frames(stop=1) as frames:
                frame = next(iter(frames))
            res, figure = run_study(params, frame, seq.init_box, cfg, jax.random.PRNGKey(FLAGS.seed),
                                    tuple(FLAGS.methods), FLAGS.hutchinson_probes, FLAGS.chunk)
        except (SequenceError, ValueError) as e:
            failures[path] = str(e)
            print(f"[{i}/{len(paths)}] {path}: FAILED: {e}", file=sys.stderr, flush=True)
            continue
        res["device"] = jax.devices()[0].device_kind
        results[seq.name] = res
        save_png(figure, out / f"{seq.name}_selection.png")
        write_text_atomic(out / f"{seq.name}_selection.json", json.dumps(res, indent=2))
        print(f"[{i}/{len(paths)}] {seq.name}: done", flush=True)
    table = format_table(results)
    print(table)
    write_text_atomic(out / "summary.json",
                      json.dumps({"results": results, "failures": failures, "config": cfg.to_dict()}, indent=2))
    write_text_atomic(out / "summary.md", table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
