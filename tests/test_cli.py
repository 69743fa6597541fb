"""The command-line entry points: library noise stays out of their output unless asked for."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# A stand-in entry point run as users run ours: absl flags, experiments.run_main, a jax start-up
# (the real source of "Unable to initialize backend 'tpu'" on CPU machines) and one INFO line
# planted in jax's backend logger, so the check does not depend on which backends exist here.
PROGRAM = """
import logging, jax
from experiments import run_main
def main(argv):
    jax.devices()
    logging.getLogger("jax._src.xla_bridge").info("planted backend notice")
    print("tracked")
    return 0
run_main(main)
"""


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=120)


def test_library_info_logs_are_hidden_unless_verbosity_asks():
    quiet = run()
    assert quiet.returncode == 0 and quiet.stdout.strip() == "tracked"
    assert "planted backend notice" not in quiet.stderr and "Unable to initialize backend" not in quiet.stderr
    loud = run("--verbosity=0")
    assert loud.returncode == 0 and "planted backend notice" in loud.stderr


def test_sequence_folders_lists_each_root_filters_by_name_and_says_when_none_is_left(tmp_path):
    from absl import app

    from experiments import sequence_folders

    for root, names in (("a", ["Zed", "Alpha"]), ("b", ["Beta"])):
        for name in names:
            (tmp_path / root / name).mkdir(parents=True)
    (tmp_path / "a" / "notes.txt").write_text("a file, not a sequence")
    roots = [str(tmp_path / "a"), "", str(tmp_path / "b")]  # an empty root is skipped
    assert [p.name for p in sequence_folders(roots)] == ["Alpha", "Zed", "Beta"]
    assert [p.name for p in sequence_folders(roots, ["Beta", "Zed"])] == ["Zed", "Beta"]
    with pytest.raises(app.UsageError, match=r"no sequence folders under .* named \['Nope'\]"):
        sequence_folders(roots, ["Nope"])
