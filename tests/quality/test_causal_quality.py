"""The shipped causal model still separates real speech when streamed.

The real two-speaker mixture of held-out LibriSpeech speakers of
``tests/quality/data`` (the offline model's quality test) is streamed
through ``pretrained/galr-causal-librispeech-8k`` in 10 ms blocks, with
the package and with SpeechBrain's ``foreign_class``.  Each must reach the
SI-SNRi measured when the model was shipped, less 0.5 dB.  The last test
shows that a change of the causal forward pass fails here: with the
attention cut to the segment itself (a window of 1 instead of the 40 the
model was trained with) it scores 3.27 dB.
"""

import os
import shutil

import pytest
import test_pretrained_quality as offline
import torch

MODEL = os.path.join(offline.REPO, "pretrained", "galr-causal-librispeech-8k")
MEASURED_SI_SNRI = 5.41
"""SI-SNRi (dB) of the streamed shipped model on the mixture of
``tests/quality/data``, measured when it was shipped (fp32, 10 ms
blocks)."""
MARGIN = 0.5


@pytest.fixture(scope="module")
def signals():
    """The mixture ``[T]`` and its references ``[T, 2]``."""
    sources = [offline.read(f"s{i}.wav") for i in (1, 2)]
    return offline.read("mix.wav"), torch.stack(sources, -1)


def streamed(separator, mix, block=80):
    stream = separator.stream()
    outputs = [
        stream.process(mix[start : start + block])
        for start in range(0, len(mix), block)
    ]
    return torch.cat(outputs + [stream.flush()])


@pytest.fixture(scope="module")
def model():
    from speechbrain_galr.inference.separator import GALRSeparation

    return GALRSeparation.from_hparams(source=MODEL)


def test_streamed_model_reaches_the_shipped_quality(model, signals):
    assert model.stream().latency_ms == pytest.approx(62.875)
    score = offline.si_snri(signals, streamed(model, signals[0]))
    assert score >= MEASURED_SI_SNRI - MARGIN, score


def test_foreign_class_streams_at_the_shipped_quality(tmp_path, signals):
    from speechbrain.inference.interfaces import foreign_class

    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)  # SpeechBrain links files into savedir
    separator = foreign_class(
        source=str(folder),
        pymodule_file="custom_interface.py",
        classname="GALRSeparation",
        savedir=str(tmp_path / "savedir"),
    )
    score = offline.si_snri(signals, streamed(separator, signals[0]))
    assert score >= MEASURED_SI_SNRI - MARGIN, score


def test_attention_cut_to_one_segment_scores_lower(model, signals):
    masknet = model.mods.model.masknet
    window = masknet.attention_window
    masknet.attention_window = 1
    try:
        score = offline.si_snri(signals, streamed(model, signals[0]))
    finally:
        masknet.attention_window = window
    assert score < MEASURED_SI_SNRI - MARGIN, score
