"""Run the tracker over a data set: resumable, one failing sequence never stops the rest.

Each sequence's ``<Seq>.txt`` and ``<Seq>.json`` are written atomically (the ``.json`` last, as
the mark of a finished sequence); a sequence whose two files exist is skipped, so an interrupted
run resumes where it stopped and loses nothing. ``results.jsonl`` holds one JSON line per
sequence (errors too, with the message); it is rewritten atomically after every sequence from the
per-sequence files, so a kill at any moment never leaves it short or with a duplicate row.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Callable

import numpy as np

from fcnt_jax.config import FCNTConfig
from fcnt_jax.data import Sequence, SequenceError, open_sequence
from fcnt_jax.data import trackingnet
from fcnt_jax.data.got10k import read_got10k, write_got10k_result
from fcnt_jax.data.lasot import is_lasot_folder, read_lasot
from fcnt_jax.data.otb import is_otb_folder
from fcnt_jax.data.uav123 import annotation_path
from fcnt_jax.data.vot import is_vot_folder
from fcnt_jax.files import write_text_atomic
from fcnt_jax.run import common_canvas, track_sequence, write_results


def list_sequences(dataset: str, root: Path) -> list[Path]:
    """Sequence folders of a data set root, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise SequenceError(f"{root}: data set root does not exist")
    if dataset == "otb":
        folders = [p for p in root.iterdir() if p.is_dir() and is_otb_folder(p)]
    elif dataset == "vot":
        folders = [p for p in root.iterdir() if p.is_dir() and is_vot_folder(p)]
    elif dataset == "uav123":
        folders = [p for subset in (root / "data_seq").iterdir() if subset.is_dir() for p in subset.iterdir()
                   if p.is_dir() and (annotation_path(p) or Path("/nonexistent")).is_file()]
    elif dataset == "got10k":  # a split folder (train/val/test) or the root holding them
        def has_gt(p: Path) -> bool:
            return p.is_dir() and (p / "groundtruth.txt").is_file()

        splits = [root] if any(has_gt(p) for p in root.iterdir()) else sorted(p for p in root.iterdir() if p.is_dir())
        folders = [p for s in splits for p in s.iterdir() if has_gt(p)]
    elif dataset == "lasot":  # <root>/<class>/<class>-<n>
        folders = [p for c in root.iterdir() if c.is_dir() for p in c.iterdir() if p.is_dir() and is_lasot_folder(p)]
    elif dataset == "trackingnet":  # a split folder (frames/, anno/) or the root holding TRAIN_k / TEST
        folders = [p for s in trackingnet.split_folders(root) for p in (s / "frames").iterdir()
                   if p.is_dir() and trackingnet.is_trackingnet_folder(p)]
    else:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    return sorted(folders, key=lambda p: p.name.lower())


DATASETS = ("otb", "vot", "uav123", "got10k", "lasot", "trackingnet")
JSONL_KEYS = ("sequence", "frames", "init_s", "compile_s", "track_fps", "precision_20", "auc")


def select_folders(dataset: str, root: Path, sequences: list[str] | None = None) -> list[Path]:
    """The data set's sequence folders, or only the named ones (an unknown name is an error)."""
    folders = list_sequences(dataset, root)
    if sequences:
        wanted = {s.lower() for s in sequences}
        missing = wanted - {p.name.lower() for p in folders}
        if missing:
            raise SequenceError(f"{root}: no sequence(s) named {sorted(missing)}; "
                                f"found {[p.name for p in folders]}")
        folders = [p for p in folders if p.name.lower() in wanted]
    if not folders:
        raise SequenceError(f"{root}: no {dataset} sequence folders found")
    return folders


def open_in(dataset: str, folder: Path) -> Sequence:
    """A sequence folder read by its data set's reader (GOT-10k's test split, with one box and no
    label files, would otherwise look like a VOT folder); other layouts are auto-detected."""
    reader = {"got10k": read_got10k, "lasot": read_lasot, "trackingnet": trackingnet.read_trackingnet}.get(dataset)
    return reader(folder) if reader else open_sequence(folder)


def load_sequences(dataset: str, root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """Every (or every named) sequence of a data set, opened (frames are not decoded)."""
    return [open_in(dataset, p) for p in select_folders(dataset, Path(root), sequences)]


def dev_sets(sets: list[tuple[str, Path, int]], wanted: list[str] | None = None) -> dict[str, tuple]:
    """``(name, OTB-layout root, frames)`` sets -> ``{name: (root, frames, sequence names, sequences)}``,
    only the sequences named in ``wanted`` (all when None); a set with none of them is left out.
    Raises ValueError when no set keeps a sequence (or a root cannot be read)."""
    chosen = set(wanted) if wanted else None
    per_set = {}
    for name, root, frames in sets:
        sequences = [s for s in load_sequences("otb", root) if chosen is None or s.name in chosen]
        if sequences:
            per_set[name] = (root, frames, [s.name for s in sequences], sequences)
    if not per_set:
        raise ValueError(f"none of the sequences {wanted} is in {[str(r) for _, r, _ in sets]}")
    return per_set


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _try_open(dataset: str, folder: Path) -> Sequence | None:
    try:
        return open_in(dataset, folder)
    except SequenceError:  # reported when its turn comes
        return None


def _failure(name: str, e: BaseException) -> dict:
    return {"sequence": name, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=3)}


