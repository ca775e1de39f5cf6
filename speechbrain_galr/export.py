"""Exports a trained recipe checkpoint as a ready-to-use model folder.

A separation recipe (``recipes/WSJ0Mix/separation``) leaves in its output
folder the resolved ``hyperparams.yaml`` (written by SpeechBrain's
``create_experiment_directory``), the checkpoints ``save/CKPT+*/`` with
``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt`` and a ``CKPT.yaml``
holding the validation score, and ``test_results.csv``.  :func:`export_model`
turns the best checkpoint into the layout of a SpeechBrain hub repository:

* ``hyperparams.yaml``: ``sample_rate``, ``num_spks``, the recipe's
  ``encoder``, ``masknet`` and ``decoder`` definitions (with the recipe's
  values), ``modules`` and a ``pretrainer``
  (``speechbrain.utils.parameter_transfer.Pretrainer``) whose ``paths`` are
  relative to ``pretrained_path``;
* ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt``;
* ``README.md``, a model card with the model's settings, the training data
  and the test results; ``test_results.csv`` when the recipe has one.

:class:`speechbrain_galr.inference.GALRSeparation` loads the folder with
``from_hparams(source=folder)``.

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import datetime
import io
import os
import shutil

import ruamel.yaml
import torch
from ruamel.yaml.comments import CommentedMap, TaggedScalar
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

MODULE_NAMES = ("encoder", "masknet", "decoder")
"""The recoverables a recipe checkpoint must hold, and the hub's modules."""

DEFAULT_MAX_KEY = "si-snr"
"""Checkpoint meta key of the recipe's validation score: the recipes
(:class:`speechbrain_galr.separation.SeparationBrain`) store the validation
SI-SNR in dB there and keep checkpoints with ``max_keys=["si-snr"]``."""

_TRAINING_KEY_HINTS = (
    "data",
    "dm_",
    "segment_seconds",
    "pit",
    "grad",
    "weight_decay",
    "patience",
    "train_minutes",
    "precision",
    "csv",
    "mix",
    "epoch",
    "batch",
    "lr",
    "signal_len",
    "duration",
    "seed",
    "speakers",
    "noise",
    "reverb",
    "rir",
)
_SKIPPED_KEYS = ("output_folder", "save_folder", "train_log", "__")


class ExportError(ValueError):
    """Raised when a recipe output folder cannot be exported (the message
    names what is missing)."""


def _yaml():
    """A round-trip YAML parser that keeps hyperpyyaml's tags."""
    yaml = ruamel.yaml.YAML()
    yaml.width = 80
    return yaml


def load_recipe_hparams(path):
    """Reads a recipe's resolved ``hyperparams.yaml`` without building it.

    Arguments
    ---------
    path : str
        The file (``<output_folder>/hyperparams.yaml``).

    Returns
    -------
    ruamel.yaml.comments.CommentedMap
        The document, ``!new:`` and other tags kept as they are.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> path = tmpdir / "hyperparams.yaml"
    >>> _ = path.write("num_spks: 2\\nencoder: !new:torch.nn.Identity\\n")
    >>> doc = load_recipe_hparams(str(path))
    >>> doc["num_spks"], doc["encoder"].tag.value
    (2, '!new:torch.nn.Identity')
    """
    if not os.path.isfile(path):
        raise ExportError(f"recipe hyperparameter file not found: {path}")
    with open(path, encoding="utf-8") as fin:
        try:
            doc = _yaml().load(fin)
        except ruamel.yaml.YAMLError as err:
            raise ExportError(f"cannot parse {path}: {err}") from err
    if not isinstance(doc, dict):
        raise ExportError(f"{path} is not a YAML mapping")
    return doc


