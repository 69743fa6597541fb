"""The feature-selection study on a sequence's first frame (issue: "a selection study").

For each layer (conv4_3 and the upsampled conv5_3): train the sel-CNN as the tracker does, compute
the Hessian diagonal by every method at full size (46x46x512) with its time and its error against
the closed form, rank channels by saliency for each method and for both signs, and measure how
much of the feature energy falls inside the target box, all 512 maps vs the K selected. Also
renders a picture in the spirit of the paper's Figure 1(c).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from fcnt_jax import backbone, geometry, heatmap, selection, viz
from fcnt_jax.config import FCNTConfig
from fcnt_jax.selection.analysis import box_mask

LAYERS = ("conv4_3", "conv5_3")


def _timed(fn, *args, repeats: int = 3) -> tuple[Any, float, float]:
    """(result, compile+first-run seconds, best of ``repeats`` later runs)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return out, first, best


def energy_inside(features: np.ndarray, mask: np.ndarray) -> float:
    energy = np.sum(np.asarray(features, np.float64) ** 2, axis=-1)
    return float(energy[mask].sum() / max(energy.sum(), 1e-30))


def run_study(vgg_params, frame: np.ndarray, box: np.ndarray, cfg: FCNTConfig, key: jax.Array,
              methods=selection.HESSIAN_METHODS, hutchinson_probes: int = 64, chunk: int = 64,
              repeats: int = 3) -> tuple[dict, Image.Image]:
    """Numbers (a JSON-able dict) and the figure for one first frame."""
    sel = cfg.selection
    box = jnp.asarray(box, jnp.float32)
    roi = geometry.roi_for_box(box, cfg.roi.roi_scale)
    crop = geometry.crop_roi(jnp.asarray(frame), roi, cfg.roi.roi_size)
    feats = jax.jit(backbone.features)(vgg_params, crop[None])
    target = heatmap.target_map(box, roi, cfg.roi.grid, cfg.roi.roi_size, cfg.roi.map_sigma_factor,
                                jnp.asarray(frame.shape[:2], jnp.float32))
    mask = box_mask(box, roi, cfg)
    train = jax.jit(selection.train_selcnn, static_argnums=(4, 5))
    result: dict[str, Any] = {"box_cells": int(mask.sum()), "num_channels": sel.num_channels, "layers": {}}
    rows = []
    crop_img = viz.draw_box(viz.to_image(np.clip(np.asarray(crop), 0, 255)),
                            np.asarray(geometry.box_to_roi(box, roi, cfg.roi.roi_size)), (0, 255, 0))
    for li, layer in enumerate(LAYERS):
        f = feats[layer][0]
        layer_key = jax.random.fold_in(key, li)
        params = selection.init_selcnn(jax.random.fold_in(layer_key, 0), f.shape[-1], sel)
        params, losses = train(params, f, target, jax.random.fold_in(layer_key, 1), sel, layer)
        info: dict[str, Any] = {"selcnn_loss_first": float(losses[0]), "selcnn_loss_last": float(losses[-1]),
                                "methods": {}}
        reference_h = None
        selected = {}
        for method in methods:
            probe_key = jax.random.fold_in(layer_key, 2)
            if method == "exact_deletion":
                fn = jax.jit(selection.deletion_quadratic_term)
                _, first, best = _timed(fn, params, f, repeats=repeats)
                err = None
            else:
                fn = jax.jit(functools.partial(selection.hessian_diagonal, method=method,
                                               num_probes=hutchinson_probes, chunk=chunk))
                h, first, best = _timed(functools.partial(fn, key=probe_key), params, f, target, repeats=repeats)
                if method == "closed_form":
                    reference_h = h
                err = None if reference_h is None else float(
                    jnp.max(jnp.abs(h - reference_h) / jnp.maximum(jnp.abs(reference_h), 1e-30)))
            scores = selection.saliency(params, f, target, sel.hessian_sign, method, probe_key,
                                        hutchinson_probes, chunk)
            selected[method] = np.asarray(selection.top_k_channels(scores, sel.num_channels))
            info["methods"][method] = {"first_call_s": first, "seconds": best, "max_rel_error_vs_closed_form": err}
        base = set(selected.get("closed_form", next(iter(selected.values()))).tolist())
        for method, idx in selected.items():
            info["methods"][method]["selected_changed_vs_closed_form"] = sel.num_channels - len(base & set(idx.tolist()))
        other_sign = selection.saliency(params, f, target, -sel.hessian_sign, "closed_form")
        other_idx = set(np.asarray(selection.top_k_channels(other_sign, sel.num_channels)).tolist())
        info["selected_changed_by_sign"] = sel.num_channels - len(base & other_idx)
        chosen = np.asarray(sorted(base))
        f_np = np.asarray(f)
        info["energy_inside_all"] = energy_inside(f_np, mask)
        info["energy_inside_selected"] = energy_inside(f_np[..., chosen], mask)
        result["layers"][layer] = info
        panel = 4 * cfg.roi.grid
        rows.append([
            (f"{layer}: ROI + box", crop_img.resize((panel, panel), Image.BILINEAR)),
            ("target map M", viz.to_image(viz.colorize(np.asarray(target)), panel)),
            (f"mean of all {f.shape[-1]} maps", viz.to_image(viz.colorize(f_np.mean(-1)), panel)),
            (f"mean of {sel.num_channels} selected", viz.to_image(viz.colorize(f_np[..., chosen].mean(-1)), panel)),
        ])
    figure = viz.panel_grid(rows, title=f"feature-map selection ({cfg.preset} preset, sign {sel.hessian_sign:+.0f})")
    return result, figure


def format_table(per_sequence: dict[str, dict]) -> str:
    """Markdown tables: energy inside the box, method timings/errors, selection changes."""
    lines = ["| sequence | layer | energy in box, all 512 | energy in box, selected | changed by sign |",
             "|---|---|---|---|---|"]
    for name, res in per_sequence.items():
        for layer, info in res["layers"].items():
            lines.append(f"| {name} | {layer} | {info['energy_inside_all']:.3f} | {info['energy_inside_selected']:.3f} "
                         f"| {info['selected_changed_by_sign']} |")
    lines += ["", "| sequence | layer | method | seconds | max rel. error vs closed_form | selected changed |",
              "|---|---|---|---|---|---|"]
    for name, res in per_sequence.items():
        for layer, info in res["layers"].items():
            for method, m in info["methods"].items():
                err = "n/a (not a diagonal)" if m["max_rel_error_vs_closed_form"] is None else f"{m['max_rel_error_vs_closed_form']:.2e}"
                lines.append(f"| {name} | {layer} | {method} | {m['seconds']:.4f} | {err} | {m['selected_changed_vs_closed_form']} |")
    return "\n".join(lines)
