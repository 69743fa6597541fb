"""Which 'same' convolution is fastest where FCNT uses one: the choice behind ``selection.conv_same``.

    python -m experiments.conv_impl --output_dir=experiments/results/conv_impl_cpu

Times, for each implementation ("xla", "shifted", "rows", "taps", and "auto", the SGD loops' rule),
the tracker's convolution workloads at their real sizes: SGD steps as a ``lax.scan`` (the discrimination update: GNet/SNet on a batch of
two 46x46x384 maps; the first-frame training: one map; the sel-CNN: 3x3 on 512 channels with
dropout) and the heads' forward pass outside any loop. Prints a table of seconds per call and the
ratio to the fastest, and writes <output_dir>/conv_impl.json. Expected on the 2-core CPU: "auto"
(rows for the heads' conv1, taps for single-output kernels) within a few percent of the fastest
in every SGD loop, ~2x faster than "shifted" alone and ~35x faster than "xla" in the head SGD loops
(WORKSPACE.md, "CPU convolutions"); outside loops "taps" is the fastest forward (the tracker's
choice on CPU). Last, the two heads' forward in one jit, independent against sequenced with
``tracker.after`` (~25% faster on CPU).

    python -m experiments.conv_impl --vgg_layers --output_dir=experiments/results/conv_impl_vgg

instead times each of VGG-16's 13 convolutions at its size for a 368x368 crop, as XLA's
convolution and as the "rows" / "taps" matmul forms, in float32 and in bfloat16 (float32
accumulation, default precision), and prints GFLOP/s per layer: which formulation a CPU's matrix
units favour where (WORKSPACE "CPU convolutions").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from absl import flags

from experiments import run_main

flags.DEFINE_list("impls", ["xla", "shifted", "rows", "taps", "auto"],
                  "implementations to compare (auto: the default in SGD loops)")
flags.DEFINE_integer("steps", 10, "SGD steps per timed call (the discrimination update's count)")
flags.DEFINE_integer("repeats", 3, "timed repetitions (median)")
flags.DEFINE_string("output_dir", None, "where conv_impl.json goes", required=True)
flags.DEFINE_bool("vgg_layers", False, "time VGG-16's 13 convolutions per formulation and dtype instead")
flags.DEFINE_integer("size", 368, "input side for --vgg_layers (the tracker's ROI crop)")
FLAGS = flags.FLAGS


def workloads(steps: int):
    """name -> (make_fn(impl), args): each a jitted call at the tracker's sizes."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax import heads, selection
    from fcnt_jax.config import get_config

    cfg = get_config("code")
    k, grid = cfg.selection.num_channels, cfg.roi.grid
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    head = heads.init_head(keys[0], k, cfg.heads)
    tx = heads.head_optimizer(cfg.heads, "snet")

    def head_training(batch):
        feats = jax.random.normal(keys[1], (batch, grid, grid, k))
        maps = jax.random.uniform(keys[2], (batch, grid, grid))

        def make(impl):
            def loss(p, f, m):
                pred = heads.head_apply(p, f, False, impl)
                return jnp.mean(0.5 * jnp.sum((pred - m) ** 2, axis=(-2, -1)))

            def train(p, f, m):
                def body(carry, _):
                    params, opt = carry
                    grads = jax.grad(loss)(params, f, m)
                    updates, opt = tx.update(grads, opt, params)
                    return (jax.tree.map(jnp.add, params, updates), opt), None
                return jax.lax.scan(body, (p, tx.init(p)), None, length=steps)[0]
            return jax.jit(train)
        return make, (head, feats, maps)

    def selcnn_training():
        feats = jax.random.normal(keys[1], (grid, grid, 512))
        target = jax.random.uniform(keys[2], (grid, grid))
        sel = selection.init_selcnn(keys[3], 512, cfg.selection)

        def make(impl):
            def loss(p, f, m, key):
                pred = selection.conv_same(selection.dropout(f, 0.3, key), p["w"], impl)[..., 0] + p["b"][0]
                return 0.5 * jnp.sum((pred - m) ** 2)

            def train(p, f, m):
                def body(params, i):
                    grads = jax.grad(loss)(params, f, m, jax.random.fold_in(keys[0], i))
                    return jax.tree.map(lambda a, g: a - 1e-10 * g, params, grads), None
                return jax.lax.scan(body, p, jnp.arange(steps))[0]
            return jax.jit(train)
        return make, (sel, feats, target)

    def head_forward():
        feats = jax.random.normal(keys[1], (grid, grid, k))
        return (lambda impl: jax.jit(lambda p, f: heads.head_apply(p, f, False, impl))), (head, feats)

    return {
        f"head SGD x{steps}, batch 2 (discrimination)": head_training(2),
        f"head SGD x{steps}, batch 1 (first frame)": head_training(1),
        f"sel-CNN SGD x{steps} (3x3, 512 ch, dropout)": selcnn_training(),
        "head forward (outside loops)": head_forward(),
    }


