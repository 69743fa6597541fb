"""Video files: read lazily, tracked and scored, written with boxes; broken files keep what was tracked."""

import io
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

import jax

from fcnt_jax.config import get_config
from fcnt_jax.data import DEMO_SEQUENCE, SequenceError, open_sequence, read_video, write_video
from fcnt_jax.data.sequence import load_frame
from fcnt_jax.data.video import VideoFrame, probe_video
from fcnt_jax.run import save_tracked_video, track_sequence

from tests.conftest import shared_path
from tests.synthetic import synthetic_sequence
from tests.test_backbone import tiny_params
from tests.test_tracker import TINY

av = pytest.importorskip("av")
CROSSING = open_sequence(DEMO_SEQUENCE)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def crossing_video(folder, count: int, ext: str = ".mp4", fps: float = 25.0):
    """The demo's first ``count`` real frames encoded by our writer, with its ground truth beside
    it in the video convention (VOT rules: 4 numbers, 0-based)."""
    frames = [load_frame(p) for p in CROSSING.frame_paths[:count]]
    path = folder / f"crossing{ext}"
    assert write_video(path, frames, fps) == count
    gt = CROSSING.groundtruth[:count]
    (folder / "crossing.groundtruth.txt").write_text("".join(",".join(f"{v:.3f}" for v in r) + "\n" for r in gt))
    return path, frames


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".mkv", ".mov"])
def test_written_video_reads_back_lazily_with_its_frames_rate_and_size(tmp_path, ext, monkeypatch):
    path, frames = crossing_video(tmp_path, 6, ext, fps=12.5)
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (6, 12.5, 360, 240)
    seq = open_sequence(path)  # ground truth found beside it; the first row starts the tracker
    assert seq.source == "video" and seq.name == "crossing" and len(seq) == 6 and seq.image_size() == (240, 360)
    np.testing.assert_allclose(seq.groundtruth, CROSSING.groundtruth[:6], atol=1e-3)
    assert str(seq.frame_paths[2]) == f"{path} frame 3 (index 2)"
    decoded = []
    import fcnt_jax.data.video as V
    real = V.decode_frames
    monkeypatch.setattr(V, "decode_frames", lambda *a, **k: decoded.append(a) or real(*a, **k))
    with seq.frames(stop=4) as stream:
        got = list(stream)
    assert len(decoded) == 1 and decoded[0][1:] == (0, 4)  # one pass over the file, no decode beyond stop
    assert len(got) == 4 and all(g.shape == (240, 360, 3) for g in got)
    assert max(mad(g, f) for g, f in zip(got, frames)) < 6  # compression noise only
    for k, g in enumerate(got):  # and each is the right frame: closest to its own source frame
        assert int(np.argmin([mad(g, f) for f in frames])) == k
    np.testing.assert_array_equal(load_frame(seq.frame_paths[3]), real(path, 3, 4).__next__())


def test_bag_avi_matches_the_vot_frames_and_its_ground_truth():
    video = shared_path("video", "bag.avi")
    jpegs = shared_path("VOT2015", "bag")
    seq = open_sequence(video)
    info = seq.meta["video"]
    assert (info.num_frames, info.fps, info.width, info.height) == (196, 25.0, 480, 360) and len(seq) == 196
    # Row i (1-based) of the polygons belongs to decoded frame i - 1; the first one's bounding rect:
    np.testing.assert_allclose(seq.init_box, [291.827, 124.711, 150.346, 139.578], atol=1e-3)
    np.testing.assert_allclose(seq.groundtruth, open_sequence(jpegs).groundtruth)
    with seq.frames() as stream:
        for k, frame in enumerate(stream):  # decoded frame k (0-based) is JPEG number k + 1
            assert mad(frame, load_frame(jpegs / f"{k + 1:08d}.jpg")) < 4, k
    assert k == 195


@pytest.mark.slow
def test_track_and_score_real_videos(tmp_path, vgg_params):
    """The code preset on the demo's real frames encoded as mp4 and on the real bag.avi."""
    path, _ = crossing_video(tmp_path, 8)
    result = track_sequence(vgg_params, open_sequence(path), get_config("code"), seed=0, log=lambda m: None)
    assert len(result.boxes) == 8 and result.scores["precision_20"] == 1.0, result.scores
    bag = open_sequence(shared_path("video", "bag.avi")).truncated(10)
    result = track_sequence(vgg_params, bag, get_config("code"), seed=0, log=lambda m: None)
    assert len(result.boxes) == 10 and result.scores["precision_20"] >= 0.9, result.scores


