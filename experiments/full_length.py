"""Our presets on every frame of the OTB dev sequences, beside the published trackers: all frames,
the dev protocol's first 120, and the frames after it. No fix of fcnt_plus was built, screened or
judged on a frame after 120 (issue 19's "no tuning to the dev set"), so those frames are the only
dev frames nothing was fitted to; they are also where a long run's drift (the scale filter's on
VOT2015 bag, WORKSPACE) would show.

The runs (~23 min per preset and seed on this 2-core CPU, 1581 frames; code's seeds agree to 0.003
AUC on the 120-frame protocol, so it runs once):

    python -m experiments.benchmark --dataset=otb --dataset_root=../shared/data/OTB --preset=fcnt_plus \\
        --output_dir=experiments/results/full_otb8/otb/fcnt_plus
    python -m experiments.benchmark ... --preset=fcnt_plus --seed=1 --output_dir=experiments/results/full_otb8/otb/fcnt_plus/run_seed1
    python -m experiments.benchmark ... --preset=fcnt_plus --seed=2 --output_dir=experiments/results/full_otb8/otb/fcnt_plus/run_seed2
    python -m experiments.benchmark ... --preset=code --output_dir=experiments/results/full_otb8/otb/code
    python -m experiments.benchmark ... --preset=fcnt_plus_no_scale_filter \
        --output_dir=experiments/results/full_otb8/otb/fcnt_plus_no_scale_filter   # any other preset alike

then the tables and plots (seconds):

    python -m experiments.full_length --results_dir=experiments/results/full_otb8/otb \\
        --dataset_root=../shared/data/OTB --output_dir=experiments/results/full_otb8

Reads ``<results_dir>/<preset>/`` and ``<results_dir>/<preset>/run_*/`` (one seed each, read from its
records) and the peers' ``<peers_dir>/<Tracker>/<Seq>.txt``. Writes ``full_length.md`` / ``.json``
(per range: each preset's P@20 / AUC as the mean over seeds with their range, beside the peers; per
sequence after the split; the box's size against the truth's) and an OPE report per range
(``report_all``, ``report_1-<split>``, ``report_<split+1>-end``: plots, per-sequence tables). Every
tracker is scored on the same frames; a sequence that ends by frame ``split`` is only in the first
two ranges. Expected: WORKSPACE.md, "Every frame of the OTB 8" (fcnt_plus 0.893 / 0.628 on all frames, 0.787 / 0.499 after 120).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from absl import app, flags

from experiments import run_main

flags.DEFINE_string("results_dir", "experiments/results/full_otb8/otb", "one folder per preset, runs of other "
                    "seeds in its run_*/ subfolders")
flags.DEFINE_string("dataset_root", "../shared/data/OTB", "the OTB-layout sequences (their ground truth)")
flags.DEFINE_list("sequences", None, "only these sequences (default: every sequence under --dataset_root)")
flags.DEFINE_list("peers", ["HCF", "MDNet", "SiamRPN", "ATOM", "MEEM", "KCF"],
                  "published trackers under --peers_dir, scored on the same frames")
flags.DEFINE_string("peers_dir", "../shared/data/results", "published trackers' results, one folder each")
flags.DEFINE_integer("split", 120, "the dev protocol's last frame: ranges are 1..split and split+1..end",
                     lower_bound=2)
flags.DEFINE_string("output_dir", "experiments/results/full_otb8", "where the tables and reports go")
flags.DEFINE_string("highlight", "fcnt_plus", "the preset whose first run the plots draw thicker (the first run "
                    "found where it has none)")
FLAGS = flags.FLAGS


def seed_runs(results_dir: Path) -> list[tuple[str, int | None, Path]]:
    """``(preset, seed, folder)`` for every folder of result files: ``<preset>/`` itself where it
    holds any, and each ``<preset>/run_*/``. The seed is the one its records name (None if none)."""
    runs = []
    for preset_dir in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        for folder in [preset_dir, *sorted(p for p in preset_dir.glob("run_*") if p.is_dir())]:
            if not any(folder.glob("*.txt")):
                continue
            seed = None
            for record in sorted(folder.glob("*.json")):
                if record.stem != "config":
                    try:
                        seed = json.loads(record.read_text()).get("seed")
                    except ValueError as e:
                        raise app.UsageError(f"{record}: not JSON ({e})") from e
                    break
            runs.append((preset_dir.name, seed, folder))
    return runs


def range_summary(report: dict, groups: dict[str, str]) -> dict[str, dict]:
    """``{group: {precision_20, auc (means over its trackers), auc_min, auc_max, runs}}`` from one
    OPE report's overall scores, a group being a preset's seeds (or a peer alone). A tracker the
    report could not score is not in it and so not averaged."""
    by_group: dict[str, list[dict]] = {}
    for name, scores in report["overall"].items():
        by_group.setdefault(groups[name], []).append(scores)
    return {g: {"precision_20": float(np.mean([r["precision_20"] for r in rows])),
                "auc": float(np.mean([r["auc"] for r in rows])),
                "auc_min": float(min(r["auc"] for r in rows)), "auc_max": float(max(r["auc"] for r in rows)),
                "runs": len(rows)} for g, rows in by_group.items()}


def sequence_means(report: dict, groups: dict[str, str]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{group: {sequence: (P@20, AUC) averaged over the group's trackers}}`` from one report."""
    out: dict[str, dict[str, list]] = {}
    for name, per_seq in report["per_sequence"].items():
        for seq, scores in per_seq.items():
            out.setdefault(groups[name], {}).setdefault(seq, []).append((scores["precision_20"], scores["auc"]))
    return {g: {s: tuple(float(x) for x in np.mean(v, axis=0)) for s, v in seqs.items()} for g, seqs in out.items()}


