"""A causal model folder streams: ``GALRSeparation.stream()``, the
command line's ``separate --streaming`` (a file, raw PCM on standard
input) and ``foreign_class`` where ``speechbrain_galr`` cannot be
imported, each giving the whole-signal causal model's output."""

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch
from scored_recipe import BLOCK_PACKAGE, make_recipe_output, run_cli

from speechbrain_galr.errors import GALRError
from speechbrain_galr.export.folder import export_model
from speechbrain_galr.inference.separator import GALRSeparation

CAUSAL = dict(
    local_norm="segment",
    global_norm="segment",
    causal=True,
    attention_window=3,
)


@pytest.fixture(scope="module")
def causal_folder(tmp_path_factory):
    """An exported causal model folder."""
    root = tmp_path_factory.mktemp("causal")
    make_recipe_output(str(root / "results"), **CAUSAL)
    return export_model(str(root / "results"), str(root / "model"))


def mixture(seconds=1.5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(8000 * seconds)) / 8000
    voice = 0.4 * torch.sin(2 * torch.pi * 220 * t)
    return voice + 0.1 * torch.randn(t.shape, generator=generator)


def test_stream_of_a_model_folder_equals_its_whole_signal_output(
    causal_folder,
):
    model = GALRSeparation.from_hparams(causal_folder)
    stream = model.stream()
    assert stream.latency_samples == 9 * 8 + 15  # K=10, M=16
    mix = mixture()
    out = torch.cat(
        [stream.process(mix[i : i + 80]) for i in range(0, len(mix), 80)]
        + [stream.flush()]
    )
    whole = model.separate_batch(mix[None])[0]
    assert out.shape == whole.shape
    assert float((out - whole).abs().max()) <= 1e-5
    assert 0 < stream.real_time_factor


def test_an_offline_model_cannot_stream(recipe, tmp_path):
    folder, _ = recipe
    model = GALRSeparation.from_hparams(
        export_model(folder, str(tmp_path / "offline"))
    )
    with pytest.raises(GALRError, match="cannot stream this model: .*causal"):
        model.stream()


def _peak_normalized(sources):
    """Each source to a peak of 1 (the files are at -0.1 dBFS)."""
    sources = torch.as_tensor(np.asarray(sources, dtype=np.float32))
    return sources / sources.abs().amax(dim=0)


def test_separate_streaming_writes_the_sources_of_a_file(
    causal_folder, tmp_path, capsys
):
    mix = mixture()
    path = tmp_path / "talk.wav"
    sf.write(path, mix.numpy(), 8000, subtype="FLOAT")
    status, err = run_cli(
        ["separate", path, "--model", causal_folder, "--out",
         tmp_path / "out", "--streaming", "--block-ms", "10"],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    assert "algorithmic latency 87 samples (10.9 ms)" in err
    assert "real-time factor" in err
    whole = GALRSeparation.from_hparams(causal_folder).separate_batch(
        mix[None]
    )[0]
    expected = _peak_normalized(whole)
    for c in range(2):
        written, rate = sf.read(tmp_path / "out" / f"talk_source{c + 1}.wav")
        assert rate == 8000 and len(written) == len(mix)
        # 16-bit PCM
        difference = _peak_normalized(written) - expected[:, c]
        assert float(difference.abs().max()) < 1e-4


def test_separate_streaming_reads_raw_pcm_from_stdin(
    causal_folder, tmp_path, capsys, monkeypatch
):
    mix = mixture(seconds=0.7, seed=1)
    pcm = (mix.clamp(-1, 1) * 32767).round().to(torch.int16).numpy()
    stdin = io.TextIOWrapper(io.BytesIO(pcm.astype("<i2").tobytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    status, err = run_cli(
        ["separate", "-", "--model", causal_folder, "--out",
         tmp_path / "live", "--streaming", "--quiet"],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    written = sorted(os.listdir(tmp_path / "live"))
    assert written == ["stdin_source1.wav", "stdin_source2.wav"]
    model = GALRSeparation.from_hparams(causal_folder)
    whole = model.separate_batch(torch.from_numpy(pcm / 32768.0)[None])[0]
    first, _ = sf.read(tmp_path / "live" / "stdin_source1.wav")
    difference = _peak_normalized(first) - _peak_normalized(whole)[:, 0]
    assert float(difference.abs().max()) < 1e-4


def test_streaming_options_that_do_not_apply_are_refused(
    causal_folder, tmp_path, capsys
):
    status, err = run_cli(
        ["separate", "x.wav", "--model", causal_folder, "--out", tmp_path,
         "--streaming", "--chunk-seconds", "5"],
        capsys,
    )  # fmt: skip
    assert status == 2
    assert "--streaming runs the torch backend without chunks" in err


FOREIGN_STREAM = (
    BLOCK_PACKAGE
    + """
mix = torch.load(sys.argv[2])
stream = model.stream()
out = [stream.process(mix[i:i + 80]) for i in range(0, len(mix), 80)]
torch.save(torch.cat(out + [stream.flush()]), sys.argv[3])
assert type(model).__module__ == "custom_interface"
"""
)


def test_foreign_class_streams_a_causal_folder(causal_folder, tmp_path):
    mix = mixture(seconds=1.0, seed=2)
    torch.save(mix, tmp_path / "mix.pt")
    script = tmp_path / "stream.py"
    script.write_text(textwrap.dedent(FOREIGN_STREAM))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = tmp_path / "streamed.pt"
    proc = subprocess.run(
        [sys.executable, str(script), causal_folder, str(tmp_path / "mix.pt"),
         str(result)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    whole = GALRSeparation.from_hparams(causal_folder).separate_batch(
        mix[None]
    )[0]
    assert float((torch.load(result) - whole).abs().max()) <= 1e-5


def test_separate_streaming_writes_at_the_input_rate(
    causal_folder, tmp_path, capsys
):
    """A 16 kHz stereo file streams through the 8 kHz model (resampled as
    it comes, both ways) into sources at 16 kHz, of its length."""
    mix = mixture(seconds=1.0, seed=3)
    path = tmp_path / "wide.wav"
    stereo = torch.stack([mix, mix], -1).repeat_interleave(2, dim=0)
    sf.write(path, stereo.numpy(), 16000)
    status, err = run_cli(
        ["separate", path, "--model", causal_folder, "--out",
         tmp_path / "out", "--streaming", "--quiet"],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    for c in (1, 2):
        info = sf.info(tmp_path / "out" / f"wide_source{c}.wav")
        assert (info.samplerate, info.frames) == (16000, 16000)
