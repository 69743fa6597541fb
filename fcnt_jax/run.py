"""Run the tracker over a sequence: the host loop, timing, result files, the GIF.

The loop only decodes frames (in the reader's prefetch thread) and dispatches the jitted ``step``;
outputs stay on the device and are fetched in chunks for the progress line, so the device never
waits on the host between frames (except with ``--save_gif``, which needs every frame's map).
``init`` and ``step`` are compiled ahead of time, so compilation is timed apart from tracking.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from fcnt_jax import tracker, viz
from fcnt_jax.config import FCNTConfig
from fcnt_jax.data import Sequence, SequenceError
from fcnt_jax.data.sequence import check_box_in_frame
from fcnt_jax.eval.metrics import sequence_scores
from fcnt_jax.files import write_text_atomic  # noqa: F401  (re-exported: the experiments import it from here)
from fcnt_jax.geometry import box_to_otb

# CPU backends cannot reuse donated buffers; the donation still helps on GPU/TPU.
warnings.filterwarnings("ignore", message="Some donated buffers were not usable")


@dataclasses.dataclass
class TrackResult:
    name: str
    boxes: np.ndarray  # (N, 4) 0-based; row 0 is the given initial box
    confidence: np.ndarray  # (N,) step confidences (row 0: the re-tracked first frame)
    decided_by: np.ndarray  # (N,)
    timing: dict[str, float]
    scores: dict[str, float] | None
    updates: dict[str, int] = dataclasses.field(default_factory=dict)  # how often each SNet update ran
    error: str | None = None  # set when a bad frame stopped the sequence early (boxes: the frames before it)
    # Per frame (row 0: the re-tracked first frame), the DIAGNOSTICS fields of the step outputs.
    diagnostics: dict[str, np.ndarray] | None = None


# What each frame's StepOutput says about the decision (issue 19), kept per frame in <Seq>.json.
DIAGNOSTICS = ("decided_by", "confidence", "g_confidence", "s_confidence", "g_pd", "s_pd", "g_peak", "s_peak",
               "adapted", "discriminated", "g_distracter", "g_box", "s_box", "scale_factor", "scale_peak")
# Of those, the per-net boxes: (4,) a frame, 0-based [x0, y0, w, h]; the rest are scalars.
BOX_DIAGNOSTICS = ("g_box", "s_box")


def diagnostic_fields(out) -> dict:
    """The DIAGNOSTICS of one StepOutput (device arrays; fetched once, after the frame loop)."""
    return {k: getattr(out, k) for k in DIAGNOSTICS}


def stack_diagnostics(host: list[dict]) -> dict[str, np.ndarray]:
    """Host copies of per-frame diagnostics -> one array per field: (N,), or (N, 4) for a box."""
    return {k: np.stack([np.asarray(h[k], np.float64 if k in BOX_DIAGNOSTICS else None) for h in host])
            for k in DIAGNOSTICS}


def summary_of(diagnostics: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """TrackResult's confidence, decided_by and update counts, read off the per-frame diagnostics."""
    return (diagnostics["confidence"].astype(np.float64), diagnostics["decided_by"].astype(int),
            {"adapted": int(diagnostics["adapted"].sum()), "discriminated": int(diagnostics["discriminated"].sum())})


_COMPILED: dict[tuple, tuple] = {}


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and prove it takes files, before any work is done; errors say which."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise SequenceError(f"{path}: output folder is not writable ({e.strerror or e})") from None
    return path


