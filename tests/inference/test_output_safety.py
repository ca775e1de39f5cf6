"""Tests that `separate` never loses or mixes up outputs: one run at a
time per input name, --overwrite replaces the set as one and removes the
earlier run's stale outputs, --savedir loads the model asked for, and the
output level (peak-normalised, or --keep-scale)."""

import errno
import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_recipe import run_main, write_tiny_recipe_output

import speechbrain_galr.inference.file_separation as file_separation
from speechbrain_galr.__main__ import main
from speechbrain_galr.export.folder import export_model
from speechbrain_galr.inference.mixture_fit import MixtureFit
from speechbrain_galr.inference.output_scale import PEAK, source_gains
from speechbrain_galr.inference.output_set import (
    OutputsBusyError,
    existing_outputs,
    output_lock,
    replace_outputs,
)

RATE = 8000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two exported tiny models with different weights."""
    root = tmp_path_factory.mktemp("models")
    folders = []
    for index in range(2):
        run = root / f"run{index}"
        run.mkdir()
        write_tiny_recipe_output(run)
        (ckpt,) = (run / "save").glob("CKPT+*")
        state = torch.load(ckpt / "masknet.ckpt")
        torch.save(
            {k: v + 0.3 * index for k, v in state.items()},
            ckpt / "masknet.ckpt",
        )
        folders.append(export_model(str(run), str(root / f"model{index}")))
    return folders


def write_mix(path, level=0.3, seconds=0.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    signal = torch.randn(int(seconds * RATE), generator=generator)
    signal = level * signal / signal.abs().max()
    sf.write(str(path), signal.numpy(), RATE, subtype="FLOAT")
    return str(path)


def separate(model, mix, out, *extra):
    return run_main(
        "separate",
        str(mix),
        "--model",
        model,
        "--out",
        str(out),
        "--quiet",
        *extra,
    )


def folder_bytes(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


def one_line_error(status, err):
    assert status == 1, err
    lines = [
        line for line in err.strip().splitlines() if line.startswith("error")
    ]
    assert len(lines) == 1 and "Traceback" not in err
    return lines[0]


# --- one run at a time ---------------------------------------------------


def test_second_run_into_the_same_out_is_refused(models, tmp_path, monkeypatch):
    """Run B starts while run A writes the outputs of mix.wav into the same
    --out (both without --overwrite): B stops with one line; A finishes
    with its own complete outputs and no lock is left."""
    mix = write_mix(tmp_path / "mix.wav")
    out = tmp_path / "out"
    second = {}
    real = file_separation._RawSources.write

    def start_another_run(self, est):
        if not second:
            second["started"] = True
            second["result"] = separate(models[1], mix, out)
        return real(self, est)

    monkeypatch.setattr(file_separation._RawSources, "write", start_another_run)
    status, _, err = separate(models[0], mix, out)
    assert status == 0, err
    b_status, _, b_err = second["result"]
    assert "another run" in one_line_error(b_status, b_err)
    assert sorted(os.listdir(out)) == ["mix_source1.wav", "mix_source2.wav"]
    monkeypatch.undo()
    reference = tmp_path / "reference"
    assert separate(models[0], mix, reference)[0] == 0
    assert folder_bytes(out) == folder_bytes(reference)


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    )
    lock = tmp_path / ".galr-lock-mix"
    lock.write_text(gone.stdout)
    with output_lock(str(tmp_path), "mix") as path:
        assert open(path).read().strip() == str(os.getpid())
    assert os.listdir(tmp_path) == []


def test_lock_of_a_live_run_is_respected(tmp_path):
    lock = tmp_path / ".galr-lock-mix"
    lock.write_text(f"{os.getppid()}\n")
    with pytest.raises(OutputsBusyError, match="another run"):
        with output_lock(str(tmp_path), "mix"):
            pass
    assert lock.read_text() == f"{os.getppid()}\n"


# --- --overwrite replaces the set as one ---------------------------------


def test_full_disk_during_overwrite_keeps_the_old_set(
    models, tmp_path, monkeypatch
):
    """--overwrite whose second WAV hits a full disk: exit 1, one line
    saying so, the old outputs all there and unchanged, nothing else."""
    out = tmp_path / "out"
    old_mix = write_mix(tmp_path / "mix.wav", seed=1)
    assert separate(models[0], old_mix, out, "--plot")[0] == 0
    before = folder_bytes(out)
    (tmp_path / "new").mkdir()
    new_mix = write_mix(tmp_path / "new" / "mix.wav", seconds=0.9, seed=2)
    real_write = sf.SoundFile.write
    calls = []

    def full_disk(self, data):
        if self.mode == "w" and self.subtype == "PCM_16":
            calls.append(self.name)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    status, _, err = separate(models[1], new_mix, out, "--overwrite", "--plot")
    line = one_line_error(status, err)
    assert "No space left on device" in line and ".galr" not in line
    assert folder_bytes(out) == before  # the old set, complete


def test_overwrite_removes_the_earlier_runs_stale_outputs(
    models, tmp_path, caplog
):
    """An earlier 3-speaker run with --plot left mix_source1..3.wav and
    mix_sources.png; a 2-speaker --overwrite run without --plot leaves
    its two WAVs only, says what it removed, and keeps the user's files
    (also mix_source01.wav, which the tool never writes)."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("mix_source1.wav", "mix_source2.wav", "mix_source3.wav"):
        sf.write(str(out / name), np.zeros(100), RATE)
    (out / "mix_sources.png").write_bytes(b"old figure")
    users = {
        "mix_source01.wav": b"mine",
        "notes.txt": b"mine",
        "other_source1.wav": b"mine",
        "mix.wav": b"mine",
    }
    for name, content in users.items():
        (out / name).write_bytes(content)
    mix = write_mix(tmp_path / "mix.wav")
    status, _, err = separate(models[0], mix, out, "--overwrite")
    assert status == 0, err
    assert sorted(os.listdir(out)) == sorted(
        ["mix_source1.wav", "mix_source2.wav", *users]
    )
    for name, content in users.items():
        assert (out / name).read_bytes() == content
    said = caplog.text  # the command line prints warnings on stderr
    assert "removed 2 output(s) of an earlier run" in said
    assert "mix_source3.wav" in said and "mix_sources.png" in said


def test_replace_outputs_puts_the_old_set_back_when_a_rename_fails(
    tmp_path, monkeypatch
):
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    work.mkdir()
    for i in (1, 2, 3):
        (out / f"mix_source{i}.wav").write_text(f"old{i}")
        (work / f"new{i}").write_text(f"new{i}")
    staged = {f"mix_source{i}.wav": str(work / f"new{i}") for i in (1, 2)}
    staged["mix_sources.png"] = str(work / "new3")
    real = os.replace
    calls = []

    def third_fails(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(OSError, match="Input/output"):
        replace_outputs(str(out), "mix", staged, str(work), overwrite=True)
    monkeypatch.undo()
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        f"mix_source{i}.wav": f"old{i}" for i in (1, 2, 3)
    }


def test_existing_outputs_are_only_the_tools_names(tmp_path):
    for name in (
        "mix_source1.wav",
        "mix_source12.wav",
        "mix_source0.wav",
        "mix_source01.wav",
        "mix_sources.png",
        "mix_source1.WAV",
        "xmix_source1.wav",
        "mix_source1.wav.part",
    ):
        (tmp_path / name).write_text("x")
    assert [
        os.path.basename(p) for p in existing_outputs(str(tmp_path), "mix")
    ] == ["mix_source1.wav", "mix_source12.wav", "mix_sources.png"]


# --- --savedir -----------------------------------------------------------


def test_savedir_reused_for_another_model_runs_that_model(
    models, tmp_path, caplog
):
    mix = write_mix(tmp_path / "mix.wav")
    savedir = tmp_path / "saved"
    outputs = []
    for index, model in enumerate(models):
        out = tmp_path / f"out{index}"
        status, _, err = separate(model, mix, out, "--savedir", str(savedir))
        assert status == 0, err
        outputs.append(folder_bytes(out))
    assert "re-linked to" in caplog.text
    fresh = tmp_path / "fresh"
    assert separate(models[1], mix, fresh)[0] == 0
    assert outputs[1] == folder_bytes(fresh) != outputs[0]
    for name in ("encoder.ckpt", "masknet.ckpt", "decoder.ckpt"):
        assert os.readlink(savedir / name) == os.path.join(models[1], name)


