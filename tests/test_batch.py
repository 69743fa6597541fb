"""Batch tracking equals the single-sequence tracker, on one device and sharded over 8 host devices."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

from fcnt_jax.batch import track_batch
from fcnt_jax.config import get_config
from fcnt_jax.data import open_sequence
from fcnt_jax.geometry import box_to_otb
from fcnt_jax.run import track_sequence

from tests.conftest import REPO_ROOT
from tests.synthetic import synthetic_sequence
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY


def make_dataset(root, specs):
    """OTB-layout synthetic sequences of different sizes and lengths: specs = (name, frames, (h, w))."""
    for i, (name, count, size) in enumerate(specs):
        frames, boxes = synthetic_sequence(count, size=size, seed=i)
        (root / name / "img").mkdir(parents=True)
        for t, frame in enumerate(frames, 1):
            Image.fromarray(frame).save(root / name / "img" / f"{t:04d}.jpg", quality=95)
        (root / name / "groundtruth_rect.txt").write_text(
            "\n".join(",".join(f"{v:g}" for v in r) for r in box_to_otb(boxes)) + "\n")
    return root


SPECS = [("BatA", 9, (96, 128)), ("BatB", 6, (112, 144)), ("BatC", 4, (96, 128))]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("batch"), SPECS)


def _open(root, name):
    return open_sequence(root / name)


@pytest.fixture(scope="module")
def single_results(dataset):
    params, cfg = tiny_params(jax.random.PRNGKey(0)), get_config("code", TINY)
    return {name: track_sequence(params, _open(dataset, name), cfg, log=lambda m: None, canvas_hw=(120, 160)).boxes
            for name, _, _ in SPECS}


def test_batch_equals_single_sequence_tracking(dataset, single_results):
    params, cfg = tiny_params(jax.random.PRNGKey(0)), get_config("code", TINY)
    seqs = [_open(dataset, name) for name, _, _ in SPECS]
    results = track_batch(params, seqs, cfg, batch_size=2, canvas_hw=(120, 160), log=lambda m: None)
    assert [r.name for r in results] == [n for n, _, _ in SPECS]
    for r, (name, count, _) in zip(results, SPECS):
        assert r.boxes.shape == (count, 4)  # a finished sequence stops: exactly its own frames
        np.testing.assert_allclose(r.boxes, single_results[name], atol=0.05, err_msg=name)


def test_sharded_over_eight_host_devices(dataset, single_results, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    out = tmp_path / "batch.json"
    proc = subprocess.run([sys.executable, "-m", "tests.batch_worker", str(dataset), str(out)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["devices"] == 8
    for name, _, _ in SPECS:  # 3 sequences in 8 slots (5 inactive dummies), one per device
        np.testing.assert_allclose(np.array(data["boxes"][name]), single_results[name], atol=0.05, err_msg=name)