def find_checkpoint(save_folder, max_key=DEFAULT_MAX_KEY, min_key=None):
    """Picks a recipe checkpoint: the best one by its validation score.

    Arguments
    ---------
    save_folder : str
        The recipe's ``save`` folder, with ``CKPT+*`` checkpoints.
    max_key : str or None
        Meta key to maximise (the recipe's validation SI-SNR).
    min_key : str or None
        Meta key to minimise instead (a loss); ``max_key`` is then ignored.

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
        Its ``path``, ``meta`` and ``paramfiles``.  When no checkpoint has
        the key, the newest one is returned (and a warning logged).

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> layer = torch.nn.Linear(2, 2)
    >>> saver = Checkpointer(str(tmpdir), {"encoder": layer})
    >>> for si_snr in [3.0, 5.0, 4.0]:
    ...     _ = saver.save_checkpoint(meta={"si-snr": si_snr})
    >>> find_checkpoint(str(tmpdir)).meta["si-snr"]
    5.0
    >>> find_checkpoint(str(tmpdir), min_key="si-snr").meta["si-snr"]
    3.0
    """
    if not os.path.isdir(save_folder):
        raise ExportError(f"checkpoint folder not found: {save_folder}")
    checkpointer = Checkpointer(save_folder)
    checkpoints = checkpointer.list_checkpoints()
    if not checkpoints:
        raise ExportError(f"no CKPT+* checkpoint in {save_folder}")
    if min_key is not None:
        found = checkpointer.find_checkpoint(min_key=min_key)
        key = min_key
    else:
        found = checkpointer.find_checkpoint(max_key=max_key)
        key = max_key
    if found is None:
        found = checkpointer.find_checkpoint()
        logger.warning(
            f"no checkpoint in {save_folder} has '{key}' in its meta; "
            f"exporting the newest one, {found.path.name}"
        )
    return found


def _tagged_ref(text):
    """A hyperpyyaml ``!ref`` scalar."""
    return TaggedScalar(value=text, tag="!ref")


def build_hub_hparams(recipe, pretrained_path, header=""):
    """Writes the hub ``hyperparams.yaml`` text for a recipe's model.

    Arguments
    ---------
    recipe : ruamel.yaml.comments.CommentedMap
        The recipe's resolved hyperparameters (:func:`load_recipe_hparams`).
    pretrained_path : str
        Default folder or hub id of the ``.ckpt`` files (the pretrainer's
        ``paths`` are ``<pretrained_path>/<module>.ckpt``).
    header : str
        Comment lines put at the top.

    Returns
    -------
    str
        The YAML text.

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> recipe = _yaml().load(
    ...     "sample_rate: 8000\\nnum_spks: 2\\nlr: 0.001\\n"
    ...     "encoder: !new:torch.nn.Identity\\n"
    ...     "masknet: !new:torch.nn.Identity\\n"
    ...     "decoder: !new:torch.nn.Identity\\n")
    >>> text = build_hub_hparams(recipe, "/models/galr")
    >>> hub = load_hyperpyyaml(text)
    >>> sorted(hub["modules"]), hub["num_spks"], "lr" in hub
    (['decoder', 'encoder', 'masknet'], 2, False)
    >>> hub["pretrainer"].paths["masknet"]
    '/models/galr/masknet.ckpt'
    """
    missing = [
        key
        for key in ("sample_rate", "num_spks") + MODULE_NAMES
        if key not in recipe
    ]
    if missing:
        raise ExportError(
            f"the recipe's hyperparameters lack {', '.join(missing)}"
        )
    hub = CommentedMap()
    hub["sample_rate"] = recipe["sample_rate"]
    hub["num_spks"] = recipe["num_spks"]
    hub["pretrained_path"] = str(pretrained_path)
    for name in MODULE_NAMES:
        node = recipe[name]
        if hasattr(node, "anchor"):
            # the recipe's &id anchors mean nothing here
            node.anchor.value = None
        hub[name] = node
    hub["modules"] = CommentedMap(
        (n, _tagged_ref(f"<{n}>")) for n in MODULE_NAMES
    )
    pretrainer = CommentedMap()
    pretrainer["loadables"] = CommentedMap(
        (n, _tagged_ref(f"<{n}>")) for n in MODULE_NAMES
    )
    pretrainer["paths"] = CommentedMap(
        (n, _tagged_ref(f"<pretrained_path>/{n}.ckpt")) for n in MODULE_NAMES
    )
    pretrainer.yaml_set_ctag(
        ruamel.yaml.comments.Tag(
            suffix="!new:speechbrain.utils.parameter_transfer.Pretrainer"
        )
    )
    hub["pretrainer"] = pretrainer
    text = io.StringIO()
    _yaml().dump(hub, text)
    return header + text.getvalue()


def read_test_results(path):
    """Reads a recipe's ``test_results.csv``.

    Arguments
    ---------
    path : str
        The file, columns ``snt_id,sdr,sdr_i,si-snr,si-snr_i`` and a last
        row ``avg``.

    Returns
    -------
    dict or None
        ``{"count": utterances, "avg": {metric: value}}``, None when the
        file does not exist.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> path = tmpdir / "test_results.csv"
    >>> _ = path.write("snt_id,si-snr_i\\na,10.0\\nb,12.0\\navg,11.0\\n")
    >>> read_test_results(str(path))
    {'count': 2, 'avg': {'si-snr_i': 11.0}}
    """
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", newline="") as fin:
        rows = list(csv.DictReader(fin))
    avg = [row for row in rows if row.get("snt_id") == "avg"]
    items = [row for row in rows if row.get("snt_id") != "avg"]
    if avg:
        summary = avg[-1]
    elif items:
        summary = {
            key: sum(float(row[key]) for row in items) / len(items)
            for key in items[0]
            if key != "snt_id"
        }
    else:
        raise ExportError(f"{path} has no results")
    values = {}
    for key, value in summary.items():
        if key == "snt_id":
            continue
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return {"count": len(items), "avg": values}


def _short(value):
    """Floats with two decimals, anything else as it is."""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _scalar_settings(recipe, keys):
    """The recipe's plain scalar values for ``keys`` that it has."""
    return {
        key: recipe[key]
        for key in keys
        if key in recipe and isinstance(recipe[key], (int, float, str))
    }


def _training_settings(recipe):
    """Top-level scalar settings of the recipe that describe training."""
    settings = {}
    for key, value in recipe.items():
        if key.startswith(_SKIPPED_KEYS) or not isinstance(
            value, (int, float, str, bool)
        ):
            continue
        if any(hint in key.lower() for hint in _TRAINING_KEY_HINTS):
            settings[key] = value
    return settings


