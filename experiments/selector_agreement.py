"""How the selectors rank one real first frame: time, agreement with the saliency, learned fits.

    python -m experiments.selector_agreement --output_dir=experiments/results/selector_agreement

For each sequence's first frame (default: OTB Crossing), both layers and every ``selection.method``
(with optional ``--set`` overrides, e.g. ``--set=selection.gate_l1=0.1``): the selector's time
(second call, compiled), how many of its top 384 / top 64 channels the saliency's top 384 / 64
share (a random K shares 288 / 8 on average), the mean target activation of its top 64 beside the
layer's mean, and for gates / perturbed_topk the training loss (first -> last) against M's mean
square. No tracking: this says whether a selector finds target channels at all, cheaply; the
judge is experiments.selectors. Writes ``agreement.md`` and ``agreement.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from absl import flags

from experiments import run_main

from fcnt_jax.config import SELECTION_METHODS

flags.DEFINE_list("sequences", ["../shared/data/OTB/Crossing"], "sequence folders (their first frame)")
flags.DEFINE_list("methods", list(SELECTION_METHODS), "selection.method values")
flags.DEFINE_multi_string("set", [], "config override section.field=value (repeatable), for every method")
flags.DEFINE_integer("seed", 1, "PRNG seed")
flags.DEFINE_string("output_dir", None, "where agreement.md/json go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import jax
    import jax.numpy as jnp
    import numpy as np

    from fcnt_jax import backbone, geometry, selection, tracker, weights
    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.data.sequence import load_frame
    from fcnt_jax.run import ensure_writable_dir, stderr_log, write_text_atomic
    from fcnt_jax.selection import selectors

    out = ensure_writable_dir(Path(FLAGS.output_dir))  # before the work, not after it
    params = backbone.to_device_params(weights.load_vgg16_params())
    select = jax.jit(selection.select_channels, static_argnums=(3, 4))
    trainers = {"gates": jax.jit(selectors.train_gates, static_argnums=3),
                "perturbed_topk": jax.jit(selectors.train_perturbed_topk, static_argnums=3)}
    key = jax.random.PRNGKey(FLAGS.seed)
    rows, lines = [], [("| sequence | layer | method | s | top-384 shared | top-64 shared | target act. top 64 / all | "
                       "learned loss (M's mean square) |"), "|---|---|---|---|---|---|---|---|"]
    for path in FLAGS.sequences:
        seq = open_sequence(path)
        cfg = get_config("code", FLAGS.set)
        frame = jnp.asarray(load_frame(seq.frame_paths[0]))
        box = jnp.asarray(seq.init_box, jnp.float32)
        hw = jnp.asarray(frame.shape[:2], jnp.float32)
        roi = geometry.roi_for_box(box, cfg.roi.roi_scale)
        conv4, conv5 = jax.jit(tracker._features, static_argnums=4)(params, frame, roi, hw, cfg)
        target = tracker._map_for(box, roi, hw, cfg)
        for layer, f in (("conv4_3", conv4), ("conv5_3", conv5)):
            activation = np.asarray(jnp.einsum("hw,hwc->c", target, f))
            reference = None
            for method in ["saliency"] + [m for m in FLAGS.methods if m != "saliency"]:
                sel = get_config("code", FLAGS.set + [f"selection.method={method}"]).selection
                select(f, target, key, sel, layer)[1].block_until_ready()  # compile
                t0 = time.perf_counter()
                _, scores = select(f, target, key, sel, layer)
                scores = np.asarray(scores)
                seconds = time.perf_counter() - t0
                order = np.argsort(-scores, kind="stable")
                if reference is None:
                    reference = order
                row = {"sequence": seq.name, "layer": layer, "method": method, "seconds": seconds,
                       "shared_384": len(set(order[:384]) & set(reference[:384])),
                       "shared_64": len(set(order[:64]) & set(reference[:64])),
                       "target_activation_top64": float(activation[order[:64]].mean()),
                       "target_activation_all": float(activation.mean())}
                loss = ""
                if method in trainers:
                    _, losses = trainers[method](f, target, key, sel)
                    row["loss_first"], row["loss_last"] = float(losses[0]), float(np.mean(losses[-10:]))
                    row["target_mean_square"] = float(jnp.mean(target**2))
                    loss = f"{row['loss_first']:.4f} -> {row['loss_last']:.4f} ({row['target_mean_square']:.4f})"
                rows.append(row)
                lines.append(f"| {seq.name} | {layer} | {method} | {seconds:.2f} | {row['shared_384']} | {row['shared_64']} | "
                             f"{row['target_activation_top64']:.0f} / {row['target_activation_all']:.0f} | {loss} |")
                stderr_log(lines[-1])
    header = f"Selector agreement on first frames (code preset, overrides {FLAGS.set or 'none'}, seed {FLAGS.seed}).\n\n"
    write_text_atomic(out / "agreement.md", header + "\n".join(lines) + "\n")
    write_text_atomic(out / "agreement.json", json.dumps({"overrides": FLAGS.set, "seed": FLAGS.seed, "rows": rows},
                                                         indent=2))
    print(header + "\n".join(lines))
    return 0


if __name__ == "__main__":
    run_main(main)
