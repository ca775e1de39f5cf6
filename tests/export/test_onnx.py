"""Tests of the ONNX export and the onnxruntime backend (tiny model, CPU)."""

import os
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_recipe import run_main, write_tiny_recipe_output

from speechbrain_galr.export.onnx import TOLERANCE
from speechbrain_galr.inference.onnx_runtime import (
    ONNX_FILE,
    OnnxTasNet,
    OnnxUnavailableError,
)

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
onnx = pytest.importorskip("onnx")

RATE = 8000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model folder written by ``export --onnx`` from a tiny GALR."""
    recipe = write_tiny_recipe_output(tmp_path_factory.mktemp("recipe"))
    dest = tmp_path_factory.mktemp("exported") / "model"
    status, out, err = run_main(
        "export", str(recipe), "--out", str(dest), "--onnx"
    )
    assert status == 0, err
    assert str(dest / ONNX_FILE) in out
    return dest


@pytest.fixture(scope="module")
def torch_model(model_dir):
    """The exported folder's PyTorch model."""
    from speechbrain_galr.inference.separator import load_model

    model = load_model(str(model_dir), run_opts={"precision": "fp32"})
    return model.mods.model.eval()


def test_onnx_file_has_named_dynamic_axes_and_passes_the_checker(model_dir):
    path = str(model_dir / ONNX_FILE)
    onnx.checker.check_model(path, full_check=True)
    graph = onnx.load(path).graph
    (mix,), (sources,) = graph.input, graph.output
    dims = [
        [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (mix, sources)
    ]
    assert (mix.name, sources.name) == ("mix", "sources")
    assert dims == [["batch", "samples"], ["batch", "samples", 2]]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("seconds", [1.0, 3.3, 10.0])
def test_onnxruntime_matches_pytorch(model_dir, torch_model, batch, seconds):
    session = OnnxTasNet(model_dir / ONNX_FILE)
    generator = torch.Generator().manual_seed(batch)
    mix = torch.randn(batch, round(seconds * RATE), generator=generator)
    with torch.inference_mode():
        expected = torch_model(mix)
    got = session(mix)
    assert got.shape == expected.shape == (batch, mix.shape[1], 2)
    assert (got - expected).abs().max() <= TOLERANCE
    # NumPy in, NumPy out: the same numbers
    assert np.array_equal(session(mix.numpy()), got.numpy())


def test_padded_batch_with_lengths_matches_pytorch(model_dir, torch_model):
    session = OnnxTasNet(model_dir / ONNX_FILE)
    mix = torch.randn(2, 5000, generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([1.0, 0.61])
    mix[1, round(0.61 * 5000) :] = 0  # padding
    with torch.inference_mode():
        expected = torch_model(mix, lengths)
    got = session(mix, lengths)
    assert (got - expected).abs().max() <= TOLERANCE
    assert not got[1, round(0.61 * 5000) :].any()


def test_bad_input_gives_one_line_errors(model_dir):
    session = OnnxTasNet(model_dir / ONNX_FILE)
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        session(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        session(np.full((1, 100), np.nan, np.float32))
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OnnxTasNet(model_dir / "missing.onnx")


def test_cli_onnxruntime_backend_writes_the_same_files(model_dir, tmp_path):
    mixture = tmp_path / "talk.wav"
    rng = np.random.default_rng(0)
    sf.write(str(mixture), rng.normal(0, 0.2, (int(16000 * 2.5), 2)), 16000)
    outputs = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / backend
        status, stdout, err = run_main(
            "separate", str(mixture), "--model", str(model_dir), "--out",
            str(out), "--chunk-seconds", "1", "--quiet", "--precision",
            "fp32", "--backend", backend,
        )  # fmt: skip
        assert status == 0, err
        outputs[backend] = sorted(os.listdir(out))
        assert outputs[backend] == ["talk_source1.wav", "talk_source2.wav"]
    for name in outputs["torch"]:
        ref, rate = sf.read(str(tmp_path / "torch" / name))
        got, got_rate = sf.read(str(tmp_path / "onnxruntime" / name))
        assert rate == got_rate == 16000 and ref.shape == got.shape
        # within the tolerance, plus one step of the 16-bit files
        assert np.abs(got - ref).max() <= TOLERANCE + 1 / 2**15


def test_onnxruntime_backend_without_onnx_file_is_one_line(tmp_path):
    folder = tmp_path / "no_onnx"
    folder.mkdir()
    (folder / "hyperparams.yaml").write_text("sample_rate: 8000\n")
    mixture = tmp_path / "m.wav"
    sf.write(str(mixture), np.zeros(800), 8000)
    status, _, err = run_main(
        "separate", str(mixture), "--model", str(folder), "--out",
        str(tmp_path / "out"), "--backend", "onnxruntime",
    )  # fmt: skip
    assert status == 1
    assert err.startswith("error: model folder") and "--onnx" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("package", ["onnxruntime", "onnxscript", "onnx"])
def test_missing_packages_give_a_one_line_error(
    model_dir, tmp_path, monkeypatch, package
):
    # None in sys.modules makes `import package` raise ImportError
    monkeypatch.setitem(sys.modules, package, None)
    mixture = tmp_path / "m.wav"
    sf.write(str(mixture), np.zeros(800), 8000)
    if package == "onnxruntime":
        with pytest.raises(OnnxUnavailableError, match="pip install"):
            OnnxTasNet(model_dir / ONNX_FILE)
        args = ["separate", str(mixture), "--model", str(model_dir)]
        args += ["--out", str(tmp_path / "out"), "--backend", package]
    else:
        args = ["export", str(model_dir), "--out", str(tmp_path / "x")]
        args += ["--onnx"]
    status, _, err = run_main(*args)
    assert status in (1, 2)
    assert err.startswith(f"error: {package} is not installed")
    assert "pip install 'speechbrain-galr[onnx]'" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()
