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
