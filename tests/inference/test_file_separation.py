"""Tests of ``speechbrain_galr.inference.file_separation``: separating
files (downmix, resampling, chunks), the outputs written, what is left on
disk after a failure, and bad input files."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from inference_helpers import tiny_model, wav_bytes, write_wav

from speechbrain_galr.audio import AudioInputError, load_mono, resample


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2)])
def test_separate_file_downmixes_and_resamples(tmp_path, rate, channels):
    model = tiny_model()
    signal = 0.3 * torch.randn(rate * 3 // 4, channels)  # 0.75 s
    path = write_wav(tmp_path / "mix.wav", signal, rate)
    est = model.separate_file(path)
    assert est.shape == (1, 6000, 2)  # 0.75 s at 8 kHz
    assert torch.isfinite(est).all()
    # what the file holds, downmixed and resampled by hand
    stored, _ = sf.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(stored).mean(dim=1)
    mix = resample(mono, rate, 8000)[None]
    ref = model.separate_batch(mix)
    ref = ref / ref.abs().amax(dim=1, keepdim=True)
    torch.testing.assert_close(est, ref, atol=1e-5, rtol=1e-4)
    raw = model.separate_file(path, normalize=False)
    torch.testing.assert_close(raw, model.separate_batch(mix))


def test_separate_file_chunks_long_files(tmp_path):
    model = tiny_model()
    path = write_wav(tmp_path / "long.wav", 0.3 * torch.randn(8000 * 3), 8000)
    est = model.separate_file(path, chunk_seconds=1.0, normalize=False)
    mix, _ = load_mono(path)
    ref = model.separate_chunked(mix[None], chunk_seconds=1.0)
    torch.testing.assert_close(est, ref)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2)])
def test_separate_file_to_folder_writes_input_rate(tmp_path, rate, channels):
    model = tiny_model()
    frames = int(rate * 2.6)
    signal = 0.3 * torch.randn(frames, channels)
    path = write_wav(tmp_path / "mix.wav", signal, rate)
    paths = model.separate_file_to_folder(
        path, tmp_path / "out", chunk_seconds=1.0, block_seconds=0.7
    )
    assert [os.path.basename(p) for p in paths] == [
        "mix_source1.wav",
        "mix_source2.wav",
    ]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        os.path.basename(p) for p in paths
    )
    written = []
    for out_path in paths:
        info = sf.info(out_path)
        assert (info.samplerate, info.channels, info.frames) == (
            rate,
            1,
            frames,
        )
        written.append(sf.read(out_path, dtype="float32")[0])
    written = torch.from_numpy(np.stack(written, axis=-1))
    # the same, in memory: chunked separation at 8 kHz, resampled back
    mono, _ = load_mono(path)
    mix = resample(mono, rate, 8000)[None]
    est = model.separate_chunked(mix, chunk_seconds=1.0)[0]
    expected = resample(est, 8000, rate)
    expected = 0.99 * expected / expected.abs().amax(dim=0)
    torch.testing.assert_close(written, expected, atol=2e-4, rtol=0)


def test_silent_file_separates_to_silence(tmp_path):
    model = tiny_model()
    path = write_wav(tmp_path / "silence.wav", np.zeros((4410, 2)), 44100)
    est = model.separate_file(path)
    assert torch.isfinite(est).all() and est.abs().max() == 0
    for out_path in model.separate_file_to_folder(path, tmp_path / "out"):
        samples, rate = sf.read(out_path)
        assert rate == 44100 and len(samples) == 4410
        assert np.isfinite(samples).all() and not samples.any()


def test_one_sample_file(tmp_path):
    model = tiny_model()
    path = write_wav(tmp_path / "one.wav", np.array([0.5]), 16000)
    assert model.separate_file(path).shape == (1, 1, 2)
    for out_path in model.separate_file_to_folder(path, tmp_path / "out"):
        samples, _ = sf.read(out_path)
        assert len(samples) == 1 and np.isfinite(samples).all()


def bad_inputs(tmp_path):
    """(path, expected message) for each kind of bad input file."""
    missing = str(tmp_path / "missing.wav")
    text = tmp_path / "notes.wav"
    text.write_text("these are not audio samples\n" * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_frames = write_wav(tmp_path / "no_frames.wav", np.zeros(0), 8000)
    nan = str(tmp_path / "nan.wav")
    sf.write(nan, np.full(100, np.nan, dtype=np.float32), 8000, "FLOAT")
    return [
        (missing, "not found"),
        (str(text), "not audio"),
        (str(empty), "empty"),
        (no_frames, "no samples"),
        (nan, "NaN"),
        (str(tmp_path), "folder"),
    ]


def test_bad_files_raise_errors_that_name_the_problem(tmp_path):
    model = tiny_model()
    for path, message in bad_inputs(tmp_path):
        with pytest.raises(AudioInputError, match=message):
            model.separate_file(path)
        with pytest.raises(AudioInputError, match=message):
            model.separate_file_to_folder(path, tmp_path / "out")
    assert not os.path.exists(tmp_path / "out") or not os.listdir(
        tmp_path / "out"
    )


def test_outputs_are_not_replaced_without_overwrite(tmp_path):
    model = tiny_model()
    out = tmp_path / "out"
    mix = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(4000), 8000)
    model.separate_file_to_folder(mix, out)
    before = wav_bytes(out)
    other = tmp_path / "other"
    other.mkdir()
    same_name = str(other / "mix.flac")  # another input, the same stem
    sf.write(same_name, 0.3 * np.random.randn(6000), 8000)
    for path in (mix, same_name):
        with pytest.raises(FileExistsError, match="--overwrite"):
            model.separate_file_to_folder(path, out)
        assert wav_bytes(out) == before
    written = model.separate_file_to_folder(same_name, out, overwrite=True)
    assert [sf.info(p).frames for p in written] == [6000, 6000]
    assert sorted(os.listdir(out)) == ["mix_source1.wav", "mix_source2.wav"]
    with pytest.raises(FileExistsError, match="is a file"):
        model.separate_file_to_folder(mix, tmp_path / "mix.wav")


class FailingModel:
    """Wraps a model; ``separate_batch`` raises on call ``fail_at``."""

    def __init__(self, model, fail_at):
        self.model, self.fail_at, self.calls = model, fail_at, 0

    def __call__(self, mix, lengths=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("model failed")
        return self.model.mods.model(mix)


def test_a_failed_run_keeps_the_old_outputs_and_no_work_folder(tmp_path):
    model = tiny_model()
    out = tmp_path / "out"
    mix = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(12000), 8000)
    model.separate_file_to_folder(mix, out, chunk_seconds=0.5)
    before = wav_bytes(out)
    model.separate_batch = FailingModel(model, fail_at=2)
    with pytest.raises(RuntimeError, match="model failed"):
        model.separate_file_to_folder(
            mix, out, chunk_seconds=0.5, overwrite=True
        )
    assert wav_bytes(out) == before  # no .galr-* work folder either


def test_a_failed_final_write_leaves_complete_files(tmp_path, monkeypatch):
    model = tiny_model()
    out = tmp_path / "out"
    old = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(4000), 8000)
    model.separate_file_to_folder(old, out)
    before = wav_bytes(out)
    (tmp_path / "new").mkdir()
    new = write_wav(tmp_path / "new" / "mix.wav", 0.3 * torch.randn(9000), 8000)
    real = sf.SoundFile.write
    calls = []

    def second_write_fails(self, data):
        if self.mode == "w" and self.subtype == "PCM_16":
            calls.append(self.name)
            if len(calls) == 2:
                raise OSError(28, "No space left on device", self.name)
        return real(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", second_write_fails)
    with pytest.raises(OSError) as failure:
        model.separate_file_to_folder(new, out, overwrite=True)
    # the message names the user's folder, not the hidden work folder
    assert str(out) in str(failure.value)
    assert ".galr" not in str(failure.value)
    assert "No space left on device" in str(failure.value)
    # the outputs are replaced as one set: the old set, complete
    assert wav_bytes(out) == before
    assert sorted(os.listdir(out)) == ["mix_source1.wav", "mix_source2.wav"]


def test_work_folders_of_dead_runs_are_removed(tmp_path):
    import subprocess
    import sys

    from speechbrain_galr.atomic_files import remove_stale_temp_folders
    from speechbrain_galr.inference.file_separation import WORK_PREFIX

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    )
    dead = tmp_path / f".galr-work-{int(gone.stdout)}-abc"
    alive = tmp_path / f".galr-work-{os.getppid()}-def"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "raw0.wav").write_bytes(b"x")
    remove_stale_temp_folders(str(tmp_path), WORK_PREFIX)
    assert not dead.exists() and alive.exists()


def test_truncated_wav_warns_with_both_lengths(tmp_path, caplog):
    from speechbrain_galr.audio import audio_info

    path = write_wav(tmp_path / "cut.wav", 0.3 * torch.randn(16000), 8000)
    data = open(path, "rb").read()
    with open(path, "wb") as fout:  # half of the samples (2 bytes each)
        fout.write(data[: len(data) - 16000])
    with caplog.at_level("WARNING"):
        frames = audio_info(path).frames
    assert frames == 8000
    assert "truncated" in caplog.text
    assert "2.00 s" in caplog.text and "1.00 s" in caplog.text
    assert tiny_model().separate_file(path).shape == (1, 8000, 2)
