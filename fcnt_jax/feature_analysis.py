"""The paper's Section 3 analyses run on real sequences: figures, numbers and Table 1 beside the paper's.

``run_feature_analysis`` is what ``experiments/feature_analysis.py`` calls. Protocol (the paper's
where it gives one, ours where it does not, each marked):

- Images: frames of real OTB sequences, each seen through the tracker's ROI crop with its
  ground-truth box as the foreground mask (:mod:`fcnt_jax.selection.analysis`). Faces: 5
  identities, one per sequence (Boy, David, Freeman1, Girl, Surfer; the paper: 6 identities, 1800
  images). Non-faces: 7 objects (Car4, Coke, Deer, Dog1, Lemming, MotorRolling, Tiger1; the
  paper: 2000 images). Ours: the first ``max_frames`` frames of each, every ``stride``-th.
- Observation 1 and 2 (Fig. 2, 3): the first frame of every sequence given.
- Fig. 4: codes from a sequence's first image, applied unchanged to its later images and to the
  first images of the other sequences of its class and of the other class.
- Table 1, experiment 1 (eq. 2): codes from one image each of three identities (the paper: "three
  face images belonging to three identities"; ours: the first image of the first three identities
  by name); every other image is a test image; the threshold on the error is chosen on half of
  the test images and scored on the other half, both ways (the paper: "a predefined threshold").
- Table 1, experiment 2 (eq. 3): a code per identity from its first ``train_per_identity`` images
  (the paper: 20), pooled; the identity's later images are the test images.
- ``lam`` of eq. (1) is not given in the paper: results are reported at several fractions of
  ``lam_max`` (the smallest lam giving c = 0); ``headline_lam_ratio`` is the one in Table 1.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import jax.numpy as jnp
import numpy as np
from PIL import Image

from fcnt_jax import viz
from fcnt_jax.config import FCNTConfig
from fcnt_jax.data import Sequence
from fcnt_jax.selection import analysis as A
from fcnt_jax.selection import sparse_coding as SC

FACES = ("Boy", "David", "Freeman1", "Girl", "Surfer")
NON_FACES = ("Car4", "Coke", "Deer", "Dog1", "Lemming", "MotorRolling", "Tiger1")
# Table 1 [P §3]: (experiment 1: face vs non-face, experiment 2: identity), accuracy in %.
PAPER_TABLE1 = {"conv4_3": (76.42, 83.83), "conv5_3": (89.56, 57.28)}


@dataclasses.dataclass
class AnalysedImage:
    """One analysed image: where it came from and its Gram statistics per layer."""

    sequence: str
    frame: int  # 1-based within the sequence
    is_face: bool
    grams: dict[str, SC.Gram]


def sample_frames(seq: Sequence, max_frames: int, stride: int) -> list[int]:
    """0-based frame indices: the first ``max_frames`` frames, every ``stride``-th, with a valid box."""
    n = min(len(seq), max_frames)
    gt = seq.groundtruth
    return [i for i in range(0, n, stride) if gt is None or (np.isfinite(gt[i]).all() and (gt[i][2:] > 0).all())]


def decode(seq: Sequence, indices: list[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a sequence, decoded in one pass (the prefetch thread streams them)."""
    wanted, out = set(indices), {}
    with seq.frames(stop=max(indices) + 1) as frames:
        for i, frame in enumerate(frames):
            if i in wanted:
                out[i] = frame
    return out


def _panel(array: np.ndarray, size: int, vmax: float | None = None) -> Image.Image:
    return viz.to_image(viz.colorize(array, 0.0, vmax), size)


def _crop_panel(view: A.RoiView, size: int) -> Image.Image:
    image = viz.to_image(np.clip(view.crop, 0, 255))
    return viz.draw_box(image, view.box_roi, (0, 255, 0)).resize((size, size), Image.BILINEAR)


def fig2(name: str, view: A.RoiView, obs: dict, size: int = 184) -> Image.Image:
    rows = []
    for layer in A.LAYERS:
        o = obs[layer]
        rows.append([(f"{name} ROI + box", _crop_panel(view, size)),
                     (f"{layer} map {o['channel']}: {o['activation_inside']:.0%} in box", _panel(o["activation_map"], size)),
                     (f"its saliency: {o['saliency_inside']:.0%} in box", _panel(o["saliency_map"], size))])
    return viz.panel_grid(rows, title=f"Fig. 2 / Observation 1: the map most active in the box and its input-gradient "
                                      f"saliency (box = {obs['conv4_3']['box_area_share']:.0%} of the ROI)")