class FolderConfigMismatch(ValueError):
    """A result folder already holds another configuration's runs."""


def claim_result_folder(folder: Path, cfg: FCNTConfig) -> None:
    """Write ``folder/config.json`` (``cfg.to_dict()``) unless it is there, so that a folder, even
    one left by an interrupted run, says what ran in it. A folder whose config.json is another
    configuration (other than in the preset's name) raises, naming the folder and the fields that
    differ: resuming into it would mix two configurations' sequences."""
    path = Path(folder) / "config.json"
    if path.exists():
        try:  # read as a configuration: fields added since the record was written take their defaults
            ran = FCNTConfig.from_dict(json.loads(path.read_text())).to_dict()
        except (OSError, ValueError) as e:
            raise FolderConfigMismatch(f"{path}: not a configuration this version can read ({e}); "
                                       "move the folder away or delete the file") from None
        differ = sorted(_differing_fields(ran, cfg.to_dict()) - {"preset"})
        if differ:
            raise FolderConfigMismatch(
                f"{folder} holds results of another configuration ({path} differs in {', '.join(differ)}); "
                "give another --output_dir, or move that folder away")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(cfg.to_dict(), indent=2) + "\n")


def _differing_fields(a: dict, b: dict, prefix: str = "") -> set[str]:
    """Dotted names of the leaves where two nested dicts differ."""
    out = set()
    for key in set(a) | set(b):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= _differing_fields(x, y, f"{prefix}{key}.")
        elif x != y:
            out.add(f"{prefix}{key}")
    return out


def run_benchmark(vgg_params, dataset: str, root: Path, output_dir: Path, cfg: FCNTConfig,
                  sequences: list[str] | None = None, max_frames: int | None = None, seed: int = 0,
                  log: Callable[[str], None] = print, pad_to_common: bool = False,
                  batch_size: int = 1) -> list[dict]:
    """Track every sequence not yet done; returns one row per sequence (done before or now), in order.

    The folder is claimed first (:func:`claim_result_folder`): its ``config.json`` records ``cfg``,
    and a folder of another configuration is refused before anything is tracked or skipped.

    ``pad_to_common`` zero-pads every frame to :func:`common_canvas` so that the whole data set
    compiles once (results then differ from unpadded tracking only by float rounding).
    ``batch_size`` > 1 tracks that many sequences at a time in lockstep (``batch.track_batch``,
    always on the common canvas).
    """
    from fcnt_jax.batch import track_batch

    output_dir.mkdir(parents=True, exist_ok=True)
    claim_result_folder(output_dir, cfg)
    folders = select_folders(dataset, Path(root), sequences)
    canvas = None
    if pad_to_common or batch_size > 1:
        canvas = common_canvas([seq for seq in (_try_open(dataset, f) for f in folders) if seq is not None])
    if canvas:
        log(f"frames padded to a common {canvas[1]}x{canvas[0]} canvas: one compilation for all sequences")
    extra = {"preset": cfg.preset, "seed": seed, "max_frames": max_frames, "canvas_hw": canvas,
             "batch_size": batch_size}
    rows: dict[str, dict] = {}
    index = {f.name: i for i, f in enumerate(folders, 1)}

    def record(name: str, row: dict, failed: bool = False) -> None:
        prefix = f"[{index[name]}/{len(folders)}] {name}"
        if failed:
            log(f"{prefix}: FAILED: {row['error']}")
        else:
            if "error" in row:
                log(f"{prefix}: STOPPED EARLY (boxes before the bad frame kept): {row['error']}")
            log(f"{prefix}: {row['frames']} frames, init {row['init_s']:.1f} s, {row['track_fps']:.2f} fps, "
                f"P@20 {row.get('precision_20', float('nan')):.3f}, AUC {row.get('auc', float('nan')):.3f}")
        rows[name] = row
        done = [rows[f.name] for f in folders if f.name in rows]
        _write_jsonl(output_dir / f"results{process_suffix()}.jsonl",
                     [r if "error" in r else {k: r.get(k) for k in JSONL_KEYS} for r in done])

    pending: list[tuple[Path, Sequence]] = []
    for folder in folders:
        txt, js = output_dir / f"{folder.name}.txt", output_dir / f"{folder.name}.json"
        if txt.exists() and js.exists():
            rows[folder.name] = json.loads(js.read_text())
            log(f"[{index[folder.name]}/{len(folders)}] {folder.name}: done before, skipped")
            continue
        try:
            pending.append((folder, open_in(dataset, folder).truncated(max_frames)))
        except Exception as e:  # one bad sequence must not lose the others
            record(folder.name, _failure(folder.name, e), failed=True)

    for start in range(0, len(pending), max(batch_size, 1)):
        group = pending[start:start + max(batch_size, 1)]
        log(f"tracking {', '.join(f.name for f, _ in group)} ...")
        try:
            if batch_size > 1:
                results = track_batch(vgg_params, [s for _, s in group], cfg, seed, batch_size, canvas, log=log)
            else:
                results = [track_sequence(vgg_params, group[0][1], cfg, seed, log=lambda m: None, canvas_hw=canvas)]
        except Exception as e:  # the whole group failed: report each, go on with the next
            for folder, _ in group:
                record(folder.name, _failure(folder.name, e), failed=True)
            continue
        by_name = {r.name: r for r in results}
        for folder, _ in group:
            result = by_name.get(folder.name)
            if result is None:  # tracked on another process's devices (jax.distributed): it records it
                continue
            if len(result.boxes) == 0:
                record(folder.name, {"sequence": folder.name, "error": result.error}, failed=True)
                continue
            seq = dict(group)[folder]
            _, js = write_results(result, output_dir, {**extra, "score_rule": seq.score_rule}, seq.groundtruth,
                                  cfg.localization.distracter_ratio)
            write_submission(dataset, result, output_dir)
            record(folder.name, json.loads(js.read_text()))
    return [rows[f.name] for f in folders if f.name in rows]


