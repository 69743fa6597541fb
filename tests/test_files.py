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
