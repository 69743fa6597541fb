"""The test suite, each ``tests/test_*.py`` file in its own pytest process: the CI command.

    python -m tests.run_all -q -rs              # arguments go to every pytest call
    python -m tests.run_all --jobs=1 -q -rs     # one file at a time, its output live

Why a process per file: on 2026-12-06 the one-process suite crashed three times inside XLA's C++
(a segmentation fault or an abort with no message, in compiling or serialising a program; never
a Python error), each time in ``tests/test_tracker.py`` after some 300 tests had run, and never
when that file ran alone. The cause was not found (WORKSPACE "Developing"). A file per process
keeps one file's compiled programs and allocations from reaching the next.

Why two at a time by default (``--jobs``, default ``min(2, cores)``; ``FCNT_JAX_TEST_JOBS``
overrides it): much of the suite is XLA compiling tiny programs, which leaves part of CI's 2
cores idle. Measured on one clone, one run after the other (WORKSPACE "Developing"): 1236 s one
at a time, 1003 s two at a time (each file runs ~1.6x slower beside another, so the gain is a
fifth, not a half). The slowest files start first, so that no long file is left to run alone at
the end. With several jobs, each file's output is printed whole when it ends, so the log reads
file by file.

Exit status: 0 when every file passed (a file whose tests were all deselected counts as passed),
1 if one failed or none ran a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NO_TESTS_COLLECTED = 5  # pytest's exit status when a file has no selected test
# The slowest files at d7c582e (`.ci/run`, WORKSPACE "Developing"), slowest first: started first.
SLOWEST_FIRST = ("test_tracker.py", "test_batch.py", "test_benchmark.py", "test_speed.py",
                 "test_selectors.py", "test_video.py")


def main(argv: list[str]) -> int:
    jobs, pytest_args = parse_jobs(argv)
    return run_files(sorted(Path(__file__).resolve().parent.glob("test_*.py")), pytest_args, jobs=jobs)


def default_jobs() -> int:
    """``FCNT_JAX_TEST_JOBS`` if set, else two files at a time (one on a one-core machine)."""
    env = os.environ.get("FCNT_JAX_TEST_JOBS", "")
    if env:
        return _positive(env, "FCNT_JAX_TEST_JOBS")
    return max(1, min(2, os.cpu_count() or 1))


def parse_jobs(argv: list[str]) -> tuple[int, list[str]]:
    """Take ``--jobs=N`` / ``--jobs N`` out of ``argv``; the rest goes to pytest."""
    jobs, rest, i = default_jobs(), [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--jobs":
            if i + 1 >= len(argv):
                raise SystemExit("run_all: --jobs needs a number")
            jobs, i = _positive(argv[i + 1], "--jobs"), i + 2
            continue
        if arg.startswith("--jobs="):
            jobs = _positive(arg.split("=", 1)[1], "--jobs")
        else:
            rest.append(arg)
        i += 1
    return jobs, rest


def _positive(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit(f"run_all: {name} must be a whole number >= 1, got {text!r}")
    return value


def start_order(files: list[Path]) -> list[Path]:
    """``files`` with the known slowest first (in ``SLOWEST_FIRST``'s order), then the rest as given."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    return sorted(files, key=lambda p: rank.get(p.name, len(rank)))


def run_files(files: list[Path], argv: list[str], jobs: int = 1) -> int:
    """Each of ``files`` in its own ``python -m pytest *argv FILE``, ``jobs`` at a time; the exit
    status described above."""
    failed, collected_any, start = [], False, time.monotonic()
    for path, status, took in _run(start_order(files) if jobs > 1 else files, argv, jobs):
        print(f"== {path.name}: exit {status} in {took:.0f} s", flush=True)
        if status == NO_TESTS_COLLECTED:
            continue
        collected_any = True
        if status != 0:
            failed.append(f"{path.name} (exit {status})")
    took = time.monotonic() - start
    if failed:
        print(f"== FAILED: {', '.join(sorted(failed))} ({len(files)} files, {took:.0f} s)", flush=True)
        return 1
    if not collected_any:
        print("== no test ran: treating as a failure", flush=True)
        return 1
    print(f"== all {len(files)} test files passed in {took:.0f} s ({jobs} at a time)", flush=True)
    return 0


def _run(files: list[Path], argv: list[str], jobs: int):
    """Yield (file, exit status, seconds) as each file's process ends."""
    if jobs == 1:  # output live, as it comes
        for path in files:
            began = time.monotonic()
            status = subprocess.call([sys.executable, "-m", "pytest", *argv, str(path)])
            yield path, status, time.monotonic() - began
        return
    waiting, running = list(files), []
    while waiting or running:
        while waiting and len(running) < jobs:
            path = waiting.pop(0)
            log = tempfile.TemporaryFile()
            proc = subprocess.Popen([sys.executable, "-m", "pytest", *argv, str(path)],
                                    stdout=log, stderr=subprocess.STDOUT)
            running.append((path, proc, log, time.monotonic()))
        time.sleep(0.2)
        for entry in [e for e in running if e[1].poll() is not None]:
            running.remove(entry)
            path, proc, log, began = entry
            log.seek(0)
            sys.stdout.write(log.read().decode(errors="replace"))
            sys.stdout.flush()
            log.close()
            yield path, proc.returncode, time.monotonic() - began


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
