"""Shared fixtures: the real data folder beside the project, the real weights, synthetic sequences."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FCNT_JAX_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _share_compilations() -> str:
    """An opt-in persistent XLA compilation cache for the test run, this process and the worker
    processes it starts (they inherit JAX_COMPILATION_CACHE_DIR).

    Off by default. With it on, the full suite crashed three times on 2026-12-06 (fresh clones;
    twice a segmentation fault in a batched-refit test since reverted, once an abort with no
    message in ``test_matched_centre_...``), each inside JAX's cache write
    (``compilation_cache.put_executable_and_time``, the executable's ``serialize()``), never when
    the test file ran alone; the cause was not found. A red CI loses everything, so the suite
    compiles every program itself (slower: see WORKSPACE "Developing").
    ``FCNT_JAX_TEST_COMPILE_CACHE=on`` gives each run a fresh temporary cache (removed at exit), as
    before; a folder keeps one across runs for local work. Many tests
    compile the same tiny tracker at the same shape in different processes (the kill/resume
    benchmark, the two-process batch, the CLIs) or as a fresh jit of the same program, and a cache
    hit skips the compile; the cache keys on the compiled program, so a hit runs exactly what a
    compile would have produced.
    """
    folder = os.environ.get("FCNT_JAX_TEST_COMPILE_CACHE", "off")
    if folder in ("off", ""):
        return ""
    if folder == "on":
        folder = tempfile.mkdtemp(prefix="fcnt_jax_test_xla_cache_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # JAX's own default: only programs that took a second or more to compile are stored.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
    import jax
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs",
                      float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
    return folder


COMPILE_CACHE = _share_compilations()

# Most tests compile a tiny tracker and run it a few frames, so XLA's optimisation passes (LLVM's
# above all) cost far more than they save. Measured on one machine, one run after the other
# (WORKSPACE "Developing"): the suite took 1128 s with the passes and 656 s without them outside
# the `slow` tests (tests/test_tracker.py 702 -> 400 s), 371 tests passing both times. The `slow`
# tests run long (the real VGG-16 at full size, a thousand frames, a killed and resumed benchmark),
# where the optimised program pays, so they keep the passes. The flag changes how hard XLA
# optimises the same program (float results may differ in their last bits, as between fusions);
# every test passed both ways. FCNT_JAX_TEST_OPTIMIZE=full keeps the passes everywhere.
FULL_OPTIMIZATION = os.environ.get("FCNT_JAX_TEST_OPTIMIZE", "") == "full"
_NO_OPT_ENV = "JAX_DISABLE_MOST_OPTIMIZATIONS"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before each test's fixtures are made (a module fixture compiles with the first test that
    asks for it): outside `slow` tests compile with jax_disable_most_optimizations, in this process
    and in the processes the test starts (they read JAX_DISABLE_MOST_OPTIMIZATIONS)."""
    if FULL_OPTIMIZATION:
        return
    import jax
    cheap = item.get_closest_marker("slow") is None
    jax.config.update("jax_disable_most_optimizations", cheap)
    os.environ[_NO_OPT_ENV] = "1" if cheap else "0"


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
