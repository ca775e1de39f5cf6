"""Tests of ``speechbrain_galr.inference.user_paths`` (local and hub
paths) and ``speechbrain_galr.inference.run_options`` (device, precision,
bf16)."""

import pytest
import torch
from inference_helpers import (
    si_snr_pit,
    synthetic_sources,
    tiny_model,
    tiny_model_with,
)

from speechbrain_galr.audio import AudioInputError
from speechbrain_galr.inference.separator import GALRSeparation


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


# --- device and precision ---------------------------------------------


def test_bad_devices_give_one_line_errors():
    from speechbrain_galr.inference.run_options import check_device

    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        tiny_model_with(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            tiny_model_with(device="cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda:1")


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
