"""Data for separation recipes: wsj0-mix CSVs and speaker corpora.

* :func:`prepare_wsj0mix` turns the standard wsj0-mix layout
  (``wav8k/min/{tr,cv,tt}/{mix,s1,s2[,s3]}``) into SpeechBrain CSVs;
  :func:`write_mixtures_csv` writes such mixture lists.
* :class:`SpeakerCorpus` indexes a speaker-organised folder
  (``<speaker>/<file>``, e.g. WSJ0 ``si_tr_s``) and reads crops;
  :func:`split_speakers` splits its speakers between training, validation
  and test; :func:`draw_speaker_crops` draws crops of different speakers.

Mixing them is :mod:`speechbrain_galr.data.mixing` (fixed corpora) and
:mod:`speechbrain_galr.data.dynamic_mixing` (on the fly).

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import json
import logging
import os

import numpy as np
import soundfile as sf  # noqa: F401 (the doctests write files)
from tqdm import tqdm

from speechbrain_galr.atomic_files import atomic_write, write_text_atomic
from speechbrain_galr.audio import AUDIO_EXTENSIONS, audio_info, read_audio
from speechbrain_galr.data.audio_clips import split_names

logger = logging.getLogger(__name__)

SPLITS = ("tr", "cv", "tt")
"""wsj0-mix subset folders: training, validation, test."""


def wsj0mix_subset_folder(data_folder, sample_rate=8000, version="min"):
    """The folder holding ``tr``, ``cv`` and ``tt`` for a wsj0-mix corpus.

    Accepts the ``<N>speakers`` folder (holding ``wav8k/min``) or the
    ``wav8k/min`` folder itself.

    Example
    -------
    >>> wsj0mix_subset_folder("/data/2speakers")
    '/data/2speakers/wav8k/min'
    """
    nested = os.path.join(data_folder, f"wav{sample_rate // 1000}k", version)
    if os.path.isdir(nested) or not all(
        os.path.isdir(os.path.join(data_folder, split)) for split in SPLITS
    ):
        return nested
    return data_folder


def _audio_files(folder):
    """Sorted audio file names of a folder."""
    return sorted(
        f for f in os.listdir(folder) if f.lower().endswith(AUDIO_EXTENSIONS)
    )


def _audio_files_below(folder):
    """Sorted paths, relative to ``folder``, of the audio files at any depth
    below it (LibriSpeech's ``<speaker>/<chapter>/<file>`` too)."""
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder, followlinks=True)
        for name in names
        if name.lower().endswith(AUDIO_EXTENSIONS)
    )


def prepare_wsj0mix(
    data_folder,
    save_folder,
    num_spks=2,
    sample_rate=8000,
    version="min",
    skip_prep=False,
    splits=SPLITS,
):
    """Writes ``wsj_tr.csv``, ``wsj_cv.csv`` and ``wsj_tt.csv`` for wsj0-mix.

    Each row is one mixture: ``ID, duration, mix_wav, s1_wav, s2_wav
    [, s3_wav]`` (duration in seconds), the columns of SpeechBrain's WSJ0Mix
    recipes; the paths start with ``$data_root`` (:func:`data_root_path`),
    which the recipes replace with ``data_folder``.  The layout is checked
    first and an error names what is missing (a folder, the sources of some
    mixtures) or wrong (sample rate).  Nothing is redone when the CSVs exist
    for the same options.

    Arguments
    ---------
    data_folder : str
        The ``<N>speakers`` folder of wsj0-mix (or its ``wav8k/min``).
    save_folder : str
        Where the CSV files go.
    num_spks : int
        2 for wsj0-2mix, 3 for wsj0-3mix.
    sample_rate : int
        Expected sample rate (8000 for ``wav8k``).
    version : str
        ``min`` or ``max``.
    skip_prep : bool
        Do nothing (the CSVs are already there).
    splits : tuple of str
        Subsets to prepare (``tr`` can be left out with dynamic mixing).

    Returns
    -------
    dict
        Split name (``tr``, ``cv``, ``tt``) to CSV path.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     prepare_wsj0mix(tmp + "/nowhere", tmp)
    Traceback (most recent call last):
     ...
    FileNotFoundError: wsj0-mix layout not found: missing folder ...tr/mix ...
    """
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown wsj0-mix subsets {unknown}, use {SPLITS}")
    csv_paths = {
        split: os.path.join(save_folder, f"wsj_{split}.csv") for split in splits
    }
    if skip_prep:
        return csv_paths
    root = wsj0mix_subset_folder(data_folder, sample_rate, version)
    subfolders = ["mix"] + [f"s{i + 1}" for i in range(num_spks)]
    for split in splits:
        for sub in subfolders:
            folder = os.path.join(root, split, sub)
            if not os.path.isdir(folder):
                raise FileNotFoundError(
                    f"wsj0-mix layout not found: missing folder {folder} "
                    f"(expected {data_folder}/wav{sample_rate // 1000}k/"
                    f"{version}/{{tr,cv,tt}}/{{{','.join(subfolders)}}} "
                    f"for {num_spks} speakers)"
                )
        extra = os.path.join(root, split, f"s{num_spks + 1}")
        if os.path.isdir(extra):
            raise ValueError(
                f"{os.path.join(root, split)} holds more sources than "
                f"num_spks={num_spks} ({extra} exists): give --num_spks "
                "to match the corpus"
            )
    options = {
        "root": os.path.abspath(root),
        "num_spks": num_spks,
        "sample_rate": sample_rate,
        "splits": list(splits),
    }
    opts_path = os.path.join(save_folder, "wsj_prepare.json")
    if all(os.path.isfile(p) for p in csv_paths.values()) and os.path.isfile(
        opts_path
    ):
        with open(opts_path) as f:
            if json.load(f) == options:
                logger.info("wsj0-mix CSVs already prepared, skipping")
                return csv_paths
    os.makedirs(save_folder, exist_ok=True)
    for split in splits:
        _write_split_csv(
            root, split, subfolders, sample_rate, csv_paths[split], data_folder
        )
    write_text_atomic(opts_path, json.dumps(options))
    return csv_paths


