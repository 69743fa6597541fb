"""Track one sequence with FCNT (placeholder until the tracker lands: extracts first-frame features).

    python -m experiments.track --output_dir=out/demo
"""

from __future__ import annotations

import time

from absl import app, flags

flags.DEFINE_string("sequence", None, "sequence folder (default: the bundled Crossing demo)")
FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", "out", "where results go")


def main(argv):
    del argv
    import jax
    import jax.numpy as jnp

    from fcnt_jax import backbone, geometry, weights
    from fcnt_jax.data import DEMO_SEQUENCE, open_sequence

    seq = open_sequence(FLAGS.sequence or DEMO_SEQUENCE)
    params = backbone.to_device_params(weights.load_vgg16_params())
    with seq.frames(stop=1) as frames:
        frame = next(iter(frames))
    start = time.perf_counter()
    roi = geometry.roi_for_box(jnp.asarray(seq.init_box, jnp.float32))
    feats = jax.jit(lambda p, f, r: backbone.features(p, geometry.crop_roi(f, r)[None]))(params, frame, roi)
    jax.block_until_ready(feats)
    print(f"{seq.name}: {len(seq)} frames; first-frame features " +
          ", ".join(f"{k} {tuple(v.shape)}" for k, v in feats.items()) +
          f" in {time.perf_counter() - start:.2f} s. Tracking itself is not built yet (issue 4).")


if __name__ == "__main__":
    app.run(main)
