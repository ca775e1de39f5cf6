"""benchmarks/streaming.py: the timing rows and the latency-quality
figure of a study (the measurements themselves are a command, not a
test)."""

import os

import numpy as np
import torch

from benchmarks import streaming


def test_row_computes_the_real_time_factor():
    times = np.array([0.001, 0.002, 0.003])  # seconds per 10 ms block
    row = streaming._row("m", "stream", 1, "fp32", 503, 80, times, 80)
    assert row["latency_ms"] == 62.88
    assert row["real_time_factor"] == 0.2
    assert row["times_real_time"] == 5.0
    assert row["compute_ms_per_block"] == 2.0


def test_stream_timing_of_a_shipped_causal_config():
    model = streaming.build("galr-causal")
    mix = torch.randn(8000 * 2)
    latency, times = streaming.time_stream(model, mix, 400, "fp32")
    assert latency == 503  # (62 - 1) * 8 + 16 - 1
    assert len(times) == 40 and (times > 0).all()


def test_latency_quality_figure_of_a_study(tmp_path):
    study = tmp_path / "study"
    for name, causal, K in [("causal", "true", 62), ("offline", "false", 100)]:
        run = study / "runs" / name
        run.mkdir(parents=True)
        (run / "hyperparams.yaml").write_text(
            f"window_length: 16\nsegment_size: {K}\ncausal: {causal}\n"
            "model: !new:torch.nn.Identity\n"
        )
    (study / "study.csv").write_text(
        "config,test_si-snri\ncausal,1.5\noffline,2.5\n"
    )
    path = tmp_path / "figure.png"
    streaming.plot_study(str(study), str(path))
    assert os.path.getsize(path) > 10_000