def test_savedir_with_another_models_copy_is_refused(models, tmp_path):
    mix = write_mix(tmp_path / "mix.wav")
    savedir = tmp_path / "saved"
    savedir.mkdir()
    copy = (open(os.path.join(models[0], "masknet.ckpt"), "rb")).read()
    (savedir / "masknet.ckpt").write_bytes(copy)
    status, _, err = separate(
        models[1], mix, tmp_path / "out", "--savedir", str(savedir)
    )
    assert "not a link and differs" in one_line_error(status, err)
    assert (savedir / "masknet.ckpt").read_bytes() == copy
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_empty_savedir_is_a_one_line_error(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mix = write_mix(tmp_path / "mix.wav")
    status, _, err = separate(models[0], mix, tmp_path / "out", "--savedir", "")
    assert status in (1, 2), err
    assert "--savedir" in err and "empty" in err
    assert sorted(os.listdir(tmp_path)) == ["mix.wav"]


# --- output level ---------------------------------------------------------


def peaks(folder, name="mix"):
    return [
        float(np.abs(sf.read(str(folder / f"{name}_source{i}.wav"))[0]).max())
        for i in (1, 2)
    ]


def test_default_output_is_peak_normalised_each(models, tmp_path):
    """A -77 dBFS mixture comes out at -0.1 dBFS per source (documented)."""
    mix = write_mix(tmp_path / "mix.wav", level=10 ** (-77 / 20))
    assert separate(models[0], mix, tmp_path / "out")[0] == 0
    for peak in peaks(tmp_path / "out"):
        assert peak == pytest.approx(PEAK, abs=2e-4)


def test_keep_scale_keeps_the_mixtures_scale(models, tmp_path):
    """--keep-scale: each source gets the gain that makes the sources
    sum closest to the mixture (least squares), so a quiet mixture gives
    quiet sources, and the residual is orthogonal to each source."""
    level = 10 ** (-20 / 20)
    mix_path = write_mix(tmp_path / "mix.wav", level=level)
    out = tmp_path / "out"
    status, _, err = separate(models[0], mix_path, out, "--keep-scale")
    assert status == 0, err
    mix = sf.read(mix_path)[0]
    sources = np.stack(
        [sf.read(str(out / f"mix_source{i}.wav"))[0] for i in (1, 2)], 1
    )
    assert max(peaks(out)) < 2 * level
    residual = mix - sources.sum(1)
    for i in range(2):
        # the normal equations, up to 16-bit rounding
        assert abs(residual @ sources[:, i]) < 1e-3 * (mix @ mix)
    assert np.sum(residual**2) < np.sum(mix**2)


def test_keep_scale_scales_all_down_together_if_one_would_clip(caplog):
    fit = MixtureFit()
    sources = torch.stack([torch.ones(100), torch.linspace(-1, 1, 100)], 1)
    fit.push_mixture(2.0 * sources[:, 0] + 0.5 * sources[:, 1])
    fit.push_sources(sources)
    gains = source_gains(sources.abs().amax(0), "mixture", fit, "mix.wav")
    assert gains[0] * 1.0 == pytest.approx(PEAK)
    assert gains[1] / gains[0] == pytest.approx(0.25)
    assert "would clip" in caplog.text and "scaled down together" in caplog.text


def test_help_says_how_sources_are_scaled(capsys):
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "-0.1 dBFS" in text and "--keep-scale" in text
    assert "sum" in text


def test_outputs_honour_the_umask(models, tmp_path):
    old = os.umask(0o022)
    try:
        mix = write_mix(tmp_path / "mix.wav")
        assert separate(models[0], mix, tmp_path / "out", "--plot")[0] == 0
    finally:
        os.umask(old)
    for name in os.listdir(tmp_path / "out"):
        assert stat.S_IMODE(os.stat(tmp_path / "out" / name).st_mode) == 0o644


@pytest.mark.parametrize("name", ["mix_source1.wav", "mix_sources.png"])
def test_a_folder_with_an_output_name_stops_the_run_first(
    models, tmp_path, name
):
    """A user's folder named like an output: --overwrite stops before
    separating (it wrote the new WAVs, then failed on the figure with a
    hidden temp path), and nothing is written."""
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    (out / name / "keep.txt").write_text("mine")
    mix = write_mix(tmp_path / "mix.wav")
    status, _, err = separate(models[0], mix, out, "--overwrite", "--plot")
    assert "is a folder, not an output" in one_line_error(status, err)
    assert os.listdir(out) == [name]
    assert os.listdir(out / name) == ["keep.txt"]


def test_a_model_folder_replaced_while_loading_is_loaded_again(
    models, tmp_path, monkeypatch
):
    """`export --overwrite` swaps the model folder while its .ckpt files
    are loaded (here after masknet.ckpt): the masknet of one model with
    the decoder of another was loaded silently; now the folder is loaded
    again, and the separation is that of the new model alone."""
    import shutil

    from speechbrain.utils.parameter_transfer import Pretrainer

    folder, new = tmp_path / "model", tmp_path / "new"
    shutil.copytree(models[0], folder)
    shutil.copytree(models[1], new)
    state = torch.load(new / "decoder.ckpt")
    torch.save({k: v + 0.1 for k, v in state.items()}, new / "decoder.ckpt")
    real = Pretrainer.is_loadable
    asked, swapped = [], []

    def export_meanwhile(self, name):
        asked.append(name)
        # asked when collected, listed, then loaded: the third time, the
        # encoder and masknet of the first folder are loaded already
        if asked.count("decoder") == 3 and not swapped:
            swapped.append(True)
            staging = tmp_path / "staging"
            shutil.copytree(new, staging)
            os.rename(folder, tmp_path / "old")
            os.rename(staging, folder)
        return real(self, name)

    monkeypatch.setattr(Pretrainer, "is_loadable", export_meanwhile)
    mix = write_mix(tmp_path / "mix.wav")
    assert separate(str(folder), mix, tmp_path / "out")[0] == 0
    monkeypatch.undo()
    assert separate(str(new), mix, tmp_path / "ref")[0] == 0
    assert swapped and folder_bytes(tmp_path / "out") == folder_bytes(
        tmp_path / "ref"
    )
