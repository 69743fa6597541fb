"""Would a vote of the two nets' implied sizes move the box the truth's way? Read from the
per-frame records experiments.map_shape wrote (fcnt_jax.eval.map_shape.size_votes), before the
``localization.size_vote`` candidate ran.

    python -m experiments.size_vote \
        --map_shape_dirs=experiments/results/map_shape,experiments/results/map_shape_fixed_size \
        --output_dir=experiments/results/size_vote

Per sequence and side (w, h): of the frames where the tracked box's side is more than 5 % off the
truth's, how often GNet's and SNet's implied sides point from the box towards the truth, and how
often they do where both point the same way. Writes ``size_vote.md`` / ``.json``. Seconds; no
tracking. What it showed: WORKSPACE.md, "The size vote".
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import app, flags

flags.DEFINE_list("map_shape_dirs", None, "folders experiments.map_shape wrote", required=True)
flags.DEFINE_string("output_dir", None, "where size_vote.md / .json go", required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fcnt_jax.eval.map_shape import size_vote_lines, size_votes
    from fcnt_jax.run import write_text_atomic

    votes, sources = {}, {}
    for folder in FLAGS.map_shape_dirs:
        files = sorted(p for p in Path(folder).glob("*.json") if p.name != "map_shape.json")
        if not files:
            raise app.UsageError(f"{folder}: no per-sequence <Seq>.json from experiments.map_shape")
        for path in files:
            try:
                rows = json.loads(path.read_text())
                votes[path.stem] = size_votes(rows)
            except (ValueError, KeyError, TypeError, IndexError) as e:
                raise app.UsageError(f"{path}: not a per-frame record of experiments.map_shape ({e})") from e
            sources[path.stem] = str(path)
    text = ("Size vote: do the two nets' implied sizes point from the box to the truth? "
            "(python -m experiments.size_vote)\n\n" + "\n".join(size_vote_lines(votes)) + "\n")
    out = Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "size_vote.json", json.dumps({"sources": sources, "votes": votes}, indent=2))
    write_text_atomic(out / "size_vote.md", text)
    print(text)


if __name__ == "__main__":
    app.run(main)
