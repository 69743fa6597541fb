"""Result files: atomic, and readable as the user's umask allows (not mkstemp's 0600)."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from fcnt_jax.files import atomic_path, default_file_mode, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_files_get_the_umask_mode(tmp_path, umask_022):
    assert default_file_mode() == 0o644
    write_text_atomic(tmp_path / "a.txt", "x\n")
    assert mode(tmp_path / "a.txt") == 0o644
    os.umask(0o002)
    write_text_atomic(tmp_path / "b.txt", "y\n")
    assert mode(tmp_path / "b.txt") == 0o664 and (tmp_path / "b.txt").read_text() == "y\n"
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as f:  # what an ordinary open gives under the same umask
        f.write("z")
    assert mode(plain) == mode(tmp_path / "b.txt")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, umask_022):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_every_result_writer_uses_the_umask(tmp_path, umask_022):
    from fcnt_jax import viz
    from fcnt_jax.benchmark import _write_jsonl
    from fcnt_jax.eval.report import save_png
    from fcnt_jax.run import TrackResult, write_results

    boxes = np.array([[1.0, 2.0, 3.0, 4.0]] * 2)
    result = TrackResult("Seq", boxes, np.ones(2), np.zeros(2, int), {"init_s": 1.0}, None)
    txt, js = write_results(result, tmp_path)
    _write_jsonl(tmp_path / "results.jsonl", [{"sequence": "Seq"}])
    image = Image.new("RGB", (8, 8))
    save_png(image, tmp_path / "plot.png")
    viz.save_gif([image, image], tmp_path / "seq.gif")
    for path in (txt, js, tmp_path / "results.jsonl", tmp_path / "plot.png", tmp_path / "seq.gif"):
        assert mode(path) == 0o644, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Seq.json", "Seq.txt", "plot.png", "results.jsonl",
                                                         "seq.gif"]


def test_per_frame_diagnostics_are_written_and_plotted(tmp_path):
    """<Seq>.json holds the box and every diagnostic per frame (NaN as null, names for the deciding
    net); <Seq>_diagnostics.png draws them, one panel each."""
    import json

    from fcnt_jax.run import DIAGNOSTICS, TrackResult, write_results

    n = 5
    boxes = np.array([[10.0 + t, 20.0, 30.0, 40.0] for t in range(n)])
    diag = {k: np.linspace(0.1, 0.5, n) for k in DIAGNOSTICS}
    diag["g_box"] = boxes + np.array([2.0, 0.0, 0.0, 0.0])
    diag["s_box"] = boxes + np.array([0.0, 60.0, 0.0, 0.0])  # 60 px off, within the error panel
    diag["scale_factor"] = np.array([np.nan, 1.02, 1.0, np.nan, 0.98])  # NaN: no filter / held
    diag["decided_by"] = np.array([0, 0, 1, 2, 0])
    diag["adapted"] = np.array([False, False, False, True, False])
    diag["discriminated"] = np.array([False, True, False, False, False])
    diag["g_pd"] = np.array([0.1, 0.5, np.inf, 2.0, np.nan])
    diag["g_distracter"] = np.array([False, True, True, True, False])
    result = TrackResult("Seq", boxes, diag["confidence"], diag["decided_by"], {"init_s": 1.0}, None,
                         diagnostics=diag)
    _, js = write_results(result, tmp_path, groundtruth=boxes + 1.0, distracter_ratio=0.2)
    per_frame = json.loads(js.read_text())["per_frame"]
    assert per_frame["decided_by"] == ["gnet", "gnet", "snet", "held", "gnet"]
    assert per_frame["box"][1] == [12.0, 21.0, 30.0, 40.0]  # OTB 1-based
    assert per_frame["g_pd"] == [0.1, 0.5, 1e6, 2.0, None]
    assert per_frame["discriminated"] == [False, True, False, False, False]
    assert per_frame["g_distracter"] == [False, True, True, True, False]
    assert per_frame["s_peak"] == [round(v, 4) for v in np.linspace(0.1, 0.5, n)]
    assert per_frame["g_box"][1] == [14.0, 21.0, 30.0, 40.0]  # each net's own box, OTB 1-based too
    assert per_frame["s_box"][0] == [11.0, 81.0, 30.0, 40.0]
    assert per_frame["scale_factor"] == [None, 1.02, 1.0, None, 0.98]
    image = Image.open(tmp_path / "Seq_diagnostics.png")
    assert image.size == (900, 1500)  # with the ground truth, two more panels: centre errors and sizes
    write_results(result, tmp_path / "no_truth")
    assert Image.open(tmp_path / "no_truth" / "Seq_diagnostics.png").size == (900, 900)  # no error or size panel
    assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 20  # curves, not a blank sheet
