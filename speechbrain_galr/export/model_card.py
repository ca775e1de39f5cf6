"""The model card (``README.md``) of an exported model folder.

It lists the model's settings and the recipe's training settings by
explicit key (:data:`MODEL_KEYS`, :data:`TRAINING_KEYS`), the exported
checkpoint and its validation meta, and the test results only when the
recipe's ``test_results.csv`` is the test of that checkpoint
(:func:`speechbrain_galr.training.results_record.results_for`); otherwise it
says
that the checkpoint was not tested.

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import datetime

from speechbrain_galr.export.hub import SCORE_KEY, validation_si_snr

MODEL_KEYS = (
    "sample_rate",
    "num_spks",
    "window_length",
    "num_filters",
    "hidden_channels",
    "num_blocks",
    "num_heads",
    "segment_size",
    "reduced_segment_size",
    "dropout",
    "causal",
    "attention_window",
)
"""Top-level recipe keys that describe the model (GALR and the baselines'
recipes name their sizes so)."""

TRAINING_KEYS = (
    "data_folder",
    "base_folder_dm",
    "dynamic_mixing",
    "dm_folder",
    "num_noise",
    "use_pit",
    "N_epochs",
    "max_train_minutes",
    "batch_size",
    "lr",
    "weight_decay",
    "lr_decay",
    "lr_decay_epochs",
    "max_grad_norm",
    "early_stop_patience",
    "segment_seconds",
    "training_signal_len",
    "limit_training_signal_len",
    "precision",
    "seed",
)
"""Top-level recipe keys that describe the training data and protocol."""

METRIC_NAMES = {
    "si-snr_i": "SI-SNRi (dB)",
    "sdr_i": "SDRi (dB)",
    "si-snr": "SI-SNR (dB)",
    "sdr": "SDR (dB)",
}

FRONT_MATTER = """---
library_name: speechbrain
license: apache-2.0
tags:
- audio-source-separation
- speech-separation
- GALR
- speechbrain
metrics:
- SI-SNRi
- SDRi
---
"""

REFERENCE = """## Reference

