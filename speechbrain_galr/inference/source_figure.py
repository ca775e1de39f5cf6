"""The figure of ``separate --plot``: waveform and spectrogram of each
separated source, drawn in bounded memory.

Each WAV is read block by block: the waveform is reduced to its minimum and
maximum over at most :data:`MAX_COLUMNS` time bins, and the spectrogram
(512-sample frames, hop 256) is averaged over as many bins, so memory and
drawing time do not grow with the recording's length.

Authors
 * speechbrain-galr contributors 2026
"""

import os

import numpy as np
import soundfile as sf  # noqa: F401 (the doctests write files)

from speechbrain_galr.atomic_files import atomic_path
from speechbrain_galr.audio import audio_info, open_audio, read_blocks

MAX_COLUMNS = 2000
"""Time bins of the waveform and spectrogram, whatever the length."""

NFFT, HOP = 512, 256


def summarize_wav(path, columns=MAX_COLUMNS, block_frames=1 << 16):
    """Waveform envelope and time-binned power spectrogram of a WAV file,
    read block by block.

    Arguments
    ---------
    path : str
        Audio file (channels averaged, as everywhere).
    columns : int
        Most time bins.
    block_frames : int
        Frames read at a time.

    Returns
    -------
    dict
        ``rate``, ``seconds``, ``low``/``high`` (``[n]`` envelope),
        ``power`` (``[NFFT // 2 + 1, m]`` mean power per bin).

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "tone.wav")
    >>> t = np.arange(80000) / 8000
    >>> sf.write(path, 0.5 * np.sin(2 * np.pi * 1000 * t), 8000)
    >>> summary = summarize_wav(path, columns=100, block_frames=5000)
    >>> summary["high"].shape, summary["power"].shape
    ((100,), (257, 100))
    >>> int(summary["power"].mean(axis=1).argmax())  # 1 kHz: bin 64
    64
    """
    frames, rate, _ = audio_info(path)
    total = max(1, frames)
    bins = max(1, min(columns, total))
    low, high = np.full(bins, np.inf), np.full(bins, -np.inf)
    num_frames = max(1, (total - NFFT) // HOP + 1)
    cols = max(1, min(columns, num_frames))
    power, counts = np.zeros((NFFT // 2 + 1, cols)), np.zeros(cols)
    window = np.hanning(NFFT)
    carry, start, frame_index = np.zeros(0), 0, 0
    with open_audio(path) as fin:
        for block in read_blocks(fin, block_frames):
            samples = block.numpy()
            # envelope: bin of every sample
            where = (np.arange(start, start + len(samples)) * bins) // total
            np.minimum.at(low, where, samples)
            np.maximum.at(high, where, samples)
            start += len(samples)
            # spectrogram frames that end in this block
            signal = np.concatenate([carry, samples])
            count = max(0, (len(signal) - NFFT) // HOP + 1)
            if count:
                # [count, NFFT]
                idx = np.arange(NFFT)[None] + HOP * np.arange(count)[:, None]
                spec = np.abs(np.fft.rfft(signal[idx] * window)) ** 2
                col = np.arange(frame_index, frame_index + count) * cols
                col = np.minimum(col // num_frames, cols - 1)
                np.add.at(power.T, col, spec)
                np.add.at(counts, col, 1)
                frame_index += count
            carry = signal[count * HOP :]
    low[~np.isfinite(low)] = 0
    high[~np.isfinite(high)] = 0
    return {
        "rate": rate,
        "seconds": frames / rate,
        "low": low,
        "high": high,
        "power": power / np.maximum(counts, 1),
    }


def plot_sources(paths, png_path):
    """Saves the waveforms and spectrograms of the separated WAVs as one
    PNG (written atomically); memory does not depend on their length.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> paths = [str(folder / f"s{i}.wav") for i in (1, 2)]
    >>> for path in paths:
    ...     sf.write(path, np.random.randn(16000) * 0.1, 8000)
    >>> plot_sources(paths, str(folder / "sources.png"))
    >>> (folder / "sources.png").stat().st_size > 0
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 2.6 * len(paths)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(paths), 2, squeeze=False)
    for row, path in enumerate(paths):
        s = summarize_wav(path)
        times = np.linspace(0, s["seconds"], len(s["high"]))
        wave = axes[row, 0]
        wave.fill_between(times, s["low"], s["high"], linewidth=0.4)
        wave.set_title(os.path.basename(path))
        wave.set_xlabel("time (s)")
        spec = axes[row, 1]
        spec.imshow(
            10 * np.log10(s["power"] + 1e-10),
            origin="lower",
            aspect="auto",
            extent=(0, s["seconds"], 0, s["rate"] / 2),
            cmap="magma",
        )
        spec.set_xlabel("time (s)")
        spec.set_ylabel("Hz")
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
