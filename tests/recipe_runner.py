"""Runs the recipes as users run them (subprocesses), on tiny generated data.

``tests/recipes/<Dataset>.csv`` lists the recipes in SpeechBrain's format
(``tests/recipes/*.csv`` of SpeechBrain 1.x): one row per hparams file,
with the flags of a ``--debug`` run (``test_debug_flags``) and the files it
must write (``test_debug_checks``, ``file_exists=[...]``).  As SpeechBrain's
``tests/utils/recipe_tests.py`` does, :func:`run_recipe_row` runs
``python <Script_file> <Hparam_file> <test_debug_flags> --device=cpu
--output_folder=<out> --debug --debug_persistently``; here from a folder
where :func:`make_samples` wrote the small corpora that the flags name
(``samples/...``), so that the rows need no downloaded data.
"""

import csv
import hashlib
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE_CSV_FOLDER = os.path.join(ROOT, "tests", "recipes")
RECIPE_COLUMNS = [
    "Task",
    "Dataset",
    "Script_file",
    "Hparam_file",
    "Data_prep_file",
    "Readme_file",
    "Result_url",
    "HF_repo",
    "test_debug_flags",
    "test_debug_checks",
    "performance",
]
"""Columns of the recipe CSVs (those of SpeechBrain's)."""


def read_recipe_rows(dataset):
    """``{recipe_id: row}`` of ``tests/recipes/<dataset>.csv``; the ids are
    SpeechBrain's (``<Dataset>_row_<line>``)."""
    path = os.path.join(RECIPE_CSV_FOLDER, f"{dataset}.csv")
    with open(path, newline="", encoding="utf-8") as fin:
        reader = csv.DictReader(fin, skipinitialspace=True)
        assert reader.fieldnames == RECIPE_COLUMNS, reader.fieldnames
        rows = list(reader)
    return {
        f"{dataset}_row_{index + 2:02d}": row for index, row in enumerate(rows)
    }


def expected_files(row):
    """The ``file_exists=[...]`` list of a row's ``test_debug_checks``."""
    match = re.search(r"file_exists=\[(.*?)\]", row["test_debug_checks"])
    return match.group(1).split(",") if match else []


