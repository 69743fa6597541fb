"""GNet's first-frame fit per sequence: whether its own distracter test fires on the frame it
was trained on (``heads.gnet_underfit_iterations``, the trigger of the refit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fcnt_jax import geometry, selection, tracker


def _pd_after_init(vgg_params, frame, box, key, cfg, image_hw):
    state = tracker.init_fn(vgg_params, frame, box, key, cfg, image_hw)
    roi = geometry.roi_for_box(box, cfg.roi.roi_scale)
    _, conv5 = tracker._features(vgg_params, frame, roi, image_hw, cfg)
    g_feat = selection.gather_channels(conv5, state.g_channels)
    fired, pd = tracker.first_frame_distracter(state.gnet, g_feat, box, roi, image_hw, cfg)
    return fired, pd


_pd_after_init_jit = jax.jit(_pd_after_init, static_argnames=("cfg",))


def first_frame_pd(vgg_params, seq, cfg, seeds) -> dict[int, dict]:
    """Per seed: P_d of GNet's map of the first frame at the given box, after ``cfg``'s init, and
    whether the test fires. With fcnt_plus_no_gnet_refit_no_scale_filter (experiments.first_frame_fit's default)
    that is the 50-iteration GNet the refit's trigger tests; with fcnt_plus, the GNet after any
    refit."""
    with seq.frames(stop=1) as frames:
        first = next(iter(frames))
    hw = jnp.asarray(first.shape[:2], jnp.float32)
    box = jnp.asarray(seq.init_box, jnp.float32)
    out = {}
    for seed in seeds:
        fired, pd = _pd_after_init_jit(vgg_params, first, box, jax.random.PRNGKey(seed), cfg, hw)
        out[int(seed)] = {"pd": float(np.asarray(pd)), "fires": bool(np.asarray(fired))}
    return out
