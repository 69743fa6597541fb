"""Track B sequences in lockstep: one vmapped, jitted step, sharded over the local devices.

Frames are zero-padded to one canvas (each sequence's true size lives in its state, so crops and
heat maps ignore the padding); a sequence that has ended is fed a blank frame and masked with
``active = False``, so its state stops changing. The batch axis is laid out over a 1-D
``jax.sharding.Mesh`` of every device (``jax.devices()``, which spans all hosts after
``jax.distributed.initialize()``); the batch is padded with inactive dummy slots to a multiple of
the device count. With the same seed a sequence gets the same boxes as from
:func:`fcnt_jax.run.track_sequence` (up to float rounding; tested).

Several hosts: call ``jax.distributed.initialize()`` first and give every process the same list of
sequences. Each process decodes only the frames of the slots on its own devices (the global batch
is assembled with ``jax.make_array_from_callback``), and returns the results of those sequences;
the SNet-update gate is a cross-device ``psum``, so all processes step together (tested with two
CPU processes).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from fcnt_jax import tracker
from fcnt_jax.config import FCNTConfig
from fcnt_jax.data import Sequence, SequenceError
from fcnt_jax.data.sequence import check_box_in_frame
from fcnt_jax.eval.metrics import sequence_scores
from fcnt_jax.run import (TrackResult, check_frame_size, common_canvas, diagnostic_fields, pad_to_canvas,
                          stack_diagnostics, summary_of)


def _init_one(vgg_params, frame, box, key, image_hw, cfg):
    return tracker.init_fn(vgg_params, frame, box, key, cfg, image_hw)


@functools.partial(jax.jit, static_argnames=("cfg",))
def batch_init(vgg_params, frames: jax.Array, boxes: jax.Array, keys: jax.Array, image_hw: jax.Array,
               cfg: FCNTConfig) -> tracker.TrackerState:
    """``init`` of B sequences at once: frames (B, H, W, 3) padded, boxes (B, 4), keys (B, 2), image_hw (B, 2)."""
    return jax.vmap(_init_one, in_axes=(None, 0, 0, 0, 0, None))(vgg_params, frames, boxes, keys, image_hw, cfg)


@functools.partial(jax.jit, static_argnames=("cfg",), donate_argnames=("state",))
def batch_step(vgg_params, state: tracker.TrackerState, frames: jax.Array, active: jax.Array,
               cfg: FCNTConfig) -> tuple[tracker.TrackerState, tracker.StepOutput]:
    """``step`` of B sequences; where ``active`` is False the state is returned unchanged.

    The SNet updates run only on frames where some sequence of the batch needs one
    (``tracker._run_if``), not for every sequence every frame as a vmapped ``lax.cond`` would.
    """
    one = functools.partial(tracker.step_fn, cfg=cfg, batch_axis="batch")
    new_state, out = jax.vmap(one, in_axes=(None, 0, 0), axis_name="batch")(vgg_params, state, frames)

    def keep(new, old):
        mask = active.reshape(active.shape + (1,) * (new.ndim - 1))
        return jnp.where(mask, new, old)

    return jax.tree.map(keep, new_state, state), out


def batch_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named ``batch`` over the given devices (default: every device of every host)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), ("batch",))


def padded_batch_size(batch_size: int, mesh: Mesh) -> int:
    """The batch size rounded up to a multiple of the mesh's device count."""
    n = mesh.devices.size
    return -(-batch_size // n) * n


def local_slots(sharding: NamedSharding, num_slots: int) -> list[int]:
    """The batch slots held by this process's devices (all of them on a single host)."""
    index_map = sharding.addressable_devices_indices_map((num_slots,))
    return sorted({i for index in index_map.values() for i in range(num_slots)[index[0]]})


def _global_batch(sharding: NamedSharding, rows: np.ndarray) -> jax.Array:
    """A batch-sharded array from host rows; only the rows of this process's slots are read."""
    return jax.make_array_from_callback(rows.shape, sharding, lambda index: rows[index])


@dataclasses.dataclass
class _Slot:
    seq: Sequence | None
    stream: object = None
    iterator: object = None
    error: str | None = None  # a bad frame stopped this sequence; the others go on


def track_batch(vgg_params, sequences: list[Sequence], cfg: FCNTConfig, seed: int = 0, batch_size: int | None = None,
                canvas_hw: tuple[int, int] | None = None, mesh: Mesh | None = None,
                log: Callable[[str], None] = print) -> list[TrackResult]:
    """Track every sequence, ``batch_size`` at a time in lockstep; one result per sequence, in order.

    Each sequence is seeded with ``seed`` (as ``track_sequence`` does), so its boxes match the
    single-sequence tracker's. ``canvas_hw`` defaults to the largest first frame, rounded up to 8.
    With several processes (``jax.distributed``), only the sequences whose slots live on this
    process's devices are read and returned (in order).
    """
    if not sequences:
        return []
    mesh = mesh or batch_mesh()
    batch_size = batch_size or len(sequences)
    slots_per_batch = padded_batch_size(min(batch_size, len(sequences)), mesh)
    canvas_hw = canvas_hw or common_canvas(sequences)
    batched = NamedSharding(mesh, PartitionSpec("batch"))
    replicated = NamedSharding(mesh, PartitionSpec())
    params = jax.device_put(vgg_params, replicated)
    blank = np.zeros(canvas_hw + (3,), np.uint8)
    results: list[TrackResult] = []
    for start in range(0, len(sequences), batch_size):
        group = sequences[start:start + batch_size]
        slots = [_Slot(s) for s in group] + [_Slot(None)] * (slots_per_batch - len(group))
        mine = set(local_slots(batched, len(slots)))
        t0 = time.perf_counter()
        try:
            firsts, boxes, hws = [], [], []
            for i, slot in enumerate(slots):
                frame = None
                if slot.seq is not None and i in mine:
                    slot.stream = slot.seq.frames()
                    slot.iterator = iter(slot.stream)
                    try:
                        raw = next(slot.iterator)
                        check_box_in_frame(slot.seq.init_box, raw.shape[0], raw.shape[1],
                                           str(slot.seq.frame_paths[0]))
                        frame = pad_to_canvas(raw, canvas_hw, str(slot.seq.frame_paths[0]))
                    except SequenceError as e:  # this sequence cannot start; the others go on
                        slot.error = str(e)
                        log(f"{slot.seq.name}: cannot start: {e}")
                if frame is None:
                    firsts.append(blank)
                    boxes.append(np.array([0, 0, 8, 8], np.float32))  # a dummy slot: tracked, never read
                    hws.append(np.asarray(canvas_hw, np.float32))
                    continue
                firsts.append(frame)
                boxes.append(np.asarray(slot.seq.init_box, np.float32))
                hws.append(np.asarray(raw.shape[:2], np.float32))
            keys = np.stack([np.asarray(jax.random.PRNGKey(seed))] * len(slots))
            put = functools.partial(_global_batch, batched)
            first_frames = put(np.stack(firsts))  # read by batch_init and by the first step
            state = batch_init(params, first_frames, put(np.stack(boxes)), put(keys), put(np.stack(hws)), cfg=cfg)
            lengths = np.array([len(s.seq) if i in mine and s.seq is not None and s.error is None else 0
                                for i, s in enumerate(slots)])
            # Every process must run the same number of steps: the longest sequence of any host.
            steps = int(np.max(multihost_utils.process_allgather(lengths))) if jax.process_count() > 1 else int(lengths.max())
            active_all = put(np.ones(len(slots), bool))
            state, out = batch_step(params, state, first_frames, active_all, cfg=cfg)  # frame 1 again
            jax.block_until_ready(out.box)
            init_s = time.perf_counter() - t0
            outputs = [out]
            t1 = time.perf_counter()
            for t in range(1, max(steps, 1)):
                frames = []
                for i, slot in enumerate(slots):
                    frame = blank
                    if slot.seq is not None and t < lengths[i]:  # only this process's slots have lengths
                        try:
                            where = str(slot.seq.frame_paths[t])
                            frame = check_frame_size(next(slot.iterator), tuple(int(v) for v in hws[i]), where)
                            frame = pad_to_canvas(frame, canvas_hw, where)
                        except SequenceError as e:  # stop this sequence here, keep its boxes so far
                            slot.error, lengths[i], frame = str(e), t, blank
                            log(f"{slot.seq.name}: stopped at frame {t + 1}: {e}")
                    frames.append(frame)
                state, out = batch_step(params, state, put(np.stack(frames)), put(t < lengths), cfg=cfg)
                outputs.append(out)
                if t % 20 == 0:
                    jax.block_until_ready(out.box)  # one sync per progress line, never per frame
                    log(f"batch {start // batch_size + 1}: frame {t + 1}/{steps}, "
                        f"{t * len(group) / (time.perf_counter() - t1):.1f} sequence-frames/s")
            jax.block_until_ready(outputs[-1].box)
            track_s = time.perf_counter() - t1
        finally:
            for slot in slots:
                if slot.stream is not None:
                    slot.stream.close()
        host = _to_host([(o.box, diagnostic_fields(o)) for o in outputs])
        for i, slot in enumerate(slots[:len(group)]):
            if i not in mine:  # another process tracked it and reports it
                continue
            n = int(lengths[i])
            if n == 0:  # failed on its first frame
                results.append(TrackResult(slot.seq.name, np.zeros((0, 4)), np.zeros(0), np.zeros(0, int),
                                           {}, None, {}, slot.error))
                continue
            boxes_i = np.stack([np.asarray(b[i], np.float64) for b, _ in host[:n]])
            boxes_i[0] = slot.seq.init_box
            scores = None if slot.seq.groundtruth is None else sequence_scores(boxes_i, slot.seq.groundtruth,
                                                                                         scored=slot.seq.scored)
            # Compilation happens inside the first batch's init (jit, not AOT): init_s includes it.
            timing = {"init_s": init_s, "compile_s": float("nan"), "track_s": track_s,
                      "track_fps": (n - 1) / track_s if track_s > 0 and n > 1 else float("nan"),
                      "batch_size": len(group),
                      "batch_fps": float(sum(max(int(v) - 1, 0) for v in lengths[:len(group)]) / track_s)
                      if track_s > 0 else float("nan")}
            diagnostics = stack_diagnostics([{k: v[i] for k, v in d.items()} for _, d in host[:n]])
            confidence, decided_by, updates = summary_of(diagnostics)
            results.append(TrackResult(slot.seq.name, boxes_i, confidence, decided_by, timing, scores, updates,
                                       slot.error, diagnostics))
    return results


def _to_host(tree):
    """The outputs as host arrays: a plain copy on one host; on several, gathered from all of them
    (once per batch, after the frame loop)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)
