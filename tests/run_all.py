"""The test suite, each ``tests/test_*.py`` file in its own pytest process: the CI command.

    python -m tests.run_all -q -rs          # arguments go to every pytest call

Why: on 2026-12-06 the one-process suite crashed three times inside XLA's C++ (a segmentation
fault or an abort with no message, in compiling or serialising a program; never a Python error),
each time in ``tests/test_tracker.py`` after some 300 tests had run, and never when that file ran
alone. The cause was not found (WORKSPACE "Developing"). A file per process keeps one file's
compiled programs and allocations from reaching the next. Exit status: 0 when every file passed
(a file whose tests were all deselected counts as passed), 1 if one failed or none ran a test.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

NO_TESTS_COLLECTED = 5  # pytest's exit status when a file has no selected test


def main(argv: list[str]) -> int:
    return run_files(sorted(Path(__file__).resolve().parent.glob("test_*.py")), argv)


def run_files(files: list[Path], argv: list[str]) -> int:
    """Each of ``files`` in its own ``python -m pytest *argv FILE``; the exit status described above."""
    failed, collected_any, start = [], False, time.monotonic()
    for path in files:
        began = time.monotonic()
        status = subprocess.call([sys.executable, "-m", "pytest", *argv, str(path)])
        print(f"== {path.name}: exit {status} in {time.monotonic() - began:.0f} s", flush=True)
        if status == NO_TESTS_COLLECTED:
            continue
        collected_any = True
        if status != 0:
            failed.append(f"{path.name} (exit {status})")
    took = time.monotonic() - start
    if failed:
        print(f"== FAILED: {', '.join(failed)} ({len(files)} files, {took:.0f} s)", flush=True)
        return 1
    if not collected_any:
        print("== no test ran: treating as a failure", flush=True)
        return 1
    print(f"== all {len(files)} test files passed in {took:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