def build_model_card(recipe, checkpoint, results, params, training_data):
    """Writes the model card (``README.md``) of an exported model.

    Arguments
    ---------
    recipe : ruamel.yaml.comments.CommentedMap
        The recipe's resolved hyperparameters.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The exported checkpoint.
    results : dict or None
        :func:`read_test_results` of the recipe.
    params : int
        Number of parameters of the model.
    training_data : str or None
        A description of the training data; by default the recipe's data
        settings are listed.

    Returns
    -------
    str
        Markdown text.
    """
    num_spks = recipe["num_spks"]
    rate = recipe["sample_rate"]
    masknet = recipe["masknet"]
    model_keys = (
        "window_length",
        "num_filters",
        "hidden_channels",
        "num_blocks",
        "num_heads",
        "segment_size",
        "reduced_segment_size",
    )
    model = _scalar_settings(recipe, model_keys)
    if not model and isinstance(masknet, dict):
        model = {k: v for k, v in masknet.items() if not hasattr(v, "tag")}
    lines = [
        "---",
        "library_name: speechbrain",
        "license: apache-2.0",
        "tags:",
        "- audio-source-separation",
        "- speech-separation",
        "- GALR",
        "- speechbrain",
        "metrics:",
        "- SI-SNRi",
        "- SDRi",
        "---",
        "",
        f"# GALR speech separation ({num_spks} sources, {rate} Hz)",
        "",
        "A GALR (globally attentive, locally recurrent) separation network "
        "(Lam et al., *Effective low-cost time-domain audio separation using "
        "globally attentive locally recurrent networks*, SLT 2021) trained "
        "with the speechbrain-galr recipe and exported by "
        "`python -m speechbrain_galr export`.",
        "",
        f"Parameters: {params:,}.",
        "",
        "## Model",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    lines += [f"| {key} | {value} |" for key, value in model.items()]
    lines += ["", "## Training data", ""]
    if training_data:
        lines += [training_data, ""]
    settings = _training_settings(recipe)
    if settings:
        lines += [
            "Recipe settings:",
            "",
            "| setting | value |",
            "| --- | --- |",
        ]
        lines += [f"| {key} | {value} |" for key, value in settings.items()]
        lines.append("")
    meta = {
        k: v
        for k, v in checkpoint.meta.items()
        if k not in ("unixtime", "end-of-epoch")
    }
    stamp = datetime.datetime.fromtimestamp(
        checkpoint.meta.get("unixtime", 0), tz=datetime.timezone.utc
    )
    lines += [
        f"Checkpoint: `{checkpoint.path.name}` (saved "
        f"{stamp:%Y-%m-%d %H:%M} UTC), validation meta: "
        + (", ".join(f"{k} = {_short(v)}" for k, v in meta.items()) or "none"),
        "",
        "## Test results",
        "",
    ]
    if results is None:
        lines += ["The recipe wrote no `test_results.csv`.", ""]
    else:
        names = {
            "si-snr_i": "SI-SNRi (dB)",
            "sdr_i": "SDRi (dB)",
            "si-snr": "SI-SNR (dB)",
            "sdr": "SDR (dB)",
        }
        lines += [
            f"Average over {results['count']} test mixtures "
            "(`test_results.csv`):",
            "",
            "| metric | value |",
            "| --- | --- |",
        ]
        lines += [
            f"| {names.get(key, key)} | {value:.2f} |"
            for key, value in results["avg"].items()
        ]
        lines.append("")
    lines += [
        "## Usage",
        "",
        "```python",
        "from speechbrain_galr.inference import GALRSeparation",
        "",
        'model = GALRSeparation.from_hparams(source="path/to/this/folder")',
        'est_sources = model.separate_file("mixture.wav")  # [1, T, C]',
        "```",
        "",
        "or, from the command line, one wav per source at the input's rate:",
        "",
        "```",
        "python -m speechbrain_galr separate mixture.wav "
        "--model path/to/this/folder --out separated/",
        "```",
        "",
        "Files of any length are separated in overlapping chunks whose "
        "source order is aligned from chunk to chunk.",
        "",
        "## Reference",
        "",
        "```bibtex",
        "@inproceedings{lam2021galr,",
        "  title = {Effective Low-Cost Time-Domain Audio Separation Using "
        "Globally Attentive Locally Recurrent Networks},",
        "  author = {Lam, Max W. Y. and Wang, Jun and Su, Dan and Yu, Dong},",
        "  booktitle = {IEEE Spoken Language Technology Workshop (SLT)},",
        "  year = {2021}",
        "}",
        "```",
        "",
    ]
    return "\n".join(lines)


def _check_loaded(model, checkpoint):
    """Checks that a loaded model holds exactly the checkpoint's weights."""
    for name in MODULE_NAMES:
        saved = torch.load(
            checkpoint.paramfiles[name], map_location="cpu", weights_only=True
        )
        loaded = model.mods[name].state_dict()
        if set(saved) != set(loaded):
            raise ExportError(
                f"{name}: the exported definition does not match "
                f"{name}.ckpt (keys differ: "
                f"{sorted(set(saved) ^ set(loaded))[:5]})"
            )
        for key, value in saved.items():
            if not torch.equal(value, loaded[key].cpu()):
                raise ExportError(f"{name}.{key} was not loaded correctly")


def export_model(
    output_folder,
    dest,
    checkpoint=None,
    max_key=DEFAULT_MAX_KEY,
    min_key=None,
    hub_id=None,
    training_data=None,
    overwrite=False,
    verify=True,
):
    """Exports a recipe's best checkpoint as a hub-style model folder.

    Arguments
    ---------
    output_folder : str
        The recipe's output folder (``hyperparams.yaml``, ``save/``,
        ``test_results.csv``).
    dest : str
        Folder to write (created).
    checkpoint : str or None
        A ``CKPT+*`` folder to export instead of the best one.
    max_key : str
        Checkpoint meta key to maximise to pick the best checkpoint (the
        recipes' validation SI-SNR).
    min_key : str or None
        Meta key to minimise instead.
    hub_id : str or None
        Hub repository the folder will be uploaded to; it becomes the
        default ``pretrained_path`` (else the absolute path of ``dest``).
    training_data : str or None
        Description of the training data for the model card.
    overwrite : bool
        Replace the files of an existing ``dest``.
    verify : bool
        Load the folder with ``GALRSeparation.from_hparams`` and check that
        the weights are the checkpoint's.

    Returns
    -------
    str
        ``dest``.

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> from speechbrain_galr import HPARAMS_DIR
    >>> from speechbrain_galr.inference import GALRSeparation
    >>> tmpdir = getfixture("tmpdir")
    >>> recipe = str(tmpdir / "recipe")
    >>> yaml_path = os.path.join(HPARAMS_DIR, "galr-model.yaml")
    >>> small = {"num_filters": 16, "hidden_channels": 8, "num_blocks": 1,
    ...          "num_heads": 2, "segment_size": 10,
    ...          "reduced_segment_size": 4}
    >>> from hyperpyyaml import resolve_references
    >>> os.makedirs(recipe)  # what create_experiment_directory writes:
    >>> with open(yaml_path) as fin:
    ...     resolved = resolve_references(fin, small).getvalue()
    >>> _ = open(os.path.join(recipe, "hyperparams.yaml"), "w").write(resolved)
    >>> with open(yaml_path) as fin:
    ...     hparams = load_hyperpyyaml(fin, small)
    >>> saver = Checkpointer(os.path.join(recipe, "save"),
    ...                      {n: hparams[n] for n in MODULE_NAMES})
    >>> _ = saver.save_checkpoint(meta={"si-snr": 1.5})
    >>> dest = export_model(recipe, str(tmpdir / "model"))
    >>> sorted(os.listdir(dest))  # doctest: +NORMALIZE_WHITESPACE
    ['README.md', 'decoder.ckpt', 'encoder.ckpt', 'hyperparams.yaml',
     'masknet.ckpt']
    >>> model = GALRSeparation.from_hparams(source=dest)
    >>> model.separate_batch(torch.randn(1, 800)).shape
    torch.Size([1, 800, 2])
    """
    output_folder = str(output_folder)
    dest = str(dest)
    if not os.path.isdir(output_folder):
        raise ExportError(f"recipe output folder not found: {output_folder}")
    recipe = load_recipe_hparams(
        os.path.join(output_folder, "hyperparams.yaml")
    )
    if checkpoint is None:
        found = find_checkpoint(
            os.path.join(output_folder, "save"), max_key, min_key
        )
    else:
        checkpoint = os.path.abspath(str(checkpoint))
        save_folder, name = os.path.split(checkpoint)
        matches = [
            ckpt
            for ckpt in Checkpointer(save_folder).list_checkpoints()
            if ckpt.path.name == name
        ]
        if not matches:
            raise ExportError(f"not a SpeechBrain checkpoint: {checkpoint}")
        found = matches[0]
    missing = [n for n in MODULE_NAMES if n not in found.paramfiles]
    if missing:
        raise ExportError(
            f"checkpoint {found.path} has no "
            + ", ".join(f"{n}.ckpt" for n in missing)
        )
    if os.path.isdir(dest) and os.listdir(dest) and not overwrite:
        raise ExportError(
            f"destination {dest} exists and is not empty (use overwrite)"
        )
    header = (
        "# GALR separation model, exported by speechbrain_galr.export\n"
        f"# from {os.path.abspath(output_folder)}, checkpoint "
        f"{found.path.name}.\n"
        "# Load it with speechbrain_galr.inference.GALRSeparation"
        ".from_hparams(source=<this folder>).\n\n"
    )
    text = build_hub_hparams(
        recipe, hub_id or os.path.abspath(dest), header=header
    )
    results_path = os.path.join(output_folder, "test_results.csv")
    results = read_test_results(results_path)
    params = 0
    for name in MODULE_NAMES:
        state = torch.load(
            found.paramfiles[name], map_location="cpu", weights_only=True
        )
        params += sum(
            v.numel() for v in state.values() if v.is_floating_point()
        )
    card = build_model_card(recipe, found, results, params, training_data)
    os.makedirs(dest, exist_ok=True)
    written = [os.path.join(dest, "hyperparams.yaml")]
    with open(written[-1], "w") as fout:
        fout.write(text)
    for name in MODULE_NAMES:
        written.append(os.path.join(dest, f"{name}.ckpt"))
        shutil.copyfile(found.paramfiles[name], written[-1])
    if results is not None:
        written.append(os.path.join(dest, "test_results.csv"))
        shutil.copyfile(results_path, written[-1])
    written.append(os.path.join(dest, "README.md"))
    with open(written[-1], "w") as fout:
        fout.write(card)
    if verify:
        from speechbrain_galr.inference import GALRSeparation

        try:
            model = GALRSeparation.from_hparams(source=dest)
            _check_loaded(model, found)
        except Exception:
            # leave no model folder that does not load
            for path in written:
                os.remove(path)
            if not os.listdir(dest):
                os.rmdir(dest)
            raise
    logger.info(f"exported {found.path} to {dest}")
    return dest
