"""Every hyper-parameter of FCNT in one typed, frozen, hashable config.

Two presets: ``code`` (the official MATLAB + Caffe code at scott89/FCNT HEAD, the default: it is
what produced the released 0.864 / 0.606) and ``paper`` (the ICCV 2015 text). Each value names its
source; the tags follow ``shared/docs/fcnt_spec.md``: ``[O:file]`` the official code, ``[P §x]`` the
paper, ``[C:file]`` the pinned caffe-fcnt. ``[DIFF]`` marks a value where code and paper differ.

The config is passed to ``jax.jit`` as a static argument, so it must stay hashable: nested frozen
dataclasses of scalars and strings only.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Literal

PresetName = Literal["code", "paper"]


class ConfigError(ValueError):
    """A config value out of its type, range or allowed strings; the message names the field."""


class _Check:
    """Validates one section's fields when it is built (presets, ``--set`` overrides and
    ``dataclasses.replace`` alike), so a bad value fails at once with the field, the value and what
    is allowed, instead of deep inside a jitted function."""

    def __init__(self, section: str, obj: Any):
        self.section, self.obj = section, obj

    def _fail(self, name: str, allowed: str) -> None:
        raise ConfigError(f"{self.section}.{name}={getattr(self.obj, name)!r}: {allowed}")

    def integer(self, name: str, lo: int | None = None, hi: int | None = None, odd: bool = False) -> None:
        v = getattr(self.obj, name)
        rng = _range_text(lo, hi)
        if isinstance(v, bool) or not isinstance(v, int):
            self._fail(name, f"must be an integer{rng}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self._fail(name, f"must be an integer{rng}")
        if odd and v % 2 == 0:
            self._fail(name, f"must be an odd integer{rng} (a centred kernel)")

    def real(self, name: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
             hi_open: bool = False, optional: bool = False) -> None:
        v = getattr(self.obj, name)
        if v is None and optional:
            return
        what = f"must be a finite number{_range_text(lo, hi, lo_open, hi_open)}" + (" or None" if optional else "")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self._fail(name, what)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            self._fail(name, what)
        if hi is not None and (v > hi or (hi_open and v == hi)):
            self._fail(name, what)

    def boolean(self, name: str) -> None:
        if not isinstance(getattr(self.obj, name), bool):
            self._fail(name, "must be true or false")

    def choice(self, name: str, choices: tuple[str, ...]) -> None:
        if getattr(self.obj, name) not in choices:
            self._fail(name, f"choose one of {', '.join(choices)}")


def _range_text(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi}"
    return ""


@dataclasses.dataclass(frozen=True)
class RoiConfig:
    """Region-of-interest crop and feature grid (spec §1)."""

    # ROI side = roi_scale x target diagonal, square. [O:init_tracker.m roi_scale=2]; the paper
    # only says "target + context" [P §4.2].
    roi_scale: float = 2.0
    # Crop resized to 368x368. [O:init_tracker.m roi_size=368, model/feature_net.prototxt]. The
    # paper's 386 [P §5] is taken as a typo for 368 (spec §1.1), so both presets use 368.
    roi_size: int = 368
    # conv4_3 stride is 8, so 368 / 8 = 46 cells. [O:model/feature_net.prototxt]
    feature_stride: int = 8
    # sigma of the target Gaussian = box side x this. [O:util/GetMap.m fspecial(.., m/3)]
    map_sigma_factor: float = 1.0 / 3.0

    def __post_init__(self):
        c = _Check("roi", self)
        c.real("roi_scale", lo=0, lo_open=True)
        # conv4_3's stride is fixed by VGG-16's three pools before it.
        c.integer("feature_stride", lo=8, hi=8)
        # conv5_3 (stride 16) must have at least one cell, and the grid must be exact.
        c.integer("roi_size", lo=16)
        if self.roi_size % self.feature_stride:
            c._fail("roi_size", f"must be a multiple of roi.feature_stride ({self.feature_stride})")
        c.real("map_sigma_factor", lo=0, lo_open=True)

    @property
    def grid(self) -> int:
        return self.roi_size // self.feature_stride


# How the saliency's second-order term is computed (see fcnt_jax/selection/hessian.py).
HESSIAN_METHODS = ("closed_form", "hvp_probes", "hutchinson", "exact_deletion")

# Channel selectors by name (fcnt_jax/selection/selectors.py). The built-in ones are listed here so
# that a config validates before the selection package is imported; ``register_selector`` adds a
# user's name through :func:`add_selection_method`.
SELECTION_METHODS = ("saliency", "first_order", "activation", "lasso", "random", "gates", "perturbed_topk")
_selection_methods: list[str] = list(SELECTION_METHODS)


def add_selection_method(name: str) -> None:
    if name not in _selection_methods:
        _selection_methods.append(name)


def selection_methods() -> tuple[str, ...]:
    """Every name ``selection.method`` accepts now: the built-in selectors and registered ones."""
    return tuple(_selection_methods)


@dataclasses.dataclass(frozen=True)
class SelectionConfig:
    """sel-CNN and the saliency ranking (spec §3)."""

    # [O:solver/select_*net.prototxt dropout_ratio: 0.3]
    dropout: float = 0.3
    # [O:solver/select_*net.prototxt kernel_size: 3, pad: 1]
    kernel_size: int = 3
    # weights ~ N(0, std^2), bias 0. [O:solver/select_*net.prototxt gaussian std 1e-7]
    init_std: float = 1e-7
    # [DIFF] code 1e-10 (the `0.1e-9` literal) [O:solver/select_*_solver.prototxt]; paper 1e-9 [P §5].
    base_lr: float = 1e-10
    # [O:solver/select_*_solver.prototxt momentum: 0.6]
    momentum: float = 0.6
    # global weight_decay, S-branch (conv4_3). [O:solver/select_snet_solver.prototxt 0.0005]
    weight_decay_s: float = 0.0005
    # global weight_decay, G-branch (conv5_3). [O:solver/select_gnet_solver.prototxt 0.1]; not in
    # the paper, which gives no decay for the sel-CNN.
    weight_decay_g: float = 0.1
    # [O:solver/select_*net.prototxt] lr_mult 1 / decay_mult 2 on weights, lr_mult 2 / decay 0 on bias
    weight_decay_mult: float = 2.0
    bias_lr_mult: float = 2.0
    # [DIFF] code 100 [O:cnn2_pf_tracker.m max_iter_select]; paper 50 [P §5].
    iterations: int = 100
    # K selected channels per layer. [O:init_tracker.m ch_num=384], [P §5].
    num_channels: int = 384
    # Sign of the 1/2 h f^2 term of the saliency. [DIFF] code -1 [O:util/compute_saliency.m active
    # line]; paper +1 [P eq.6].
    hessian_sign: float = -1.0
    # How h = diag of the Hessian is computed: closed_form | hvp_probes | hutchinson |
    # exact_deletion (see selection.py). The official code computes closed_form
    # [C:src/caffe/layers/conv_layer.cu Backward2_gpu].
    hessian_method: str = "closed_form"
    # Which selector scores the channels (fcnt_jax/selection/selectors.py). The official code and
    # the paper rank by the saliency [O:util/compute_saliency.m], [P §4.1]; the others are research
    # alternatives (issue 18), compared by tracking in WORKSPACE.md "Selectors judged by tracking".
    method: str = "saliency"
    # lasso: eq. (1)'s lambda as a fraction of lam_max (the smallest lambda giving c = 0). The paper
    # gives no lambda; 0.1 is the headline of our Table 1 reproduction [OURS:
    # experiments.feature_analysis --headline_lam_ratio, WORKSPACE "Section 3 feature analyses"].
    lasso_lambda: float = 0.1
    # lasso: FISTA iterations [OURS: sparse_coding.solve's default, its KKT residual tested in
    # tests/test_sparse_coding.py].
    lasso_iterations: int = 2000
    # gates / perturbed_topk: Adam steps and step size on RMS-normalised features. Not from FCNT
    # (its sel-CNN SGD at lr 1e-10 is tied to Caffe's feature scale) [OURS: the planted-channel
    # tests of tests/test_selectors.py recover their channels with these; not tuned on tracking].
    learned_iterations: int = 200
    learned_lr: float = 0.05
    # gates: the L1 weight on the mean gate, against the mean squared error of M. [OURS: measured on
    # Crossing's first frame, not on tracking (experiments.selector_agreement --set=
    # selection.gate_l1=..., experiments/results/selector_agreement*): at 0.01-0.1 the 4608 filter
    # weights fit M's 2116 cells with any channels (loss 0.001 of M's 0.025) and the top 64 share
    # 17-21 / 5-19 channels with the saliency's on conv4_3 / conv5_3 (random: 8 / 9); at 1 the
    # penalty binds (loss 0.002-0.003, 33 / 32 shared, activation's 34 / 63).]
    gate_l1: float = 1.0
    # gates: their starting value, small so that the gated prediction starts near 0 as the
    # sel-CNN's (init std 1e-7) does [OURS, as above; at 1 the first fits overshot M badly in a by-hand run, not kept].
    gate_init: float = 0.01
    # perturbed_topk: Monte Carlo samples and Gumbel noise scale of the perturbed top-K mask
    # (Berthet et al. 2020) [OURS, as above].
    perturb_samples: int = 32
    perturb_sigma: float = 2.0

    def __post_init__(self):
        c = _Check("selection", self)
        c.real("dropout", lo=0, hi=1, hi_open=True)
        c.integer("kernel_size", lo=1, odd=True)
        for name in ("init_std", "base_lr", "weight_decay_s", "weight_decay_g", "weight_decay_mult",
                     "bias_lr_mult"):
            c.real(name, lo=0)
        c.real("momentum", lo=0, hi=1, hi_open=True)
        c.integer("iterations", lo=0)
        # VGG-16's conv4_3 and conv5_3 have 512 maps.
        c.integer("num_channels", lo=1, hi=512)
        c.real("hessian_sign")
        c.choice("hessian_method", HESSIAN_METHODS)
        c.choice("method", selection_methods())
        c.real("lasso_lambda", lo=0, hi=1, hi_open=True)
        for name in ("lasso_iterations", "learned_iterations", "perturb_samples"):
            c.integer(name, lo=1)
        c.real("learned_lr", lo=0, lo_open=True)
        c.real("gate_l1", lo=0)
        c.real("gate_init", lo=0, lo_open=True)
        c.real("perturb_sigma", lo=0, lo_open=True)


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """GNet / SNet architecture and solvers (spec §4)."""

    # conv1 9x9, pad 4. [O:solver/gnet_384.prototxt], [P §4.2]
    conv1_kernel: int = 9
    # [DIFF] code 32 maps [O:solver/*net_384.prototxt]; paper 36 [P §4.2].
    conv1_channels: int = 32
    # conv2 5x5 -> 1, pad 2. [O:solver/*net_384.prototxt], [P §4.2]
    conv2_kernel: int = 5
    # [DIFF] code: no ReLU on the output (commented out) [O:solver/*net_384.prototxt]; paper: ReLU
    # on both layers [P §4.2].
    output_relu: bool = False
    # [O:solver/*net_384.prototxt] weights ~ N(0, (1e-7)^2); conv1 bias 0.1, conv2 bias 0.
    init_std: float = 1e-7
    conv1_bias_init: float = 0.1
    # [DIFF] code GNet 8e-7 [O:solver/gnet_solver_384.prototxt]; paper 1e-7 for both [P §5].
    gnet_lr: float = 8e-7
    # [O:solver/snet_solver_384.prototxt], [P §5]
    snet_lr: float = 1e-7
    # [O:solver/gnet_solver_384.prototxt momentum 0.5]; the paper gives none.
    gnet_momentum: float = 0.5
    # [O:solver/snet_solver_384.prototxt momentum 0.6]; the paper gives none.
    snet_momentum: float = 0.6
    # [DIFF] global decay 0.0005 x decay_mult 2 = beta 0.001 in code [O:solver/*_solver_384];
    # paper beta = 0.005 [P eq.7, §5], i.e. global 0.0025 with the same x2 multiplier.
    weight_decay: float = 0.0005
    weight_decay_mult: float = 2.0
    bias_lr_mult: float = 2.0
    # First-frame iterations. [O:cnn2_pf_tracker.m max_iter=50], [P §5]
    first_frame_iterations: int = 50
    # GNet's own first-frame iteration count; None = first_frame_iterations (FCNT: 50 for both).
    # [OURS, issue 19's audit: after 50 iterations at lr 8e-7 GNet underfits Diving's thin diver
    # (raw peak 0.63, P_d 0.39 at frame 1, so SNet decides every frame); 100 / 200 / 400 iterations
    # give P_d 0.14 / 0.03 / 0.018. Each iteration costs what an SNet one does, so the init budget
    # (<= 2x code's) bounds it.]
    gnet_first_frame_iterations: int | None = None
    # Not in FCNT (0 in code and paper; 100 in fcnt_plus, which it joined as the candidate
    # fcnt_plus_gnet_refit on what is now fcnt_plus_no_gnet_refit_no_scale_filter). After GNet's first-frame iterations, its own distracter test (spec §5.4,
    # the tracker's per-frame rule and thresholds) is applied to its map of the first frame at the
    # given box; where it fires, GNet trains this many iterations more on the same sample (its
    # solver state continues, so 50 + 100 is a 150-iteration fit). A net that sees a distracter
    # on the one frame it was trained on has not fitted it: on Diving (P_d 0.38 at frame 1 in
    # every seed) SNet then decides every frame. [OURS, issue 19: 150 iterations (gnet_fit, this
    # field's 100 = 150 - 50) took Diving from 0.305 / 0.298 / 0.313 AUC to 0.417 / 0.425 / 0.419
    # (seeds 0-2, fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter against fcnt_plus_no_gnet_refit_no_scale_filter), but given to
    # every sequence it cost
    # David, Crossing, Football1 and Tiger1 ~0.03 each and left fcnt_plus ("Dropping gnet_fit and
    # aspect"). Of the 16 dev sequences only Diving's first frame fires the test (fcnt_plus seed 0:
    # P_d 0.383; the next, Crossing, 0.105), so the others keep their 50-iteration GNet.]
    gnet_underfit_iterations: int = 0

    def __post_init__(self):
        c = _Check("heads", self)
        c.integer("conv1_kernel", lo=1, odd=True)
        c.integer("conv1_channels", lo=1)
        c.integer("conv2_kernel", lo=1, odd=True)
        c.boolean("output_relu")
        for name in ("init_std", "gnet_lr", "snet_lr", "weight_decay", "weight_decay_mult", "bias_lr_mult"):
            c.real(name, lo=0)
        c.real("conv1_bias_init")
        c.real("gnet_momentum", lo=0, hi=1, hi_open=True)
        c.real("snet_momentum", lo=0, hi=1, hi_open=True)
        c.integer("first_frame_iterations", lo=0)
        if self.gnet_first_frame_iterations is not None:
            c.integer("gnet_first_frame_iterations", lo=0)
        c.integer("gnet_underfit_iterations", lo=0)


@dataclasses.dataclass(frozen=True)
class LocalizationConfig:
    """Particles, scoring, distracter test, move/freeze and scale rules (spec §5)."""

    # [DIFF] code 700 [O:init_tracker.m p_num]; paper 600 [P §5].
    num_particles: int = 700
    # Translation std in px; None = ceil(initial diagonal / 7). [DIFF] code diag/7
    # [O:init_tracker.m]; paper 10 [P §5].
    translation_sigma_px: float | None = None
    # Scale std = this x (w0 / 64). [O:init_tracker.m affsig_o(3) = 0.004*ratio]; paper 0.004 [P §5].
    scale_sigma: float = 0.004
    # [DIFF] code: scale sampling off until the frame-20 rule turns it on [O:util/reestimate_param.m];
    # paper: sampled throughout [P §5].
    scale_sampling_from_start: bool = False
    # Aspect (r = h / w) std per frame, as a fraction of the initial aspect r0. code and paper 0:
    # the aspect is never sampled [O:init_tracker.m affsig(5) = 0], spec §5.2. Not in FCNT when > 0:
    # the box's aspect follows the target, and the ROI side follows the box's diagonal instead of
    # its width (the two agree only while the aspect is frozen). The width stays s x 64 (IVT's
    # aspect scales the height), so while scale sampling is off only the height moves.
    # [OURS, issue 19's audit: on Diving the fixed box drifts as the diver crouches. The value
    # 0.004 in fcnt_plus_aspect_no_gnet_refit_no_scale_filter is the paper's scale rate (0.4 % of the initial size per frame) [P §5],
    # applied to the aspect, not tuned.]
    aspect_sigma: float = 0.0
    # IVT template side: s = w / 64. [O:util/loc2affgeo.m p_sz=64]
    template_size: int = 64
    # Map values <= this are zeroed before scoring. [O:cnn2_pf_tracker.m 0.1]
    map_threshold: float = 0.1
    # [DIFF] code ranks by mean x area^gamma [O:cnn2_pf_tracker.m]; paper by the sum in the box [P §4.2].
    score_mode: str = "mean_area_gamma"  # or "sum"
    gamma_g: float = 0.7  # [O:cnn2_pf_tracker.m]
    gamma_s: float = 0.75  # [O:cnn2_pf_tracker.m]
    # P_d: value thresholds on the maps and the outside/inside ratio. [O:cnn2_pf_tracker.m], [P eq.9]
    gnet_distracter_value: float = 0.2
    snet_distracter_value: float = 0.01
    distracter_ratio: float = 0.2
    # Don't move when conf <= 0.1; freeze scale when conf < 0.35. [O:init_tracker.m mv_thr, up_thr]
    move_threshold: float = 0.1
    update_threshold: float = 0.35
    # Scale re-estimation at the 20th frame. [O:load_tracker_param.m check_num = t0+19,
    # util/reestimate_param.m]
    reestimate_frame: int = 20
    minconf_cap: float = 0.5
    # Which heat maps locate the target: "both" (FCNT: GNet, switching to SNet on a distracter),
    # "gnet" or "snet" alone (the paper's FCNT_G / FCNT_S ablations [P §5, Tables 2-3]).
    nets: str = "both"
    # Not in FCNT (off in code and paper). Where SNet decides (a distracter) and neither SNet's
    # particle clears move_threshold, the code holds the box even when GNet's clears it. On: GNet's
    # particle is taken there. [OURS, issue 19's audit: Football1 frames 19-21, GNet confidence
    # 0.31 at 2.4 px error, SNet <= 0.1, box held.]
    gnet_fallback: bool = False
    # The four candidates below (to size_consensus) were each measured on fcnt_plus as it then was
    # (today's fcnt_plus_scale_from_start): "fcnt_plus" in their figures means that preset. The
    # fifth, centre_to_map_centroid, was measured on today's fcnt_plus.
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_snet_size). The
    # box's width and height, wherever the scale is not frozen, are set to the size SNet's map
    # implies around the new box: its spread in a window of size_map_window x the box, over the
    # spread of M (0.2476 x the side, localize.SPREAD_PER_SIDE). [OURS, issue 19: on David frozen
    # GNet's map broadens (the ranking's best factor around the truth box is 1.35, median of frames
    # 2-120) and GNet decides 100 of 120 frames, so the box is 1.58x the truth's area; the size
    # SNet's map implies follows the truth (correlation 0.89 / 0.85 in w / h, mean |log error|
    # 0.12 / 0.16 against the box's 0.23 / 0.27): experiments/results/map_shape.] Measured and
    # rejected as built: 8 OTB dev sequences, 120 frames, seed 0, 0.819 / 0.554 against
    # fcnt_plus's 0.860 / 0.595; David +0.128 AUC, but on Deer the box collapses (a small box, a
    # small window, a narrower estimate) to 14 px (-0.225). WORKSPACE "fcnt_plus (issue 19)".
    size_from_snet_map: bool = False
    # The window is twice the box [OURS: the measurement above used it; it holds a map up to ~2.3x
    # wider than the box and keeps distracters farther out of the estimate].
    size_map_window: float = 2.0
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_motion_prior).
    # Each particle's ranking score is multiplied by its density under the motion model it was
    # drawn from (the Gaussian of state.sigma around the last state, over the sampled dimensions,
    # relative to its peak): the best particle is the MAP estimate instead of the best likelihood
    # over a cloud whose outliers reach 3 sigma. [OURS, issue 19: on Football1 (fcnt_plus, seed 0)
    # the box jumps 12-28 px a frame (frames 9, 12, 14-17, 20; sigma = ceil(diag / 7) = 8 px) onto
    # other players while the target moves 1-7 px; the argmax picks a 2-4 sigma particle on a
    # neighbour whose map is as strong. The prior's width is the proposal's own sigma, no new
    # value.] Measured and rejected as built (seed 0, 120 frames): Couple 0.484 AUC (fcnt_plus
    # 0.709), Football1 0.091 (0.302). The map's blob is as wide as sigma, so the prior pulls each
    # frame's estimate back towards the last box: the box lags a moving target (Football1: 1-4 px
    # a frame against the target's 5-7, lost by frame 5) and its scale freezes (Couple: height 62
    # px while the truth grows to 92). WORKSPACE "fcnt_plus (issue 19)".
    motion_prior: bool = False
    # With motion_prior: whether its density also covers the sampled scale and aspect (True, as
    # measured above) or the centre only. [OURS, issue 19: on Couple the scale and aspect stds are
    # 0.4 % of the initial size a frame, so a 1-sigma size step costs the prior exp(-0.5) while the
    # map's preference for it is weaker: the height froze at 62 px while the truth grew to 92.]
    motion_prior_size: bool = True
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_motion_model).
    # A constant-velocity model: the particle cloud (and the motion prior, when on) is centred on
    # the last centre plus the last frame's displacement of the box, instead of on the last centre
    # (FCNT: a random walk, spec §5.2). [OURS, issue 19: the motion prior as first built lagged a
    # moving target, Football1 1-4 px a frame against the target's 5-7 (lost by frame 5): the
    # prior's centre was where the target had been. Football1's target moves smoothly (its
    # displacement changes by 1-2 px a frame over runs of 5-10 frames). No new value: the velocity
    # is the last displacement, held frames give 0.] Measured and rejected (fcnt_plus_motion_model,
    # seed 0): Couple 0.491 AUC (fcnt_plus 0.709, code 0.685): the camera shakes, so the pair's
    # displacement swings by up to 20 px between frames and the last one predicts the next badly;
    # SNet decides 79 frames instead of 13 (P_d is measured around a particle the prior pulled off
    # the blob's peak). Football1 0.164 (fcnt_plus 0.302): 8 px off by frame 3, lost by frame 20.
    # The other six sequences were not run. WORKSPACE "fcnt_plus (issue 19)".
    constant_velocity: bool = False
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_size_consensus).
    # The chosen particle's width and height are kept only where the other net's map (SNet's when
    # GNet decided, GNet's when SNet did) also ranks them at least as high as the previous width and
    # height at the new centre, by its own ranking score; otherwise the centre moves and the size
    # holds. [OURS, issue 19: frozen GNet's map broadens over a sequence and its ranking (mean x
    # area^0.7) then rewards a larger box: fcnt_plus's box is 1.63x the truth's area on David and
    # 1.28x on Boy (code, which samples no scale on Boy, 0.94x; geometric means over frames,
    # experiments.fcnt_plus's summary), while online-updated SNet's map
    # follows the true size (its spread's correlation with the truth 0.89 / 0.85 in w / h on David,
    # experiments/results/map_shape). A veto, not a size estimate: SNet alone can never resize the
    # box, so the snet_size candidate's collapse on Deer (a smaller box, a smaller window, a smaller
    # estimate) cannot happen. No new value: each net's own gamma.] Measured and rejected after
    # David (seed 0, 120 frames): AUC 0.617 (fcnt_plus 0.606), the box still 1.59x the truth's area
    # (fcnt_plus 1.63; geometric means): SNet's ranking prefers the larger box too (its best factor
    # around the truth is 1.15 after frame 1, experiments/results/map_shape), so it seldom vetoes.
    # The other seven sequences were not run. WORKSPACE "fcnt_plus (issue 19)".
    size_consensus: bool = False
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_centroid, on
    # today's fcnt_plus). Wherever the box moves (not on held frames), its centre is set to the
    # centroid of the deciding net's thresholded map over the chosen box: one mean-shift step.
    # Scale and aspect are untouched. [OURS, issue 19: the ranking (mean x area^gamma) is flat along
    # any axis where the box is longer than the map's blob, so the argmax walks at random along
    # that plateau and each update trains SNet on the walked box. On Diving (fcnt_plus, seed 0,
    # SNet deciding every frame) the 21x129 box, whose aspect never changes, drifts up while the
    # diver crouches: its centre is 13 / 23 / 30 / 39 px above the truth's at frames 28 / 31 / 37 /
    # 43, while SNet's map's centroid over the box sits 4-6 px below the box's centre at frames
    # 28-40 (experiments.map_shape's s_centroid_offset; WORKSPACE gives the command). No new
    # value: the box is the window.] Measured and
    # rejected by the criterion set before its runs (seeds 0-2, 16 dev sequences): 16-sequence AUC
    # 0.679 / 0.672 / 0.649 (mean 0.667) against fcnt_plus's 0.669 / 0.685 / 0.685 (0.679; the bar
    # was 0.695). Diving did not change (0.304 against 0.305); Football1 swung by seed (0.747 /
    # 0.542 / 0.297 against 0.475 / 0.705 / 0.737), Tiger1 -0.052, Coke -0.023.
    # WORKSPACE "fcnt_plus (issue 19)", "The map centroid".
    centre_to_map_centroid: bool = False
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_size_vote, on
    # today's fcnt_plus). On every frame whose scale is not frozen (conf >= update_threshold),
    # after the move, the box's width and height are each moved, in log size, by the smaller of
    # the changes GNet's and SNet's maps imply around the new box (spread in a window of
    # size_map_window x the box, over the spread of M), where both point the same way; where they
    # disagree that side holds. The box's aspect may change, so the ROI side follows its diagonal
    # (as with aspect_sigma > 0). [OURS, issue 19: the scale sampling never turns on for Couple,
    # Diving, Freeman1, Football1, Boy, Surfer and Tiger1 in any seed (the frame-20 rule) while
    # several grow (Freeman1 23x28 -> 39x54 px); with the truth's size at its own centres
    # fcnt_plus would score OTB AUC 0.691 instead of 0.611 (experiments.fcnt_plus's summary). Frozen
    # GNet's implied size follows Freeman1's growth (log error 0.12 / 0.12 against the box's 0.26 /
    # 0.28; experiments/results/map_shape_fixed_size) but is wrong on David, whose map broadens
    # (of the frames where the truth differs from the box by > 5 %, GNet points the wrong way on 72
    # of 102 in w), and online SNet's follows the box (the feedback that broke size_from_snet_map).
    # Where both point the same way they point the truth's way on 525 of 595 such frame-sides over
    # those six sequences (GNet alone 687 of 951, SNet alone 719 of 951), David 59 of 79
    # (experiments.size_vote reads those measurements; open loop, the box not moved by the vote).
    # No new value: the step is the smaller of the two nets' own estimates, so either one vetoes
    # and brakes the other.] Rejected before its 16-sequence runs: where the box is already right
    # the two maps still agree on 278 of 387 frame-sides, with a mean voted step of +0.065 in log
    # size a frame (both spreads are biased upward), a ratchet: on Freeman1 (seed 0) the box grows
    # from 23x28 to 36x38 px by frame 40 while the truth stays 23x29
    # (experiments/results/size_vote/smoke_freeman1). WORKSPACE "The size vote".
    size_vote: bool = False
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_matched, on
    # today's fcnt_plus). Particles are ranked by the map's mean over the box weighted by the box's
    # own target map M (the Gaussian the heads are trained to output for that box, spec §2; the
    # ROI's map_sigma_factor) instead of the plain mean; the confidence reported and tested
    # against move_threshold / update_threshold stays the plain mean. [OURS, issue 19: the plain
    # mean is flat along any axis where the box is longer than the map's blob, so the argmax
    # walks along that plateau: on Diving (fcnt_plus, seed 0) the 21x129 box, whose size never
    # changes, sits over a tucked diver whose truth box is 47-77 px wide and 49-122 px tall from
    # frame 43, and its centre error grows from 4 px at frame 61 to 31 / 64 / 92 px at frames 79 /
    # 91 / 109 (per-frame boxes in experiments/results/fcnt_plus/seed0/otb/fcnt_plus_gnet_refit/
    # Diving.json against the ground truth). M-weighting peaks where the blob is centred in the
    # box. The map centroid (centre_to_map_centroid) aimed at the same plateau by moving the box
    # after the choice; this changes the choice itself. No new value: the weights are M's.]
    # Rejected by the criterion set before its runs (WORKSPACE "Particles ranked by the map
    # weighted by each box's own M"), after seeds 0-1: Diving +0.036 AUC, but Car4 and Dog1 -0.2:
    # the weighted mean falls more slowly than the plain one as a box grows past the blob, so
    # wherever the scale is sampled the area term inflates the box (David 1.87x the truth's area
    # against 1.51x). matched_centre keeps the weighting for the centre only. On today's fcnt_plus,
    # where every particle has one size, rejected on its seed-0 screen too (the preset
    # fcnt_plus_matched_ranking: 16-sequence AUC 0.704 against 0.712; Girl -0.063).
    matched_ranking: bool = False
    # Not in FCNT (off in code, paper and fcnt_plus; the candidate preset fcnt_plus_matched_centre,
    # on today's fcnt_plus). Each net's box takes the size of its best particle by the code's
    # ranking, and the centre, among all the particles' centres, where the map's M-weighted mean
    # (as in matched_ranking) at that size is highest; the confidence stays the plain mean over
    # that box. [OURS, issue 19: matched_ranking's seed-0 run placed Diving's box better (AUC
    # 0.453 against 0.417) but inflated the boxes wherever scale sampling is on (David 1.87x the
    # truth's area against fcnt_plus's 1.51x, AUC 0.569 against 0.658; Deer 1.44x against 1.31x):
    # the weighted mean falls more slowly than the plain one as a box grows past the blob (the
    # added ring has weight exp(-1.125) at M's edge), so the area term wins. Here every box
    # compared shares one area: M-weighting chooses where, the code's ranking how big. No new
    # value.] Rejected on its seed-0 screen (WORKSPACE "The code's ranking for the size,
    # M-weighting for the centre"): 16-sequence AUC 0.667 against fcnt_plus's 0.676 on that seed
    # (the screen's bar 0.686); Tiger1 -0.072, Diving +0.015.
    matched_centre: bool = False

    def __post_init__(self):
        c = _Check("localization", self)
        c.integer("num_particles", lo=1)
        c.real("translation_sigma_px", lo=0, lo_open=True, optional=True)
        c.real("scale_sigma", lo=0)
        c.boolean("scale_sampling_from_start")
        c.real("aspect_sigma", lo=0)
        c.integer("template_size", lo=1)
        c.real("map_threshold", lo=0)
        c.choice("score_mode", ("mean_area_gamma", "sum"))
        for name in ("gamma_g", "gamma_s"):
            c.real(name)
        for name in ("gnet_distracter_value", "snet_distracter_value", "distracter_ratio", "move_threshold",
                     "update_threshold", "minconf_cap"):
            c.real(name, lo=0)
        c.integer("reestimate_frame", lo=1)
        c.choice("nets", ("both", "gnet", "snet"))
        c.boolean("gnet_fallback")
        c.boolean("size_from_snet_map")
        c.real("size_map_window", lo=0, lo_open=True)
        c.boolean("motion_prior")
        c.boolean("motion_prior_size")
        c.boolean("constant_velocity")
        c.boolean("size_consensus")
        c.boolean("centre_to_map_centroid")
        c.boolean("size_vote")
        c.boolean("matched_ranking")
        c.boolean("matched_centre")


@dataclasses.dataclass(frozen=True)
class UpdateConfig:
    """Online SNet updates (spec §6)."""

    # [O:cnn2_pf_tracker.m], [P §4.3]: every 20 frames.
    adaptation_interval: int = 20
    # [DIFF] code 1 step; paper 3 iterations [P §5].
    adaptation_iterations: int = 1
    # [DIFF] code adds the first frame to the adaptation batch; the paper does not [P §4.3].
    adaptation_include_first_frame: bool = True
    # [DIFF] code 10 steps; paper 3 [P §5].
    discrimination_iterations: int = 10
    # [DIFF] code triggers on the SNet-map distracter test; paper on the GNet test (eq. 9).
    discrimination_trigger: str = "snet"  # or "gnet"
    # [DIFF] code pairs the masked current frame with the stored most-confident sample; paper with
    # the first frame (eq. 10).
    discrimination_reference: str = "stored"  # or "first"
    # Which frame the stored sample holds. code "most_confident": a frame replaces it only when more
    # confident than it and than 0.35 [O:cnn2_pf_tracker.m], spec §6.1; the paper keeps "the most
    # confident tracking result" too [P §4.3]. Not in FCNT: "latest_confident", every frame above
    # 0.35 (the code's up_thr, no new value) replaces it, stored after that frame's updates so that
    # the discrimination still pairs two frames. [OURS, issue 19: the tracked first frame scores
    # ~0.5, the training frame's own fit, which later frames can take long to beat, so until the
    # first adaptation the updates may keep training on the first frame's look. In
    # fcnt_plus_gnet_fit_aspect_no_latest_sample, seed 0, the store was first replaced at frame 19
    # on Football1 (whose look changes within 8 frames; its discrimination updates at frames 3 and
    # 7 used the first frame, and the frame-19 replacement was already off the player), 56 on
    # Crossing, 20 on MotorRolling, 13 on Deer. In fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter over 3 seeds:
    # Football1 0.193 -> 0.686 AUC, the 16 dev sequences 0.657 -> 0.688. WORKSPACE "The latest
    # confident sample".]
    stored_sample: str = "most_confident"  # or "latest_confident"

    def __post_init__(self):
        c = _Check("updates", self)
        c.integer("adaptation_interval", lo=1)
        c.integer("adaptation_iterations", lo=0)
        c.boolean("adaptation_include_first_frame")
        c.integer("discrimination_iterations", lo=0)
        c.choice("discrimination_trigger", ("snet", "gnet"))
        c.choice("discrimination_reference", ("stored", "first"))
        c.choice("stored_sample", ("most_confident", "latest_confident"))


@dataclasses.dataclass(frozen=True)
class ScaleFilterConfig:
    """A DSST scale filter sizes the box (fcnt_jax/scale_filter.py). Not in FCNT: off in code and
    paper; on in fcnt_plus, which it joined as the candidate fcnt_plus_scale_filter (on what is now
    fcnt_plus_no_scale_filter) by the criterion set before its runs. [OURS, issue 19: FCNT's heads
    carry no usable size signal on the dev sequences. Their maps' spread follows the crop (GNet's
    implied size tracks a scaled box with slope 0.56 / 0.41 in w / h, experiments/results/
    scale_response), and their raw peak grows with the crop: the right size gives the highest peak
    on 2 (GNet) / 6 (SNet) of 76 frames (experiments/results/scale_response_peaks). Every size rule
    built on the maps failed (snet_size, size_consensus, size_vote, matched). With the truth's size
    at fcnt_plus_no_gnet_refit_no_scale_filter's own centres the OTB 8 AUC would be 0.691 instead of 0.611
    (experiments.fcnt_plus's summary). DSST compares the target's own appearance across scales,
    independently of the maps.] With it on, the particles sample no scale (the frame-20 rule is
    ignored): they place the centre, and the filter sizes the box at that centre on every frame
    where the box moves (held frames neither estimate nor update: the target was not located).
    Values: Danelljan et al., BMVC 2014, as its released run_DSST.m / dsst.m set them, unless marked.
    Measured (3 seeds, 16 dev sequences): AUC 0.714 against 0.686 without it; OTB 8 0.923 / 0.668
    against 0.912 / 0.625; David, Freeman1 and Surfer +0.13-0.15, Tiger1 and Diving -0.04.
    WORKSPACE "A DSST scale filter sizes the box"."""

    enabled: bool = False
    # S, the number of scales, and a, the step between them. [DSST run_DSST.m: 33, 1.02]
    num_scales: int = 33
    scale_step: float = 1.02
    # The label's sigma = S / sqrt(33) x this, in scale steps. [DSST run_DSST.m scale_sigma_factor 1/4]
    sigma_factor: float = 0.25
    # lambda, the filter's regulariser. [DSST run_DSST.m 1e-2]
    regularization: float = 1e-2
    # eta, the model's learning rate. [DSST run_DSST.m learning_rate 0.025]
    learning_rate: float = 0.025
    # Each scale's sample is resized to this square before fHOG. [OURS: dsst.m keeps the initial
    # box's aspect and caps its area at 512 px (scale_model_max_area); a fixed square keeps every
    # shape independent of the box, so a sequence compiles once. 24 x 24 = 576 is the nearest
    # square to that cap whose side the 4-px cells divide.]
    patch_size: int = 24
    # fHOG cell side in px. [DSST get_scale_sample.m: fhog(.., 4)]
    cell_size: int = 4

    def __post_init__(self):
        c = _Check("scale_filter", self)
        c.boolean("enabled")
        c.integer("num_scales", lo=1)
        c.real("scale_step", lo=1.0, lo_open=True)
        c.real("sigma_factor", lo=0, lo_open=True)
        c.real("regularization", lo=0, lo_open=True)
        c.real("learning_rate", lo=0, hi=1)
        c.integer("cell_size", lo=1)
        c.integer("patch_size", lo=1)
        if self.patch_size % self.cell_size:
            c._fail("patch_size", f"must be a multiple of scale_filter.cell_size ({self.cell_size})")


@dataclasses.dataclass(frozen=True)
class FCNTConfig:
    """The whole tracker: pass to jit as a static argument."""

    preset: str = "code"
    roi: RoiConfig = RoiConfig()
    selection: SelectionConfig = SelectionConfig()
    heads: HeadConfig = HeadConfig()
    localization: LocalizationConfig = LocalizationConfig()
    updates: UpdateConfig = UpdateConfig()
    scale_filter: ScaleFilterConfig = ScaleFilterConfig()
    # Compute dtype of the VGG backbone (float32 or bfloat16); heads stay float32.
    backbone_dtype: str = "float32"

    def __post_init__(self):
        c = _Check("config", self)
        c.choice("backbone_dtype", ("float32", "bfloat16"))
        sections = {"roi": RoiConfig, "selection": SelectionConfig, "heads": HeadConfig,
                    "localization": LocalizationConfig, "updates": UpdateConfig,
                    "scale_filter": ScaleFilterConfig}
        for name, cls in sections.items():
            if not isinstance(getattr(self, name), cls):
                c._fail(name, f"must be a {cls.__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "FCNTConfig":
        """The configuration a ``to_dict()`` record describes. A field missing from the record
        takes its default: a record written before the field existed ran without it, and every
        field added since defaults to the behaviour before it (the code's). A field the config no
        longer has is an error naming it."""
        default = cls()
        sections = {f.name: type(getattr(default, f.name)) for f in dataclasses.fields(cls)
                    if dataclasses.is_dataclass(getattr(default, f.name))}

        def check_names(klass, values: dict[str, Any], where: str) -> None:
            unknown = sorted(set(values) - {f.name for f in dataclasses.fields(klass)})
            if unknown:
                raise ConfigError(f"{where} has no field {', '.join(unknown)}")

        check_names(cls, record, "config")
        kwargs = {}
        for name, value in record.items():
            if name in sections:
                if not isinstance(value, dict):
                    raise ConfigError(f"{name}: expected a section (a mapping of its fields), got {value!r}")
                check_names(sections[name], value, name)
                value = sections[name](**value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def override(self, assignments: list[str] | tuple[str, ...]) -> "FCNTConfig":
        """Apply ``section.field=value`` strings (e.g. from ``--set``); unknown names fail."""
        cfg = self
        for item in assignments:
            if "=" not in item:
                raise ValueError(f"override {item!r}: expected section.field=value")
            key, raw = item.split("=", 1)
            cfg = _set_path(cfg, key.strip().split("."), raw.strip(), item)
        return cfg


def _parse_like(current: Any, raw: str, item: str, annotation: str = "") -> Any:
    """``raw`` as the field's type: that of its current value, or its annotation's when that is None
    (``int | None`` parses as an int, ``float | None`` as a float)."""
    if isinstance(current, bool):
        if raw.lower() in ("1", "true", "yes"):
            return True
        if raw.lower() in ("0", "false", "no"):
            return False
        raise ValueError(f"override {item!r}: expected a boolean")
    if raw.lower() == "none":
        return None
    try:
        if isinstance(current, int) or (current is None and str(annotation).startswith("int")):
            return int(raw)
        if isinstance(current, float) or current is None:
            return float(raw)
    except ValueError as e:
        raise ValueError(f"override {item!r}: {e}") from None
    return raw


def _set_path(obj: Any, path: list[str], raw: str, item: str) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    if path[0] not in names:
        raise ValueError(f"override {item!r}: {type(obj).__name__} has no field {path[0]!r}; "
                         f"fields: {sorted(names)}")
    current = getattr(obj, path[0])
    if len(path) == 1:
        if dataclasses.is_dataclass(current):
            raise ValueError(f"override {item!r}: {path[0]!r} is a section, name a field in it")
        annotation = {f.name: f.type for f in dataclasses.fields(obj)}[path[0]]
        return dataclasses.replace(obj, **{path[0]: _parse_like(current, raw, item, annotation)})
    return dataclasses.replace(obj, **{path[0]: _set_path(current, path[1:], raw, item)})


def code_preset() -> FCNTConfig:
    """The official code at HEAD (default)."""
    return FCNTConfig()


def paper_preset() -> FCNTConfig:
    """The paper's values wherever they differ from the code (spec §10)."""
    return FCNTConfig(
        preset="paper",
        selection=SelectionConfig(base_lr=1e-9, iterations=50, hessian_sign=+1.0),
        heads=HeadConfig(
            conv1_channels=36,
            output_relu=True,
            gnet_lr=1e-7,
            # beta = 0.005 [P eq.7] = global decay x decay_mult 2.
            weight_decay=0.0025,
        ),
        localization=LocalizationConfig(
            num_particles=600,
            translation_sigma_px=10.0,
            scale_sampling_from_start=True,
            score_mode="sum",
        ),
        updates=UpdateConfig(
            adaptation_iterations=3,
            adaptation_include_first_frame=False,
            discrimination_iterations=3,
            discrimination_trigger="gnet",
            discrimination_reference="first",
        ),
    )


def _ablation(name: str, assignments: list[str]):
    """The paper's ablation variants [P §5, Tables 2-3], on top of the code preset."""
    return lambda: dataclasses.replace(code_preset().override(assignments), preset=name)


# fcnt_plus (issue 19): the code preset plus fixes for failure modes its diagnostics showed, each a
# flag of its own (see each field's comment for the mechanism and the measurement). Same
# architecture; ``fcnt_plus_no_<fix>`` switches one fix back to the code's value (the ablation).
PLUS_FIXES: dict[str, tuple[str, ...]] = {
    # GNet's particle instead of holding the box when SNet is unsure (Football1 frames 19-21).
    # Acts on few frames (7 in fcnt_plus over seeds 0-2 of the 16 dev sequences, 1 in
    # fcnt_plus_aspect_no_gnet_refit_no_scale_filter: the summary's "GNet fallback" column); kept as the fix of the mechanism the
    # audit measured, not judged by the drop rule (WORKSPACE, "Dropping gnet_fit and aspect").
    "gnet_fallback": ("localization.gnet_fallback=true",),
    # SNet's updates train on the latest confident frame, not on the first frame's look until the
    # first adaptation (Football1: the store was first replaced at frame 19, after the player was
    # lost). Joined fcnt_plus by the criterion set before its runs: WORKSPACE "fcnt_plus (issue
    # 19)", "The latest confident sample".
    "latest_sample": ("updates.stored_sample=latest_confident",),
    # GNet trained 100 iterations more on frame 1 only where its own distracter test fires on that
    # frame at the given box (Diving alone of the 16 dev sequences: P_d 0.388). Joined fcnt_plus by
    # the criterion set before its runs (paired by seed; the sequences that do not fire ran
    # fcnt_plus's boxes exactly): WORKSPACE "GNet refitted where it sees a distracter on its own
    # frame".
    "gnet_refit": ("heads.gnet_underfit_iterations=100",),
    # A DSST scale filter sizes the box at the particles' centre (FCNT's heads carry no size
    # signal: their spread follows the crop, their peak grows with it). Joined fcnt_plus by the
    # criterion set before its runs: WORKSPACE "A DSST scale filter sizes the box".
    "scale_filter": ("scale_filter.enabled=true",),
}
# Fixes measured and dropped from fcnt_plus, in the order they left. The rule (WORKSPACE, set
# before each arm's runs): a fix leaves when, over seeds 0-2, its arm loses no dev sequence by more
# than 0.05 AUC against code and keeps the 16-sequence mean within the preset's own seed spread:
# a departure from the audited code that buys nothing measurable is a risk on the held-out
# sequences with no evidence for it.
DROPPED_PLUS_FIXES: dict[str, tuple[str, ...]] = {
    # The scale sampled from the first frame, as the paper does [P §5], instead of the code's
    # frame-20 rule, which turns it on only when the minimum confidence has dropped. With it, Boy
    # loses 0.062 AUC to code over 3 seeds (the box grows to ~1.3x the truth's area: the ranking's
    # area term on frozen GNet's broadening map, now free to act from frame 1). WORKSPACE
    # "Dropping scale_from_start".
    "scale_from_start": ("localization.scale_sampling_from_start=true",),
    # GNet fitted on frame 1: 150 iterations instead of 50 (Diving P_d 0.39 -> 0.055 at frame 1,
    # experiments/results/gnet_first_frame_diving). Once latest_sample joined, level without it
    # over 3 seeds (16-sequence AUC 0.684 against 0.688; Diving -0.107 and Freeman1 -0.044, David,
    # Crossing, Football1 and Tiger1 +0.03 each). WORKSPACE "The ablation of fcnt_plus with
    # latest_sample".
    "gnet_fit": ("heads.gnet_first_frame_iterations=150",),
    # The aspect sampled (0.4 % of r0 a frame), so a box can follow a crouching diver (Diving).
    # As built, the width is the scale's and the aspect moves the height only, so where scale
    # sampling never turns on (10 of 16 dev sequences in seed 0, Diving among them) it cannot
    # widen: Diving's AUC did not change without it. WORKSPACE "Dropping gnet_fit and aspect".
    "aspect": ("localization.aspect_sigma=0.004",),
}
# Every configuration of fcnt_plus with committed results, and today's preset and its arms, by
# preset name: its fixes. Names follow one rule (tests/test_config.py checks it): ``fcnt_plus``,
# then ``_<fix>`` for each dropped fix it has, then ``_no_<fix>`` for each of today's fixes it
# lacks; the family as first built (with scale_from_start) keeps the names it was published under.
# A drop renames presets; it never renames result folders (``result_folder``).
PLUS_VARIANTS: dict[str, tuple[str, ...]] = {
    "fcnt_plus": ("gnet_fallback", "latest_sample", "gnet_refit", "scale_filter"),
    "fcnt_plus_no_gnet_fallback": ("latest_sample", "gnet_refit", "scale_filter"),
    "fcnt_plus_no_latest_sample": ("gnet_fallback", "gnet_refit", "scale_filter"),
    "fcnt_plus_no_gnet_refit": ("gnet_fallback", "latest_sample", "scale_filter"),
    # Before scale_filter joined: the preset whose scale_filter arm it is, and its arms.
    "fcnt_plus_no_scale_filter": ("gnet_fallback", "latest_sample", "gnet_refit"),
    "fcnt_plus_no_gnet_fallback_no_scale_filter": ("latest_sample", "gnet_refit"),
    "fcnt_plus_no_latest_sample_no_scale_filter": ("gnet_fallback", "gnet_refit"),
    # Before gnet_refit joined: the preset whose gnet_refit arm it is, and its arms.
    "fcnt_plus_no_gnet_refit_no_scale_filter": ("gnet_fallback", "latest_sample"),
    "fcnt_plus_no_gnet_fallback_no_gnet_refit_no_scale_filter": ("latest_sample",),
    "fcnt_plus_no_latest_sample_no_gnet_refit_no_scale_filter": ("gnet_fallback",),
    # Before aspect left (gnet_fit had left): the preset whose aspect arm is fcnt_plus_no_gnet_refit_no_scale_filter.
    "fcnt_plus_aspect_no_gnet_refit_no_scale_filter": ("gnet_fallback", "aspect", "latest_sample"),
    # Before gnet_fit left: fcnt_plus with four fixes, and its arms.
    "fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter": ("gnet_fit", "gnet_fallback", "aspect", "latest_sample"),
    "fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter": ("gnet_fit", "gnet_fallback", "latest_sample"),
    "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_gnet_refit_no_scale_filter": ("gnet_fit", "aspect", "latest_sample"),
    # Before latest_sample joined, and its arms.
    "fcnt_plus_gnet_fit_aspect_no_latest_sample_no_gnet_refit_no_scale_filter": ("gnet_fit", "gnet_fallback", "aspect"),
    "fcnt_plus_aspect_no_latest_sample_no_gnet_refit_no_scale_filter": ("gnet_fallback", "aspect"),
    "fcnt_plus_gnet_fit_no_latest_sample_no_gnet_refit_no_scale_filter": ("gnet_fit", "gnet_fallback"),
    "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_latest_sample_no_gnet_refit_no_scale_filter": ("gnet_fit", "aspect"),
    # As first built, and its arms.
    "fcnt_plus_scale_from_start": ("gnet_fit", "gnet_fallback", "aspect", "scale_from_start"),
    "fcnt_plus_scale_from_start_no_gnet_fit": ("gnet_fallback", "aspect", "scale_from_start"),
    "fcnt_plus_scale_from_start_no_gnet_fallback": ("gnet_fit", "aspect", "scale_from_start"),
    "fcnt_plus_scale_from_start_no_aspect": ("gnet_fit", "gnet_fallback", "scale_from_start"),
}


def plus_name(without: str | None = None) -> str:
    """fcnt_plus's name, or its ablation arm's with the fix ``without`` switched off."""
    if without is not None and without not in PLUS_FIXES:
        raise ValueError(f"unknown fcnt_plus fix {without!r}; choose one of {sorted(PLUS_FIXES)}")
    return "fcnt_plus" if without is None else f"fcnt_plus_no_{without}"


def plus_variant(name: str) -> FCNTConfig:
    """The fcnt_plus configuration ``name`` (a key of ``PLUS_VARIANTS``): code plus its fixes."""
    every_fix = {**PLUS_FIXES, **DROPPED_PLUS_FIXES}
    assignments = [a for fix in PLUS_VARIANTS[name] for a in every_fix[fix]]
    return dataclasses.replace(code_preset().override(assignments), preset=name)


def _first_plus(name: str, assignments: list[str]):
    """A rejected candidate fix: measured on top of fcnt_plus as first built (with scale_from_start)."""
    return lambda: dataclasses.replace(plus_variant("fcnt_plus_scale_from_start").override(assignments),
                                       preset=name)


PRESETS = {
    "code": code_preset,
    "paper": paper_preset,
    # FCNT_G / FCNT_S: only GNet / only SNet locates the target.
    "fcnt_g": _ablation("fcnt_g", ["localization.nets=gnet"]),
    "fcnt_s": _ablation("fcnt_s", ["localization.nets=snet"]),
    # FCNT_K: K selected maps from each layer; K = 512 keeps every map, i.e. no selection. The
    # heads keep 32 conv1 maps in every variant [O:solver/gnet_*.prototxt, spec §4].
    **{f"fcnt_{k}": _ablation(f"fcnt_{k}", [f"selection.num_channels={k}"]) for k in (512, 256, 128, 64)},
    # fcnt_plus and its ablation arms, then fcnt_plus as it was before each change, and their arms.
    **{name: (lambda name=name: plus_variant(name)) for name in PLUS_VARIANTS},
    # The candidate fixes below were measured and rejected, each on top of fcnt_plus as it then was
    # (fcnt_plus_scale_from_start); none is in fcnt_plus.
    # The box's size read from SNet's map (see LocalizationConfig.size_from_snet_map).
    "fcnt_plus_snet_size": _first_plus("fcnt_plus_snet_size", ["localization.size_from_snet_map=true"]),
    # The motion prior on the particle ranking (see LocalizationConfig.motion_prior).
    "fcnt_plus_motion_prior": _first_plus("fcnt_plus_motion_prior", ["localization.motion_prior=true"]),
    # The other net's veto on a size change (see LocalizationConfig.size_consensus).
    "fcnt_plus_size_consensus": _first_plus("fcnt_plus_size_consensus", ["localization.size_consensus=true"]),
    # The motion prior on the centre only, around the constant-velocity prediction (see
    # LocalizationConfig.constant_velocity).
    "fcnt_plus_motion_model": _first_plus("fcnt_plus_motion_model", [
        "localization.motion_prior=true", "localization.motion_prior_size=false", "localization.constant_velocity=true"]),
}
# Candidate fixes on fcnt_plus as it was before gnet_refit joined (gnet_fallback + latest_sample,
# today's fcnt_plus_no_gnet_refit_no_scale_filter). The box's centre moved to its map's centroid (see
# LocalizationConfig.centre_to_map_centroid); rejected by the criterion WORKSPACE "The map
# centroid" set before its runs.
PRESETS["fcnt_plus_centroid"] = lambda: dataclasses.replace(
    plus_variant("fcnt_plus_no_gnet_refit_no_scale_filter").override(["localization.centre_to_map_centroid=true"]),
    preset="fcnt_plus_centroid")
# The box's size moved where both nets' maps agree (see LocalizationConfig.size_vote); rejected on
# its smoke run before the 16-sequence runs (a ratchet).
PRESETS["fcnt_plus_size_vote"] = lambda: dataclasses.replace(
    plus_variant("fcnt_plus_no_gnet_refit_no_scale_filter").override(["localization.size_vote=true"]), preset="fcnt_plus_size_vote")
# Candidates on fcnt_plus as it was before scale_filter joined (today's fcnt_plus_no_scale_filter).
# Particles ranked by the map weighted by each box's own target
# map M (see LocalizationConfig.matched_ranking); rejected by the criterion set before its runs.
PRESETS["fcnt_plus_matched"] = lambda: dataclasses.replace(
    plus_variant("fcnt_plus_no_scale_filter").override(["localization.matched_ranking=true"]), preset="fcnt_plus_matched")
# The code's ranking picks each net's size, M-weighting its centre (see
# LocalizationConfig.matched_centre); rejected on its seed-0 screen.
PRESETS["fcnt_plus_matched_centre"] = lambda: dataclasses.replace(
    plus_variant("fcnt_plus_no_scale_filter").override(["localization.matched_centre=true"]), preset="fcnt_plus_matched_centre")
# Candidates on today's fcnt_plus (with scale_filter). Particles ranked by the M-weighted map
# again (LocalizationConfig.matched_ranking): with the filter on, the particles sample no scale, so
# every box compared shares one size and the area term that inflated fcnt_plus_matched's boxes is
# a constant; what is left is the weighting's answer to the plateau along Diving's long axis.
# Rejected on its seed-0 screen (WORKSPACE "M-weighted ranking on today's fcnt_plus", rule set
# before its run): 16-sequence AUC 0.704 against fcnt_plus's 0.712 on that seed (bar 0.7146);
# Diving +0.026, but Girl -0.063, Coke -0.032, Dog1 -0.030.
PRESETS["fcnt_plus_matched_ranking"] = lambda: dataclasses.replace(
    plus_variant("fcnt_plus").override(["localization.matched_ranking=true"]), preset="fcnt_plus_matched_ranking")
# (A DSST scale filter sizing the box, the candidate fcnt_plus_scale_filter, joined: it is today's
# fcnt_plus.)
# (GNet refitted where its own distracter test fires on its first frame, the candidate
# fcnt_plus_gnet_refit, joined: it is today's fcnt_plus.)
ABLATIONS = ("code", "fcnt_g", "fcnt_s", "fcnt_512", "fcnt_256", "fcnt_128", "fcnt_64", "paper")
# fcnt_plus and each fix removed in turn, then the code preset (issue 19's ablation).
PLUS_ABLATION = (plus_name(), *(plus_name(without=fix) for fix in PLUS_FIXES), "code")


# Preset names that no longer exist, and what their configuration is called now. (Three names
# changed meaning instead, at each change of fcnt_plus: fcnt_plus, fcnt_plus_no_gnet_fallback and
# fcnt_plus_no_latest_sample are today's preset and its arms; WORKSPACE "fcnt_plus (issue 19)"
# lists what they were.)
RENAMED_PRESETS: dict[str, tuple[str, str]] = {  # old name -> (its preset now, why; "" when the name says it)
    "fcnt_plus_no_scale_from_start": ("fcnt_plus_gnet_fit_aspect_no_latest_sample_no_gnet_refit_no_scale_filter",
                                      "fcnt_plus as it was after scale_from_start was dropped; fcnt_plus as "
                                      "first built is 'fcnt_plus_scale_from_start'"),
    "fcnt_plus_latest_sample": ("fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter",
                                "fcnt_plus when latest_sample joined it, before gnet_fit and aspect were dropped"),
    "fcnt_plus_no_gnet_fit": ("fcnt_plus_aspect_no_gnet_refit_no_scale_filter", "gnet_fit was dropped from fcnt_plus, then aspect"),
    "fcnt_plus_no_aspect": ("fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter", "fcnt_plus before gnet_fit was dropped, without aspect"),
    "fcnt_plus_no_latest_sample_no_gnet_fit": ("fcnt_plus_aspect_no_latest_sample_no_gnet_refit_no_scale_filter", ""),
    "fcnt_plus_no_latest_sample_no_aspect": ("fcnt_plus_gnet_fit_no_latest_sample_no_gnet_refit_no_scale_filter", ""),
    "fcnt_plus_no_latest_sample_no_gnet_fallback": (
        "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_latest_sample_no_gnet_refit_no_scale_filter", ""),
    # gnet_refit joined: every earlier variant's name gained "_no_gnet_refit".
    "fcnt_plus_gnet_refit": ("fcnt_plus_no_scale_filter", "the candidate joined fcnt_plus, before scale_filter did"),
    **{name: (f"{name}_no_gnet_refit_no_scale_filter", "gnet_refit joined fcnt_plus, then scale_filter") for name in (
        "fcnt_plus_aspect", "fcnt_plus_gnet_fit_aspect", "fcnt_plus_gnet_fit",
        "fcnt_plus_gnet_fit_aspect_no_gnet_fallback", "fcnt_plus_gnet_fit_aspect_no_latest_sample",
        "fcnt_plus_aspect_no_latest_sample", "fcnt_plus_gnet_fit_no_latest_sample",
        "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_latest_sample")},
    # scale_filter joined: every earlier variant's name gained "_no_scale_filter" (the four names
    # fcnt_plus, fcnt_plus_no_gnet_fallback, fcnt_plus_no_latest_sample and fcnt_plus_no_gnet_refit
    # are today's preset and its arms).
    "fcnt_plus_scale_filter": ("fcnt_plus", "the candidate joined fcnt_plus"),
    **{name[:-len("_no_scale_filter")]: (name, "scale_filter joined fcnt_plus") for name in PLUS_VARIANTS
       if name.endswith("_no_gnet_refit_no_scale_filter") and name[:-len("_no_scale_filter")] not in PLUS_VARIANTS},
}

# Result folders (``seed<s>/<set>/<folder>/`` under experiments.fcnt_plus's output) are never
# renamed when presets are: a rename puts every file in them into the submission again, and one
# such submission was refused for its size. A folder written before this rule keeps the name its
# preset had then (preset now -> folder; each folder's ``config.json`` is the configuration that
# ran, tests/test_config.py checks it against the preset's).
LEGACY_RESULT_FOLDERS: dict[str, str] = {
    # Today's fcnt_plus ran as the candidate fcnt_plus_scale_filter; the preset before it, as the
    # candidate fcnt_plus_gnet_refit.
    "fcnt_plus": "fcnt_plus_scale_filter",
    "fcnt_plus_no_scale_filter": "fcnt_plus_gnet_refit",
    "fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter": "fcnt_plus",
    "fcnt_plus_aspect_no_gnet_refit_no_scale_filter": "fcnt_plus_no_gnet_fit",
    "fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter": "fcnt_plus_no_aspect",
    "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_gnet_refit_no_scale_filter": "fcnt_plus_no_gnet_fallback",
    "fcnt_plus_gnet_fit_aspect_no_latest_sample_no_gnet_refit_no_scale_filter": "fcnt_plus_no_latest_sample",
    "fcnt_plus_aspect_no_latest_sample_no_gnet_refit_no_scale_filter": "fcnt_plus_no_latest_sample_no_gnet_fit",
    "fcnt_plus_gnet_fit_no_latest_sample_no_gnet_refit_no_scale_filter": "fcnt_plus_no_latest_sample_no_aspect",
    "fcnt_plus_gnet_fit_aspect_no_gnet_fallback_no_latest_sample_no_gnet_refit_no_scale_filter":
        "fcnt_plus_no_latest_sample_no_gnet_fallback",
    **{name: name for name in PLUS_VARIANTS if name.startswith("fcnt_plus_scale_from_start")},
}


def result_folder(preset: str) -> str:
    """The folder name a preset's results are kept under: its legacy folder; else, for a fcnt_plus
    variant, ``plus-`` and its fixes in alphabetical order (``plus-gnet_fallback-latest_sample``),
    which no later renaming of presets changes; else the preset's own name (code, the candidates)."""
    key = preset.lower()
    if key in LEGACY_RESULT_FOLDERS:
        return LEGACY_RESULT_FOLDERS[key]
    if key in PLUS_VARIANTS:
        return "-".join(("plus", *sorted(PLUS_VARIANTS[key])))
    return key


def presets_by_result_folder() -> dict[str, str]:
    """The inverse of :func:`result_folder` over every preset: folder name -> preset."""
    return {result_folder(p): p for p in PRESETS}


def get_config(preset: str = "code", overrides: list[str] | tuple[str, ...] = ()) -> FCNTConfig:
    """A preset by name (case-insensitive: ``FCNT_G`` works), with ``section.field=value`` overrides."""
    key = preset.lower()
    if key in RENAMED_PRESETS:
        new, why = RENAMED_PRESETS[key]
        raise ValueError(f"preset {preset!r} was renamed: it is now {new!r}" + (f" ({why})" if why else ""))
    if key not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[key]().override(list(overrides))