def two_heads(repeats: int) -> dict[str, float]:
    """GNet's and SNet's forward in one jitted function (the tracker's per-frame heads, backend's
    forward convolution): independent, as XLA schedules them, and sequenced with
    ``tracker.after`` (what the tracker does). Seconds per call."""
    import jax

    from fcnt_jax import heads, selection, tracker
    from fcnt_jax.config import get_config
    from fcnt_jax.speed import time_call

    cfg = get_config("code")
    k, grid = cfg.selection.num_channels, cfg.roi.grid
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    g, s = heads.init_head(keys[0], k, cfg.heads), heads.init_head(keys[1], k, cfg.heads)
    fg, fs = (jax.random.normal(key, (grid, grid, k)) for key in keys[2:])
    impl = selection.forward_conv_impl()

    def independent(g, s, fg, fs):
        return heads.head_apply(g, fg, False, impl), heads.head_apply(s, fs, False, impl)

    def sequenced(g, s, fg, fs):
        g_out = heads.head_apply(g, fg, False, impl)
        return g_out, heads.head_apply(s, tracker.after(fs, g_out), False, impl)

    return {name: time_call(jax.jit(fn), g, s, fg, fs, repeats=repeats)
            for name, fn in (("independent", independent), ("sequenced (tracker.after)", sequenced))}


VGG_FORMS = ("xla float32", "rows float32", "taps float32", "xla bfloat16", "rows bfloat16")


def vgg_layer_rates(size: int, repeats: int, log) -> list[dict]:
    """GFLOP/s of each VGG-16 convolution at its size, per formulation and dtype (2 FLOPs per
    multiply-add over all 9 taps, the same count for every form). Layers of equal shape are
    timed once."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax.backbone import _POOL_AFTER
    from fcnt_jax.conv import conv_same, low_precision_rows
    from fcnt_jax.speed import time_call
    from fcnt_jax.weights import LAYERS

    def xla(dtype):
        return lambda x, w: jax.lax.conv_general_dilated(
            x.astype(dtype), w.astype(dtype), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
            preferred_element_type=jnp.float32)

    forms = {"xla float32": xla(jnp.float32), "rows float32": lambda x, w: conv_same(x, w, "rows"),
             "taps float32": lambda x, w: conv_same(x, w, "taps"), "xla bfloat16": xla(jnp.bfloat16),
             "rows bfloat16": lambda x, w: low_precision_rows(x, w, jnp.bfloat16)}
    rows, seen, h = [], {}, size
    for name, c_in, c_out in LAYERS:
        shape = (h, c_in, c_out)
        if shape not in seen:
            x = jax.random.normal(jax.random.PRNGKey(0), (1, h, h, c_in))
            w = 0.05 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, c_in, c_out))
            gflop = 2 * h * h * 9 * c_in * c_out / 1e9
            seen[shape] = {form: gflop / time_call(jax.jit(fn), x, w, repeats=repeats) for form, fn in forms.items()}
        rows.append({"layer": name, "hw": h, "c_in": c_in, "c_out": c_out, "gflops": seen[shape]})
        log(f"{name} {h}x{h}x{c_in}->{c_out}: " + ", ".join(f"{k} {v:.0f}" for k, v in seen[shape].items()))
        if name in _POOL_AFTER:
            h //= 2
    return rows


def main(argv):
    del argv
    import jax

    from fcnt_jax.run import ensure_writable_dir, stderr_log, write_text_atomic
    from fcnt_jax.speed import time_call

    out = ensure_writable_dir(Path(FLAGS.output_dir))
    if FLAGS.vgg_layers:
        rows = vgg_layer_rates(FLAGS.size, FLAGS.repeats, stderr_log)
        data = {"device": jax.devices()[0].device_kind, "platform": jax.default_backend(), "size": FLAGS.size,
                "gflops_per_layer": rows, "command": "python -m experiments.conv_impl " + " ".join(sys.argv[1:])}
        write_text_atomic(out / "conv_impl.json", json.dumps(data, indent=2) + "\n")
        print(f"device: {data['device']} ({data['platform']}), GFLOP/s per VGG-16 convolution at {FLAGS.size}x{FLAGS.size}")
        print("| layer | shape | " + " | ".join(VGG_FORMS) + " |")
        print("|---|---|" + "---|" * len(VGG_FORMS))
        for r in rows:
            print(f"| {r['layer']} | {r['hw']}x{r['hw']}x{r['c_in']}->{r['c_out']} | "
                  + " | ".join(f"{r['gflops'][f]:.0f}" for f in VGG_FORMS) + " |")
        return 0
    table: dict[str, dict[str, float]] = {}
    for name, (make, args) in workloads(FLAGS.steps).items():
        table[name] = {}
        for impl in FLAGS.impls:
            stderr_log(f"{name}: {impl} ...")
            table[name][impl] = time_call(make(impl), *args, repeats=FLAGS.repeats)
    stderr_log("two heads' forward: independent / sequenced ...")
    pair = two_heads(max(FLAGS.repeats, 5))
    data = {"device": jax.devices()[0].device_kind, "platform": jax.default_backend(), "steps": FLAGS.steps,
            "seconds_per_call": table, "two_heads_forward_s": pair,
            "command": "python -m experiments.conv_impl " + " ".join(sys.argv[1:])}
    write_text_atomic(out / "conv_impl.json", json.dumps(data, indent=2) + "\n")
    print(f"device: {data['device']} ({data['platform']})")
    print("| workload | " + " | ".join(f"{i} s (x fastest)" for i in FLAGS.impls) + " |")
    print("|---|" + "---|" * len(FLAGS.impls))
    for name, row in table.items():
        best = min(row.values())
        print(f"| {name} | " + " | ".join(f"{row[i]:.3f} ({row[i] / best:.2f})" for i in FLAGS.impls) + " |")
    print("\n| GNet + SNet forward in one jit | s per call |\n|---|---|")
    for name, sec in pair.items():
        print(f"| {name} | {sec:.4f} |")
    return 0


if __name__ == "__main__":
    run_main(main)
