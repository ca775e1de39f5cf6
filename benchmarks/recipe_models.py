"""The separation models of the recipe yamls, built with overrides.

The cost benchmark (:mod:`benchmarks.benchmark`) measures the models
the recipes train, from the recipes' own yamls, so each model is defined
once: :func:`build_model` loads a yaml with hyperparameter overrides and
returns its ``model`` (a :class:`speechbrain_galr.nnet.tasnet.TasNet`), building
nothing else that acts (seeding, output folders, logs, datasets).

Models
------
``"GALR"`` is ``recipes/WSJ0Mix/separation/hparams/galr-small.yaml``,
``"DPRNN"`` ``dprnn.yaml`` and ``"DP-Transformer"`` ``sepformer-small.yaml``
(a small SepFormer: ``Dual_Path_Model`` with ``SBTransformerBlock``s); the
rows of Table 3 are overrides of ``num_filters`` (D), ``window_length``
(M), ``segment_size`` (K) and ``reduced_segment_size`` (Q).

Authors
 * speechbrain-galr contributors 2026
"""

import os
import re

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml

HPARAMS_FOLDER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "recipes",
    "WSJ0Mix",
    "separation",
    "hparams",
)
MODEL_HPARAMS = {
    "GALR": "galr-small.yaml",
    "DPRNN": "dprnn.yaml",
    "DP-Transformer": "sepformer-small.yaml",
}
MODELS = tuple(MODEL_HPARAMS)
# overrides that make galr-small a GALR of a few thousand parameters, for
# examples and tests
TINY_GALR = dict(
    num_filters=16,
    segment_size=10,
    reduced_segment_size=4,
    hidden_channels=8,
    num_blocks=1,
)
# the objects of a recipe yaml that the measurements build; the others
# (seeding every generator, the checkpointer that creates the output
# folder, the log, the datasets) are not built
BUILT = ("model", "optimizer", "loss")
REFERENCE = re.compile(r"<([^<>.\[\]]+)")


def hparams_path(name_or_yaml):
    """The yaml of a model name of :data:`MODELS`, or the yaml path given.

    Example
    -------
    >>> os.path.basename(hparams_path("DPRNN"))
    'dprnn.yaml'
    """
    if name_or_yaml in MODEL_HPARAMS:
        path = os.path.join(HPARAMS_FOLDER, MODEL_HPARAMS[name_or_yaml])
    elif str(name_or_yaml).endswith((".yaml", ".yml")):
        path = str(name_or_yaml)
    else:
        raise ValueError(
            f"unknown model {name_or_yaml!r}, expected one of {MODELS} or "
            "a yaml file"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no hyperparameter file {path} (the recipe yamls are in a "
            "checkout of speechbrain-galr)"
        )
    return path


def _tags_and_references(node):
    """Tags of the objects in a yaml node, and the keys its ``<refs>`` name."""
    tags, refs = set(), set()
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag:
        tags.add(tag)
    if isinstance(node, dict):
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        children = []
        refs.update(REFERENCE.findall(str(getattr(node, "value", node))))
    for child in children:
        child_tags, child_refs = _tags_and_references(child)
        tags |= child_tags
        refs |= child_refs
    return tags, refs


def _unbuilt_objects(tree, built):
    """Overrides that set to None every top-level object of the yaml that
    ``built`` neither is nor refers to (directly or not)."""
    needed, todo = set(), [key for key in built if key in tree]
    while todo:
        key = todo.pop()
        if key not in needed:
            needed.add(key)
            todo.extend(_tags_and_references(tree[key])[1] & set(tree))
    return {
        key: None
        for key, value in tree.items()
        if key not in needed
        and any(
            t.startswith("!") and ":" in t
            for t in _tags_and_references(value)[0]
        )
    }


def load_hparams(name_or_yaml, **overrides):
    """Loads a recipe yaml with overrides, building only what is measured.

    Only the objects of :data:`BUILT` (model, optimizer, loss) and
    what they refer to are built: a recipe's seeding, checkpointer (which
    creates the output folder), logger and datasets are set to None.  The
    yaml's ``!PLACEHOLDER`` values (e.g. ``data_folder``) get a dummy value.

    Arguments
    ---------
    name_or_yaml : str
        A model of :data:`MODELS` or the path of a yaml.
    **overrides
        Top-level hyperparameters to override, e.g. ``num_filters=128``.

    Returns
    -------
    dict
        The loaded hyperparameters (``model`` among them).

    Example
    -------
    >>> hparams = load_hparams("DPRNN", num_blocks=1)
    >>> hparams["checkpointer"], hparams["num_blocks"]
    (None, 1)
    """
    path = hparams_path(name_or_yaml)
    with open(path) as fin:
        text = fin.read()
    tree = ruamel.yaml.YAML().load(text)
    unknown = sorted(set(overrides) - set(tree))
    if unknown:
        raise ValueError(f"{path} has no hyperparameter {', '.join(unknown)}")
    fixed = _unbuilt_objects(tree, BUILT)
    for key, value in tree.items():
        if getattr(getattr(value, "tag", None), "value", "") == "!PLACEHOLDER":
            fixed[key] = "unused"
    return load_hyperpyyaml(text, {**fixed, **overrides})


def build_model(name_or_yaml, **overrides):
    """The ``model`` (a :class:`speechbrain_galr.nnet.tasnet.TasNet`) of a
    recipe yaml, with overrides (see :func:`load_hparams`).

    Example
    -------
    >>> import torch
    >>> model = build_model("GALR", num_filters=16, num_blocks=1)
    >>> model(torch.randn(1, 800)).shape
    torch.Size([1, 800, 2])
    >>> sum(p.numel() for p in build_model("DPRNN").parameters())
    2609793
    """
    return load_hparams(name_or_yaml, **overrides)["model"]


def table3_overrides(model, D, M, K, Q=None):
    """The yaml overrides of a row of Table 3.

    Q (GALR's reduced segment size) is for GALR only.

    Example
    -------
    >>> table3_overrides("GALR", 64, 8, 150, 16)["reduced_segment_size"]
    16
    """
    overrides = dict(num_filters=D, window_length=M, segment_size=K)
    if model == "GALR":
        overrides["reduced_segment_size"] = Q
    elif Q is not None:
        raise ValueError(f"Q is GALR's, not {model}'s")
    return overrides
