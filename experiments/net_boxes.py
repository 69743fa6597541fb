"""Which net's own box was near the truth, before and after a split frame (issue 19's Diving):
P@20 of the box, GNet's box, SNet's box and the better of the two each frame (an oracle), and of
published trackers' boxes on the same frames.

    python -m experiments.net_boxes --record=experiments/results/fcnt_plus_diagnostics_seed0/otb/Diving.json \
        --sequence=../shared/data/OTB/Diving --split=72 --peers=HCF,KCF,MDNet,ATOM,MEEM

writes nothing; prints the table, then, per range, what trained SNet there (frames SNet decided,
its discrimination and adaptation updates, the confidence's range): whether the net that lost the
target kept learning from its own boxes. Seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

flags.DEFINE_string("record", None, "a <Seq>.json with per-frame g_box / s_box", required=True)
flags.DEFINE_string("sequence", None, "the OTB-layout sequence folder (its ground truth)", required=True)
flags.DEFINE_integer("split", 72, "the last frame of the first range")
flags.DEFINE_list("peers", [], "trackers under --peers_dir whose <Seq>.txt is scored on the same frames")
flags.DEFINE_string("peers_dir", "../shared/data/results", "published trackers' results, one folder each")
FLAGS = flags.FLAGS


def updates_in_range(frames: dict, first: int, last: int) -> dict:
    """Frames ``first``..``last`` (1-based, inclusive) of a per-frame record: how many there are,
    SNet decided, discriminated and adapted, and the lowest / highest confidence of the frames SNet
    decided (NaN when none)."""
    span = slice(first - 1, last)
    decided = [d == "snet" for d in frames.get("decided_by", [])[span]]
    conf = [c for c, d in zip(frames.get("confidence", [])[span], decided) if d and c is not None]
    return {"frames": len(decided), "snet": sum(decided),
            "discriminated": sum(bool(x) for x in frames.get("discriminated", [])[span]),
            "adapted": sum(bool(x) for x in frames.get("adapted", [])[span]),
            "conf_min": min(conf) if conf else float("nan"), "conf_max": max(conf) if conf else float("nan")}


def main(argv):
    del argv
    from fcnt_jax.data import open_sequence
    from fcnt_jax.eval.ablation import precision_by_range
    from fcnt_jax.eval.metrics import centre_error, read_result_file
    from fcnt_jax.geometry import box_from_otb

    frames = json.loads(Path(FLAGS.record).read_text()).get("per_frame") or {}
    if "g_box" not in frames:
        raise app.UsageError(f"{FLAGS.record}: no per-frame g_box / s_box (a record written before they were kept)")
    seq = open_sequence(FLAGS.sequence)
    boxes = {k: box_from_otb(np.asarray(frames[k], np.float64)) for k in ("box", "g_box", "s_box")}
    n = len(boxes["box"])
    truth = np.asarray(seq.groundtruth, np.float64)[:n]
    gnet_nearer = centre_error(boxes["g_box"], truth) <= centre_error(boxes["s_box"], truth)
    boxes["better of the two (oracle)"] = np.where(gnet_nearer[:, None], boxes["g_box"], boxes["s_box"])
    for peer in FLAGS.peers:
        boxes[peer] = read_result_file(Path(FLAGS.peers_dir) / peer / f"{seq.name}.txt")[:n]
    print(f"| {seq.name}, {n} frames | P@20 frames 1-{FLAGS.split} | {FLAGS.split + 1}-{n} | all | median error "
          f"1-{FLAGS.split} / {FLAGS.split + 1}-{n} (px) |\n|---|---|---|---|---|")
    for label, b in boxes.items():
        first, second, whole = precision_by_range(b, truth, FLAGS.split)
        error = centre_error(b, truth[:len(b)])
        print(f"| {label} | {first:.3f} | {second:.3f} | {whole:.3f} | {np.median(error[:FLAGS.split]):.1f} / "
              f"{np.median(error[FLAGS.split:]):.1f} |")
    print("\n| frames | SNet decided | discrimination updates | adaptations | confidence where SNet decided |"
          "\n|---|---|---|---|---|")
    for first, last in ((1, FLAGS.split), (FLAGS.split + 1, n)):
        u = updates_in_range(frames, first, last)
        print(f"| {first}-{last} | {u['snet']} of {u['frames']} | {u['discriminated']} | {u['adapted']} | "
              f"{u['conf_min']:.2f}-{u['conf_max']:.2f} |")


if __name__ == "__main__":
    app.run(main)
