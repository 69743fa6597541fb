"""Which of SNet's discrimination updates train it on a drifted box, and what marks them (issue 19:
on Diving's frames 73-120 SNet kept updating on its own drifted boxes; would a gate on its
confidence, or on the two nets agreeing, have stopped those updates and kept the good ones?)

    python -m experiments.update_agreement --results_dirs=experiments/results/fcnt_plus_diagnostics_seed0/otb,\
experiments/results/fcnt_plus_diagnostics_seed0/otb_analysis \
        --dataset_roots=../shared/data/OTB,../shared/data/OTB_analysis \
        --output_dir=experiments/results/fcnt_plus_diagnostics_seed0

reads each ``<Seq>.json`` with per-frame ``g_box`` / ``s_box``, finds its ground truth under
``--dataset_roots`` and lists the discrimination updates (``eval.ablation.discrimination_updates``).
An update is "bad" when the box it trained on is more than ``--bad_px`` from the truth's centre.
Per sequence: the updates, the bad ones and the first frame of one (1-based), how many good and
bad updates the two nets' own boxes overlap on (IoU >= ``--iou``), and how many have s_pd at the
sentinel (SNet's map has no mass in GNet's box), and how many bad updates had the other net's own
box (the net that did not decide) on the target, and good ones had it off (within / beyond
``--bad_px``): what sparing the other net's box from the update's negatives would save and cost;
then, pooled, the confidence's quartiles on good and bad updates. Writes ``update_agreement.md`` /
``.json``. Seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_list("results_dirs", None, "folders holding <Seq>.json with per-frame g_box / s_box", required=True)
flags.DEFINE_list("dataset_roots", None, "OTB-layout roots where each sequence's ground truth is found", required=True)
flags.DEFINE_string("output_dir", None, "where update_agreement.md / .json go", required=True)
flags.DEFINE_float("bad_px", 20.0, "an update is bad when its box's centre is farther than this from the truth's "
                   "(the OTB precision threshold)")
flags.DEFINE_float("iou", 0.5, "the nets agree when their own boxes overlap at least this much (OTB's success "
                   "threshold)")
FLAGS = flags.FLAGS

# localize.distracter_test returns outside / max(inside, 1e-12): where the map has nothing inside the
# box the ratio is the outside mass x 1e12. Any s_pd at or above this counts as "no mass inside"; the
# table prints the largest ratio below it, to show the gap (on the 16 dev sequences' seed-0 updates:
# update_agreement.md).
NO_MASS_PD = 1e5


def tally(updates: dict[str, np.ndarray], bad_px: float, iou: float) -> dict:
    """Counts for one sequence's (or pooled) updates; updates without a finite error are left out."""
    scored = np.isfinite(updates["error"])
    bad = scored & (updates["error"] > bad_px)
    good = scored & ~bad
    agree = updates["nets_iou"] >= iou
    no_mass = updates["s_pd"] >= NO_MASS_PD
    other_on = updates["other_error"] <= bad_px
    return {"updates": int(scored.sum()), "bad": int(bad.sum()),
            "first_bad_frame": int(updates["frame"][bad][0]) + 1 if bad.any() else None,
            "good_agree": int((good & agree).sum()), "good": int(good.sum()),
            "bad_agree": int((bad & agree).sum()), "good_no_mass": int((good & no_mass).sum()),
            "bad_no_mass": int((bad & no_mass).sum()), "bad_other_on": int((bad & other_on).sum()),
            "good_other_off": int((good & ~other_on).sum())}


def main(argv):
    del argv
    from experiments import records_in, truth_under
    from fcnt_jax.eval.ablation import discrimination_updates
    from fcnt_jax.run import write_text_atomic

    per_sequence, pooled = {}, []
    for path, record in records_in(FLAGS.results_dirs):
        truth = truth_under(FLAGS.dataset_roots, path.stem)
        if truth is None:
            raise app.UsageError(f"{path}: no sequence {path.stem} under --dataset_roots {FLAGS.dataset_roots}")
        try:
            updates = discrimination_updates(record, truth)
        except ValueError as e:
            raise app.UsageError(f"{path}: {e}") from e
        per_sequence[path.stem] = tally(updates, FLAGS.bad_px, FLAGS.iou)
        pooled.append(updates)
    if not per_sequence:
        raise app.UsageError(f"no <Seq>.json under {FLAGS.results_dirs}")
    every = {k: np.concatenate([u[k] for u in pooled]) for k in pooled[0]}
    total = {**tally(every, FLAGS.bad_px, FLAGS.iou), "first_bad_frame": None}  # frames of different sequences
    scored = np.isfinite(every["error"])
    bad = scored & (every["error"] > FLAGS.bad_px)
    quartiles = {name: [float(q) for q in np.percentile(every["confidence"][mask], [25, 50, 75])] if mask.any() else []
                 for name, mask in (("good", scored & ~bad), ("bad", bad))}
    lines = [f"SNet's discrimination updates: bad where the box trained on is more than {FLAGS.bad_px:g} px from the "
             f"truth; the nets agree where IoU(g_box, s_box) >= {FLAGS.iou:g}; no mass: s_pd at the sentinel (SNet's "
             "map has nothing inside GNet's box); the other net: the one that did not decide, on the target within "
             f"{FLAGS.bad_px:g} px. python -m experiments.update_agreement.", "",
             "| sequence | updates | bad (first at frame) | good where the nets agree | bad where the nets agree | "
             "no mass: good / bad | bad with the other net on the target | good with the other net off it |",
             "|---|---|---|---|---|---|---|---|"]
    for name, t in list(per_sequence.items()) + [("**all**", total)]:
        first = f" ({t['first_bad_frame']})" if t["first_bad_frame"] is not None else ""
        lines.append(f"| {name} | {t['updates']} | {t['bad']}{first} | {t['good_agree']} of {t['good']} | "
                     f"{t['bad_agree']} of {t['bad']} | {t['good_no_mass']} / {t['bad_no_mass']} | "
                     f"{t['bad_other_on']} of {t['bad']} | {t['good_other_off']} of {t['good']} |")
    below = every["s_pd"][every["s_pd"] < NO_MASS_PD]
    largest_below = float(np.nanmax(below)) if np.isfinite(below).any() else float("nan")
    lines += ["", "Confidence on the updates, 25th / 50th / 75th percentile: "
              + "; ".join(f"{k} {' / '.join(f'{q:.3f}' for q in v) if v else '-'}" for k, v in quartiles.items()),
              "", f"The largest s_pd below the no-mass sentinel ({NO_MASS_PD:g}): {largest_below:.3g}."]
    text = "\n".join(lines) + "\n"
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "update_agreement.json", json.dumps(
        {"bad_px": FLAGS.bad_px, "iou": FLAGS.iou, "sequences": per_sequence, "all": total,
         "confidence_quartiles": quartiles, "largest_s_pd_below_sentinel": largest_below}, indent=2))
    write_text_atomic(out / "update_agreement.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
