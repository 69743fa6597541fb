"""Score result folders against a data set and draw the OPE plots; bar charts for the speed
benchmark (Pillow only, no matplotlib).

A tracker is a folder of ``<Seq>.txt`` result files; its name is the folder's name. Every tracker
is scored on the same frames (the first ``max_frames`` ground-truth rows of each sequence when
given, from frame ``first_frame`` on when given, e.g. only the frames after a protocol's first 120),
per sequence, then averaged over sequences and over each OTB attribute's subset. A tracker
that lacks a sequence or has too few rows is left out of the report with the reason, never scored
on a different set of sequences than the others.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fcnt_jax.data import Sequence, SequenceError
from fcnt_jax.eval import metrics
from fcnt_jax.files import atomic_path, write_text_atomic

# anchors.md §B3, the 11 OTB attributes (pytracking's otb_attributes.json).
OTB_ATTRIBUTES = {
    "IV": "Illumination Variation", "SV": "Scale Variation", "OCC": "Occlusion", "DEF": "Deformation",
    "MB": "Motion Blur", "FM": "Fast Motion", "IPR": "In-Plane Rotation", "OPR": "Out-of-Plane Rotation",
    "OV": "Out-of-View", "BC": "Background Clutter", "LR": "Low Resolution",
}
# tab10 plus black: distinct on white, in this order.
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (0, 0, 0)]


@dataclasses.dataclass
class TrackerScores:
    name: str
    per_sequence: dict[str, metrics.Curves]


def ground_truth(seq: Sequence, max_frames: int | None) -> np.ndarray:
    if seq.groundtruth is None:
        raise SequenceError(f"{seq.name}: no ground truth to score against")
    gt = np.asarray(seq.groundtruth, np.float64)
    return gt if max_frames is None else gt[:max_frames]


def _result_path(folder: Path, name: str) -> Path:
    path = folder / f"{name}.txt"
    if path.is_file():
        return path
    for p in folder.glob("*.txt"):  # tolerate a different case (crossing.txt)
        if p.stem.lower() == name.lower():
            return p
    raise SequenceError(f"{path}: result file does not exist")


def score_tracker(folder: Path, sequences: list[Sequence], max_frames: int | None = None,
                  invalid: metrics.InvalidPolicy = "exclude", name: str | None = None,
                  first_frame: int = 1) -> TrackerScores:
    """Curves of every sequence over its frames ``first_frame`` .. ``max_frames`` (1-based, inclusive;
    to the last ground-truth row where ``max_frames`` is None); raises SequenceError naming the file
    when one cannot be scored.

    Rows beyond the ground truth's are ignored (got10k and LaSOT truncate); fewer rows than the
    scored frames is an error (the frames it did not track cannot be scored).
    """
    if first_frame < 1:
        raise ValueError(f"first_frame must be >= 1 (1-based), got {first_frame}")
    folder = Path(folder)
    per_sequence = {}
    for seq in sequences:
        gt = ground_truth(seq, max_frames)
        if len(gt) < first_frame:
            raise SequenceError(f"{seq.name}: {len(gt)} ground-truth rows, none from frame {first_frame} on "
                                "(sequences_from leaves such sequences out)")
        path = _result_path(folder, seq.name)
        pred = metrics.read_result_file(path)
        if len(pred) < len(gt):
            raise SequenceError(f"{path}: {len(pred)} boxes for {len(gt)} scored frames "
                                "(score fewer frames with max_frames, or finish the run)")
        start, stop = first_frame - 1, len(gt)
        scored = None if seq.scored is None else np.asarray(seq.scored, bool)[start:stop]
        per_sequence[seq.name] = metrics.sequence_curves(*metrics.scored_rows(pred[start:stop], gt[start:], scored),
                                                         invalid)
    return TrackerScores(name or folder.name, per_sequence)


def sequences_from(sequences: list[Sequence], first_frame: int, max_frames: int | None = None) -> list[Sequence]:
    """The sequences with at least one ground-truth row from frame ``first_frame`` on (within
    ``max_frames``): a report on later frames scores only those, every tracker on the same ones."""
    return [s for s in sequences if len(ground_truth(s, max_frames)) >= first_frame]


def _attribute_key(text: str) -> str:
    return text.lower().replace("-", " ").rstrip("s")


_ATTRIBUTE_CODES = {**{_attribute_key(k): k for k in OTB_ATTRIBUTES},
                    **{_attribute_key(v): k for k, v in OTB_ATTRIBUTES.items()}}


def attribute_code(name: str) -> str | None:
    """'Background Clutters' (OTB100.json), 'Background Clutter' or 'BC' -> 'BC'; unknown -> None."""
    return _ATTRIBUTE_CODES.get(_attribute_key(name.strip()))


def attribute_subsets(sequences: list[Sequence]) -> dict[str, list[str]]:
    """OTB attribute -> the names of the sequences that have it (attributes of no sequence left out)."""
    subsets: dict[str, list[str]] = {}
    for short in OTB_ATTRIBUTES:
        names = [s.name for s in sequences if short in {attribute_code(a) for a in s.attributes}]
        if names:
            subsets[short] = names
    return subsets


def summarize(trackers: list[TrackerScores], subset: list[str] | None = None) -> dict[str, metrics.Curves]:
    """Tracker name -> its curves averaged over the (subset of) sequences."""
    return {t.name: metrics.mean_curves([c for n, c in t.per_sequence.items() if subset is None or n in subset])
            for t in trackers}


# --------------------------------------------------------------------------------------------- plots

def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def line_plot(series: list[tuple[str, np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str,
              xlim: tuple[float, float], ylim: tuple[float, float] = (0.0, 1.0), legend_loc: str = "lower left",
              size: tuple[int, int] = (760, 560), highlight: str | None = None,
              colours: list[tuple[int, int, int]] | None = None) -> Image.Image:
    """A line chart with axes, grid, ticks and a legend, drawn at 2x and downsampled (antialiased).

    ``series`` are (label, x, y), drawn in order (the legend keeps that order); ``highlight`` names
    a label drawn thicker; ``colours`` (one per series) default to the palette in order.
    """
    colours = colours or [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    s = 2
    W, H = size[0] * s, size[1] * s
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    f_title, f_axis, f_tick, f_legend = _font(22 * s), _font(17 * s), _font(14 * s), _font(14 * s)
    left, right, top, bottom = 80 * s, 24 * s, 50 * s, 66 * s
    x0, y0, x1, y1 = left, top, W - right, H - bottom

    def px(x, y):
        return (x0 + (x - xlim[0]) / (xlim[1] - xlim[0]) * (x1 - x0),
                y1 - (y - ylim[0]) / (ylim[1] - ylim[0]) * (y1 - y0))

    for i in range(11):  # grid and ticks
        gx = xlim[0] + (xlim[1] - xlim[0]) * i / 10
        gy = ylim[0] + (ylim[1] - ylim[0]) * i / 10
        X, _ = px(gx, ylim[0])
        _, Y = px(xlim[0], gy)
        d.line([(X, y0), (X, y1)], fill=(225, 225, 225), width=s)
        d.line([(x0, Y), (x1, Y)], fill=(225, 225, 225), width=s)
        d.text((X, y1 + 8 * s), f"{gx:g}", fill="black", font=f_tick, anchor="mt")
        d.text((x0 - 8 * s, Y), f"{gy:.1f}", fill="black", font=f_tick, anchor="rm")
    d.rectangle([x0, y0, x1, y1], outline="black", width=s)
    d.text(((x0 + x1) / 2, 14 * s), title, fill="black", font=f_title, anchor="mt")
    d.text(((x0 + x1) / 2, H - 12 * s), xlabel, fill="black", font=f_axis, anchor="mb")
    label_img = Image.new("RGB", (int(y1 - y0), 26 * s), "white")
    ImageDraw.Draw(label_img).text((label_img.width / 2, 0), ylabel, fill="black", font=f_axis, anchor="mt")
    img.paste(label_img.rotate(90, expand=True), (8 * s, int(y0)))

    for (label, x, y), colour in zip(series, colours):
        width = (5 if label == highlight else 3) * s
        pts = [px(a, b) for a, b in zip(x, y) if np.isfinite(b)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=width, joint="curve")

    # Legend box.
    line_h, pad = 22 * s, 10 * s
    text_w = max((d.textlength(label, font=f_legend) for label, _, _ in series), default=0)
    box_w, box_h = int(text_w + 54 * s + 2 * pad), int(len(series) * line_h + 2 * pad)
    lx = x0 + 12 * s if "left" in legend_loc else x1 - 12 * s - box_w
    ly = y1 - 12 * s - box_h if "lower" in legend_loc else y0 + 12 * s
    d.rectangle([lx, ly, lx + box_w, ly + box_h], fill="white", outline=(120, 120, 120), width=s)
    for i, ((label, _, _), colour) in enumerate(zip(series, colours)):
        yy = ly + pad + i * line_h + line_h / 2
        d.line([(lx + pad, yy), (lx + pad + 36 * s, yy)], fill=colour, width=(5 if label == highlight else 3) * s)
        d.text((lx + pad + 44 * s, yy), label, fill="black", font=f_legend, anchor="lm")
    return img.resize(size, Image.LANCZOS)


def ope_plots(summary: dict[str, metrics.Curves], suffix: str = "", highlight: str | None = None,
              size: tuple[int, int] = (760, 560)) -> tuple[Image.Image, Image.Image]:
    """The "Precision plots of OPE" and "Success plots of OPE"; legends ``name [score]`` sorted by score.

    Each tracker keeps one colour (by its place in ``summary``) in every plot.
    """
    colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(summary)}
    by_p = sorted(summary.items(), key=lambda kv: -kv[1].precision[20])
    by_s = sorted(summary.items(), key=lambda kv: -kv[1].success.mean())
    precision = line_plot([(f"{n} [{c.precision[20]:.3f}]", metrics.PRECISION_THRESHOLDS, c.precision) for n, c in by_p],
                          "Precision plots of OPE" + suffix, "Location error threshold", "Precision", (0, 50),
                          legend_loc="lower right", size=size, colours=[colour[n] for n, _ in by_p],
                          highlight=next((f"{n} [{c.precision[20]:.3f}]" for n, c in by_p if n == highlight), None))
    success = line_plot([(f"{n} [{c.success.mean():.3f}]", metrics.SUCCESS_THRESHOLDS, c.success) for n, c in by_s],
                        "Success plots of OPE" + suffix, "Overlap threshold", "Success rate", (0, 1),
                        legend_loc="lower left", size=size, colours=[colour[n] for n, _ in by_s],
                        highlight=next((f"{n} [{c.success.mean():.3f}]" for n, c in by_s if n == highlight), None))
    return precision, success


def _nice_step(span: float, ticks: int = 6) -> float:
    """A tick step of 1, 2 or 5 x 10^k that cuts ``span`` into at most about ``ticks`` parts."""
    raw = span / ticks
    power = 10.0 ** np.floor(np.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def bar_chart(rows: list[tuple[str, list[tuple[str, float]]]], title: str, xlabel: str,
              colours: dict[str, tuple[int, int, int]] | None = None, value_format: str = "{:.1f}",
              width: int = 900) -> Image.Image:
    """Horizontal bars on one scale, each split into named segments (a stacked bar), drawn at 2x
    and downsampled like :func:`line_plot`.

    ``rows`` are (bar label, [(segment name, value), ...]); a segment keeps its colour in every
    bar (``colours`` by name, else the palette in order of first appearance). The bar's total is
    written at its end with ``value_format``; a legend lists the segment names when there are
    several. Values must be finite and >= 0.
    """
    names = list(dict.fromkeys(name for _, segments in rows for name, _ in segments))
    colours = {**{n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}, **(colours or {})}
    values = [v for _, segments in rows for _, v in segments]
    if not rows or not all(np.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"bar_chart needs rows of finite values >= 0, got {rows}")
    s = 2
    f_axis, f_tick, f_label = _font(15 * s), _font(13 * s), _font(14 * s)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = int(max(probe.textlength(label, font=f_label) for label, _ in rows)) + 20 * s
    W = width * s
    f_title = next(f for f in (_font(pt * s) for pt in range(20, 10, -1))  # a long title gets smaller
                   if probe.textlength(title, font=f) <= W - 20 * s or getattr(f, "size", 0) <= 11 * s)
    row_h, top, axis_h = 34 * s, 46 * s, 52 * s
    swatch, gap = 20 * s, 22 * s  # a legend entry: swatch + name + gap
    legend_lines = _legend_lines(probe, names, f_label, W - 24 * s - left, swatch + gap) if len(names) > 1 else []
    H = top + len(rows) * row_h + axis_h + len(legend_lines) * 22 * s + 10 * s
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    x0, x1, y1 = left, W - 24 * s, top + len(rows) * row_h
    totals = [sum(v for _, v in segments) for _, segments in rows]
    xmax = max(max(totals), 1e-12) * 1.18  # room for the value written after the longest bar
    step = _nice_step(xmax)

    def px(x):
        return x0 + x / xmax * (x1 - x0)

    for i in range(int(xmax / step) + 1):
        X = px(i * step)
        d.line([(X, top), (X, y1)], fill=(225, 225, 225), width=s)
        d.text((X, y1 + 6 * s), f"{i * step:g}", fill="black", font=f_tick, anchor="mt")
    d.text((W / 2, 12 * s), title, fill="black", font=f_title, anchor="mt")
    d.text(((x0 + x1) / 2, y1 + 26 * s), xlabel, fill="black", font=f_axis, anchor="mt")
    for r, ((label, segments), total) in enumerate(zip(rows, totals)):
        yc = top + (r + 0.5) * row_h
        d.text((x0 - 10 * s, yc), label, fill="black", font=f_label, anchor="rm")
        start = 0.0
        for name, value in segments:
            if value > 0:
                d.rectangle([px(start), yc - 11 * s, px(start + value), yc + 11 * s], fill=colours[name])
            start += value
        d.text((px(total) + 6 * s, yc), value_format.format(total), fill="black", font=f_label, anchor="lm")
    d.line([(x0, top), (x0, y1)], fill="black", width=s)
    ly = y1 + axis_h
    for line in legend_lines:
        lx = x0
        for name in line:
            d.rectangle([lx, ly + 3 * s, lx + 14 * s, ly + 17 * s], fill=colours[name])
            d.text((lx + swatch, ly + 10 * s), name, fill="black", font=f_label, anchor="lm")
            lx += swatch + probe.textlength(name, font=f_label) + gap
        ly += 22 * s
    return img.resize((W // s, H // s), Image.LANCZOS)


def _legend_lines(draw: ImageDraw.ImageDraw, names: list[str], font, room: float, gap: float) -> list[list[str]]:
    """The legend's entries (a swatch and ``gap`` pixels beside each name), wrapped into lines that
    fit ``room`` pixels."""
    lines, used = [[]], 0.0
    for name in names:
        w = gap + draw.textlength(name, font=font)
        if lines[-1] and used + w > room:
            lines.append([])
            used = 0.0
        lines[-1].append(name)
        used += w
    return lines


def stack_images(images: list[Image.Image]) -> Image.Image:
    """Images one under the other on white, left-aligned."""
    sheet = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    y = 0
    for image in images:
        sheet.paste(image, (0, y))
        y += image.height
    return sheet


def save_png(image: Image.Image, path: str | Path) -> None:
    """Write a PNG atomically (a temporary file, then a rename): a reader never sees half of it."""
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG", optimize=True)


# --------------------------------------------------------------------------------------------- report

def _table(rows: list[list[str]], header: list[str]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def score_rules(sequences: list[Sequence]) -> list[str]:
    """The benchmark rules the scores applied (which frames count), each once, in order met."""
    return list(dict.fromkeys(s.score_rule for s in sequences))


def scored_frame_count(sequences: list[Sequence], max_frames: int | None, first_frame: int = 1) -> int:
    """The ground-truth rows a report scores over ``sequences``: frames ``first_frame`` .. ``max_frames``."""
    return sum(len(ground_truth(s, max_frames)[first_frame - 1:]) for s in sequences)


def frames_text(max_frames: int | None, first_frame: int = 1) -> str:
    """'all frames', 'the first 120 frames of each', 'frames 121 to the end of each', ..."""
    if first_frame == 1:
        return f"the first {max_frames} frames of each" if max_frames else "all frames"
    return f"frames {first_frame} to {max_frames if max_frames else 'the end'} of each"


def markdown_report(trackers: list[TrackerScores], sequences: list[Sequence], max_frames: int | None,
                    invalid: str, skipped: dict[str, str], first_frame: int = 1,
                    left_out: list[str] = ()) -> str:
    overall = summarize(trackers)
    order = sorted(overall, key=lambda n: -overall[n].success.mean())
    frames = scored_frame_count(sequences, max_frames, first_frame)
    lines = [f"# OPE report: {len(trackers)} trackers on {len(sequences)} sequences", "",
             f"Sequences: {', '.join(s.name for s in sequences)}; " + frames_text(max_frames, first_frame)
             + f" ({frames} frames). Frames without valid ground truth: {invalid}d. Scores are per-sequence "
             "curves averaged over sequences. precision_20: centre error <= 20 px; AUC: mean of the success "
             "curve over IoU thresholds 0:0.05:1; OP50: IoU > 0.5; norm_prec@0.2 / norm_prec_auc: the "
             "normalized precision at 0.2 / the mean of its 0..0.5 curve; mean IoU: average overlap.", "",
             "Scoring rule: " + "; ".join(score_rules(sequences)) + ".", "",
             "## Overall (sorted by AUC)", ""]
    names = ["precision_20", "auc", "success_50", "norm_prec@0.2", "norm_prec_auc", "mean_iou"]
    lines.append(_table([[n] + [f"{overall[n].scores()[k]:.3f}" for k in names] for n in order],
                        ["tracker", "precision@20", "AUC", "OP50", "norm_prec@0.2", "norm_prec_auc", "mean IoU"]))
    subsets = attribute_subsets(sequences)
    if subsets:
        per_attr = {a: summarize(trackers, names_) for a, names_ in subsets.items()}
        header = ["tracker"] + [f"{a} ({len(subsets[a])})" for a in subsets]
        for title, key in (("AUC", lambda c: c.success.mean()), ("precision@20", lambda c: c.precision[20])):
            lines += ["", f"## {title} per OTB attribute (number of sequences in brackets)", ""]
            lines.append(_table([[n] + [f"{key(per_attr[a][n]):.3f}" for a in subsets] for n in order], header))
    lines += ["", "## AUC / precision@20 per sequence", ""]
    lines.append(_table([[n] + [f"{t.per_sequence[s.name].success.mean():.3f} / {t.per_sequence[s.name].precision[20]:.3f}"
                                for s in sequences] for n in order for t in trackers if t.name == n],
                        ["tracker"] + [s.name for s in sequences]))
    if skipped:
        lines += ["", "## Not scored", ""] + [f"- {n}: {why}" for n, why in skipped.items()]
    if left_out:
        lines += ["", f"Sequences that end before frame {first_frame}, not in this report: {', '.join(left_out)}."]
    return "\n".join(lines) + "\n"


def write_report(result_dirs: list[Path], sequences: list[Sequence], output_dir: Path,
                 max_frames: int | None = None, invalid: metrics.InvalidPolicy = "exclude",
                 highlight: str | None = None, names: list[str] | None = None,
                 log: Callable[[str], None] = print, first_frame: int = 1) -> dict:
    """Score every folder, write the plots (overall and per attribute), report.md and report.json.

    ``names`` (optional, one per folder) replaces the folder names as tracker names. ``first_frame``
    > 1 scores only frames from it on, on the sequences that reach it (:func:`sequences_from`); the
    others are named in the report.
    """
    before = [s.name for s in sequences]
    sequences = sequences_from(sequences, first_frame, max_frames)
    if not sequences:
        raise SequenceError(f"no sequence has a ground-truth row from frame {first_frame} on")
    left_out = [n for n in before if n not in {s.name for s in sequences}]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    trackers, skipped = [], {}
    names = names or [Path(f).name for f in result_dirs]
    for folder, name in zip(result_dirs, names, strict=True):
        try:
            trackers.append(score_tracker(Path(folder), sequences, max_frames, invalid, name, first_frame))
        except (SequenceError, ValueError) as e:
            skipped[name] = str(e)
            log(f"{name}: not scored: {e}")
    if not trackers:
        raise SequenceError("no result folder could be scored: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    names = [t.name for t in trackers]
    if len(set(names)) != len(names):
        raise ValueError(f"two result folders share a name: {names}; tracker names are folder names")

    precision, success = ope_plots(summarize(trackers), highlight=highlight)
    save_png(precision, output_dir / "precision_plots.png")
    save_png(success, output_dir / "success_plots.png")
    subsets = attribute_subsets(sequences)
    attr_dir = output_dir / "attributes"
    tiles = []
    for attr, subset in subsets.items():
        attr_dir.mkdir(exist_ok=True)
        p_img, s_img = ope_plots(summarize(trackers, subset), f" - {OTB_ATTRIBUTES[attr]} ({len(subset)})", highlight)
        save_png(p_img, attr_dir / f"precision_plots_{attr}.png")
        save_png(s_img, attr_dir / f"success_plots_{attr}.png")
        tiles.append(s_img.resize((s_img.width // 2, s_img.height // 2), Image.LANCZOS))
    if tiles:  # every attribute's success plot on one page
        cols = 3
        rows = (len(tiles) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * tiles[0].width, rows * tiles[0].height), "white")
        for i, tile in enumerate(tiles):
            sheet.paste(tile, ((i % cols) * tile.width, (i // cols) * tile.height))
        save_png(sheet, output_dir / "success_plots_attributes.png")

    text = markdown_report(trackers, sequences, max_frames, invalid, skipped, first_frame, left_out)
    overall = summarize(trackers)
    data = {"sequences": [s.name for s in sequences], "max_frames": max_frames, "first_frame": first_frame,
            "frames": scored_frame_count(sequences, max_frames, first_frame), "invalid": invalid,
            "score_rules": score_rules(sequences),
            "overall": {n: c.scores() for n, c in overall.items()},
            "attributes": {a: {n: c.scores() for n, c in summarize(trackers, sub).items()} for a, sub in subsets.items()},
            "per_sequence": {t.name: {s: c.scores() for s, c in t.per_sequence.items()} for t in trackers},
            "curves": {n: {"precision": c.precision.tolist(), "success": c.success.tolist(),
                           "norm_precision": c.norm_precision.tolist()} for n, c in overall.items()},
            "skipped": skipped, "left_out": left_out}
    for path, content in ((output_dir / "report.md", text), (output_dir / "report.json", json.dumps(data, indent=1))):
        write_text_atomic(path, content)
    return data


def write_report_unless_unscorable(result_dirs: list[Path], sequences: list[Sequence], output_dir: Path,
                                   max_frames: int | None = None, log: Callable[[str], None] = print,
                                   **kwargs) -> bool:
    """:func:`write_report`, but a report no folder can be scored for (every run still partial) is
    logged and skipped instead of raised: a summary over many sets and seeds writes the rest."""
    try:
        write_report(result_dirs, sequences, output_dir, max_frames, log=log, **kwargs)
    except SequenceError as e:
        log(f"{output_dir}: OPE report not written: {e}")
        return False
    return True
