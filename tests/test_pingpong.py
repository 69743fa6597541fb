"""experiments.pingpong_sequence: the order of source frames and a real round trip through the reader.

The entry point runs as a subprocess: importing it here would define its absl flags in the test
process, where experiments.track defines flags of the same names."""

import subprocess
import sys

import numpy as np

from fcnt_jax.data import open_sequence
from fcnt_jax.data.sequence import pingpong_order
from tests.conftest import REPO_ROOT
from tests.test_batch import make_dataset


def test_pingpong_order_turns_without_repeating_a_frame():
    assert pingpong_order(4, 11) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2]
    assert pingpong_order(1, 3) == [0, 0, 0]
    assert pingpong_order(5, 2) == [0, 1]


def test_pingpong_folder_reads_back_with_matching_boxes(tmp_path):
    root = make_dataset(tmp_path / "src", [("Src", 4, (48, 64))])
    out = tmp_path / "Long"
    proc = subprocess.run([sys.executable, "-m", "experiments.pingpong_sequence", f"--sequence={root / 'Src'}",
                           "--frames=9", f"--output_dir={out}"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    src, long = open_sequence(root / "Src"), open_sequence(out)
    order = pingpong_order(4, 9)
    assert len(long) == 9
    for t, i in enumerate(order):
        assert long.frame_paths[t].resolve() == src.frame_paths[i].resolve()
    np.testing.assert_allclose(long.groundtruth, src.groundtruth[order])
    again = subprocess.run([sys.executable, "-m", "experiments.pingpong_sequence", f"--sequence={root / 'Src'}",
                            f"--output_dir={out}"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr
