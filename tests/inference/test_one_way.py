"""``separate`` goes one way through: each option checked, each path
resolved, the outputs checked and hyperparams.yaml read once; only the
backend asked for is loaded; no forward pass only to count sources."""

import builtins

import pytest
import soundfile as sf
import torch
from tiny_recipe import run_main, write_tiny_recipe_output

from speechbrain_galr.inference import (
    chunked,
    file_separation,
    loading,
    separator,
    user_paths,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny model folder written by ``export --onnx``."""
    pytest.importorskip("onnxruntime")
    recipe = write_tiny_recipe_output(tmp_path_factory.mktemp("recipe"))
    dest = tmp_path_factory.mktemp("exported") / "model"
    status, _, err = run_main(
        "export", str(recipe), "--out", str(dest), "--onnx"
    )
    assert status == 0, err
    return dest


class Counts(dict):
    """Counts calls of wrapped functions by name."""

    def wrap(self, monkeypatch, owner, name, key):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            self[key] = self.get(key, 0) + 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def spy(monkeypatch):
    counts = Counts()
    # every place that imported them by name
    for owner in (loading, separator, user_paths):
        if hasattr(owner, "resolve_source"):
            counts.wrap(monkeypatch, owner, "resolve_source", "resolve")
    counts.wrap(monkeypatch, chunked, "check_chunk_seconds", "chunk check")
    counts.wrap(monkeypatch, file_separation, "check_outputs", "outputs")
    counts.wrap(monkeypatch, separator.GALRSeparation, "separate_batch", "fw")
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith("hyperparams.yaml"):
            counts["yaml"] = counts.get("yaml", 0) + 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    return counts


def write_mixture(path, seconds=1.0):
    signal = 0.1 * torch.randn(int(8000 * seconds)).numpy()
    sf.write(str(path), signal, 8000)
    return path


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_separate_checks_resolves_and_reads_each_once(
    model_dir, tmp_path, monkeypatch, backend
):
    mix = write_mixture(tmp_path / "mix.wav")
    counts = spy(monkeypatch)
    if backend == "onnxruntime":

        def no_checkpoints(*args, **kwargs):
            raise AssertionError("a checkpoint was loaded for onnxruntime")

        monkeypatch.setattr(torch, "load", no_checkpoints)
    status, out, err = run_main(
        "separate", str(mix), "--model", str(model_dir),
        "--out", str(tmp_path / "out"), "--chunk-seconds", "4",
        "--backend", backend, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    assert len(out.split()) == 2  # two sources written
    # the model is resolved once (the mixture is a local file: nothing to
    # resolve), the chunk settings and the outputs checked once, the yaml
    # read once; one chunk, one forward pass: none to count the sources
    assert counts == {
        "resolve": 1,
        "chunk check": 1,
        "outputs": 1,
        "yaml": 1,
        "fw": 1,
    }


def test_sources_are_counted_without_running_the_model(model_dir, monkeypatch):
    model = separator.load_model(str(model_dir))
    counts = spy(monkeypatch)
    assert model.num_sources == 2
    assert counts.get("fw", 0) == 0
