"""The command-line entry points: library noise stays out of their output unless asked for."""

import os
import subprocess
import sys

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