def data_root_path(path, data_folder):
    """``path`` as a prepared CSV stores it: ``$data_root/<path relative to
    data_folder>`` (SpeechBrain's ``replacements={"data_root":
    data_folder}`` restores it), so that the corpus can move.

    Example
    -------
    >>> data_root_path("/data/2speakers/wav8k/min/tt/mix/a.wav",
    ...                "/data/2speakers")
    '$data_root/wav8k/min/tt/mix/a.wav'
    """
    relative = os.path.relpath(
        os.path.abspath(path), os.path.abspath(data_folder)
    )
    return "$data_root/" + relative.replace(os.sep, "/")


def _write_split_csv(
    root, split, subfolders, sample_rate, csv_path, data_folder
):
    """One CSV of :func:`prepare_wsj0mix`, checking every mixture."""
    mix_folder = os.path.join(root, split, "mix")
    names = _audio_files(mix_folder)
    if not names:
        raise FileNotFoundError(f"no .wav/.flac mixtures in {mix_folder}")
    for sub in subfolders[1:]:
        folder = os.path.join(root, split, sub)
        missing = sorted(set(names) - set(_audio_files(folder)))
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} mixture(s) of {mix_folder} have no source "
                f"in {folder}, e.g. {missing[:3]}"
            )
    rows = []
    for name in tqdm(names, desc=f"wsj0-mix {split}", leave=False):
        paths = [os.path.join(root, split, sub, name) for sub in subfolders]
        infos = [audio_info(p) for p in paths]
        for path, info in zip(paths, infos):
            if info.sample_rate != sample_rate:
                raise ValueError(
                    f"{path} has sample rate {info.sample_rate} Hz, expected "
                    f"{sample_rate} Hz"
                )
        row = {
            "ID": os.path.splitext(name)[0],
            "duration": infos[0].frames / sample_rate,
            "mix_wav": data_root_path(paths[0], data_folder),
        }
        for sub, path in zip(subfolders[1:], paths[1:]):
            row[f"{sub}_wav"] = data_root_path(path, data_folder)
        rows.append(row)
    write_mixtures_csv(csv_path, rows)


