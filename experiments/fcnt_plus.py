"""Issue 19's ablation: fcnt_plus, fcnt_plus with each fix removed in turn, and the code preset.

    python -m experiments.fcnt_plus --output_dir=experiments/results/fcnt_plus

tracks every preset of ``--presets`` (default ``config.PLUS_ABLATION``) for every seed on
``--otb_root`` (first ``--otb_frames``) and ``--analysis_root`` (first ``--analysis_frames``), each
run resumable (experiments.benchmark's runner, frames padded to one canvas per set: rerun the same
command after an interruption). Results go to ``<output_dir>/seed<s>/<set>/<folder>/`` (the folder
is ``config.result_folder(preset)``, never renamed, with the ``config.json`` that runs there, written
before the run; resuming into a folder whose ``config.json`` differs is refused); one OPE
report per set and seed (per-sequence tables, plots) to ``<output_dir>/report/``; and
``<output_dir>/fcnt_plus.md`` / ``.json``: per preset and set the mean precision@20 and AUC, their
range over seeds, and each sequence's AUC change against ``code`` (the issue allows no dev sequence
to lose more than 0.05). The summary covers every preset and seed found under ``--output_dir``, not
only those of this run, so an arm can be run alone into the same folder. ``--norun`` only
summarises what is already there.

Cost on this project's 2-core CPUs, which differ between sessions: 0.6-0.8 s a frame and 12-25 s a
first frame on the faster ones (one preset on the 16 dev sequences in ~35 min a seed), 2-2.5 s and
40-80 s on the slower (~2 h); two runs at once take twice as long each. What was measured and what it shows: WORKSPACE.md,
"fcnt_plus (issue 19)".
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import app, flags

from experiments import run_main

from fcnt_jax.config import PLUS_ABLATION, get_config, result_folder
from fcnt_jax.eval.ablation import (all_sets_lines, holds_results, mechanism_lines, results_on_disk, summarise,
                                    target_lines)

flags.DEFINE_string("otb_root", "../shared/data/OTB", "OTB-layout dev sequences ('' to skip)")
flags.DEFINE_integer("otb_frames", 120, "track and score the first N frames of --otb_root's sequences")
flags.DEFINE_string("analysis_root", "../shared/data/OTB_analysis", "extra OTB-layout dev sequences ('' to skip)")
flags.DEFINE_integer("analysis_frames", 150, "track and score the first N frames of --analysis_root's sequences")
flags.DEFINE_list("sequences", None, "only these sequences (names from either root)")
flags.DEFINE_list("presets", list(PLUS_ABLATION), "presets, in the order they run")
flags.DEFINE_list("seeds", ["0"], "PRNG seeds")
flags.DEFINE_string("code_otb_dir", None, "the code preset's seed-0 results on --otb_root from an earlier run of the "
                    "same runner (e.g. experiments/results/ablation_otb8_120/code), read instead of tracking "
                    "code there again")
flags.DEFINE_bool("run", True, "track what is missing; --norun only summarises the results already there")
flags.DEFINE_string("weights", None, "VGG-16 weights file (default: the verified cache)")
flags.DEFINE_string("output_dir", None, "where results go", required=True)
FLAGS = flags.FLAGS

def main(argv):
    del argv
    from fcnt_jax.benchmark import FolderConfigMismatch, claim_result_folder, dev_sets, run_benchmark, summary_table
    from fcnt_jax.eval.report import write_report_unless_unscorable
    from fcnt_jax.run import stderr_log, write_text_atomic

    sets = []
    if FLAGS.otb_root:
        sets.append(("otb", Path(FLAGS.otb_root), FLAGS.otb_frames))
    if FLAGS.analysis_root:
        sets.append(("otb_analysis", Path(FLAGS.analysis_root), FLAGS.analysis_frames))
    if not sets:
        raise app.UsageError("give --otb_root and/or --analysis_root")
    try:
        configs = {p: get_config(p) for p in FLAGS.presets}
        seeds = [int(s) for s in FLAGS.seeds]
        per_set = dev_sets(sets, FLAGS.sequences)
    except ValueError as e:
        raise app.UsageError(str(e))
    out = Path(FLAGS.output_dir)

    def earlier_run(preset: str, set_name: str, seed: int) -> bool:
        """code's seed 0 on OTB comes from --code_otb_dir (an earlier run), read, never rerun."""
        return (preset, set_name, seed) == ("code", "otb", 0) and bool(FLAGS.code_otb_dir)

    def folder_of(preset: str, set_name: str, seed: int) -> Path:
        """Where a preset's results for one set and seed live."""
        if earlier_run(preset, set_name, seed):
            return Path(FLAGS.code_otb_dir)
        return out / f"seed{seed}" / set_name / result_folder(preset)

    params = None
    if FLAGS.run:
        # run_benchmark claims each folder as it comes to it; claiming all of them first stops a
        # mismatch before the weights are read or any sequence is tracked.
        try:
            for seed in seeds:
                for preset, cfg in configs.items():
                    for set_name in per_set:
                        if not earlier_run(preset, set_name, seed):
                            claim_result_folder(folder_of(preset, set_name, seed), cfg)
        except FolderConfigMismatch as e:
            raise app.UsageError(str(e))
        from fcnt_jax import backbone, weights
        params = backbone.to_device_params(weights.load_vgg16_params(FLAGS.weights))

    rows: dict[tuple[str, str, int], list[dict]] = {}
    runs = [(p, s) for s in seeds for p in configs]
    for i, (preset, seed) in enumerate(runs if FLAGS.run else [], 1):
        stderr_log(f"== {i}/{len(runs)}: {preset} seed={seed} ==")
        for set_name, (root, frames, chosen, _) in per_set.items():
            folder = folder_of(preset, set_name, seed)
            if not earlier_run(preset, set_name, seed):
                rows[(preset, set_name, seed)] = run_benchmark(params, "otb", root, folder, configs[preset], chosen,
                                                               frames, seed, log=stderr_log, pad_to_common=True)
                write_text_atomic(folder / "summary.md", summary_table(rows[(preset, set_name, seed)]) + "\n")
    # The summary covers every preset and seed already under --output_dir, not only this run's, so
    # that a run of one arm does not rewrite fcnt_plus.md / .json without the others.
    all_seeds, presets = results_on_disk(out, list(per_set), seeds, list(configs))
    configs = {p: configs.get(p) or get_config(p) for p in presets}
    for preset in presets:
        for seed in all_seeds:
            for set_name, (_, _, chosen, _) in per_set.items():
                if (preset, set_name, seed) not in rows:
                    folder = folder_of(preset, set_name, seed)
                    rows[(preset, set_name, seed)] = [json.loads((folder / f"{n}.json").read_text())
                                                      for n in chosen if (folder / f"{n}.json").exists()]
    failed = any("error" in r for (p, _, s), rs in rows.items() if (p, s) in runs for r in rs)
    rows = {(p, n, s): rows[(p, n, s)] for p in presets for s in all_seeds for n in per_set}  # the summary's order
    for seed in all_seeds:
        for set_name, (_, frames, _, sequences) in per_set.items():
            folders = [folder_of(p, set_name, seed) for p in configs]
            present = [f for f in folders if holds_results(f)]
            if present:
                names = [p for p, f in zip(configs, folders) if holds_results(f)]
                write_report_unless_unscorable(present, sequences, out / "report" / f"{set_name}_seed{seed}",
                                               frames, names=names, highlight="fcnt_plus", log=stderr_log)
    text, table = summarise(rows)
    all_sets: dict = {}
    if len(per_set) > 1:
        all_lines, all_sets = all_sets_lines(table, {n: c for n, (_, _, c, _) in per_set.items()})
        text += "\n".join(all_lines) + "\n"
    targets = target_lines(table)
    truths = {s.name: s.groundtruth for (_, _, _, sequences) in per_set.values() for s in sequences}
    mech_text, mech_table = mechanism_lines(rows, truths)
    text += "\n" + mech_text
    protocol = {"sets": {n: {"root": str(r), "frames": f, "sequences": c} for n, (r, f, c, _) in per_set.items()},
                "presets": list(configs), "seeds": all_seeds, "code_otb_dir": FLAGS.code_otb_dir,
                "configs": {p: c.to_dict() for p, c in configs.items()}}
    write_text_atomic(out / "fcnt_plus.json", json.dumps({"protocol": protocol, "results": table, "all_sets": all_sets,
                                                               "mechanisms": mech_table}, indent=2))
    header = ("fcnt_plus ablation (sets: "
              + ", ".join(f"{n} first {f} frames ({len(c)} sequences)" for n, (_, f, c, _) in per_set.items())
              + f"; seeds {all_seeds}). Per-sequence OPE reports: report/.\n\n")
    write_text_atomic(out / "fcnt_plus.md", header + "\n".join(targets) + "\n" + text)
    print(header + "\n".join(targets) + "\n" + text)
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