def size_rows(runs: list[tuple[str, int | None, Path]], truths: dict[str, np.ndarray],
              spans: dict[str, tuple[int, int | None]]) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """``{preset: {range: {sequence or "mean": (|log| size error, signed)}}}``: each run's box against
    the truth (``eval.ablation.size_bias``: sqrt-area ratio, > 0 where the box is too large) per
    sequence the range covers, averaged over seeds; "mean" is the mean over those sequences. Every
    run must hold every sequence (pass only runs the reports scored)."""
    from fcnt_jax.eval.ablation import size_bias
    from fcnt_jax.eval.metrics import read_result_file

    per: dict[str, dict[str, dict[str, list]]] = {}
    for preset, _, folder in runs:
        for name, truth in truths.items():
            boxes = read_result_file(folder / f"{name}.txt")
            for label, (first, last) in spans.items():
                truth_span = truth[first - 1:last]
                if len(truth_span) < 1:
                    continue
                per.setdefault(preset, {}).setdefault(label, {}).setdefault(name, []).append(
                    size_bias(boxes[first - 1:first - 1 + len(truth_span)], truth_span, given_first=first == 1))
    out: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for preset, ranges in per.items():
        for label, seqs in ranges.items():
            rows = {n: tuple(float(x) for x in np.nanmean(np.asarray(v), axis=0)) for n, v in seqs.items()}
            rows["mean"] = tuple(float(x) for x in np.nanmean(np.asarray(list(rows.values())), axis=0))
            out.setdefault(preset, {})[label] = rows
    return out


