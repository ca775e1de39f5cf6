"""Makes the quality test's real two-speaker mixture (run once; the files
are committed): 4 s of two held-out LibriSpeech speakers, each scaled to
the same power, summed, and written as 16-bit 8 kHz WAVs with their
references.

    python tests/quality/make_mixture.py ../shared/data/speech/librispeech-251

The speakers are 8098 and 8108, two of the 20 test speakers of the
recipes' split (the last 20 by number), never seen in training.
"""

import argparse
import glob
import os

import numpy as np
import soundfile as sf

SPEAKERS = ("8098", "8108")
OFFSET_SECONDS, SECONDS, RATE = 1.0, 4.0, 8000
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("speaker_folder")
    args = parser.parse_args()
    start = int(OFFSET_SECONDS * RATE)
    sources = []
    for speaker in SPEAKERS:
        (path,) = glob.glob(os.path.join(args.speaker_folder, speaker, "*"))
        signal, rate = sf.read(path, dtype="float64")
        assert rate == RATE, f"{path} is not at {RATE} Hz"
        cut = signal[start : start + int(SECONDS * RATE)]
        sources.append(cut / np.sqrt(np.mean(cut**2)))
        print(f"{os.path.basename(path)}: {OFFSET_SECONDS:g} s to "
              f"{OFFSET_SECONDS + SECONDS:g} s")  # fmt: skip
    sources = np.stack(sources)
    scale = 0.5 / np.abs(sources.sum(0)).max()
    os.makedirs(HERE, exist_ok=True)
    for i, source in enumerate(sources * scale):
        sf.write(os.path.join(HERE, f"s{i + 1}.wav"), source, RATE, "PCM_16")
    sf.write(
        os.path.join(HERE, "mix.wav"), (sources * scale).sum(0), RATE, "PCM_16"
    )


if __name__ == "__main__":
    main()
