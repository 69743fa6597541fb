"""Trying to break the tracker and the toolkit: bad frames, bad boxes, odd images, long runs, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import jax
import jax.numpy as jnp

from fcnt_jax import geometry, tracker
from fcnt_jax.config import get_config
from fcnt_jax.data import SequenceError, open_sequence
from fcnt_jax.eval import metrics as M
from fcnt_jax.run import ensure_writable_dir, track_sequence

from tests.synthetic import synthetic_sequence
from tests.test_backbone import tiny_params
from tests.test_batch import make_dataset
from tests.test_tracker import TINY

CFG = get_config("code", TINY)


@pytest.fixture(scope="module")
def params():
    return tiny_params(jax.random.PRNGKey(0))


# ----------------------------------------------------------------------------------- frames and files

@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_odd_image_modes_decode_to_rgb(tmp_path, mode):
    from fcnt_jax.data.sequence import load_frame
    rng = np.random.default_rng(0)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65535, (30, 40), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).convert(mode)
    image.save(tmp_path / "f.png")
    frame = load_frame(tmp_path / "f.png")
    assert frame.shape == (30, 40, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize("damage", ["zero_bytes", "truncated", "other_size"])
def test_bad_frame_mid_sequence_keeps_the_boxes_before_it(tmp_path, params, damage):
    root = make_dataset(tmp_path, [("Bad", 8, (96, 128))])
    path = root / "Bad" / "img" / "0006.jpg"
    if damage == "zero_bytes":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        Image.new("RGB", (64, 48)).save(path)
    messages = []
    result = track_sequence(params, open_sequence(root / "Bad"), CFG, log=messages.append)
    assert result.error and "0006.jpg" in result.error
    assert len(result.boxes) == 5 and np.isfinite(result.boxes).all()  # frames 1-5 tracked and kept
    assert any("stopped at frame 6/8" in m for m in messages)


def test_one_frame_sequence_and_extreme_targets(tmp_path, params):
    frames, _ = synthetic_sequence(3)
    for name, box in (("One", [40, 30, 20, 18]), ("Tiny", [60, 50, 5, 6]), ("Whole", [0, 0, 128, 96]),
                      ("Partly", [-8, 70, 20, 20]), ("Outside", [300, 200, 20, 20]), ("Edge", [128, 10, 5, 5])):
        folder = tmp_path / name
        folder.mkdir()
        count = 1 if name == "One" else 3
        for i in range(count):
            Image.fromarray(frames[i]).save(folder / f"{i + 1:04d}.png")
        seq = open_sequence(folder, init_box=",".join(str(v + (1 if j < 2 else 0)) for j, v in enumerate(box)))
        if name in ("Outside", "Edge"):  # wholly outside (Edge: touching the right edge): nothing to track
            with pytest.raises(SequenceError, match=rf"initial box x,y,w,h = {box[0] + 1},{box[1] + 1},{box[2]},{box[3]} "
                                                    r"\(1-based\) lies wholly outside the 128x96 first frame"):
                track_sequence(params, seq, CFG, log=lambda m: None)
            continue
        result = track_sequence(params, seq, CFG, log=lambda m: None)
        assert len(result.boxes) == count and np.isfinite(result.boxes).all(), name
        assert (result.boxes[:, 2:] > 0).all(), name


def test_output_folder_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SequenceError, match="a_file/out: output folder is not writable"):
        ensure_writable_dir(blocker / "out")
    assert ensure_writable_dir(tmp_path / "new" / "dir").is_dir()


def test_track_cli_bad_inputs_give_one_line_errors(tmp_path, capsys):
    from absl import flags
    from absl.testing import flagsaver
    from experiments import track

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    empty = tmp_path / "empty"
    empty.mkdir()
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("RGB", (40, 30)).save(frames / "0001.png")
    (tmp_path / "file").write_text("")
    cases = [
        (dict(sequence=str(empty)), "not an OTB, VOT, UAV123, GOT-10k, LaSOT or TrackingNet sequence folder"),
        (dict(sequence=str(empty), init_box="1,1,5,5"), "no image files"),
        (dict(sequence=str(tmp_path / "nowhere")), "sequence folder does not exist"),
        (dict(sequence=str(frames)), "init_box"),
        (dict(sequence=str(frames), init_box="1,1,0,5"), "zero or negative size"),
        (dict(sequence=str(frames), init_box="1,1,nan,5"), "not 4 finite numbers"),
        (dict(sequence=str(frames), init_box="1,1,5", output_dir=str(tmp_path)), "init_box"),
        (dict(sequence=str(frames), init_box="1,1,5,5", output_dir=str(tmp_path / "file" / "out")), "not writable"),
        (dict(sequence=str(frames), init_box="5000,5000,20,20"),
         "initial box x,y,w,h = 5000,5000,20,20 (1-based) lies wholly outside the 40x30 first frame"),
        (dict(sequence=str(frames), init_box="1,1,5,5", set=["localization.num_particles=-5"]),
         "localization.num_particles=-5: must be an integer >= 1"),
        (dict(sequence=str(frames), init_box="1,1,5,5", preset="fast"), "unknown preset 'fast'"),
    ]
    for overrides, message in cases:
        overrides.setdefault("output_dir", str(tmp_path / "out"))
        with flagsaver.flagsaver(**overrides):
            assert track.main([]) == 2, overrides
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (overrides, err)


# ----------------------------------------------------------------------------------- numerical health

def test_non_finite_heads_hold_the_box_and_say_so(params):
    frames, gt = synthetic_sequence(3)
    state = tracker.init(params, frames[0], jnp.asarray(gt[0], jnp.float32), jax.random.PRNGKey(0), cfg=CFG)
    before = np.asarray(state.target)
    poisoned = state.replace(gnet=jax.tree.map(lambda x: x * jnp.nan, state.gnet),
                             snet=jax.tree.map(lambda x: x * jnp.nan, state.snet))
    new_state, out = tracker.step_fn(params, poisoned, frames[1], CFG)
    assert not bool(out.maps_usable) and int(out.decided_by) == 2  # held
    np.testing.assert_array_equal(np.asarray(new_state.target), before)
    assert np.isfinite(np.asarray(out.box)).all() and np.isfinite(float(new_state.min_conf))
    _, ok = tracker.step_fn(params, state, frames[1], CFG)
    assert bool(ok.maps_usable)


@pytest.mark.slow
def test_a_thousand_frames_stay_finite(params):
    """A long synthetic run (the object moves back and forth): no NaN/Inf anywhere in the state."""
    base, gt = synthetic_sequence(50)
    frames = np.concatenate([base, base[::-1]] * 10)  # 1000 frames
    state = tracker.init(params, frames[0], jnp.asarray(gt[0], jnp.float32), jax.random.PRNGKey(0), cfg=CFG)
    step = jax.jit(tracker.step_fn, static_argnames=("cfg", "return_maps"))
    finite = jax.jit(lambda s: jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(s)
                                                   if jnp.issubdtype(x.dtype, jnp.floating)])))
    checks, usable = [], []
    for t, frame in enumerate(frames):
        state, out = step(params, state, frame, cfg=CFG)
        usable.append(out.maps_usable)
        if t % 100 == 99:
            checks.append(finite(state))
    assert all(bool(c) for c in checks) and len(checks) == 10
    assert int(state.frame_index) == 1000 and np.mean([bool(u) for u in usable]) > 0.9


# ----------------------------------------------------------------------------------- properties

boxes = st.tuples(st.floats(-50, 300), st.floats(-50, 300), st.floats(0.5, 200), st.floats(0.5, 200))


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_iou_is_in_unit_interval_and_symmetric(a, b):
    a, b = np.array([a]), np.array([b])
    v = M.iou(a, b)[0]
    assert 0.0 <= v <= 1.0 + 1e-12 and v == pytest.approx(M.iou(b, a)[0], abs=1e-12)
    assert M.iou(a, a)[0] == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=20))
def test_ground_truth_against_itself_is_perfect(rows):
    gt = np.array(rows)
    s = M.sequence_curves(gt, gt).scores()
    assert s["precision_20"] == 1.0 and s["norm_prec@0.2"] == 1.0 and s["mean_iou"] == pytest.approx(1.0)
    assert s["auc"] == pytest.approx(20 / 21)  # IoU 1 is not > 1: the last threshold never passes


@settings(max_examples=100, deadline=None)
@given(boxes, st.floats(1.0, 4.0), st.floats(0, 1), st.floats(0, 1))
def test_roi_mapping_round_trip(box, scale, u, v):
    roi = geometry.roi_for_box(jnp.asarray(box, jnp.float32), scale)
    points = jnp.array([[u * 368, v * 368]], jnp.float32)
    back = geometry.image_to_roi(geometry.roi_to_image(points, roi), roi)
    np.testing.assert_allclose(back, points, atol=1e-2 * max(1.0, float(roi[2]) / 368))
    b = jnp.asarray(box, jnp.float32)
    in_roi = geometry.box_to_roi(b, roi)
    # The box, mapped to the ROI frame, is centred there and scaled by 368 / side.
    np.testing.assert_allclose(in_roi[:2] + in_roi[2:] / 2, [184, 184], atol=1e-2)
    np.testing.assert_allclose(in_roi[2:], b[2:] * 368 / roi[2], rtol=1e-4)


@settings(max_examples=25, deadline=None)
@given(st.floats(0, 60), st.floats(0, 40), st.floats(8, 60), st.floats(8, 40))
def test_crop_of_the_whole_image_region_is_identity_for_integer_roi(x, y, w, h):
    """Cropping a square ROI that covers exactly the output size (no resampling) returns the pixels."""
    rng = np.random.default_rng(0)
    image = jnp.asarray(rng.integers(0, 255, (64, 80, 3)), jnp.float32)
    x0, y0 = int(x) % 40, int(y) % 30
    crop = geometry.crop_roi(image, jnp.array([x0, y0, 32.0]), 32)
    np.testing.assert_allclose(crop, image[y0:y0 + 32, x0:x0 + 32], atol=1e-3)
