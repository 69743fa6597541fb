"""One of two processes of a multi-host batch run on CPU (gloo collectives); the test starts both.

    python -m tests.multihost_worker DATASET_ROOT OUT.json PROCESS_ID COORDINATOR_PORT BENCH_DIR

Tracks the data set with ``track_batch``, then runs the benchmark runner with ``batch_size=3``
into BENCH_DIR (shared by both processes, as on a shared file system).
"""

import json
import sys
from pathlib import Path

import jax

if __name__ == "__main__":
    root, out, process_id, port = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    bench_dir = Path(sys.argv[5])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id)

    from fcnt_jax.batch import track_batch
    from fcnt_jax.benchmark import load_sequences, run_benchmark
    from fcnt_jax.config import get_config
    from tests.test_backbone import tiny_params
    from tests.test_tracker import TINY

    seqs = load_sequences("otb", root)
    opened = []
    original = type(seqs[0]).frames

    def counting_frames(self):  # record which sequences this process decodes
        opened.append(self.name)
        return original(self)

    type(seqs[0]).frames = counting_frames
    params, cfg = tiny_params(jax.random.PRNGKey(0)), get_config("code", TINY)
    results = track_batch(params, seqs, cfg, batch_size=len(seqs), canvas_hw=(120, 160), log=lambda m: None)
    rows = run_benchmark(params, "otb", root, bench_dir, cfg, batch_size=3, log=lambda m: None)
    out.write_text(json.dumps({"bench_rows": sorted(r["sequence"] for r in rows), "processes": jax.process_count(), "devices": jax.device_count(),
                               "local_devices": jax.local_device_count(), "decoded": sorted(set(opened)),
                               "boxes": {r.name: r.boxes.tolist() for r in results}}))
    jax.distributed.shutdown()
