"""Batch-track the synthetic data set in its own process (the test sets XLA_FLAGS for 8 host devices).

    python -m tests.batch_worker DATASET_ROOT OUT.json
"""

import json
import sys
from pathlib import Path

import jax

from fcnt_jax.batch import track_batch
from fcnt_jax.benchmark import load_sequences
from fcnt_jax.config import get_config
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY

if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    seqs = load_sequences("otb", root)
    results = track_batch(tiny_params(jax.random.PRNGKey(0)), seqs, get_config("code", TINY), batch_size=len(seqs),
                          canvas_hw=(120, 160), log=lambda m: None)
    out.write_text(json.dumps({"devices": jax.device_count(), "boxes": {r.name: r.boxes.tolist() for r in results}}))