def run_recipe_row(row, samples_parent, output_folder, *extra, timeout=180):
    """Runs one recipe row in debug mode, as SpeechBrain's recipe tests do.

    Arguments
    ---------
    row : dict
        A row of :func:`read_recipe_rows`.
    samples_parent : str
        The folder holding ``samples/`` (:func:`make_samples`); the command
        runs there.
    output_folder : str
        The run's ``--output_folder``.
    *extra : str
        More command-line arguments.
    timeout : float
        Seconds.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text.
    """
    command = [
        sys.executable,
        os.path.join(ROOT, row["Script_file"].strip()),
        os.path.join(ROOT, row["Hparam_file"].strip()),
        *shlex.split(row["test_debug_flags"]),
        "--device=cpu",
        f"--output_folder={output_folder}",
        "--debug",
        "--debug_persistently",
        *extra,
    ]
    return subprocess.run(
        command,
        cwd=samples_parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_train(recipe_dir, args, timeout=120, expect_success=True):
    """``python train.py ARGS`` in ``recipe_dir``; fails the test with the
    end of its output when it does not exit as expected."""
    result = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=recipe_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if expect_success:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


# ----------------------------------------------------------------------
# tiny corpora
def write_noise(folder, num_files=3, seconds=1.5, seed=0):
    """Coloured noise recordings, stereo at 16 kHz."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for index in range(num_files):
        white = rng.standard_normal((int(seconds * 16000), 2))
        coloured = np.cumsum(white, axis=0) * 0.01 + white * 0.05
        coloured -= coloured.mean(axis=0)
        coloured *= 0.3 / np.abs(coloured).max()
        sf.write(os.path.join(folder, f"noise{index}.wav"), coloured, 16000)


def write_music(folder, num_tracks=5, seconds=3.0, seed=0):
    """Synthetic "music": chords of harmonic notes changing every 0.25 s,
    stereo, at 44.1 kHz or 16 kHz (the corpus resamples to 8 kHz)."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for index in range(num_tracks):
        rate = 44100 if index % 2 else 16000
        num = int(seconds * rate)
        t = np.arange(num) / rate
        signal = np.zeros(num)
        for start in range(0, num, rate // 4):
            stop = min(num, start + rate // 4)
            for _ in range(3):
                f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
                for k in range(1, 4):
                    signal[start:stop] += np.sin(
                        2 * np.pi * k * f0 * t[start:stop]
                    ) / (3 * k)
        signal = 0.3 * signal / np.abs(signal).max()
        stereo = np.stack([signal, 0.8 * signal], axis=1)
        sf.write(os.path.join(folder, f"track{index}.flac"), stereo, rate)


def make_samples(parent):
    """Writes the corpora that the recipe rows' flags name, under
    ``<parent>/samples``: ``wsj0mix/{2,3}speakers`` (and the speakers
    ``wsj0mix/speakers``), ``librimix/Libri2Mix`` (clean and noisy),
    ``noise``, ``music`` and ``wsj0music``; six training, two validation
    and two test mixtures each, of at most one second."""
    sys.path.insert(0, os.path.join(ROOT, "recipes", "LibriMix", "separation"))
    sys.path.insert(0, os.path.join(ROOT, "recipes", "WSJ0Music", "separation"))
    from create_wsj0music import create_wsj0music
    from simulate_librimix import simulate_librimix

    from speechbrain_galr.data.demo_corpus import make_demo_corpus

    samples = os.path.join(parent, "samples")
    for num_spks in (2, 3):
        make_demo_corpus(
            os.path.join(samples, "wsj0mix"),
            num_spks=num_spks,
            num_speakers=10,
            utterances_per_speaker=2,
            num_mixtures=(6, 2, 2),
            num_valid_speakers=3,
            num_test_speakers=3,
            max_seconds=1.0,
        )
    speakers = os.path.join(samples, "wsj0mix", "speakers")
    write_noise(os.path.join(samples, "noise"))
    write_music(os.path.join(samples, "music"))
    simulate_librimix(
        speakers,
        os.path.join(samples, "librimix"),
        {"train-100": 6, "dev": 2, "test": 2},
        noise_folder=os.path.join(samples, "noise"),
        max_seconds=1.0,
        valid_speakers=2,
        test_speakers=2,
    )
    create_wsj0music(
        speakers,
        os.path.join(samples, "music"),
        os.path.join(samples, "wsj0music"),
        {"tr": 6, "cv": 2, "tt": 2},
        max_seconds=1.0,
        valid_speakers=2,
        test_speakers=2,
        valid_tracks=1,
        test_tracks=1,
    )
    return samples


_SAMPLES = {}


def shared_samples(tmp_path_factory):
    """The folder holding ``samples/`` (:func:`make_samples`), made once per
    test session for every test module that asks."""
    if "parent" not in _SAMPLES:
        parent = str(tmp_path_factory.mktemp("recipe_samples"))
        make_samples(parent)
        _SAMPLES["parent"] = parent
    return _SAMPLES["parent"]


def run_debug_row(row, samples_parent, output_folder):
    """Runs a row (:func:`run_recipe_row`) and checks that it succeeded and
    wrote the files of its ``file_exists`` list; returns
    ``output_folder``."""
    proc = run_recipe_row(row, samples_parent, output_folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    missing = [
        name
        for name in expected_files(row)
        if not os.path.exists(os.path.join(output_folder, name))
    ]
    assert not missing, missing
    return output_folder


def tree_digest(folder):
    """{relative path: sha256} of every file below ``folder``."""
    digests = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fin:
                digest = hashlib.sha256(fin.read()).hexdigest()
            digests[os.path.relpath(path, folder)] = digest
    return digests