SUBMISSION_DIR = "submission"


def write_submission(dataset: str, result, output_dir: Path) -> list[Path]:
    """The benchmark's own result format under ``<output_dir>/submission/`` (zip that folder for an
    evaluation server). GOT-10k: ``<seq>/<seq>_001.txt`` (0-based x,y,w,h) and ``<seq>_time.txt``;
    TrackingNet: ``<seq>.txt`` (0-based); LaSOT: ``<seq>.txt`` (1-based, as OTB). OTB, VOT and
    UAV123 results are the ``<Seq>.txt`` files themselves (nothing more is written).

    ``_time.txt`` holds seconds per frame: the frame loop never waits on the device, so the
    tracked frames get their mean (``track_s`` over their count) and frame 1 the first frame's
    time after compilation (``init_after_compile_s``).
    """
    from fcnt_jax.files import write_text_atomic
    from fcnt_jax.geometry import box_to_otb

    if dataset not in ("got10k", "lasot", "trackingnet"):
        return []
    out = Path(output_dir) / SUBMISSION_DIR
    out.mkdir(parents=True, exist_ok=True)
    if dataset == "got10k":
        n = len(result.boxes)
        per_frame = result.timing["track_s"] / max(n - 1, 1)
        times = np.array([result.timing["init_after_compile_s"]] + [per_frame] * (n - 1))
        return list(write_got10k_result(out, result.name, result.boxes, times))
    boxes = box_to_otb(result.boxes) if dataset == "lasot" else result.boxes
    path = out / f"{result.name}.txt"
    write_text_atomic(path, "".join(",".join(f"{v:.3f}" for v in row) + "\n" for row in boxes))
    return [path]


def process_suffix() -> str:
    """"" on one host; ``.process<i>`` with several processes (jax.distributed), where each writes
    its own rows to ``results.process<i>.jsonl`` / ``summary.process<i>.md``. The per-sequence
    files are complete either way, and a rerun on one host (which skips every sequence done)
    rebuilds ``results.jsonl``."""
    import jax

    return "" if jax.process_count() == 1 else f".process{jax.process_index()}"


def run_dir(output_dir: Path, run: int, num_runs: int) -> Path:
    """Where run ``run`` (0-based) of ``num_runs`` goes: the folder itself for a single run, else
    ``<output_dir>/run_001`` ... (the got-10k convention of numbered repetitions)."""
    return Path(output_dir) if num_runs == 1 else Path(output_dir) / f"run_{run + 1:03d}"


def summary_table(rows: list[dict]) -> str:
    """Markdown: one line per sequence and the mean over the scored ones."""
    lines = ["| sequence | frames | init s | compile s | fps | precision@20 | AUC |", "|---|---|---|---|---|---|---|"]
    scored = []
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['sequence']} | failed: {r['error'][:60]} | | | | | |")
            continue
        lines.append(f"| {r['sequence']} | {r['frames']} | {r['init_s']:.1f} | {r['compile_s']:.1f} | "
                     f"{r['track_fps']:.2f} | {r.get('precision_20', float('nan')):.3f} | {r.get('auc', float('nan')):.3f} |")
        if "precision_20" in r:
            scored.append(r)
    if scored:
        lines.append(f"| **mean ({len(scored)})** | {sum(r['frames'] for r in scored)} | | | "
                     f"{np.mean([r['track_fps'] for r in scored]):.2f} | "
                     f"{np.mean([r['precision_20'] for r in scored]):.3f} | {np.mean([r['auc'] for r in scored]):.3f} |")
    return "\n".join(lines)