def fig4(title: str, columns: list[tuple[str, A.RoiView]], codes: dict[str, jnp.ndarray], size: int = 120) -> Image.Image:
    rows = [[(name, _crop_panel(view, size)) for name, view in columns]]
    for layer, code in codes.items():
        rows.append([(f"{layer} F c", _panel(np.asarray(SC.reconstruct(jnp.asarray(view.features[layer]), code)),
                                             size, vmax=1.0)) for _, view in columns])
    return viz.panel_grid(rows, title=title)


def run_feature_analysis(vgg_params, sequences: dict[str, Sequence], cfg: FCNTConfig, output_dir: Path,
                         max_frames: int = 150, stride: int = 3, train_per_identity: int = 20,
                         lam_ratios: tuple[float, ...] = (0.01, 0.1, 0.3), headline_lam_ratio: float = 0.1,
                         iterations: int = 3000, log: Callable[[str], None] = print) -> dict:
    """Run every analysis; write figures (PNG) to ``output_dir`` and return the numbers."""
    from fcnt_jax.eval.report import line_plot, save_png

    faces = [n for n in FACES if n in sequences]
    others = [n for n in NON_FACES if n in sequences]
    if len(faces) < 3 or not others:
        raise ValueError(f"need >= 3 face sequences ({FACES}) and a non-face one ({NON_FACES}); "
                         f"found {sorted(sequences)}")
    if headline_lam_ratio not in lam_ratios:
        lam_ratios = (*lam_ratios, headline_lam_ratio)
    t0 = time.perf_counter()
    result: dict = {"protocol": {"max_frames": max_frames, "stride": stride, "train_per_identity": train_per_identity,
                                 "lam_ratios": list(lam_ratios), "headline_lam_ratio": headline_lam_ratio,
                                 "faces": faces, "non_faces": others, "iterations": iterations}}

    # Every image once: Gram statistics for all, features kept for the first images (figures).
    images: list[AnalysedImage] = []
    first_views: dict[str, A.RoiView] = {}
    later_views: dict[str, A.RoiView] = {}
    for k, name in enumerate(sorted(sequences)):
        seq = sequences[name]
        indices = sample_frames(seq, max_frames, stride) if name in faces + others else [0]
        frames = decode(seq, indices)
        for i in indices:
            view = A.roi_view(vgg_params, frames[i], seq.groundtruth[i], cfg)
            if i == indices[0]:
                first_views[name] = view
            elif len(indices) > 2 and i == indices[len(indices) // 2]:
                later_views[name] = view
            if name in faces + others:
                images.append(AnalysedImage(name, i + 1, name in faces, {l: A.layer_gram(view, l) for l in A.LAYERS}))
        log(f"[{k + 1}/{len(sequences)}] {name}: {len(indices)} image(s), {time.perf_counter() - t0:.0f} s")

    # Observation 1 and 2 on every first frame.
    obs1, sums = {}, {layer: [] for layer in A.LAYERS}
    for name, view in first_views.items():
        obs = A.observation1(vgg_params, view)
        obs1[name] = {l: {k: v for k, v in obs[l].items() if not k.endswith("_map")} for l in A.LAYERS}
        for layer in A.LAYERS:
            sums[layer].append(A.box_activation_sums(view.features[layer], view.mask))
        save_png(fig2(name, view, obs), output_dir / f"fig2_{name}.png")
    result["observation1"] = {"per_sequence": obs1, "mean": {
        l: {k: float(np.mean([o[l][k] for o in obs1.values()]))
            for k in ("activation_inside", "saliency_inside", "box_area_share")} for l in A.LAYERS}}
    hist = {}
    for layer in A.LAYERS:
        edges, share = A.activation_histogram(sums[layer])
        shares = [A.small_channel_shares(s) for s in sums[layer]]
        hist[layer] = {"bin_edges": edges.tolist(), "share": share.tolist(),
                       **{k: float(np.mean([s[k] for s in shares])) for k in shares[0]}}
    result["observation2"] = hist
    centres = (np.asarray(hist["conv4_3"]["bin_edges"][:-1]) + np.asarray(hist["conv4_3"]["bin_edges"][1:])) / 2
    save_png(line_plot([(layer, centres, np.asarray(hist[layer]["share"])) for layer in A.LAYERS],
                       f"Fig. 3: box activation of the 512 maps, {len(first_views)} first frames",
                       "activation in the box / the largest map's", "share of maps", (0, 1), legend_loc="upper right"),
             output_dir / "fig3_histogram.png")
    log(f"observations 1-2 done, {time.perf_counter() - t0:.0f} s")

    # Table 1 and Fig. 4, at every lambda.
    by_seq: dict[str, list[AnalysedImage]] = {}
    for im in images:
        by_seq.setdefault(im.sequence, []).append(im)
    exp1_train = [by_seq[n][0] for n in faces[:3]]
    exp1_test = [im for im in images if not any(im is t for t in exp1_train)]
    exp2_train = {n: by_seq[n][:train_per_identity] for n in faces}
    exp2_test = [im for n in faces for im in by_seq[n][train_per_identity:]]
    result["table1_protocol"] = {
        "exp1_training_images": [f"{im.sequence} frame {im.frame}" for im in exp1_train],
        "exp1_test_images": {"faces": sum(im.is_face for im in exp1_test), "non_faces": sum(not im.is_face for im in exp1_test)},
        "exp2_training_images_per_identity": {n: len(v) for n, v in exp2_train.items()},
        "exp2_test_images": len(exp2_test)}
    table: dict = {}
    transfer: dict = {}
    for ratio in lam_ratios:
        key = f"{ratio:g}"
        table[key], transfer[key] = {}, {}
        for layer in A.LAYERS:
            codes1 = [A.fit_code([im.grams[layer]], ratio, iterations) for im in exp1_train]
            e1 = A.min_errors(codes1, A.stack_grams([im.grams[layer] for im in exp1_test]))
            exp1 = A.face_vs_nonface(e1, np.array([im.is_face for im in exp1_test]))
            codes2 = [A.fit_code([im.grams[layer] for im in exp2_train[n]], ratio, iterations) for n in faces]
            e2 = A.min_errors(codes2, A.stack_grams([im.grams[layer] for im in exp2_test]))
            exp2 = A.identity_accuracy(e2, np.array([faces.index(im.sequence) for im in exp2_test]))
            table[key][layer] = {"experiment1": exp1, "experiment2": exp2,
                                 "exp1_code_sizes": [int((np.asarray(c) > 0).sum()) for c in codes1],
                                 "exp2_code_sizes": [int((np.asarray(c) > 0).sum()) for c in codes2]}
            transfer[key][layer] = _transfer(by_seq, faces, others, layer, ratio, iterations)
        log(f"lambda = {key} x lam_max: table 1 and transfer done, {time.perf_counter() - t0:.0f} s")
    result["table1"] = table
    result["fig4_transfer"] = transfer

    # Fig. 4 pictures at the headline lambda: a face and an object, as the paper's (a) and (b).
    for name, pool in (("Girl", faces), ("MotorRolling", others)):
        if name not in first_views:
            continue
        codes = {layer: A.fit_code([A.layer_gram(first_views[name], layer)], headline_lam_ratio, iterations)
                 for layer in A.LAYERS}
        columns = [(f"{name} frame 1 (code)", first_views[name])]
        if name in later_views:
            columns.append((f"{name}, later", later_views[name]))
        columns += [(n, first_views[n]) for n in pool if n != name][:3]
        columns += [(n, first_views[n]) for n in (others if pool is faces else faces)][:1]
        save_png(fig4(f"Fig. 4: codes of {name}'s first frame (lam = {headline_lam_ratio:g} lam_max) applied "
                      "unchanged to the other columns", columns, codes), output_dir / f"fig4_{name}.png")
    result["seconds"] = time.perf_counter() - t0
    return result


def _transfer(by_seq: dict[str, list[AnalysedImage]], faces: list[str], others: list[str], layer: str, ratio: float,
              iterations: int) -> dict:
    """Mean relative error of each sequence's first-image code on: its own later images, the first
    images of the other sequences of its class, and those of the other class."""
    out = {}
    for name in faces + others:
        own = by_seq[name]
        code = A.fit_code([own[0].grams[layer]], ratio, iterations)
        same_class = faces if name in faces else others
        other_class = others if name in faces else faces

        def errors(ims):
            return A.relative_errors(code, A.stack_grams([im.grams[layer] for im in ims])) if ims else np.zeros(0)

        def mean_error(ims):
            return float(np.mean(errors(ims))) if ims else None

        others_first = [by_seq[n][0] for n in same_class + other_class if n != name]
        out[name] = {"own_first": mean_error(own[:1]), "own_later": mean_error(own[1:]),
                     "same_class_first": mean_error([by_seq[n][0] for n in same_class if n != name]),
                     "other_class_first": mean_error([by_seq[n][0] for n in other_class]),
                     # Per image: the error of this code on each of its own later frames and on
                     # every other sequence's first frame.
                     "own_per_frame": {im.frame: float(e) for im, e in zip(own, errors(own))},
                     "other_sequences_first_frame": {im.sequence: float(e) for im, e in
                                                     zip(others_first, errors(others_first))}}
    return out


def table1_markdown(result: dict) -> str:
    """Table 1 beside the paper's, at the headline lambda, and whether the paper's ordering holds."""
    key = f"{result['protocol']['headline_lam_ratio']:g}"
    rows = ["| feature maps | experiment 1: face vs non-face (ours / paper) | experiment 2: identity (ours / paper) |",
            "|---|---|---|"]
    t = result["table1"][key]
    for layer in A.LAYERS:
        p1, p2 = PAPER_TABLE1[layer]
        rows.append(f"| {layer} | {100 * t[layer]['experiment1']['accuracy']:.2f}% / {p1:.2f}% | "
                    f"{100 * t[layer]['experiment2']:.2f}% / {p2:.2f}% |")
    order1 = t["conv5_3"]["experiment1"]["accuracy"] > t["conv4_3"]["experiment1"]["accuracy"]
    order2 = t["conv4_3"]["experiment2"] > t["conv5_3"]["experiment2"]
    rows += ["", f"lam = {key} x lam_max. The paper's ordering: conv5_3 better at face vs non-face: "
                 f"{'holds' if order1 else 'does not hold'}; conv4_3 better at identity: {'holds' if order2 else 'does not hold'}.",
             "", "All lambdas (experiment 1 held-out accuracy, best-threshold accuracy; experiment 2):", "",
             "| lam / lam_max | conv4_3 exp. 1 | conv5_3 exp. 1 | conv4_3 exp. 2 | conv5_3 exp. 2 |", "|---|---|---|---|---|"]
    for k, v in result["table1"].items():
        rows.append(f"| {k} | {v['conv4_3']['experiment1']['accuracy']:.3f} ({v['conv4_3']['experiment1']['best_accuracy']:.3f}) | "
                    f"{v['conv5_3']['experiment1']['accuracy']:.3f} ({v['conv5_3']['experiment1']['best_accuracy']:.3f}) | "
                    f"{v['conv4_3']['experiment2']:.3f} | {v['conv5_3']['experiment2']:.3f} |")
    return "\n".join(rows) + "\n"


def summary_markdown(result: dict) -> str:
    """Observations 1-2 and Fig. 4's transfer as tables, then Table 1."""
    o1, o2 = result["observation1"]["mean"], result["observation2"]
    lines = ["# Section 3 feature analyses", "",
             f"Images: the tracker's ROI crop of each frame, its box as the mask; {len(result['observation1']['per_sequence'])} "
             "first frames for Observations 1-2.", "",
             "## Observation 1 / Fig. 2 (mean over first frames)", "",
             "| layer | activation mass in the box | saliency mass in the box | box share of the ROI (chance) |",
             "|---|---|---|---|"]
    for layer in A.LAYERS:
        lines.append(f"| {layer} | {o1[layer]['activation_inside']:.3f} | {o1[layer]['saliency_inside']:.3f} | "
                     f"{o1[layer]['box_area_share']:.3f} |")
    lines += ["", "## Observation 2 / Fig. 3 (mean over first frames)", "",
              "| layer | maps below 1% of the largest | below 10% |", "|---|---|---|"]
    for layer in A.LAYERS:
        lines.append(f"| {layer} | {o2[layer]['below_0.01_of_max']:.3f} | {o2[layer]['below_0.1_of_max']:.3f} |")
    key = f"{result['protocol']['headline_lam_ratio']:g}"
    lines += ["", f"## Fig. 4: relative reconstruction error ||pi - F c||^2 / ||pi||^2 of a first-frame code "
                  f"(lam = {key} x lam_max; 1 = explains nothing), mean over sequences", "",
              "| layer | own first frame | own later frames | same class, first frames | other class, first frames |",
              "|---|---|---|---|---|"]
    for layer in A.LAYERS:
        t = result["fig4_transfer"][key][layer].values()
        cells = [np.mean([v[k] for v in t if v[k] is not None]) for k in ("own_first", "own_later", "same_class_first",
                                                                          "other_class_first")]
        lines.append(f"| {layer} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    lines += ["", "## Table 1", "", table1_markdown(result)]
    return "\n".join(lines)
