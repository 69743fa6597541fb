"""The data-set runner: a killed run resumes to exactly the uninterrupted results; failures are kept apart."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnt_jax.benchmark import (FolderConfigMismatch, claim_result_folder, load_sequences, run_dir, select_folders,
                                summary_table)
from fcnt_jax.data import SequenceError
from fcnt_jax.geometry import box_to_otb

from tests.conftest import REPO_ROOT
from tests.synthetic import synthetic_sequence

NAMES = ("SynA", "SynB", "SynC", "SynD")


def make_otb_dataset(root: Path, frames_per_sequence: int = 12, broken: str | None = None) -> Path:
    """Synthetic sequences in the OTB layout; ``broken`` names one whose 5th frame is not a JPEG."""
    for i, name in enumerate(NAMES):
        frames, boxes = synthetic_sequence(frames_per_sequence, seed=i)
        img = root / name / "img"
        img.mkdir(parents=True)
        for t, frame in enumerate(frames, 1):
            Image.fromarray(frame).save(img / f"{t:04d}.jpg", quality=95)
        if name == broken:
            (img / "0005.jpg").write_bytes(b"not a jpeg")
        rows = box_to_otb(boxes)
        (root / name / "groundtruth_rect.txt").write_text("\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    return root


def _worker(root: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-m", "tests.bench_worker", str(root), str(out)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log
    return log


def _rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("init_s", "compile_s", "track_fps")} for r in rows]


@pytest.mark.slow
def test_killed_run_resumes_to_identical_results(tmp_path):
    root = make_otb_dataset(tmp_path / "data")
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    _finish(_worker(root, whole))

    proc = _worker(root, resumed)
    deadline = time.time() + 600
    while not (resumed / f"{NAMES[0]}.json").exists():  # kill -9 as soon as the first sequence is done
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (resumed / f"{NAMES[-1]}.json").exists(), "the run finished before it could be killed"

    log = _finish(_worker(root, resumed))
    assert f"{NAMES[0]}: done before, skipped" in log
    for name in NAMES:
        assert (whole / f"{name}.txt").read_bytes() == (resumed / f"{name}.txt").read_bytes(), name
    assert _rows(whole) == _rows(resumed)
    assert [r["sequence"] for r in _rows(resumed)] == list(NAMES)  # nothing lost, nothing twice
    assert not list(resumed.glob("*.tmp"))


def test_a_failing_sequence_is_reported_and_the_rest_go_on(tmp_path):
    import jax

    from fcnt_jax.benchmark import run_benchmark
    from fcnt_jax.config import get_config
    from tests.test_backbone import tiny_params
    from tests.test_tracker import TINY

    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=6, broken="SynB")
    out = tmp_path / "out"
    messages = []
    rows = run_benchmark(tiny_params(jax.random.PRNGKey(0)), "otb", root, out, get_config("code", TINY),
                         sequences=["SynA", "synb", "SynC"], log=messages.append)
    assert [r["sequence"] for r in rows] == ["SynA", "SynB", "SynC"]
    # SynB stops at its bad 5th frame: the 4 boxes before it are kept and the error names the frame.
    assert "error" in rows[1] and "0005.jpg" in rows[1]["error"] and rows[1]["partial"] is True
    assert any("SynB: STOPPED EARLY" in m and "0005.jpg" in m for m in messages)
    assert len(np.loadtxt(out / "SynB.txt", delimiter=",")) == 4
    jsonl = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["sequence"] for r in jsonl] == ["SynA", "SynB", "SynC"] and "0005.jpg" in jsonl[1]["error"]
    assert len(np.loadtxt(out / "SynA.txt", delimiter=",")) == 6
    table = summary_table(rows)
    assert "failed" in table and "mean (2)" in table
    # A sequence whose first frame cannot be read fails as a whole, and the others still go on.
    (root / "SynD" / "img" / "0001.jpg").write_bytes(b"")
    rows = run_benchmark(tiny_params(jax.random.PRNGKey(0)), "otb", root, out, get_config("code", TINY),
                         log=messages.append)
    assert "0001.jpg" in rows[3]["error"] and "traceback" in rows[3] and not (out / "SynD.txt").exists()
    assert any("SynA: done before, skipped" in m for m in messages)


def test_sequence_selection_and_run_folders(tmp_path):
    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=2)
    assert [p.name for p in select_folders("otb", root)] == list(NAMES)
    assert [s.name for s in load_sequences("otb", root, ["sync", "SynA"])] == ["SynA", "SynC"]
    with pytest.raises(SequenceError, match="no sequence.*'nope'"):
        select_folders("otb", root, ["nope"])
    with pytest.raises(SequenceError, match="does not exist"):
        select_folders("otb", tmp_path / "missing")
    assert run_dir(tmp_path, 0, 1) == tmp_path and run_dir(tmp_path, 1, 3) == tmp_path / "run_002"


def test_padding_to_a_common_canvas_tracks_the_same_and_compiles_once(tmp_path):
    import jax

    from fcnt_jax.config import get_config
    from fcnt_jax.data import open_sequence
    from fcnt_jax.run import pad_to_canvas, track_sequence
    from tests.test_backbone import tiny_params
    from tests.test_tracker import TINY

    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=8)
    params, cfg = tiny_params(jax.random.PRNGKey(0)), get_config("code", TINY)
    a, b = open_sequence(root / "SynA"), open_sequence(root / "SynB")
    plain = track_sequence(params, a, cfg, log=lambda m: None)
    padded = track_sequence(params, a, cfg, log=lambda m: None, canvas_hw=(120, 160))
    np.testing.assert_allclose(padded.boxes, plain.boxes, atol=0.05)
    again = track_sequence(params, b, cfg, log=lambda m: None, canvas_hw=(120, 160))
    assert again.timing["compile_s"] == 0.0  # the canvas' compiled tracker is reused
    with pytest.raises(SequenceError, match="x.jpg: 128x96 frame does not fit the 100x120 canvas"):
        pad_to_canvas(np.zeros((96, 128, 3), np.uint8), (120, 100), "x.jpg")


def test_batched_benchmark_keeps_going_past_bad_sequences(tmp_path):
    import jax

    from fcnt_jax.benchmark import run_benchmark
    from fcnt_jax.config import get_config
    from tests.test_backbone import tiny_params
    from tests.test_tracker import TINY

    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=6, broken="SynB")
    (root / "SynD" / "img" / "0001.jpg").write_bytes(b"")
    out = tmp_path / "out"
    messages = []
    rows = run_benchmark(tiny_params(jax.random.PRNGKey(0)), "otb", root, out, get_config("code", TINY),
                         batch_size=3, log=messages.append)
    assert [r["sequence"] for r in rows] == list(NAMES)
    assert "error" not in rows[0] and "error" not in rows[2] and rows[0]["batch_size"] == 3
    assert "0005.jpg" in rows[1]["error"] and len(np.loadtxt(out / "SynB.txt", delimiter=",")) == 4
    assert "0001.jpg" in rows[3]["error"] and not (out / "SynD.txt").exists()
    assert len(np.loadtxt(out / "SynA.txt", delimiter=",")) == 6


def test_benchmark_cli_rejects_bad_arguments_before_any_work(tmp_path):
    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=2)
    (tmp_path / "file").write_text("")
    cases = [([f"--dataset_root={tmp_path / 'missing'}"], "data set root does not exist"),
             ([f"--dataset_root={root}", "--sequences=Nope"], "no sequence(s) named ['nope']"),
             ([f"--dataset_root={root}", "--preset=fast"], "unknown preset 'fast'"),
             ([f"--dataset_root={root}", f"--output_dir={tmp_path / 'file' / 'out'}"], "not writable")]
    for args, message in cases:
        args = args if any(a.startswith("--output_dir") for a in args) else args + [f"--output_dir={tmp_path / 'o'}"]
        proc = subprocess.run([sys.executable, "-m", "experiments.benchmark", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_claim_result_folder_writes_the_config_first_and_refuses_another_configuration(tmp_path):
    from fcnt_jax.config import get_config

    folder = tmp_path / "seed0" / "otb" / "plus-gnet_fallback-latest_sample"
    plus = get_config("fcnt_plus_no_gnet_refit_no_scale_filter")
    claim_result_folder(folder, plus)
    assert json.loads((folder / "config.json").read_text()) == plus.to_dict()
    (folder / "config.json").write_text(json.dumps({**plus.to_dict(), "preset": "another_name_for_it"}))
    claim_result_folder(folder, plus)  # a preset's name is not its configuration
    with pytest.raises(FolderConfigMismatch) as info:
        claim_result_folder(folder, get_config("code"))
    message = str(info.value)
    assert str(folder) in message
    assert "differs in localization.gnet_fallback, updates.stored_sample)" in message  # exactly what differs
    assert json.loads((folder / "config.json").read_text()) == plus.to_dict()  # the refused claim wrote nothing
    (folder / "config.json").write_text("{not json")
    with pytest.raises(FolderConfigMismatch, match="not a configuration this version can read"):
        claim_result_folder(folder, plus)
    # A record written before a field existed is read with that field's default: the same configuration.
    older = plus.to_dict()
    del older["localization"]["centre_to_map_centroid"]
    (folder / "config.json").write_text(json.dumps(older))
    claim_result_folder(folder, plus)
    with pytest.raises(FolderConfigMismatch, match="differs in localization.centre_to_map_centroid"):
        claim_result_folder(folder, get_config("fcnt_plus_centroid"))


def test_run_benchmark_refuses_a_folder_of_another_configuration_before_tracking(tmp_path):
    """The shared runner claims its folder first: a folder left by another configuration stops it
    before any sequence is tracked or skipped as done (its results would be mixed with this one's)."""
    import jax

    from fcnt_jax.benchmark import run_benchmark
    from fcnt_jax.config import get_config
    from tests.test_backbone import tiny_params
    from tests.test_tracker import TINY

    root = make_otb_dataset(tmp_path / "data", frames_per_sequence=3)
    out = tmp_path / "out"
    claim_result_folder(out, get_config("fcnt_plus", TINY))
    with pytest.raises(FolderConfigMismatch,
                       match="differs in heads.gnet_underfit_iterations, localization.gnet_fallback, scale_filter.enabled, "
                       "updates.stored_sample"):
        run_benchmark(tiny_params(jax.random.PRNGKey(0)), "otb", root, out, get_config("code", TINY))
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
