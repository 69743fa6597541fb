"""tests/run_all.py, the CI command: a file per pytest process, failing when any file fails or no
test ran at all (a file whose tests are all deselected is not a failure on its own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


def _rendezvous(me: str, other: str, folder: Path) -> str:
    """A test that passes only if the other file's test is running at the same time."""
    return (f"import time\nfrom pathlib import Path\n\ndef test_meet():\n"
            f"    folder = Path({str(folder)!r})\n"
            f"    (folder / {me!r}).write_text('here')\n"
            f"    deadline = time.monotonic() + 60\n"
            f"    while not (folder / {other!r}).exists():\n"
            f"        assert time.monotonic() < deadline, 'the other file never ran beside this one'\n"
            f"        time.sleep(0.05)\n"
            f"    print('MET-' + {me!r})\n")


def test_two_jobs_run_two_files_at_once_and_print_each_files_output_whole(tmp_path, capsys):
    files = _files(tmp_path, a=_rendezvous("a", "b", tmp_path), b=_rendezvous("b", "a", tmp_path))
    assert run_all.run_files(files, ["-q", "-s"], jobs=2) == 0
    out = capsys.readouterr().out
    assert "MET-a" in out and "MET-b" in out and "all 2 test files passed in" in out and "(2 at a time)" in out
    # Each file's output is printed in one piece, before its status line.
    for name in ("a", "b"):
        assert out.index(f"MET-{name}") < out.index(f"test_{name}.py: exit 0")


def test_two_jobs_report_failures_and_crashes_like_one(tmp_path, capsys):
    files = _files(tmp_path, a=PASSING, b=FAILING, c=CRASHING)
    assert run_all.run_files(files, ["-q"], jobs=2) == 1
    out = capsys.readouterr().out
    assert "test_a.py: exit 0" in out and "FAILED: test_b.py (exit 1), test_c.py (exit 134)" in out
    assert run_all.run_files(files[:1], ["-q", "-k", "no_such_test"], jobs=2) == 1


def test_jobs_flag_is_taken_out_of_pytests_arguments_and_checked(monkeypatch):
    monkeypatch.delenv("FCNT_JAX_TEST_JOBS", raising=False)
    assert run_all.parse_jobs(["-q", "--jobs=3", "-rs"]) == (3, ["-q", "-rs"])
    assert run_all.parse_jobs(["--jobs", "1", "-k", "x"]) == (1, ["-k", "x"])
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert run_all.parse_jobs(["-q"])[0] == 2  # two at a time, however many cores
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert run_all.parse_jobs(["-q"])[0] == 1
    monkeypatch.setenv("FCNT_JAX_TEST_JOBS", "4")
    assert run_all.parse_jobs(["-q"]) == (4, ["-q"])
    for bad in (["--jobs=0"], ["--jobs=two"], ["--jobs"]):
        with pytest.raises(SystemExit, match="--jobs"):
            run_all.parse_jobs(bad)


def test_the_slowest_files_start_first_and_the_rest_keep_their_order():
    names = ["test_a.py", "test_batch.py", "test_b.py", "test_tracker.py"]
    assert [p.name for p in run_all.start_order([Path(n) for n in names])] == [
        "test_tracker.py", "test_batch.py", "test_a.py", "test_b.py"]


# tests/conftest.py: tests outside `slow` compile with XLA's optimisation passes off, `slow` ones
# with them on, and the processes a test starts are told the same through the environment.
needs_default_optimisation = pytest.mark.skipif(os.environ.get("FCNT_JAX_TEST_OPTIMIZE") == "full",
                                                reason="FCNT_JAX_TEST_OPTIMIZE=full keeps the passes everywhere")


@needs_default_optimisation
def test_a_small_test_compiles_without_the_optimisation_passes():
    import jax
    assert jax.config.values["jax_disable_most_optimizations"] is True
    assert os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] == "1"


@needs_default_optimisation
@pytest.mark.slow
def test_a_slow_test_compiles_with_the_optimisation_passes():
    import jax
    assert jax.config.values["jax_disable_most_optimizations"] is False
    assert os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] == "0"
