"""absl entry points. Each module's ``main`` parses flags and calls the library; run them with
``python -m experiments.<name>``."""

from __future__ import annotations

import logging
from typing import Callable

# Libraries whose INFO lines (e.g. jax's "Unable to initialize backend 'tpu'" on every CPU start)
# are noise to a user; --verbosity (-v) shows them again.
QUIET_LOGGERS = ("jax", "absl")


def quiet_library_logs() -> None:
    """Raise the libraries' loggers to WARNING unless the user passed ``--verbosity``."""
    from absl import flags

    if flags.FLAGS["verbosity"].present:
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_main(main: Callable[[list[str]], int | None]) -> None:
    """``absl.app.run(main)`` with the library noise kept out of the command's output."""
    from absl import app

    def wrapped(argv):
        quiet_library_logs()
        return main(argv)

    app.run(wrapped)


def sequence_folders(roots: list[str], names: list[str] | None = None) -> list:
    """The sequence folders under each non-empty root (sorted), only those named in ``names`` when
    given; raises absl's UsageError when none is left, naming the roots."""
    from pathlib import Path

    from absl import app

    folders = [p for root in roots if root for p in sorted(Path(root).iterdir()) if p.is_dir()]
    if names:
        folders = [p for p in folders if p.name in names]
    if not folders:
        raise app.UsageError(f"no sequence folders under {[r for r in roots if r]}"
                             + (f" named {names}" if names else ""))
    return folders


def read_record(path) -> dict:
    """A ``<Seq>.json`` result record; a file that is not JSON is a UsageError naming it."""
    import json

    from absl import app

    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise app.UsageError(f"{path}: not JSON ({e})") from e


def records_in(folders: list[str], flag: str = "--results_dirs"):
    """``(path, record)`` for every ``<Seq>.json`` (not ``config.json``) of each folder, sorted by
    name; a folder that is not one is a UsageError naming it and the ``flag`` that gave it."""
    from pathlib import Path

    from absl import app

    for folder in map(Path, folders):
        if not folder.is_dir():
            raise app.UsageError(f"{flag}: {folder} is not a folder")
        for path in sorted(folder.glob("*.json")):
            if path.stem != "config":
                yield path, read_record(path)


def truth_under(roots: list[str], name: str):
    """The ground truth of the sequence ``name`` in the first of ``roots`` holding it, else None."""
    from pathlib import Path

    from fcnt_jax.data import open_sequence

    root = next((r for r in map(Path, roots) if (r / name).is_dir()), None)
    return None if root is None else open_sequence(root / name).groundtruth