def compile_tracker(vgg_params, frame_shape, cfg: FCNTConfig, return_maps: bool = False):
    """AOT-compile init and step for one frame shape. Returns (init, step, seconds).

    Compiled pairs are kept per (frame shape, config, parameter shapes) for the process: a second
    sequence of the same shape (or padded to the same canvas) compiles nothing (seconds = 0).
    """
    start = time.perf_counter()
    params_sig = tuple((jax.tree_util.keystr(k), v.shape, str(v.dtype))
                       for k, v in jax.tree_util.tree_leaves_with_path(vgg_params))
    cache_key = (tuple(frame_shape), cfg, return_maps, params_sig)
    if cache_key in _COMPILED:
        return (*_COMPILED[cache_key], 0.0)
    frame = jax.ShapeDtypeStruct(frame_shape, jnp.uint8)
    box = jax.ShapeDtypeStruct((4,), jnp.float32)
    hw = jax.ShapeDtypeStruct((2,), jnp.float32)
    key = jax.eval_shape(lambda: jax.random.PRNGKey(0))
    init_c = tracker.init.lower(vgg_params, frame, box, key, cfg=cfg, image_hw=hw).compile()
    state_shape = jax.eval_shape(lambda p, f, b, k, h: tracker.init_fn(p, f, b, k, cfg, h), vgg_params, frame, box,
                                 key, hw)
    step_c = tracker.step.lower(vgg_params, state_shape, frame, cfg=cfg, return_maps=return_maps).compile()
    _COMPILED[cache_key] = (init_c, step_c)
    return init_c, step_c, time.perf_counter() - start


