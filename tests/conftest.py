"""Shared fixtures: the real data folder beside the project, the real weights, synthetic sequences."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FCNT_JAX_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set FCNT_JAX_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def vgg_params_host():
    from fcnt_jax.weights import load_vgg16_params
    return load_vgg16_params()


@pytest.fixture(scope="session")
def vgg_params(vgg_params_host):
    from fcnt_jax.backbone import to_device_params
    return to_device_params(vgg_params_host)


def write_frames(folder: Path, count: int, size=(40, 30), mode="RGB", digits=4, start=1, ext="jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(start, start + count):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(
            folder / f"{i:0{digits}d}.{ext}")
        paths.append(folder / f"{i:0{digits}d}.{ext}")
    return paths
