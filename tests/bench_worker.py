"""A benchmark run with a tiny random backbone, as its own process (the kill/resume test kills it).

    python -m tests.bench_worker DATASET_ROOT OUTPUT_DIR
"""

import sys
from pathlib import Path

import jax

from fcnt_jax.benchmark import run_benchmark
from fcnt_jax.config import get_config
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY

if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    run_benchmark(tiny_params(jax.random.PRNGKey(0)), "otb", root, out, get_config("code", TINY),
                  log=lambda m: print(m, flush=True))
