"""The Section 3 analyses: hand-computed values, finite differences and planted truths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fcnt_jax.config import get_config
from fcnt_jax.selection import analysis as A
from fcnt_jax.selection import sparse_coding as SC

from tests.synthetic import synthetic_sequence
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY


def test_mass_shares_and_histogram_by_hand():
    values = np.array([[0.0, 1.0], [2.0, 7.0]])
    inside = np.array([[False, True], [False, True]])
    assert A.mass_inside(values, inside) == pytest.approx(0.8)
    assert A.mass_inside(np.zeros((2, 2)), inside) == 0.0
    shares = A.small_channel_shares(np.array([100.0, 0.5, 5.0, 20.0, 0.0]))
    assert shares == {"below_0.01_of_max": 0.4, "below_0.1_of_max": 0.6}
    edges, share = A.activation_histogram([np.array([10.0, 0.0, 5.0, 1.0]), np.array([2.0, 2.0])], bins=4)
    np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1.0])
    # normalised: 1, 0, .5, .1 and 1, 1 -> bins [0, .25): 2, [.5, .75): 1, [.75, 1]: 3
    np.testing.assert_allclose(share, [2 / 6, 0, 1 / 6, 3 / 6])
    features = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3)
    np.testing.assert_allclose(A.box_activation_sums(features, inside), features[0, 1] + features[1, 1])
    mask = A.pixel_box_mask(np.array([1.0, 2.0, 2.0, 1.0]), 5)  # pixels x 1..2, y 2
    assert mask.sum() == 2 and mask[2, 1] and mask[2, 2]


def test_input_saliency_matches_finite_differences():
    """The network is piecewise linear (ReLU, max-pool), so a central difference with a step of half
    a grey level is exact unless it crosses a kink; float32 round-off sets the tolerance."""
    from fcnt_jax import backbone

    params = tiny_params(jax.random.PRNGKey(0))
    crop = jax.random.uniform(jax.random.PRNGKey(1), (32, 32, 3), jnp.float32, 0, 255)
    sal = A.input_saliency(params, crop, "conv4_3", jnp.asarray(3))

    @jax.jit
    def total(rgb):
        return jnp.sum(backbone.vgg16_conv(params, backbone.preprocess(rgb[None]))["conv4_3"][0, ..., 3])

    def response(rgb):
        return float(total(rgb))

    eps = 0.5
    for y, x in ((3, 4), (16, 16), (30, 1)):
        diffs = [(response(crop.at[y, x, k].add(eps)) - response(crop.at[y, x, k].add(-eps))) / (2 * eps)
                 for k in range(3)]
        assert float(sal[y, x]) == pytest.approx(max(abs(d) for d in diffs), rel=2e-3, abs=1e-4)
    assert float(sal.max()) > 10 * 1e-4  # not trivially zero


def test_observation1_picks_the_strongest_map_in_the_box():
    cfg = get_config("code", TINY)
    frames, boxes = synthetic_sequence(1)
    params = tiny_params(jax.random.PRNGKey(0))
    view = A.roi_view(params, frames[0], boxes[0], cfg)
    assert view.crop.shape == (128, 128, 3) and view.features["conv4_3"].shape == (16, 16, 16)
    assert view.mask.any() and not view.mask.all()
    obs = A.observation1(params, view)
    for layer in A.LAYERS:
        sums = A.box_activation_sums(view.features[layer], view.mask)
        assert obs[layer]["channel"] == int(np.argmax(sums))
        assert 0 <= obs[layer]["activation_inside"] <= 1 and 0 <= obs[layer]["saliency_inside"] <= 1
        assert obs[layer]["saliency_map"].shape == (128, 128)
        assert obs[layer]["box_area_share"] == pytest.approx(view.mask.mean())


def planted_images(rng, weights, n_images, h=10, w=10, n=14):
    """Feature maps where the box (rows 3-6, cols 3-6) lights up the given channels (channel ->
    weight), with noise everywhere: a planted truth of which channels explain the mask."""
    mask = np.zeros((h, w), bool)
    mask[3:7, 3:7] = True
    out = []
    for _ in range(n_images):
        f = 0.05 * rng.random((h, w, n))
        for c, weight in weights.items():
            f[..., c] += mask * weight * rng.uniform(0.8, 1.2)
        out.append(SC.gram(jnp.asarray(f), jnp.asarray(mask)))
    return out


def layer_images(rng, shared_weight, identity_weight, identities, per_identity, nonfaces):
    """A planted "layer": faces light the shared category channel 10 and their identity's channel
    with the given weights; non-faces light channels 11-12."""
    def images(weights, count):
        return planted_images(rng, weights, count)

    faces = [images({10: shared_weight, i: identity_weight}, per_identity) for i in range(identities)]
    return faces, images({11: 1.0, 12: 1.0}, nonfaces)


def test_table1_pipeline_on_planted_layers():
    """The planted version of Table 1: in a "semantic" layer (like conv5_3: the shared face channel
    strong, identity channels weak) face vs non-face is easy and identities blur; in a
    "discriminative" one (like conv4_3: the reverse) identities separate. Codes are fitted on
    training images, exactly as the experiments do."""
    rng = np.random.default_rng(0)
    results = {}
    for name, shared, own in (("semantic", 1.0, 0.3), ("discriminative", 0.3, 1.0)):
        train, _ = layer_images(rng, shared, own, 4, 5, 0)
        test_faces, nonfaces = layer_images(rng, shared, own, 4, 6, 12)
        codes = [A.fit_code(t, lam_ratio=0.05) for t in train]
        ident = np.repeat(np.arange(4), 6)
        identity = A.identity_accuracy(A.min_errors(codes, A.stack_grams([g for t in test_faces for g in t])), ident)
        # Experiment 1: one image each of identities 0-2; identity 3 is never seen in training.
        exp1 = [A.fit_code([train[i][0]], lam_ratio=0.05) for i in range(3)]
        tests = A.stack_grams([g for t in test_faces for g in t] + nonfaces)
        face = A.face_vs_nonface(A.min_errors(exp1, tests), np.array([True] * 24 + [False] * 12))
        results[name] = (face["accuracy"], identity)
        if name == "semantic":  # Fig. 4's transfer: a face code explains an unseen identity, not an object
            unseen = A.relative_errors(exp1[0], A.stack_grams(test_faces[3]))
            objects = A.relative_errors(exp1[0], A.stack_grams(nonfaces))
            assert unseen.max() < 0.5 < objects.min()
            np.testing.assert_allclose(A.relative_errors(jnp.zeros(14), A.stack_grams(nonfaces)), 1.0, rtol=1e-5)
    assert results["semantic"][0] == 1.0 and results["discriminative"][1] == 1.0
    assert results["semantic"][1] < 0.5 and results["discriminative"][0] < 1.0  # each layer's weak side


def test_threshold_and_accuracies_by_hand():
    errors = np.array([[0.1, 0.5], [0.4, 0.2], [0.9, 0.7], [0.3, 0.8], [0.6, 0.95], [0.85, 0.75]])
    is_face = np.array([True, True, False, True, False, False])
    e = errors.min(1)  # 0.1, 0.2, 0.7, 0.3, 0.6, 0.75
    assert A.best_threshold(e, is_face) == pytest.approx(0.45)
    result = A.face_vs_nonface(errors, is_face)
    assert result["best_accuracy"] == 1.0
    # Halves: even images (0.1 F, 0.7 N, 0.6 N) -> t = 0.35; odd (0.2 F, 0.3 F, 0.75 N) -> t = 0.525.
    assert result["held_out_accuracies"] == [1.0, 1.0]
    assert A.identity_accuracy(errors, np.array([0, 1, 1, 0, 0, 0])) == pytest.approx(5 / 6)


def test_run_feature_analysis_end_to_end_small(tmp_path):
    """The whole experiment at toy size (tiny random VGG, synthetic sequences under the real names):
    every figure and table is written and the JSON holds each analysis."""
    from PIL import Image

    from fcnt_jax.benchmark import load_sequences
    from fcnt_jax.feature_analysis import FACES, NON_FACES, run_feature_analysis, summary_markdown, table1_markdown
    from fcnt_jax.geometry import box_to_otb

    root = tmp_path / "data"
    names = ("Boy", "Freeman1", "Girl", "Car4", "Coke")  # no David: its frames start at 0300
    assert set(names) <= set(FACES + NON_FACES)
    for k, name in enumerate(names):
        frames, boxes = synthetic_sequence(6, seed=k)
        (root / name / "img").mkdir(parents=True)
        for t, frame in enumerate(frames, 1):
            Image.fromarray(frame).save(root / name / "img" / f"{t:04d}.jpg", quality=95)
        (root / name / "groundtruth_rect.txt").write_text(
            "\n".join(",".join(f"{v:g}" for v in r) for r in box_to_otb(boxes)) + "\n")
    sequences = {s.name: s for s in load_sequences("otb", root)}
    out = tmp_path / "out"
    out.mkdir()
    result = run_feature_analysis(tiny_params(jax.random.PRNGKey(0)), sequences, get_config("code", TINY), out,
                                  max_frames=6, stride=2, train_per_identity=2, lam_ratios=(0.1,), iterations=200,
                                  log=lambda m: None)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"fig2_{n}.png" for n in sequences] + ["fig3_histogram.png", "fig4_Girl.png"])  # no MotorRolling here
    assert result["table1_protocol"]["exp1_test_images"] == {"faces": 3 * 3 - 3, "non_faces": 2 * 3}
    assert result["table1_protocol"]["exp2_test_images"] == 3 * (3 - 2)
    for layer in A.LAYERS:
        t = result["table1"]["0.1"][layer]
        assert 0 <= t["experiment1"]["accuracy"] <= 1 and 0 <= t["experiment2"] <= 1
        transfer = result["fig4_transfer"]["0.1"][layer]
        assert set(transfer) == set(sequences)
        girl = transfer["Girl"]
        assert sorted(girl["own_per_frame"]) == [1, 3, 5] and set(girl["other_sequences_first_frame"]) == set(
            sequences) - {"Girl"}
        assert girl["own_per_frame"][1] == pytest.approx(girl["own_first"])
        assert np.mean([girl["own_per_frame"][f] for f in (3, 5)]) == pytest.approx(girl["own_later"])
    md = table1_markdown(result)
    assert "76.42%" in md and "57.28%" in md and "ordering" in md
    assert "## Observation 1" in summary_markdown(result)
