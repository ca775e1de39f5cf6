"""SpeechBrain CSVs for Libri2Mix and Libri3Mix (official folder layout).

LibriMix (Cosentino et al. 2020) generates::

    Libri2Mix/wav8k/min/metadata/mixture_<split>_<type>.csv
    Libri2Mix/wav8k/min/<split>/{mix_clean,mix_both,s1,s2[,s3],noise}/<ID>.wav

with splits ``train-360``, ``train-100``, ``dev`` and ``test``.  The
metadata CSVs (``mixture_ID, mixture_path, source_1_path, ...,
[noise_path,] length``) list the mixtures; their absolute paths are those
of the machine that generated the corpus, so the files are looked up by
``mixture_ID`` in the folder given here (a moved corpus still works).
Without metadata CSVs the mixture folder is listed instead.

The CSVs written have the columns of :func:`speechbrain_galr.data.corpus.
prepare_wsj0mix` (``ID, duration, mix_wav, s1_wav, ...``) plus
``noise_wav`` for the noisy ``mix_both`` mixtures.

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import json
import logging
import os

from tqdm import tqdm

from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.data.audio_clips import audio_info
from speechbrain_galr.data.corpus import data_root_path, write_mixtures_csv

logger = logging.getLogger(__name__)

MIXTURE_TYPES = ("mix_clean", "mix_both")
"""Clean mixtures, and mixtures with WHAM! noise."""

LIBRIMIX_SPLITS = ("train-360", "train-100", "dev", "test")
"""The splits of LibriMix."""


def librimix_subset_folder(data_folder, sample_rate=8000, mode="min"):
    """The folder holding the splits and ``metadata`` of a LibriMix corpus.

    Accepts the ``Libri2Mix`` folder (holding ``wav8k/min``) or the
    ``wav8k/min`` folder itself.

    Example
    -------
    >>> librimix_subset_folder("/data/Libri2Mix")
    '/data/Libri2Mix/wav8k/min'
    """
    nested = os.path.join(data_folder, f"wav{sample_rate // 1000}k", mode)
    if os.path.isdir(nested) or not any(
        os.path.isdir(os.path.join(data_folder, sub))
        for sub in ("metadata",) + LIBRIMIX_SPLITS
    ):
        return nested
    return data_folder


def prepare_librimix(
    data_folder,
    save_folder,
    num_spks=2,
    train_sets=("train-360",),
    valid_set="dev",
    test_set="test",
    mixture_type="mix_clean",
    sample_rate=8000,
    mode="min",
    skip_prep=False,
):
    """Writes the train, valid and test CSVs of a LibriMix corpus.

    Arguments
    ---------
    data_folder : str
        The ``Libri2Mix`` (or ``Libri3Mix``) folder, or its ``wav8k/min``.
    save_folder : str
        Where the CSVs go.
    num_spks : int
        2 for Libri2Mix, 3 for Libri3Mix.
    train_sets : list of str
        Training splits, concatenated: ``train-360`` and/or ``train-100``.
    valid_set : str
        Validation split (``dev``).
    test_set : str
        Test split (``test``).
    mixture_type : str
        ``mix_clean`` (default) or ``mix_both`` (speech plus noise; the
        sources stay the clean speech, ``noise_wav`` is added).
    sample_rate : int
        Expected sample rate (8000 for ``wav8k``).
    mode : str
        ``min`` or ``max``.
    skip_prep : bool
        Do nothing (the CSVs are already there).

    Returns
    -------
    dict
        ``train``, ``valid``, ``test`` to CSV paths.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     prepare_librimix(tmp + "/Libri2Mix", tmp)
    Traceback (most recent call last):
     ...
    FileNotFoundError: LibriMix layout not found: missing folder ...
    """
    if mixture_type not in MIXTURE_TYPES:
        raise ValueError(
            f"mixture_type must be one of {MIXTURE_TYPES}, got {mixture_type}"
        )
    if isinstance(train_sets, str):
        train_sets = [train_sets]
    prefix = f"libri{num_spks}mix_{mixture_type}"
    csv_paths = {
        stage: os.path.join(save_folder, f"{prefix}_{stage}.csv")
        for stage in ("train", "valid", "test")
    }
    if skip_prep:
        return csv_paths
    root = librimix_subset_folder(data_folder, sample_rate, mode)
    splits = {"train": list(train_sets), "valid": [valid_set]}
    splits["test"] = [test_set]
    subfolders = [mixture_type] + [f"s{i + 1}" for i in range(num_spks)]
    if mixture_type == "mix_both":
        subfolders.append("noise")
    for split in sorted({s for names in splits.values() for s in names}):
        _check_split_folders(root, split, subfolders, num_spks, data_folder)
    options = {
        "root": os.path.abspath(root),
        "num_spks": num_spks,
        "splits": splits,
        "mixture_type": mixture_type,
        "sample_rate": sample_rate,
    }
    options_path = os.path.join(save_folder, f"{prefix}_prepare.json")
    if _already_prepared(options_path, options, csv_paths.values()):
        logger.info("LibriMix CSVs already prepared, skipping")
        return csv_paths
    os.makedirs(save_folder, exist_ok=True)
    for stage, names in splits.items():
        rows = []
        for split in names:
            rows += _split_rows(
                root, split, subfolders, num_spks, sample_rate, data_folder
            )
        write_mixtures_csv(csv_paths[stage], rows)
    write_text_atomic(options_path, json.dumps(options))
    return csv_paths


def _already_prepared(options_path, options, csv_paths):
    """Whether the CSVs exist and were made with the same options."""
    if not os.path.isfile(options_path):
        return False
    if not all(os.path.isfile(path) for path in csv_paths):
        return False
    with open(options_path) as fin:
        return json.load(fin) == options


def _check_split_folders(root, split, subfolders, num_spks, data_folder):
    """Raises an error naming the first missing folder of a split."""
    for sub in subfolders:
        folder = os.path.join(root, split, sub)
        if not os.path.isdir(folder):
            hint = ""
            if sub == "mix_both" and os.path.isdir(
                os.path.join(root, split, "mix_clean")
            ):
                hint = " (only mix_clean was generated: use mix_clean)"
            raise FileNotFoundError(
                f"LibriMix layout not found: missing folder {folder}{hint} "
                f"(expected {root}/<split>/"
                f"{{{','.join(subfolders)}}} for {num_spks} speakers)"
            )
    extra = os.path.join(root, split, f"s{num_spks + 1}")
    if os.path.isdir(extra):
        raise ValueError(
            f"{extra} exists: this is a Libri{num_spks + 1}Mix corpus, "
            f"not Libri{num_spks}Mix (set num_spks: {num_spks + 1})"
        )


def _read_metadata(root, split, mixture_type, num_spks):
    """Mixture IDs and lengths from the metadata CSV, or None if absent."""
    path = os.path.join(root, "metadata", f"mixture_{split}_{mixture_type}.csv")
    if not os.path.isfile(path):
        logger.warning(f"{path} not found: listing the mixture folder instead")
        return None
    with open(path, newline="") as fin:
        reader = csv.DictReader(fin)
        columns = reader.fieldnames or []
        wanted = ["mixture_ID"] + [
            f"source_{i + 1}_path" for i in range(num_spks)
        ]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise ValueError(f"{path} has no column(s) {missing}: {columns}")
        if f"source_{num_spks + 1}_path" in columns:
            raise ValueError(
                f"{path} lists {num_spks + 1} sources per mixture; "
                f"num_spks is {num_spks}"
            )
        rows = [(row["mixture_ID"], row.get("length")) for row in reader]
    if not rows:
        raise ValueError(f"{path} lists no mixtures")
    return rows


def _split_rows(root, split, subfolders, num_spks, sample_rate, data_folder):
    """The CSV rows of one split, every file checked; the paths start with
    ``$data_root``, the ``data_folder``."""
    mixture_type = subfolders[0]
    entries = _read_metadata(root, split, mixture_type, num_spks)
    if entries is None:
        folder = os.path.join(root, split, mixture_type)
        names = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))
        if not names:
            raise FileNotFoundError(f"no .wav mixtures in {folder}")
        entries = [(os.path.splitext(name)[0], None) for name in names]
    missing = [
        os.path.join(root, split, sub, f"{mix_id}.wav")
        for mix_id, _ in entries
        for sub in subfolders
        if not os.path.isfile(os.path.join(root, split, sub, f"{mix_id}.wav"))
    ]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} file(s) of the {len(entries)} mixtures of "
            f"{os.path.join(root, split)} are missing, e.g. {missing[:3]}"
        )
    first = os.path.join(root, split, mixture_type, f"{entries[0][0]}.wav")
    _, rate, channels = audio_info(first)
    if rate != sample_rate or channels != 1:
        raise ValueError(
            f"{first} is {rate} Hz with {channels} channel(s); expected "
            f"{sample_rate} Hz mono (wav{sample_rate // 1000}k)"
        )
    rows = []
    for mix_id, length in tqdm(entries, desc=f"LibriMix {split}", leave=False):
        paths = {
            sub: os.path.join(root, split, sub, f"{mix_id}.wav")
            for sub in subfolders
        }
        if length in (None, ""):
            length = audio_info(paths[mixture_type])[0]
        row = {
            "ID": f"{split}_{mix_id}",
            "duration": int(float(length)) / sample_rate,
            "mix_wav": data_root_path(paths[mixture_type], data_folder),
        }
        for sub in subfolders[1:]:
            row[f"{sub}_wav"] = data_root_path(paths[sub], data_folder)
        rows.append(row)
    return rows
