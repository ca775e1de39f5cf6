"""Tests of the inference interface: GALRSeparation, chunked separation,
block resampling and the handling of bad input."""

import math
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml

import speechbrain_galr
from speechbrain_galr.audio import (
    AudioInputError,
    StreamResampler,
    load_mono,
    resample,
)
from speechbrain_galr.inference.chunked import ChunkedSeparator, align_sources
from speechbrain_galr.inference.separator import GALRSeparation

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
TINY = dict(
    num_filters=32,
    hidden_channels=16,
    num_blocks=1,
    num_heads=4,
    segment_size=16,
    reduced_segment_size=4,
    dropout=0.0,
)


def tiny_hparams(seed=0, **overrides):
    """A small GALR TasNet from the package's model yaml."""
    torch.manual_seed(seed)
    with open(MODEL_YAML) as fin:
        return load_hyperpyyaml(fin, {**TINY, **overrides})


def tiny_model(seed=0, **overrides):
    hparams = tiny_hparams(seed, **overrides)
    return GALRSeparation(hparams["modules"], hparams)


def synthetic_sources(batch, length, generator, rate=8000):
    """[B, T, 2]: a low harmonic source and a high warbling tone, both with
    slowly varying pitch and level, easy to separate."""
    t = torch.arange(length) / rate

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    drift = 1 + 0.2 * torch.sin(2 * math.pi * 0.15 * rand(batch, 1) * t)
    f0 = (100 + 150 * rand(batch, 1)) * drift
    phase = 2 * math.pi * torch.cumsum(f0 / rate, dim=1)
    low = sum(torch.sin(k * phase + 6 * rand(batch, 1)) / k for k in (1, 2, 3))
    low = low * (0.6 + 0.4 * torch.sin(2 * math.pi * rand(batch, 1) * t))
    f1 = (2000 + 1500 * rand(batch, 1)) * drift
    high = torch.sin(2 * math.pi * torch.cumsum(f1 / rate, dim=1))
    high = high * (0.6 + 0.4 * torch.cos(2 * math.pi * rand(batch, 1) * t))
    return 0.3 * torch.stack([low, high], dim=-1)


@pytest.fixture(scope="module")
def trained():
    """A tiny GALR trained for 60 steps on the synthetic sources (about
    15 dB SI-SNR); a model that separates makes the chunked-versus-whole
    comparison meaningful."""
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    hparams = tiny_hparams(seed=0)
    modules = torch.nn.ModuleList(hparams["modules"].values())
    optimizer = torch.optim.Adam(modules.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(60):
        sources = synthetic_sources(4, 2000, generator)
        est = hparams["model"](sources.sum(-1))
        loss = get_si_snr_with_pitwrapper(sources, est).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return GALRSeparation(hparams["modules"], hparams)


def si_snr_pit(sources, est):
    """Mean SI-SNR (dB) of est [B, T, C] against sources [B, T, C] under
    the best permutation (per item)."""
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    return float(-get_si_snr_with_pitwrapper(sources, est).mean())


# --- block resampling -------------------------------------------------


@pytest.mark.parametrize(
    "orig, new", [(44100, 8000), (16000, 8000), (8000, 44100), (8000, 8000)]
)
@pytest.mark.parametrize("length, block", [(1013, 50), (22063, 777)])
def test_stream_resampler_equals_whole_resampling(orig, new, length, block):
    signal = torch.randn(length, 2)  # [T, channels]
    resampler = StreamResampler(orig, new, channels=2)
    out = [resampler.push(b) for b in signal.split(block)]
    out = torch.cat(out + [resampler.flush()])
    whole = resample(signal, orig, new)
    assert out.shape == whole.shape
    assert out.shape[0] == math.ceil(signal.shape[0] * new / orig)
    torch.testing.assert_close(out, whole, atol=2e-5, rtol=0)


# --- alignment and chunking --------------------------------------------


@pytest.mark.parametrize("num_spks", [2, 3])
def test_align_sources_finds_each_items_permutation(num_spks):
    reference = torch.randn(4, 200, num_spks)
    orders = [torch.randperm(num_spks) for _ in range(4)]
    estimate = torch.stack(
        [3.0 * reference[b][:, order] for b, order in enumerate(orders)]
    )
    aligned = align_sources(reference, estimate)
    torch.testing.assert_close(aligned, 3.0 * reference)


class ShuffledOracle:
    """A 'model' that returns the true sources of the chunk it is given,
    in a random order per chunk, as a network trained with PIT may."""

    def __init__(self, mixture, sources, seed=0):
        self.mixture, self.sources = mixture, sources
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = []

    def __call__(self, chunk):
        # find where the chunk starts (the mixture is a unique ramp)
        start = int(torch.searchsorted(self.mixture[0], chunk[0, 0]))
        self.calls.append((start, chunk.shape[1]))
        true = self.sources[:, start : start + chunk.shape[1]]
        C = true.shape[-1]
        order = torch.randperm(C, generator=self.generator)
        return true[:, :, order]


@pytest.mark.parametrize("length", [50, 300, 301, 1000, 1234])
@pytest.mark.parametrize("block", [None, 1, 97])
def test_chunked_separator_aligns_sources_across_chunks(length, block):
    mixture = torch.arange(float(length))[None]  # [1, T], increasing
    sources = torch.randn(1, length, 3)
    oracle = ShuffledOracle(mixture, sources)
    chunked = ChunkedSeparator(oracle, chunk_size=300, overlap=100)
    blocks = [mixture] if block is None else mixture.split(block, dim=1)
    out = [chunked.push(b) for b in blocks] + [chunked.flush()]
    out = torch.cat([o for o in out if o.shape[1] > 0], dim=1)
    assert out.shape == (1, length, 3)
    # the first chunk fixes the order; the others are aligned to it
    first_order = align_sources(out[:, :50], sources)
    torch.testing.assert_close(out, first_order, atol=1e-5, rtol=0)
    # every chunk but a lone short one is a full chunk
    assert all(n == min(300, length) for _, n in oracle.calls)


def test_chunked_separator_rejects_bad_settings():
    with pytest.raises(ValueError, match="overlap"):
        ChunkedSeparator(lambda x: x, chunk_size=100, overlap=60)
    with pytest.raises(ValueError, match="overlap"):
        ChunkedSeparator(lambda x: x, chunk_size=100, overlap=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkedSeparator(lambda x: x, chunk_size=1, overlap=0)


def test_chunked_matches_whole_within_half_a_db(trained):
    generator = torch.Generator().manual_seed(7)
    sources = synthetic_sources(1, 6 * 8000, generator)  # [1, T, 2]
    mix = sources.sum(-1)
    whole = trained.separate_batch(mix)
    chunked = trained.separate_chunked(
        mix, chunk_seconds=1.5, overlap_seconds=0.5
    )
    assert chunked.shape == whole.shape
    whole_db = si_snr_pit(sources, whole)
    chunked_db = si_snr_pit(sources, chunked)
    assert whole_db > 5, "the tiny model did not learn to separate"
    assert abs(chunked_db - whole_db) < 0.5, (whole_db, chunked_db)

    # the same with the real model's outputs shuffled chunk by chunk:
    # the alignment must undo it
    orders = torch.Generator().manual_seed(3)

    def shuffled(chunk):
        est = trained.separate_batch(chunk)
        return est[:, :, torch.randperm(2, generator=orders)]

    separator = ChunkedSeparator(shuffled, chunk_size=12000, overlap=4000)
    out = torch.cat([separator.push(mix), separator.flush()], dim=1)
    assert abs(si_snr_pit(sources, out) - whole_db) < 0.5


# --- GALRSeparation ------------------------------------------------------


def test_separate_batch_is_the_tasnet_forward():
    model = tiny_model()
    mix = torch.randn(3, 2001)
    est = model.separate_batch(mix)
    assert est.shape == (3, 2001, 2)
    ref = model.mods.model(mix)
    torch.testing.assert_close(est, ref)
    torch.testing.assert_close(model(mix), est)
    assert not any(p.requires_grad for p in model.mods.parameters())


def test_separate_batch_rejects_bad_shapes():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model.separate_batch(torch.randn(2, 3, 100))
    with pytest.raises(ValueError, match="empty"):
        model.separate_batch(torch.zeros(1, 0))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model.separate_chunked(torch.randn(100))


@pytest.mark.parametrize("length", [1, 7, 200, 30000])
def test_silence_and_short_inputs_give_finite_output(length):
    model = tiny_model()
    silence = torch.zeros(1, length)
    for est in (
        model.separate_batch(silence),
        model.separate_chunked(silence, chunk_seconds=1.0),
    ):
        assert est.shape == (1, length, 2)
        assert torch.isfinite(est).all()
        assert est.abs().max() == 0
    short = torch.randn(1, length)
    assert torch.isfinite(model.separate_chunked(short, 1.0)).all()


def write_wav(path, signal, rate):
    """Writes a [T] or [T, channels] float signal as 16-bit wav."""
    sf.write(str(path), np.asarray(signal), rate, subtype="PCM_16")
    return str(path)


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


def test_attention_weights_per_block():
    model = tiny_model(num_blocks=2)
    mix = torch.randn(2, 4000)  # 499 frames -> S = ceil(2 * 499 / 16) + 1
    est, attention = model.separate_with_attention(mix)
    torch.testing.assert_close(est, model.separate_batch(mix))
    assert len(attention) == 2
    S = math.ceil(2 * 499 / 16) + 1
    for weights in attention:
        assert weights.shape == (2, 4, 4, S, S)  # [B, Q, J, S, S]
        torch.testing.assert_close(
            weights.sum(-1), torch.ones(2, 4, 4, S), atol=1e-5, rtol=0
        )
    # keeping the weights is switched off again
    assert all(
        not block.globally.keep_attention
        for block in model.mods.model.masknet.dual_mdl
    )


def test_from_hparams_rejects_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        GALRSeparation.from_hparams(source=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="hyperparams.yaml"):
        GALRSeparation.from_hparams(source=str(tmp_path))


# --- issue 14: what is left on disk, checked options, clear errors -------


def wav_bytes(folder):
    """{name: bytes} of the files of a folder (hidden ones included)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


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


@pytest.mark.parametrize(
    "chunk, overlap, words",
    [
        (-5, None, "chunk length"),
        (0.001, None, "chunk length"),
        (float("nan"), None, "chunk length"),
        (float("inf"), None, "chunk length"),
        (1.0, 0.6, "half the chunk length"),
        (1.0, 0.0, "chunk overlap"),
        (1.0, float("nan"), "chunk overlap"),
    ],
)
def test_chunk_settings_are_checked(tmp_path, chunk, overlap, words):
    model = tiny_model()
    mix = torch.randn(1, 8000)
    with pytest.raises(ValueError, match=words):
        model.separate_chunked(mix, chunk, overlap)
    path = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(8000), 8000)
    with pytest.raises(ValueError, match=words):
        model.separate_file_to_folder(path, tmp_path / "out", chunk, overlap)
    assert not (tmp_path / "out").exists()


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


def test_separate_batch_converts_float64_and_rejects_integers():
    model = tiny_model()
    mix = torch.randn(2, 1000, dtype=torch.float64)
    est = model.separate_batch(mix)
    assert est.dtype == torch.float32
    torch.testing.assert_close(est, model.separate_batch(mix.float()))
    with pytest.raises(ValueError, match="floating-point"):
        model.separate_batch(torch.zeros(1, 100, dtype=torch.int16))


def test_all_sources_are_written_and_counted(tmp_path, caplog):
    path = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(4000), 8000)
    three = tiny_model(num_spks=3)
    assert three.num_sources == 3
    assert len(three.separate_file_to_folder(path, tmp_path / "a")) == 3
    # a yaml whose num_spks does not match its model (edited by hand)
    hparams = tiny_hparams()
    hparams["num_spks"] = 3
    edited = GALRSeparation(hparams["modules"], hparams)
    with caplog.at_level("WARNING"):
        assert edited.num_sources == 2
    assert "num_spks: 3" in caplog.text and "2 sources" in caplog.text


def test_missing_paths_that_look_local_are_not_found_at_once(
    tmp_path, monkeypatch
):
    from speechbrain_galr.inference import user_paths

    def no_hub(*args):
        raise AssertionError("the hub was asked about a local path")

    monkeypatch.setattr(user_paths, "_check_hub_entry", no_hub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="not found: models/my-galr"):
        GALRSeparation.from_hparams(source="models/my-galr")
    with pytest.raises(FileNotFoundError, match="not found: ./my-galr"):
        GALRSeparation.from_hparams(source="./my-galr")
    with pytest.raises(AudioInputError, match="not found: a/b/c.wav"):
        tiny_model().separate_file("a/b/c.wav")
    # hub-shaped paths are looked up once; a failed look-up is "not found"
    monkeypatch.setattr(
        user_paths, "_check_hub_entry", lambda *a: "no hub repository x/y"
    )
    with pytest.raises(FileNotFoundError, match="no hub repository"):
        GALRSeparation.from_hparams(source="owner/model")
    with pytest.raises(AudioInputError, match="no hub repository"):
        tiny_model().separate_file("owner/repo/mix.wav")


def test_hub_lookup_failure_is_not_found(monkeypatch):
    import huggingface_hub

    from speechbrain_galr.inference import user_paths

    def unreachable(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    with pytest.raises(FileNotFoundError, match="hub could not be reached"):
        user_paths.resolve_source("owner/no-such-model", "model folder")


# --- device and precision (issue 14 item 5, issue 15) --------------------


def test_bad_devices_give_one_line_errors():
    from speechbrain_galr.inference.run_options import check_device

    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        tiny_model_with(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            tiny_model_with(device="cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda:1")


def tiny_model_with(**run_opts):
    hparams = tiny_hparams()
    return GALRSeparation(hparams["modules"], hparams, run_opts=run_opts)


@pytest.mark.parametrize(
    "flags, fast", [("avx512f avx512_bf16", True), ("avx2 avx512f", False)]
)
def test_bf16_detection_reads_the_cpu_flags(tmp_path, flags, fast):
    from speechbrain_galr.inference.run_options import cpu_has_fast_bf16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n")
    assert cpu_has_fast_bf16(str(cpuinfo)) is fast
    assert cpu_has_fast_bf16(str(tmp_path / "none")) is False


@pytest.mark.parametrize("fast, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_on_a_fast_bf16_cpu(
    monkeypatch, fast, expected
):
    from speechbrain_galr.inference import run_options

    monkeypatch.setattr(run_options, "cpu_has_fast_bf16", lambda: fast)
    model = tiny_model_with(device="cpu", precision="auto")
    assert model.precision == expected
    with pytest.raises(ValueError, match="unknown precision"):
        tiny_model_with(precision="int8")


def test_bf16_separation_is_close_to_fp32(trained):
    generator = torch.Generator().manual_seed(5)
    sources = synthetic_sources(1, 2 * 8000, generator)
    mix = sources.sum(-1)
    bf16 = GALRSeparation(
        trained.mods, vars(trained.hparams), run_opts={"precision": "bf16"}
    )
    assert bf16.precision == "bf16"
    est = bf16.separate_chunked(mix, chunk_seconds=1.0)
    assert est.dtype == torch.float32
    fp32_db = si_snr_pit(sources, trained.separate_chunked(mix, 1.0))
    assert abs(si_snr_pit(sources, est) - fp32_db) < 0.5


def test_plot_summary_read_in_blocks_equals_whole_signal(tmp_path):
    from speechbrain_galr.inference.source_figure import (
        HOP,
        NFFT,
        summarize_wav,
    )

    rng = np.random.default_rng(3)
    signal = (0.3 * rng.standard_normal(50_000)).astype(np.float32)
    path = str(tmp_path / "s.wav")
    sf.write(path, signal, 8000, "FLOAT")
    s = summarize_wav(path, columns=100, block_frames=3001)
    # envelope: min and max of each of 100 equal bins
    bins = np.arange(len(signal)) * 100 // len(signal)
    for b in (0, 37, 99):
        assert s["low"][b] == signal[bins == b].min()
        assert s["high"][b] == signal[bins == b].max()
    # spectrogram: mean power of the frames of each column
    frames = (len(signal) - NFFT) // HOP + 1
    starts = np.arange(frames) * HOP
    spec = (
        np.abs(
            np.fft.rfft(
                signal[starts[:, None] + np.arange(NFFT)] * np.hanning(NFFT)
            )
        )
        ** 2
    )
    cols = np.arange(frames) * 100 // frames
    for c in (0, 50, 99):
        np.testing.assert_allclose(
            s["power"][:, c], spec[cols == c].mean(axis=0), rtol=1e-4
        )
