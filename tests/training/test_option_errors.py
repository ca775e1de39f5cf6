"""Recipe options whose values a run cannot use stop it with one line
before it writes anything (they ended in tracebacks of PyTorch's data
loader, optimizer or the model's forward pass, after the output folder
was made)."""

import os

import pytest

from speechbrain_galr.training.options import RecipeError, load_recipe_hparams
from speechbrain_galr.training.recipe import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
GALR_YAML = os.path.join(
    ROOT, "recipes", "WSJ0Mix", "separation", "hparams", "galr.yaml"
)


def _never_called(hparams):
    raise AssertionError("the recipe went past the option checks")


@pytest.mark.parametrize(
    "option, message",
    [
        ("--batch_size=0", "--batch_size must be a whole number >= 1, got 0"),
        ("--batch_size=-2", "--batch_size must be a whole number >= 1, got -2"),
        ("--num_workers=-1", "--num_workers must be a whole number >= 0"),
        ("--num_spks=0", "--num_spks must be a whole number >= 1, got 0"),
        ("--lr=abc", "--lr must be a number > 0, got 'abc'"),
        ("--segment_size=0", "--segment_size must be a whole number >= 1"),
        ("--num_heads=0", "--num_heads must be a whole number >= 1, got 0"),
        ("--sample_rate=0", "--sample_rate must be a whole number >= 1"),
        ("--batch_size=1.5", "--batch_size must be a whole number >= 1"),
        ("--device=meta", "--device: device 'meta' cannot run the model"),
        ("--data_folder=/x", "--data_folder is given twice"),
    ],
)
def test_bad_option_value_is_one_line_before_writing(
    tmp_path, capsys, option, message
):
    out = tmp_path / "run"
    argv = [GALR_YAML, "--data_folder", str(tmp_path),
            "--output_folder", str(out), option]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert not out.exists()


@pytest.mark.parametrize(
    "overrides", ["lr: 1e-3", "reduced_segment_size: null", "batch_size: 3"]
)
def test_good_values_still_load(tmp_path, overrides):
    hparams = load_recipe_hparams(
        GALR_YAML, f"data_folder: {tmp_path}\n{overrides}"
    )
    assert hparams["data_folder"] == str(tmp_path)


def test_a_bad_value_in_the_yaml_itself_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    with open(GALR_YAML) as fin:
        bad.write_text(fin.read().replace("batch_size: 1", "batch_size: 0"))
    with pytest.raises(RecipeError, match="--batch_size must be"):
        load_recipe_hparams(str(bad), f"data_folder: {tmp_path}")


def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys, monkeypatch):
    """--device cuda on a machine without CUDA ended in a 42-line
    traceback ("Found no NVIDIA driver") after the folder was made."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    argv = [GALR_YAML, "--data_folder", str(tmp_path),
            "--output_folder", str(out), "--device", "cuda"]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --device: device 'cuda' asked for, but CUDA is not "
        "available here (no GPU, or torch built without CUDA): use cpu"
    )
    assert not out.exists()
