"""Runs the tutorial notebook, so that it never rots."""

import os

import nbformat
from nbclient import NotebookClient

NOTEBOOK = os.path.join(
    os.path.dirname(__file__), "..", "tutorials", "galr_separation.ipynb"
)


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
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    out = tmp_path / "out"
    for png in (
        "training_curve.png",
        "separation.png",
        "attention_maps.png",
        "attention_fig3.png",
    ):
        assert (out / png).stat().st_size > 0, png
    assert sorted(os.listdir(out / "long")) == [
        "long_mixture_source1.wav",
        "long_mixture_source2.wav",
    ]
    # the notebook printed the SI-SNR of the separation it made
    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "SI-SNR" in text and "improvement" in text
    assert "audio" in str(notebook.cells) or "Audio" in str(notebook.cells)
