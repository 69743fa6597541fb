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


def test_scale_filter_in_a_batch_of_padded_frames_equals_single_unpadded_tracking(dataset):
    """The DSST filter's samples replicate each frame's own border (its true size, not the padded
    canvas's) and its model is carried per sequence: a batch of two sequences of different sizes on
    one padded canvas gives each sequence's single, unpadded run. (GNet's refit is off here: this
    is about the filter.)"""
    params = tiny_params(jax.random.PRNGKey(0))
    cfg = get_config("fcnt_plus", TINY + ["heads.gnet_underfit_iterations=0"])
    names = ["BatA", "BatB"]
    single = {n: track_sequence(params, _open(dataset, n), cfg, log=lambda m: None).boxes for n in names}
    results = track_batch(params, [_open(dataset, n) for n in names], cfg, batch_size=2, canvas_hw=(120, 160),
                          log=lambda m: None)
    for r in results:
        np.testing.assert_allclose(r.boxes, single[r.name], atol=0.05, err_msg=r.name)
    assert any(np.ptp(single[n][1:, 2]) > 0 for n in names)  # the filter did resize a box


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



def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_each_track_their_own_slots(dataset, single_results, tmp_path):
    """jax.distributed with 2 CPU processes x 2 devices: 3 sequences in 4 slots, 2 slots per process.
    Each process decodes and returns only its own slots' sequences; together they return each
    sequence once, with the single-sequence tracker's boxes."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    port = _free_port()
    outs = [tmp_path / f"p{i}.json" for i in range(2)]
    bench = tmp_path / "bench"
    procs = [subprocess.Popen([sys.executable, "-m", "tests.multihost_worker", str(dataset), str(outs[i]), str(i),
                               str(port), str(bench)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    logs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, logs):
        assert p.returncode == 0, err[-3000:]
    data = [json.loads(o.read_text()) for o in outs]
    assert all(d["processes"] == 2 and d["devices"] == 4 and d["local_devices"] == 2 for d in data)
    # Slots 0-1 live on process 0's devices, slots 2-3 (BatC and a dummy) on process 1's.
    assert sorted(data[0]["boxes"]) == ["BatA", "BatB"] and sorted(data[1]["boxes"]) == ["BatC"]
    assert data[0]["decoded"] == ["BatA", "BatB"] and data[1]["decoded"] == ["BatC"]
    for d in data:
        for name, boxes in d["boxes"].items():
            np.testing.assert_allclose(np.array(boxes), single_results[name], atol=0.05, err_msg=name)
    # The benchmark runner: each process records its own sequences in its own JSONL; together every
    # sequence has its result files, written once.
    assert data[0]["bench_rows"] == ["BatA", "BatB"] and data[1]["bench_rows"] == ["BatC"]
    for i, names in enumerate((["BatA", "BatB"], ["BatC"])):
        lines = (bench / f"results.process{i}.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["sequence"] for line in lines) == names
    for name, count, _ in SPECS:
        assert len((bench / f"{name}.txt").read_text().splitlines()) == count
    assert not (bench / "results.jsonl").exists()