def tiny_video(path, count: int, size=(96, 128)) -> list[np.ndarray]:
    frames, _ = synthetic_sequence(count, size=size)
    assert write_video(path, frames, 10) == count
    return frames


def test_truncated_video_stops_at_the_missing_frame_and_keeps_the_boxes(tmp_path):
    full = tmp_path / "full.avi"
    tiny_video(full, 20)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    seq = read_video(cut, init_box="41,31,20,18")
    assert len(seq) == 20  # the header still says 20
    messages = []
    result = track_sequence(tiny_params(jax.random.PRNGKey(0)), seq, get_config("code", TINY), log=messages.append)
    kept = len(result.boxes)
    assert 1 <= kept < 20 and np.isfinite(result.boxes).all()
    assert result.error and f"cut.avi frame {kept + 1} (index {kept}): the video ended after {kept} of 20 frames" \
        in result.error
    assert any(f"the {kept} boxes before it are kept" in m for m in messages)


def test_corrupt_or_missing_video_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SequenceError, match=r"junk.mp4: cannot open video"):
        open_sequence(junk, init_box="1,1,5,5")
    with pytest.raises(SequenceError, match=r"nowhere.mkv: video file does not exist"):
        open_sequence(tmp_path / "nowhere.mkv", init_box="1,1,5,5")
    tiny_video(tmp_path / "clip.mp4", 3)
    with pytest.raises(SequenceError, match=r"clip.mp4: no ground truth \(clip.groundtruth.txt\) to start from; "
                                            "give the first box with --init_box"):
        open_sequence(tmp_path / "clip.mp4")
    with pytest.raises(SequenceError, match=r"out.webm: cannot write .webm video; use one of .mp4, .mkv"):
        write_video(tmp_path / "out.webm", [np.zeros((8, 8, 3), np.uint8)], 10)
    assert not (tmp_path / "out.webm").exists()


def mjpeg_with_a_size_change(path, sizes) -> None:
    """A Motion-JPEG video whose frames change size mid-stream (each packet a JPEG of its own size),
    which an encoder would refuse to write but a camera or an edited file can hold."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height = sizes[0]
        stream.pix_fmt = "yuvj420p"
        stream.time_base = Fraction(1, 10)
        for i, (w, h) in enumerate(sizes):
            buf = io.BytesIO()
            frame = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
            Image.fromarray(frame).save(buf, "JPEG")
            packet = av.Packet(buf.getvalue())
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, i, i, Fraction(1, 10)
            out.mux(packet)


def test_frame_size_change_mid_stream_keeps_the_boxes_before_it(tmp_path):
    path = tmp_path / "resized.mkv"
    mjpeg_with_a_size_change(path, [(128, 96)] * 4 + [(160, 120)] * 2)
    seq = read_video(path, init_box="41,31,20,18")
    assert len(seq) == 6  # mkv has no count in its header: packets counted
    result = track_sequence(tiny_params(jax.random.PRNGKey(0)), seq, get_config("code", TINY), log=lambda m: None)
    assert len(result.boxes) == 4 and np.isfinite(result.boxes).all()
    assert "resized.mkv frame 5 (index 4): frame is 160x120 but the sequence started at 128x96" in result.error


def test_saved_video_shows_the_tracked_and_true_boxes(tmp_path):
    path, frames = crossing_video(tmp_path, 5)
    seq = open_sequence(path)
    boxes = np.array(CROSSING.groundtruth[:5]) + [30, 0, 0, 0]  # 30 px right of the truth
    out = tmp_path / "tracked.mp4"
    assert save_tracked_video(seq, boxes, out) == 5
    info = probe_video(out)
    assert (info.num_frames, info.fps, info.width, info.height) == (5, 25.0, 360, 240)
    with read_video(out, init_box="1,1,5,5").frames() as stream:
        drawn = list(stream)
    for frame, box, gt in zip(drawn, boxes, CROSSING.groundtruth[:5]):
        x, y = int(round(box[0])) + 1, int(round(box[1] + box[3] / 2))  # inside the 2-px left edge
        r, g, b = frame[y, x].astype(int)
        assert r > 150 and g < 120, (r, g, b)  # red: ours
        x, y = int(round(gt[0])) + 1, int(round(gt[1] + gt[3] / 2))
        r, g, b = frame[y, x].astype(int)
        assert g > 150 and r < 120, (r, g, b)  # green: the ground truth


def test_frame_reference_is_named_like_a_file():
    ref = VideoFrame(DEMO_SEQUENCE / "clip.mp4", 16)
    assert str(ref) == f"{DEMO_SEQUENCE / 'clip.mp4'} frame 17 (index 16)"
