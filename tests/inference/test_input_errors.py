"""Odd inputs of ``separate`` and of the Python API: a one-line error
that names the problem (they were tracebacks), or, for arrays and lists of
samples, a separation."""

import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_recipe import run_main, write_tiny_recipe_output

from speechbrain_galr.audio import AudioInputError
from speechbrain_galr.export.folder import export_model
from speechbrain_galr.inference.mixture_input import MixtureError
from speechbrain_galr.inference.separator import GALRSeparation


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny model folder written by ``export``."""
    recipe = write_tiny_recipe_output(tmp_path_factory.mktemp("recipe"))
    dest = tmp_path_factory.mktemp("models") / "model"
    return export_model(str(recipe), str(dest))


@pytest.fixture(scope="module")
def model(model_dir):
    return GALRSeparation.from_hparams(model_dir)


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "mix.wav"
    sf.write(str(path), np.random.default_rng(0).normal(0, 0.1, 4000), 8000)
    return str(path)


def _separate(wav, model, out, *options):
    status, _, err = run_main("separate", wav, "--model", str(model),
                              "--out", str(out), *options)  # fmt: skip
    return status, err.strip().splitlines()


@pytest.mark.parametrize(
    "device, message",
    [
        ("meta", "device 'meta' cannot run the model"),
        ("xla", "device 'xla' cannot run the model"),
        ("mps", "device 'mps' asked for, but MPS (Apple GPU) is not available"),
    ],
)
def test_devices_that_cannot_run_are_one_line(
    model_dir, wav, tmp_path, device, message
):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("MPS is available here")
    status, lines = _separate(wav, model_dir, tmp_path / "out", "--device",
                              device)  # fmt: skip
    assert status == 2 and lines == [f"error: {lines[0][7:]}"]
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("sample_rate: 8000", "sample_rate: -8000",
         "sample_rate must be a whole number > 0, got -8000"),
        ("sample_rate: 8000", "sample_rate: eight",
         "sample_rate must be a whole number > 0, got 'eight'"),
        ("modules:\n  model: !ref <model>", "modules:\n  encoder: !ref "
         "<encoder>", "modules must hold the model"),
    ],
)  # fmt: skip
def test_model_yaml_values_name_the_file(
    model_dir, wav, tmp_path, old, new, message
):
    bad = tmp_path / "bad_model"
    shutil.copytree(model_dir, bad)
    yaml_path = bad / "hyperparams.yaml"
    text = yaml_path.read_text()
    assert old in text
    yaml_path.write_text(text.replace(old, new))
    status, lines = _separate(wav, bad, tmp_path / "out")
    assert status == 1 and len(lines) == 1, lines
    assert lines[0] == f"error: {yaml_path}: {lines[0].split(': ', 2)[2]}"
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["hyperparams.yaml", "encoder.ckpt"])
def test_model_naming_a_file_is_not_sent_to_the_hub(
    model_dir, wav, tmp_path, monkeypatch, name
):
    """An existing file given as --model was taken for a hub id (25 s of
    retries, then "check your connection")."""
    import speechbrain.utils.fetching as fetching

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(fetching, "fetch", no_hub)
    path = f"{model_dir}/{name}"
    status, lines = _separate(wav, path, tmp_path / "out")
    assert status == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: model {path} is a file, not a model")
    if name == "hyperparams.yaml":
        assert lines[0].endswith(f"give its folder, {model_dir}")


def test_arrays_and_lists_are_separated_as_tensors(model):
    mix = np.random.default_rng(0).normal(0, 0.1, (2, 1600)).astype("float32")
    expected = model.separate_batch(torch.from_numpy(mix))
    torch.testing.assert_close(model.separate_batch(mix), expected)
    torch.testing.assert_close(model.separate_batch(mix.tolist()), expected)
    lengths = model.separate_batch(torch.from_numpy(mix), [1.0, 0.5])
    torch.testing.assert_close(
        lengths, model.separate_batch(mix, torch.tensor([1.0, 0.5]))
    )
    chunked = model.separate_chunked(mix, chunk_seconds=0.1)
    assert chunked.shape == (2, 1600, 2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.separate_batch(torch.zeros(0, 800)),
         "no mixtures to separate (an empty batch, B = 0)"),
        (lambda m: m.separate_chunked(torch.zeros(1, 0)),
         "mixtures are empty (T = 0)"),
        (lambda m: m.separate_chunked(torch.zeros(0, 8000)),
         "an empty batch, B = 0"),
        (lambda m: m.separate_batch(torch.zeros(2, 800), [800, 400]),
         "lengths must be relative lengths in (0, 1] (samples / T), got "
         "[800.0, 400.0]"),
        (lambda m: m.separate_batch([[0.1, 0.2], [0.3]]),
         "mixtures must be a tensor or an array of numbers"),
        (lambda m: m.separate_batch("mix.wav"),
         "mixtures must be a tensor (or a NumPy array), got str"),
    ],
)  # fmt: skip
def test_odd_tensors_are_one_line_errors(model, call, message):
    with pytest.raises(MixtureError) as raised:
        call(model)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_separate_file_of_samples_says_to_use_separate_batch(model):
    with pytest.raises(AudioInputError, match="use|separate_batch"):
        model.separate_file(np.zeros(800))