```bibtex
@inproceedings{lam2021galr,
  title = {Effective Low-Cost Time-Domain Audio Separation Using \
Globally Attentive Locally Recurrent Networks},
  author = {Lam, Max W. Y. and Wang, Jun and Su, Dan and Yu, Dong},
  booktitle = {IEEE Spoken Language Technology Workshop (SLT)},
  year = {2021}
}
```
"""


def read_test_results(path):
    """Reads a recipe's ``test_results.csv``.

    Returns
    -------
    dict
        ``{"count": utterances, "avg": {metric: value}}`` from its ``avg``
        row (or the mean of the rows when it has none).

    Example
    -------
    >>> path = getfixture("tmp_path") / "test_results.csv"
    >>> _ = path.write_text("snt_id,si-snr_i\\na,10.0\\nb,12.0\\navg,11.0\\n")
    >>> read_test_results(str(path))
    {'count': 2, 'avg': {'si-snr_i': 11.0}}
    """
    with open(path, encoding="utf-8", newline="") as fin:
        rows = list(csv.DictReader(fin))
    items = [row for row in rows if row.get("snt_id") != "avg"]
    averages = [row for row in rows if row.get("snt_id") == "avg"]
    if averages:
        summary = averages[-1]
    else:
        summary = {
            key: sum(float(row[key]) for row in items) / max(len(items), 1)
            for key in (items[0] if items else {})
            if key != "snt_id"
        }
    values = {}
    for key, value in summary.items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue  # snt_id, text columns
    return {"count": len(items), "avg": values}


def _table(settings):
    rows = [f"| {key} | {value} |" for key, value in settings.items()]
    return ["| setting | value |", "| --- | --- |"] + rows + [""]


def explicit_settings(recipe, keys):
    """The recipe's plain values for those of ``keys`` it has.

    Example
    -------
    >>> explicit_settings({"lr": 0.001, "seed": 3, "x": 1}, ("seed", "lr"))
    {'seed': 3, 'lr': 0.001}
    """
    return {
        key: recipe[key]
        for key in keys
        if isinstance(recipe.get(key), (int, float, str, bool))
    }


def _model_section(recipe, params):
    return [
        "## Model",
        "",
        f"Parameters: {params:,}.",
        "",
    ] + _table(explicit_settings(recipe, MODEL_KEYS))


def folder_names(settings):
    """Path settings by their last folder only: a model card is published,
    the trainer's own paths are not its business.

    Example
    -------
    >>> folder_names({"data_folder": "/home/me/wsj0-mix/2speakers/", "lr": 1})
    {'data_folder': '.../2speakers', 'lr': 1}
    """
    return {
        key: ".../" + value.rstrip("/").rsplit("/", 1)[-1]
        if isinstance(value, str) and "/" in value.rstrip("/")
        else value
        for key, value in settings.items()
    }


def _training_section(recipe, training_data):
    lines = ["## Training data", ""]
    if training_data:
        lines += [training_data, ""]
    settings = folder_names(explicit_settings(recipe, TRAINING_KEYS))
    if settings:
        lines += ["Recipe settings:", ""] + _table(settings)
    return lines


def _short(value):
    """Floats with two decimals, anything else as it is."""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _checkpoint_line(checkpoint):
    saved = datetime.datetime.fromtimestamp(
        checkpoint.meta.get("unixtime", 0), tz=datetime.timezone.utc
    )
    line = (
        f"Checkpoint: `{checkpoint.path.name}` (saved "
        f"{saved:%Y-%m-%d %H:%M} UTC)"
    )
    if "epoch" in checkpoint.meta:
        line += f", epoch {checkpoint.meta['epoch']}"
    si_snr = validation_si_snr(checkpoint)
    if si_snr is not None:
        line += f", validation SI-SNR {si_snr:.2f} dB"
    shown = ("unixtime", "end-of-epoch", "epoch", SCORE_KEY, "si-snr_is_loss")
    other = {k: v for k, v in checkpoint.meta.items() if k not in shown}
    if other:
        line += "; meta: " + ", ".join(
            f"{k} = {_short(v)}" for k, v in other.items()
        )
    return [line + ".", ""]


def _results_section(results, not_tested_reason):
    lines = ["## Test results", ""]
    if results is None:
        return lines + [
            f"This checkpoint was not tested: {not_tested_reason}.",
            "",
        ]
    lines += [
        f"Average over {results['count']} test mixtures of this "
        "checkpoint (`test_results.csv`):",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [
        f"| {METRIC_NAMES.get(key, key)} | {value:.2f} |"
        for key, value in results["avg"].items()
    ]
    return lines + [""]


def _usage_section():
    return [
        "## Usage",
        "",
        "With only SpeechBrain installed (`pip install speechbrain`; files "
        "at another sample rate than the model's also need `pip install "
        "soxr`), the model code travels in `custom_interface.py`:",
        "",
        "```python",
        "from speechbrain.inference.interfaces import foreign_class",
        "",
        "model = foreign_class(",
        '    source="path/to/this/folder",',
        '    pymodule_file="custom_interface.py",',
        '    classname="GALRSeparation",',
        ")",
        'est_sources = model.separate_file("mixture.wav")  # [1, T, C]',
        "```",
        "",
        "With speechbrain-galr installed:",
        "",
        "```python",
        "from speechbrain_galr.inference.separator import GALRSeparation",
        "",
        'model = GALRSeparation.from_hparams(source="path/to/this/folder")',
        "```",
        "",
        "or, from the command line, one wav per source at the input's rate:",
        "",
        "```",
        "python -m speechbrain_galr separate mixture.wav "
        "--model path/to/this/folder --out separated/",
        "```",
        "",
    ]


def build_model_card(
    recipe, checkpoint, params, results=None, not_tested="", training_data=None
):
    """The model card of an exported model, as Markdown.

    Arguments
    ---------
    recipe : dict
        The recipe's resolved hyperparameters.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The exported checkpoint.
    params : int
        Number of parameters of the model.
    results : dict or None
        :func:`read_test_results` of the checkpoint's test, or None.
    not_tested : str
        Why there are no results (when ``results`` is None).
    training_data : str or None
        A description of the training data.

    Example
    -------
    >>> import pathlib, types
    >>> ckpt = types.SimpleNamespace(path=pathlib.Path("CKPT+x"),
    ...     meta={"si-snr": -9.5, "si-snr_is_loss": True, "unixtime": 0},
    ...     paramfiles={})
    >>> card = build_model_card({"num_spks": 2, "sample_rate": 8000,
    ...                          "lr": 0.001}, ckpt, 1000,
    ...                         not_tested="no test_results.csv")
    >>> "| lr | 0.001 |" in card, "not tested: no test_results.csv" in card
    (True, True)
    >>> "validation SI-SNR 9.50 dB" in card
    True
    """
    title = (
        f"# GALR speech separation ({recipe['num_spks']} sources, "
        f"{recipe['sample_rate']} Hz)"
    )
    intro = (
        "A GALR (globally attentive, locally recurrent) separation network "
        "(Lam et al., *Effective low-cost time-domain audio separation "
        "using globally attentive locally recurrent networks*, SLT 2021) "
        "trained with the speechbrain-galr recipe and exported by "
        "`python -m speechbrain_galr export`."
    )
    lines = [FRONT_MATTER, title, "", intro, ""]
    lines += _model_section(recipe, params)
    lines += _training_section(recipe, training_data)
    lines += _checkpoint_line(checkpoint)
    lines += _results_section(results, not_tested)
    lines += _usage_section()
    lines.append(REFERENCE)
    return "\n".join(lines)
