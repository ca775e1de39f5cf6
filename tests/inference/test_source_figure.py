"""Tests of ``speechbrain_galr.inference.source_figure``."""

import numpy as np
import soundfile as sf


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
