"""tests/run_all.py, the CI command: a file per pytest process, failing when any file fails or no
test ran at all (a file whose tests are all deselected is not a failure on its own)."""

from __future__ import annotations

from pathlib import Path

from tests import run_all

PASSING = "def test_ok():\n    assert 1 + 1 == 2\n"
FAILING = "def test_broken():\n    assert 1 + 1 == 3\n"
# A crash, as the XLA aborts were: the process dies, pytest reports no result for the file.
CRASHING = "import os\n\ndef test_dies():\n    os._exit(134)\n"


def _files(tmp_path: Path, **sources: str) -> list[Path]:
    paths = []
    for name, text in sources.items():
        path = tmp_path / f"test_{name}.py"
        path.write_text(text)
        paths.append(path)
    return paths


def test_every_file_passing_is_success(tmp_path, capsys):
    assert run_all.run_files(_files(tmp_path, a=PASSING, b=PASSING), ["-q"]) == 0
    out = capsys.readouterr().out
    assert "test_a.py: exit 0" in out and "test_b.py: exit 0" in out and "all 2 test files passed" in out


def test_a_failing_file_fails_the_run_and_is_named_but_the_others_still_run(tmp_path, capsys):
    files = _files(tmp_path, a=FAILING, b=PASSING)
    assert run_all.run_files(files, ["-q"]) == 1
    out = capsys.readouterr().out
    assert "test_b.py: exit 0" in out  # ran after the failure
    assert "FAILED: test_a.py (exit 1)" in out


def test_a_crashed_process_fails_the_run(tmp_path, capsys):
    assert run_all.run_files(_files(tmp_path, a=PASSING, c=CRASHING), ["-q"]) == 1
    assert "FAILED: test_c.py (exit 134)" in capsys.readouterr().out


def test_deselected_files_pass_but_a_run_with_no_test_at_all_fails(tmp_path, capsys):
    files = _files(tmp_path, a=PASSING, b=FAILING)
    assert run_all.run_files(files, ["-q", "-k", "test_ok"]) == 0  # b's only test deselected (pytest's exit 5)
    assert run_all.run_files(files, ["-q", "-k", "no_such_test"]) == 1
    assert "no test ran" in capsys.readouterr().out