def common_canvas(sequences: list[Sequence]) -> tuple[int, int]:
    """The largest (height, width) over the sequences' first frames, rounded up to a multiple of 8
    (a sequence whose first frame cannot be read is left out here and reported when it is tracked)."""
    sizes = []
    for seq in sequences:
        try:
            sizes.append(seq.image_size())
        except SequenceError:
            pass
    sizes = sizes or [(8, 8)]
    return tuple(int(-(-max(z[i] for z in sizes) // 8) * 8) for i in (0, 1))


def check_frame_size(frame: np.ndarray, first_hw: tuple[int, int], where: str) -> np.ndarray:
    """A frame must keep the size of the sequence's first frame (its state holds that size)."""
    if frame.shape[:2] != tuple(first_hw):
        raise SequenceError(f"{where}: frame is {frame.shape[1]}x{frame.shape[0]} but the sequence started at "
                            f"{first_hw[1]}x{first_hw[0]}")
    return frame


def pad_to_canvas(frame: np.ndarray, canvas_hw: tuple[int, int] | None, where: str = "frame") -> np.ndarray:
    """Zero-pad a frame at the bottom/right to ``canvas_hw`` (the tracker masks by the true size)."""
    if canvas_hw is None or frame.shape[:2] == tuple(canvas_hw):
        return frame
    h, w = frame.shape[:2]
    if h > canvas_hw[0] or w > canvas_hw[1]:
        raise SequenceError(f"{where}: {w}x{h} frame does not fit the {canvas_hw[1]}x{canvas_hw[0]} canvas")
    return np.pad(frame, ((0, canvas_hw[0] - h), (0, canvas_hw[1] - w), (0, 0)))


def _gif_frame(frame: np.ndarray, out: dict, gt_box: np.ndarray | None, roi_size: int, max_width: int = 480):
    """The frame with the deciding net's heat map pasted at its ROI, GT (green) and FCNT (red) boxes."""
    heat = out["s_map"] if out["decided_by"] == 1 else out["g_map"]
    h, w = frame.shape[:2]
    x0, y0, side = (float(v) for v in out["roi"])
    canvas = np.zeros((h, w), np.float32)
    size = max(1, int(round(side)))
    resized = np.asarray(Image.fromarray(np.asarray(heat, np.float32), mode="F").resize((size, size), Image.BILINEAR))
    ox, oy = int(round(x0)), int(round(y0))
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    dx1, dy1 = min(w, ox + size), min(h, oy + size)
    if dx1 > dx0 and dy1 > dy0:
        canvas[dy0:dy1, dx0:dx1] = resized[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0]
    image = Image.fromarray(viz.blend_heatmap(frame, canvas))
    if gt_box is not None and np.all(np.isfinite(gt_box)):
        image = viz.draw_box(image, gt_box, (0, 255, 0))
    image = viz.draw_box(image, out["box"], (255, 40, 40))
    if image.width > max_width:
        image = image.resize((max_width, int(image.height * max_width / image.width)), Image.BILINEAR)
    return image


def save_tracked_video(seq: Sequence, boxes: np.ndarray, path: Path, fps: float | None = None) -> int:
    """The sequence's frames with the tracked box (red) and, where known, the ground truth (green),
    encoded to ``path`` (mp4, mkv, mov, avi). Frames are decoded again, one at a time, after
    tracking, so the frame loop never waits for drawing. ``fps``: the source video's rate, else 30
    (OTB-style frame folders carry none; a display rate only). Returns the frames written."""
    from fcnt_jax.data import write_video

    info = seq.meta.get("video")
    fps = fps or (info.fps if info is not None and info.fps > 0 else 30.0)

    def drawn():
        with seq.frames(stop=len(boxes)) as frames:
            for i, frame in enumerate(frames):
                image = Image.fromarray(frame)
                gt = None if seq.groundtruth is None else seq.groundtruth[i]
                if gt is not None and np.all(np.isfinite(gt)):
                    image = viz.draw_box(image, gt, (0, 255, 0))
                yield np.asarray(viz.draw_box(image, boxes[i], (255, 40, 40)))

    return write_video(path, drawn(), fps)


def track_sequence(vgg_params, seq: Sequence, cfg: FCNTConfig, seed: int = 0, gif_path: Path | None = None,
                   progress_every: int = 10, log=print, canvas_hw: tuple[int, int] | None = None) -> TrackResult:
    """Track ``seq`` from its initial box; returns boxes for every frame (row 0 = the given box).

    With ``canvas_hw`` every frame is zero-padded to that (height, width), so that sequences of
    different sizes share one compiled tracker; the state keeps the true size.
    """
    n = len(seq)
    with seq.frames() as frames:
        stream = iter(frames)
        first = next(stream)
        check_box_in_frame(seq.init_box, first.shape[0], first.shape[1], str(seq.frame_paths[0]))
        true_hw = jnp.asarray(first.shape[:2], jnp.float32)
        padded_first = pad_to_canvas(first, canvas_hw, str(seq.frame_paths[0]))
        t_start = time.perf_counter()
        init_c, step_c, compile_s = compile_tracker(vgg_params, padded_first.shape, cfg,
                                                    return_maps=gif_path is not None)
        t_init = time.perf_counter()
        state = init_c(vgg_params, padded_first, jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(seed),
                       image_hw=true_hw)
        # The official loop tracks the first frame again (spec §0); its output is not reported.
        state, out0 = step_c(vgg_params, state, padded_first)
        jax.block_until_ready(out0.box)
        init_after_compile_s = time.perf_counter() - t_init
        outputs, gif = [out0], []
        if gif_path is not None:
            gif.append(_gif_frame(first, jax.device_get(dataclasses.asdict(out0)), seq.init_box, cfg.roi.roi_size))
        t_track = time.perf_counter()
        error = None
        try:
            for i, frame in enumerate(stream, start=2):
                check_frame_size(frame, first.shape[:2], str(seq.frame_paths[i - 1]))
                state, out = step_c(vgg_params, state, pad_to_canvas(frame, canvas_hw, str(seq.frame_paths[i - 1])))
                outputs.append(out)
                if gif_path is not None:
                    gt = None if seq.groundtruth is None else seq.groundtruth[i - 1]
                    gif.append(_gif_frame(frame, jax.device_get(dataclasses.asdict(out)), gt, cfg.roi.roi_size))
                if progress_every and (i % progress_every == 0 or i == n):
                    jax.block_until_ready(out.box)  # a sync once per progress line, never per frame
                    fps = (i - 1) / max(time.perf_counter() - t_track, 1e-9)
                    log(f"{seq.name}: frame {i}/{n}, {fps:.2f} fps")
        except SequenceError as e:  # a bad frame mid-sequence: stop there, keep every box before it
            error = str(e)
            log(f"{seq.name}: stopped at frame {len(outputs) + 1}/{n}: {e}; "
                f"the {len(outputs)} boxes before it are kept")
        jax.block_until_ready(outputs[-1].box)
        track_s = time.perf_counter() - t_track
    host = jax.device_get([(o.box, diagnostic_fields(o)) for o in outputs])  # one transfer, after the loop
    boxes = np.stack([np.asarray(b, np.float64) for b, _ in host])
    boxes[0] = seq.init_box  # OTB convention: frame 1 is the given box
    diagnostics = stack_diagnostics([d for _, d in host])
    confidence, decided_by, updates = summary_of(diagnostics)
    timing = {"compile_s": compile_s, "init_s": compile_s + init_after_compile_s,
              "init_after_compile_s": init_after_compile_s, "track_s": track_s,
              "track_fps": (len(outputs) - 1) / track_s if len(outputs) > 1 and track_s > 0 else float("nan"),
              "total_s": time.perf_counter() - t_start}
    scores = None if seq.groundtruth is None else sequence_scores(boxes, seq.groundtruth, scored=seq.scored)
    if gif_path is not None and gif:
        viz.save_gif(gif, gif_path)
    return TrackResult(seq.name, boxes, confidence, decided_by, timing, scores, updates, error, diagnostics)


def write_results(result: TrackResult, output_dir: Path, extra: dict[str, Any] | None = None,
                  groundtruth: np.ndarray | None = None, distracter_ratio: float | None = None) -> tuple[Path, Path]:
    """``<Seq>.txt`` (OTB 1-based x,y,w,h, floats) and ``<Seq>.json``, each written atomically; with
    per-frame diagnostics, also ``<Seq>_diagnostics.png`` (``groundtruth`` and ``distracter_ratio``,
    when given, are drawn in it)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    txt = output_dir / f"{result.name}.txt"
    lines = [",".join(f"{v:.3f}" for v in row) for row in box_to_otb(result.boxes)]
    write_text_atomic(txt, "\n".join(lines) + "\n")
    record = {"sequence": result.name, "frames": int(len(result.boxes)), **result.timing,
              **(result.scores or {}),
              "decided_by_counts": {"gnet": int((result.decided_by[1:] == 0).sum()),
                                    "snet": int((result.decided_by[1:] == 1).sum()),
                                    "held": int((result.decided_by[1:] == 2).sum())},
              "updates": result.updates,
              **({"error": result.error, "partial": True} if result.error else {}),
              "device": jax.devices()[0].device_kind, **(extra or {})}
    if result.diagnostics is not None:
        record["per_frame"] = per_frame_record(result)
    js = output_dir / f"{result.name}.json"
    write_text_atomic(js, json.dumps(record, indent=2) + "\n")
    if result.diagnostics is not None and len(result.boxes) > 0:
        from fcnt_jax.eval.report import save_png

        save_png(diagnostics_plot(result, groundtruth, distracter_ratio), output_dir / f"{result.name}_diagnostics.png")
    return txt, js


def per_frame_record(result: TrackResult) -> dict[str, list]:
    """JSON lists, one entry per frame: the box and each net's own box (OTB 1-based) and the
    DIAGNOSTICS (floats to 4 digits; NaN as null, since JSON has none; values capped at +-1e6, so an
    infinite P_d, a target box with no map mass inside, reads 1e6)."""
    def num(v):
        v = float(v)
        return None if np.isnan(v) else round(min(max(v, -1e6), 1e6), 4)

    d = result.diagnostics
    rec = {"box": [[round(float(v), 3) for v in row] for row in box_to_otb(result.boxes)],
           "decided_by": [("gnet", "snet", "held")[int(v)] for v in d["decided_by"]],
           "adapted": [bool(v) for v in d["adapted"]], "discriminated": [bool(v) for v in d["discriminated"]],
           # GNet's distracter test as the tracker took it (g_pd below is rounded to 4 digits)
           "g_distracter": [bool(v) for v in d["g_distracter"]]}
    for k in BOX_DIAGNOSTICS:
        rec[k] = [[round(float(v), 3) for v in row] for row in box_to_otb(d[k])]
    for k in DIAGNOSTICS:
        if k not in rec:
            rec[k] = [num(v) for v in d[k]]
    return rec


def diagnostics_plot(result: TrackResult, groundtruth: np.ndarray | None = None,
                     distracter_ratio: float | None = None):
    """Panels over frames: both nets' confidences and raw peaks; both P_d (capped at 3) with the
    distracter threshold; who decided (and the overlap with the ground truth when given); with the
    ground truth, two more: the centre error of the box and of each net's own box, so a frame where
    the deciding net was wrong and the other right can be read off, and the box's size beside the
    truth's (:func:`size_panel`)."""
    from fcnt_jax.eval.metrics import centre_error, iou
    from fcnt_jax.eval.report import line_plot, stack_images

    d = result.diagnostics
    frames = np.arange(1, len(result.boxes) + 1, dtype=float)
    xlim = (0.0, float(10 * int(np.ceil(len(frames) / 10))))  # round ticks: 10 grid steps
    size = (900, 300)
    conf = [("GNet confidence", frames, d["g_confidence"]), ("SNet confidence", frames, d["s_confidence"]),
            ("GNet raw peak", frames, d["g_peak"]), ("SNet raw peak", frames, d["s_peak"])]
    top = max(1.0, float(np.nanmax(np.concatenate([v for _, _, v in conf]), initial=1.0)))
    panels = [line_plot(conf, f"{result.name}: confidences and raw map peaks", "frame", "value", xlim,
                        (0.0, np.ceil(top * 10) / 10), legend_loc="upper right", size=size)]
    pd = [("GNet P_d", frames, np.minimum(d["g_pd"], 3.0)), ("SNet P_d", frames, np.minimum(d["s_pd"], 3.0))]
    if distracter_ratio is not None:
        pd.append((f"distracter at P_d >= {distracter_ratio:g}", frames, np.full_like(frames, distracter_ratio)))
    panels.append(line_plot(pd, "P_d: map mass outside / inside the GNet box (capped at 3)", "frame", "P_d", xlim,
                            (0.0, 3.0), legend_loc="upper right", size=size))
    who = [("SNet decided", frames, (d["decided_by"] == 1).astype(float)),
           ("box held", frames, (d["decided_by"] == 2).astype(float) * 0.5)]
    if groundtruth is not None:
        n = min(len(groundtruth), len(result.boxes))
        who.insert(0, ("IoU with ground truth", frames[:n], iou(result.boxes[:n], groundtruth[:n])))
    panels.append(line_plot(who, "who decided (SNet 1, held 0.5; GNet 0)", "frame", "", xlim, (0.0, 1.0),
                            legend_loc="upper right", size=size))
    if groundtruth is not None:
        n = min(len(groundtruth), len(result.boxes))
        cap = ERROR_PLOT_CAP_PX
        errors = [(label, frames[:n], np.minimum(centre_error(boxes[:n], groundtruth[:n]), cap))
                  for label, boxes in (("box", result.boxes), ("GNet's box", d["g_box"]), ("SNet's box", d["s_box"]))]
        errors.append(("20 px", frames[:n], np.full(n, 20.0)))
        panels.append(line_plot(errors, f"centre error, px (capped at {cap:g})", "frame", "px", xlim, (0.0, cap),
                                legend_loc="upper left", size=size))
        panels.append(size_panel(result, groundtruth[:n], frames[:n], xlim, size))
    return stack_images(panels)


def size_panel(result: TrackResult, groundtruth: np.ndarray, frames: np.ndarray, xlim: tuple[float, float],
               size: tuple[int, int]):
    """The box's and the truth's size (sqrt of the area, over the first box's) and, where the DSST
    scale filter ran, its response's peak: a box that grows while the truth shrinks reads off it."""
    from fcnt_jax.eval.report import line_plot

    def scale(boxes):
        boxes = np.asarray(boxes, np.float64)
        return np.sqrt(boxes[:, 2] * boxes[:, 3]) / np.sqrt(groundtruth[0, 2] * groundtruth[0, 3])

    n = len(frames)
    series = [("box", frames, scale(result.boxes[:n])), ("ground truth", frames, scale(groundtruth))]
    peak = np.asarray(result.diagnostics.get("scale_peak", np.full(n, np.nan)), np.float64)[:n]
    if np.isfinite(peak).any():
        series.append(("scale filter's peak", frames, peak))
    top = max(2.0, float(np.ceil(np.nanmax(np.concatenate([v for _, _, v in series])) * 2) / 2))
    return line_plot(series, "size over the first box's (sqrt of the area)", "frame", "", xlim, (0.0, top),
                     legend_loc="upper left", size=size)


ERROR_PLOT_CAP_PX = 100.0  # the diagnostics plot's error axis: 5x the 20 px precision threshold


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
