"""Oracles for where FCNT loses a target: a fresh start on the truth, and the truth's size fed back.

**The fresh-start oracle** (:func:`fresh_start_oracle`): the tracker started afresh on the truth of
a few frames before, every frame.

Issue 19 asks where FCNT loses a target. When the box drifts, is it because the model learnt from
its own wrong boxes over many frames (then a better update could keep it), or because the
features and heads cannot follow the target even from a perfect start (then no update rule can)?
The oracle answers that per frame t: ``init`` on frame t-h at the truth's box (channel selection,
GNet and SNet trained as on a first frame), that frame tracked again as the official loop does
(spec §0), then ``step`` on frames t-h+1 .. t. Its centre error at t is what the architecture does
over h frames from a perfect model. Beside it, the error of the truth of t-h held still: with a
slow target and h = 1 any start on the truth is near it, so only an error well below the held
one shows that the tracker followed the target.

**The size oracle** (:func:`size_oracle`): the tracker run as usual, but after every frame its box
is given the truth's width and height (times ``factor``), so that the next frame's ROI, particles
and update maps are built at the right size. Its centre error against the same tracker left alone
answers: does a right-sized box localise the target better? If not, no size rule (a scale filter,
a sampled aspect) can lift the tracker's precision there, however good its sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from fcnt_jax.config import FCNTConfig
    from fcnt_jax.data.sequence import Sequence


def fresh_start_oracle(vgg_params, seq: "Sequence", cfg: "FCNTConfig", frames: list[int], horizon: int = 1,
                       seed: int = 0, log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """For each 0-based frame t in ``frames`` (t >= ``horizon``): the box the tracker gives at t
    when started on the truth of t - ``horizon`` (0-based [x, y, w, h]; NaN where that truth is not
    finite and sized), its centre error against the truth at t, and the error of the start box held
    (NaN where the truth at t is not finite). One compilation per sequence (the tracker's AOT pair)."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax.data.sequence import load_frame
    from fcnt_jax.eval import metrics
    from fcnt_jax.run import compile_tracker

    if seq.groundtruth is None:
        raise ValueError(f"{seq.name}: the oracle needs the ground truth")
    if horizon < 1:
        raise ValueError(f"{seq.name}: horizon must be >= 1, got {horizon}")
    gt = np.asarray(seq.groundtruth, np.float64).reshape(-1, 4)
    frames = sorted(set(int(t) for t in frames))
    last = min(len(seq), len(gt)) - 1
    bad = [t for t in frames if not horizon <= t <= last]
    if bad:
        raise ValueError(f"{seq.name}: frames {bad} (0-based) are not in {horizon}..{last} (horizon {horizon})")
    boxes = np.full((len(frames), 4), np.nan)
    errors, held = np.full(len(frames), np.nan), np.full(len(frames), np.nan)
    init_c = step_c = None
    for i, t in enumerate(frames):
        start = gt[t - horizon]
        if not (np.all(np.isfinite(start)) and start[2] > 0 and start[3] > 0):
            continue  # no box to start from
        first = load_frame(seq.frame_paths[t - horizon])
        if init_c is None:
            init_c, step_c, _ = compile_tracker(vgg_params, first.shape, cfg)
        hw = jnp.asarray(first.shape[:2], jnp.float32)
        state = init_c(vgg_params, first, jnp.asarray(start, jnp.float32), jax.random.PRNGKey(seed), image_hw=hw)
        state, out = step_c(vgg_params, state, first)  # the first frame tracked again, as the tracker does
        for u in range(t - horizon + 1, t + 1):
            state, out = step_c(vgg_params, state, load_frame(seq.frame_paths[u]))
        boxes[i] = np.asarray(out.box, np.float64)
        errors[i] = metrics.centre_error(boxes[i], gt[t])[0]  # NaN where the truth at t is not finite
        held[i] = metrics.centre_error(start, gt[t])[0]
        if (i + 1) % 10 == 0 or i + 1 == len(frames):
            log(f"{seq.name}: oracle {i + 1}/{len(frames)} frames")
    return {"frame": np.asarray(frames), "box": boxes, "error": errors, "held_error": held}


def size_oracle(vgg_params, seq: "Sequence", cfg: "FCNTConfig", factor: float | None = 1.0, seed: int = 0,
                log: Callable[[str], None] = print, progress_every: int = 20) -> dict[str, np.ndarray]:
    """Every frame's box (0-based [x, y, w, h]; row 0 the given box) and centre error (NaN where the
    truth is not finite) of ``seq`` tracked with, after each frame t >= 1, the state's width and
    height set to the truth's at t times ``factor``: frame t's box is the tracker's centre with that
    size, and frame t+1 is tracked from it. ``factor=None`` tracks untouched (the reference, from
    the same code path). Frames whose truth is not finite and sized keep the tracker's own size.
    ``cfg`` must not run the scale filter, which would size the box itself. One compilation."""
    import jax
    import jax.numpy as jnp

    from fcnt_jax import geometry
    from fcnt_jax.eval import metrics
    from fcnt_jax.run import compile_tracker

    if seq.groundtruth is None:
        raise ValueError(f"{seq.name}: the size oracle needs the ground truth")
    if cfg.scale_filter.enabled:
        raise ValueError(f"{seq.name}: preset {cfg.preset!r} sizes its box with the scale filter; the size oracle "
                         "gives the size itself: use a configuration without it (scale_filter.enabled=false)")
    if factor is not None and not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"{seq.name}: factor must be > 0 (or None), got {factor}")
    gt = np.asarray(seq.groundtruth, np.float64).reshape(-1, 4)
    n = min(len(seq), len(gt))
    sized = np.all(np.isfinite(gt), axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    template = cfg.localization.template_size
    with seq.frames() as frames:
        stream = iter(frames)
        first = next(stream)
        init_c, step_c, _ = compile_tracker(vgg_params, first.shape, cfg)
        hw = jnp.asarray(first.shape[:2], jnp.float32)
        state = init_c(vgg_params, first, jnp.asarray(seq.init_box, jnp.float32), jax.random.PRNGKey(seed),
                       image_hw=hw)
        state, _ = step_c(vgg_params, state, first)  # the first frame tracked again, as the tracker does
        boxes = [jnp.asarray(seq.init_box, jnp.float32)]
        for t, frame in enumerate(stream, start=1):
            if t >= n:
                break
            state, out = step_c(vgg_params, state, frame)
            box = out.box
            if factor is not None and sized[t]:
                wh = jnp.asarray(gt[t, 2:] * factor, jnp.float32)
                box = jnp.concatenate([box[:2] + box[2:] / 2 - wh / 2, wh])
                state = state.replace(target=state.target.at[2:].set(geometry.box_to_state(box, template)[2:]))
            boxes.append(box)
            if progress_every and ((t + 1) % progress_every == 0 or t + 1 == n):
                log(f"{seq.name}: size oracle ({'factor ' + format(factor, 'g') if factor else 'reference'}) "
                    f"frame {t + 1}/{n}")
    boxes = np.asarray(jax.device_get(jnp.stack(boxes)), np.float64)
    errors = metrics.centre_error(boxes, gt[:len(boxes)])
    return {"box": boxes, "error": errors}


def parse_frame_ranges(text: str) -> list[tuple[int, int]]:
    """``"2-72,73-120"`` -> [(2, 72), (73, 120)]: inclusive 1-based ranges, each first <= last."""
    ranges = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, sep, last = part.partition("-")
        try:
            lo, hi = int(first), int(last if sep else first)
        except ValueError:
            raise ValueError(f"{part!r}: not a range of 1-based frames such as 73-120") from None
        if not 1 <= lo <= hi:
            raise ValueError(f"{part!r}: a range runs from frame 1 or later up to a frame no earlier")
        ranges.append((lo, hi))
    if not ranges:
        raise ValueError("no frame range given")
    return ranges


def range_summary(frames: np.ndarray, errors: np.ndarray, ranges: list[tuple[int, int]],
                  threshold: float = 20.0) -> list[dict]:
    """Per 1-based inclusive range: the scored frames among ``frames`` (0-based), the share within
    ``threshold`` px (OTB's precision) and the median error; NaN errors are left out."""
    frames, errors = np.asarray(frames), np.asarray(errors, np.float64)
    rows = []
    for lo, hi in ranges:
        inside = (frames + 1 >= lo) & (frames + 1 <= hi) & np.isfinite(errors)
        e = errors[inside]
        rows.append({"range": f"{lo}-{hi}", "frames": int(inside.sum()),
                     "precision": float(np.mean(e <= threshold)) if len(e) else float("nan"),
                     "median_error": float(np.median(e)) if len(e) else float("nan")})
    return rows