def markdown(summaries: dict[str, dict], spans: dict[str, tuple[int, int | None]], counts: dict[str, tuple[int, int]],
             per_sequence: dict[str, dict], sizes: dict[str, dict], presets: list[str], peers: list[str]) -> str:
    labels = list(spans)
    lines = ["# Every frame of the OTB sequences: our presets beside the published trackers", "",
             "P@20 / AUC, the mean over sequences (OTB one-pass evaluation, every tracker on the same frames); "
             "for our presets the mean over seeds, the AUC's range over seeds in brackets. "
             "`python -m experiments.full_length` (its docstring has the runs).", "",
             "| tracker | " + " | ".join(f"{lb} ({counts[lb][0]} sequences, {counts[lb][1]} frames)" for lb in labels) + " |",
             "|---|" + "---|" * len(labels)]
    for group in [*presets, *peers]:
        cells = []
        for lb in labels:
            row = summaries[lb].get(group)
            if row is None:
                cells.append("not scored")
            elif row["runs"] > 1:
                cells.append(f"{row['precision_20']:.3f} / {row['auc']:.3f} ({row['auc_min']:.3f}-{row['auc_max']:.3f}, "
                             f"{row['runs']} seeds)")
            else:
                cells.append(f"{row['precision_20']:.3f} / {row['auc']:.3f}")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    for lb in (labels[-1], labels[0]):
        seqs = sorted({s for g in per_sequence[lb].values() for s in g})
        lines += ["", f"## Per sequence, {lb}: P@20 / AUC (our presets: mean over seeds)", "",
                  "| tracker | " + " | ".join(seqs) + " |", "|---|" + "---|" * len(seqs)]
        for group in [*presets, *peers]:
            if group in per_sequence[lb]:
                row = per_sequence[lb][group]
                lines.append(f"| {group} | " + " | ".join(
                    f"{row[s][0]:.3f} / {row[s][1]:.3f}" if s in row else "" for s in seqs) + " |")
    lines += ["", "## The box's size against the truth's (our presets)", "",
              "Mean of |log(sqrt(box area) / sqrt(truth area))| over a sequence's frames, then over seeds, "
              "then over sequences; in brackets the signed mean (> 0: the box larger than the target). The first two "
              "ranges leave out frame 1 (the given box). Runs a report could not score are left out.", "",
              "| preset | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    cell = "{0:.3f} ({1:+.3f})".format
    for preset in presets:
        if preset in sizes:
            lines.append(f"| {preset} | " + " | ".join(
                cell(*sizes[preset][lb]["mean"]) if lb in sizes[preset] else "" for lb in labels) + " |")
    last = labels[-1]
    seqs = sorted({n for p in sizes.values() for n in p.get(last, {}) if n != "mean"})
    if seqs:
        lines += ["", f"Per sequence, {last}:", "", "| preset | " + " | ".join(seqs) + " |",
                  "|---|" + "---|" * len(seqs)]
        for preset in presets:
            if last in sizes.get(preset, {}):
                lines.append(f"| {preset} | " + " | ".join(cell(*sizes[preset][last][n]) for n in seqs) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.data.sequence import SequenceError
    from fcnt_jax.eval.report import write_report
    from fcnt_jax.files import write_text_atomic

    results_dir, output_dir = Path(FLAGS.results_dir), Path(FLAGS.output_dir)
    if not results_dir.is_dir():
        raise app.UsageError(f"--results_dir: {results_dir} is not a folder")
    runs = seed_runs(results_dir)
    if not runs:
        raise app.UsageError(f"--results_dir: no <preset>/ or <preset>/run_*/ folder with result files under {results_dir}")
    peer_dirs = []
    for peer in FLAGS.peers:
        folder = Path(FLAGS.peers_dir) / peer
        if not folder.is_dir():
            raise app.UsageError(f"--peers: {folder} is not a folder")
        peer_dirs.append((peer, folder))
    sequences = load_sequences("otb", Path(FLAGS.dataset_root), FLAGS.sequences)
    split = FLAGS.split
    spans = {"all frames": (1, None), f"frames 1-{split}": (1, split), f"frames {split + 1}-end": (split + 1, None)}
    names = [f"{preset} (seed {seed})" for preset, seed, _ in runs] + [p for p, _ in peer_dirs]
    if len(set(names)) != len(names):
        raise app.UsageError(f"two runs under {results_dir} share a preset and seed: {names}")
    groups = {**{f"{preset} (seed {seed})": preset for preset, seed, _ in runs}, **{p: p for p, _ in peer_dirs}}
    folders = [f for _, _, f in runs] + [f for _, f in peer_dirs]
    presets = list(dict.fromkeys(preset for preset, _, _ in runs))
    highlight = next((n for n in names if groups[n] == FLAGS.highlight), names[0])

    summaries, per_sequence, counts, reports = {}, {}, {}, {}
    for label, (first, last) in spans.items():
        tag = "report_all" if (first, last) == (1, None) else f"report_{first}-{last if last else 'end'}"
        try:  # write_report scores only the sequences that reach frame `first`
            data = write_report(folders, sequences, output_dir / tag, max_frames=last, first_frame=first,
                                highlight=highlight, names=names, log=lambda m: print(m, file=sys.stderr))
        except SequenceError as e:
            raise app.UsageError(f"{label}: {e}") from e
        summaries[label] = range_summary(data, groups)
        per_sequence[label] = sequence_means(data, groups)
        counts[label] = (len(data["sequences"]), data["frames"])
        reports[label] = {"folder": tag, "skipped": data["skipped"], "sequences": data["sequences"]}
    truths = {s.name: np.asarray(s.groundtruth, np.float64) for s in sequences}
    unscored = {name for r in reports.values() for name in r["skipped"]}
    sizes = size_rows([r for r, name in zip(runs, names) if name not in unscored], truths, spans)
    text = markdown(summaries, spans, counts, per_sequence, sizes, presets, [p for p, _ in peer_dirs])
    payload = {"split": split, "runs": [{"preset": p, "seed": s, "folder": str(f)} for p, s, f in runs],
               "summaries": summaries, "per_sequence": per_sequence, "sizes": sizes, "reports": reports,
               "frames": counts}
    write_text_atomic(output_dir / "full_length.json", json.dumps(payload, indent=1))
    write_text_atomic(output_dir / "full_length.md", text)
    print(text)
    skipped = {lb: r["skipped"] for lb, r in reports.items() if r["skipped"]}
    if skipped:
        print(f"not scored (see the reports): {skipped}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
