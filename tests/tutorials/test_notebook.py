"""Runs the tutorial notebook on its tiny synthetic setting and checks what
it computes: the exported model, the separation and its SI-SNR, the audio
players, the attention maps, the chunked separation of a long file."""

import os
import re

import nbformat
import soundfile as sf
from nbclient import NotebookClient

NOTEBOOK = os.path.join(
    os.path.dirname(__file__), "..", "..", "tutorials", "galr_separation.ipynb"
)


def _printed(notebook):
    """The text the notebook's code cells printed, all together."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def _number(pattern, text):
    """The float of the first group of ``pattern`` in ``text``."""
    match = re.search(pattern, text)
    assert match, f"the notebook printed nothing like {pattern!r}"
    return float(match.group(1))


def test_tutorial_notebook_runs(tmp_path, monkeypatch):
    # no real data and no trained model: the tiny model on synthetic
    # mixtures, outputs in a temporary folder
    monkeypatch.setenv("GALR_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("GALR_MODEL", "")
    monkeypatch.setenv("GALR_TUTORIAL_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("GALR_TRAIN_STEPS", "15")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with open(NOTEBOOK) as fin:
        notebook = nbformat.read(fin, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    out = tmp_path / "out"
    text = _printed(notebook)

    # the figures are PNG images
    for png in (
        "training_curve.png",
        "separation.png",
        "attention_maps.png",
        "attention_fig3.png",
    ):
        with open(out / png, "rb") as fin:
            assert fin.read(8) == b"\x89PNG\r\n\x1a\n", png

    # the exported model folder holds the hub layout
    exported = set(os.listdir(out / "tiny-galr"))
    assert {"hyperparams.yaml", "encoder.ckpt", "masknet.ckpt"} <= exported

    # a 3 s mixture separated into two sources, better than the mixture
    assert "estimated sources: (1, 24000, 2)" in text
    si_snr = _number(r"SI-SNR (-?[\d.]+) dB, improvement", text)
    improvement = _number(r"improvement (-?[\d.]+) dB", text)
    assert improvement > 0 and si_snr >= improvement - 20

    # one audio player for the mixture and each estimated source
    players = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "display_data"
        and "<audio" in output.get("data", {}).get("text/html", "")
    ]
    assert len(players) == 3

    # attention weights [B, rows, heads, S, S]: the tiny model's 4 heads
    shape = re.search(
        r"weights of block 1: \((\d+), (\d+), (\d+), (\d+), (\d+)\)", text
    )
    assert shape and shape.group(3) == "4" and shape.group(4) == shape.group(5)

    # the long 16 kHz file: one 12 s wav per source at the input's rate,
    # chunked as good as whole separation
    long_folder = out / "long"
    assert sorted(os.listdir(long_folder)) == [
        "long_mixture_source1.wav",
        "long_mixture_source2.wav",
    ]
    for name in os.listdir(long_folder):
        info = sf.info(str(long_folder / name))
        assert (info.samplerate, info.frames) == (16000, 12 * 16000)
    whole = _number(r"whole +SI-SNR (-?[\d.]+) dB", text)
    chunked = _number(r"chunked +SI-SNR (-?[\d.]+) dB", text)
    assert abs(whole - chunked) < 1.0
