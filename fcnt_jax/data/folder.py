"""A plain folder of frames with one initial box given by the user (no ground truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fcnt_jax.data.sequence import Sequence, SequenceError, check_init_box, list_images, parse_numbers
from fcnt_jax.geometry import box_from_otb


def parse_box_argument(text: str) -> np.ndarray:
    """``"x,y,w,h"`` (OTB 1-based, like result files) -> a 0-based box."""
    numbers = parse_numbers(text, Path("--init_box"), 1)
    if len(numbers) != 4:
        raise SequenceError(f"--init_box: expected x,y,w,h (4 numbers), got {text!r}")
    return box_from_otb(np.asarray(numbers))


def read_folder(path: str | Path, init_box: str | np.ndarray) -> Sequence:
    """``init_box``: a string ``x,y,w,h`` (1-based) or an already 0-based array."""
    path = Path(path)
    box = parse_box_argument(init_box) if isinstance(init_box, str) else np.asarray(init_box, np.float64)
    frames = list_images(path)
    box = check_init_box(box, f"{path} --init_box")
    return Sequence(name=path.name, frame_paths=tuple(frames), init_box=box, source="folder")