def write_mixtures_csv(path, rows):
    """Writes ``rows`` (dicts, one per mixture; the columns are the keys of
    the first) to the CSV ``path`` atomically and logs how many there are.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "m.csv")
    >>> write_mixtures_csv(path, [{"ID": "a", "duration": 1.5}])
    >>> open(path).read().split()
    ['ID,duration', 'a,1.5']
    """
    if not rows:
        raise ValueError(f"no mixtures to write to {path}")
    with atomic_write(path, newline="") as fout:
        writer = csv.DictWriter(fout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    logger.info(f"{path}: {len(rows)} mixtures")


def _speaker_sort_key(name):
    """Numeric ids in numeric order (``19 < 103``), before other names."""
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def list_speakers(folder):
    """Speaker folder names of a ``<speaker>/<file>`` folder, sorted (numeric
    ids by value)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"speaker folder not found: {folder}")
    speakers = sorted(
        (
            d
            for d in os.listdir(folder)
            if os.path.isdir(os.path.join(folder, d))
        ),
        key=_speaker_sort_key,
    )
    if not speakers:
        raise FileNotFoundError(
            f"no speaker sub-folders in {folder} (expected <speaker>/<file>)"
        )
    return speakers


def split_speakers(folder, num_valid, num_test):
    """Splits the sorted speakers of ``folder``: first for training, then
    ``num_valid`` for validation and the last ``num_test`` for test (each
    a count, or a fraction in (0, 1) of the speakers).

    Returns
    -------
    dict
        ``tr``, ``cv``, ``tt`` to lists of speaker names.
    """
    speakers = list_speakers(folder)
    try:
        return split_names(speakers, num_valid, num_test, 2, _speaker_sort_key)
    except ValueError as err:
        raise ValueError(f"speakers of {folder}: {err}") from None


def read_speaker_list(path):
    """Speaker names of a text file, one per line."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"speaker list not found: {path}")
    with open(path) as f:
        speakers = [line.strip() for line in f if line.strip()]
    if not speakers:
        raise ValueError(f"speaker list {path} is empty")
    return speakers


class SpeakerCorpus:
    """The utterances of a speaker-organised folder (``<speaker>/<file>``,
    or LibriSpeech's ``<speaker>/<chapter>/<file>``).

    Reads whole files or crops of them, at ``sample_rate`` (files at another
    rate are resampled).  Only the file headers are read at construction.

    Arguments
    ---------
    folder : str
        Folder with one sub-folder of ``.wav``/``.flac`` files per speaker
        (the files may sit in sub-folders of it, e.g. chapters).
    speakers : list of str, str or None
        Speakers to use (e.g. the training split), or a text file listing
        them one per line (as :func:`create_mixtures` writes); None for all.
    sample_rate : int
        Rate of the returned signals.
    min_seconds : float
        Utterances shorter than this are left out.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for spk in ("a", "b"):
    ...         os.makedirs(f"{tmp}/{spk}")
    ...         sf.write(f"{tmp}/{spk}/1.wav", np.ones(800) * 0.1, 8000)
    ...     corpus = SpeakerCorpus(tmp)
    ...     corpus.speakers, corpus.read(0, 0, start=100, length=50).shape
    (['a', 'b'], (50,))
    """

    def __init__(self, folder, speakers=None, sample_rate=8000, min_seconds=0):
        self.folder = folder
        self.sample_rate = sample_rate
        all_speakers = list_speakers(folder)
        if isinstance(speakers, str):
            speakers = read_speaker_list(speakers)
        if speakers is None:
            speakers = all_speakers
        unknown = sorted(set(speakers) - set(all_speakers))
        if unknown:
            raise ValueError(f"speakers {unknown[:5]} not found in {folder}")
        self.speakers = []
        self.files = []  # per speaker: list of (path, AudioInfo)
        for spk in speakers:
            spk_dir = os.path.join(folder, spk)
            utts = []
            for name in _audio_files_below(spk_dir):
                path = os.path.join(spk_dir, name)
                info = audio_info(path)
                if info.frames / info.sample_rate >= min_seconds:
                    utts.append((path, info))
            if utts:
                self.speakers.append(spk)
                self.files.append(utts)
        if len(self.speakers) < 2:
            raise ValueError(
                f"{folder} has {len(self.speakers)} speaker(s) with audio "
                "files; mixing needs at least 2"
            )

    @classmethod
    def of(cls, source, speakers=None, sample_rate=8000):
        """``source`` itself if it is a corpus, else the corpus of that
        folder (for classes that take either)."""
        if isinstance(source, cls):
            return source
        return cls(source, speakers, sample_rate)

    def num_samples(self, spk_index, utt_index):
        """Length of an utterance in samples at ``sample_rate``."""
        info = self.files[spk_index][utt_index][1]
        return int(info.frames * self.sample_rate // info.sample_rate)

    def read(self, spk_index, utt_index, start=0, length=None):
        """Reads ``length`` samples (at ``sample_rate``) from ``start``
        (:func:`speechbrain_galr.audio.read_audio`: channels averaged).

        Returns
        -------
        numpy.ndarray
            float32 ``[length]`` (fewer if the file ends first).
        """
        path, info = self.files[spk_index][utt_index]
        return read_audio(path, self.sample_rate, start, length, info).numpy()


def draw_speaker_crops(corpus, rng, num_spks, length, max_length=None):
    """Crops of ``num_spks`` different random speakers' utterances.

    ``length`` None: the shortest utterance's length (wsj0-mix "min"), at
    most ``max_length``.  Every source is cropped at a random place, or
    zero-padded at a random place when shorter.

    Returns
    -------
    sources : numpy.ndarray
        ``[C, T]`` float32.
    names : list of str
        The utterances' file names (without extension).
    """
    spks = rng.choice(len(corpus.speakers), num_spks, replace=False)
    utts = [int(rng.integers(len(corpus.files[s]))) for s in spks]
    sizes = [corpus.num_samples(s, u) for s, u in zip(spks, utts)]
    if length is None:
        length = min(sizes)
        if max_length is not None:
            length = min(length, int(max_length))
    sources = np.zeros((num_spks, length), dtype=np.float32)
    for i, (spk, utt, size) in enumerate(zip(spks, utts, sizes)):
        if size >= length:
            start = int(rng.integers(size - length + 1))
            crop = corpus.read(spk, utt, start, length)
            sources[i, : len(crop)] = crop
        else:
            offset = int(rng.integers(length - size + 1))
            audio = corpus.read(spk, utt)
            sources[i, offset : offset + len(audio)] = audio
        if not np.any(sources[i]):
            # a silent crop cannot be normalised; take the loudest part
            audio = corpus.read(spk, utt)
            sources[i, : min(length, len(audio))] = audio[:length]
    names = [
        os.path.splitext(os.path.basename(corpus.files[s][u][0]))[0]
        for s, u in zip(spks, utts)
    ]
    return sources, names
