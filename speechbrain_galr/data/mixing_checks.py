"""Checks that a mixture corpus can be made, before anything is written.

:func:`check_mixing_options` refuses option values no corpus can be made
with (``--num_spks 0``, ``--sample_rate 0``, ``--max_seconds 0``: they ended
in tracebacks of NumPy or of the audio reader), :func:`split_corpora`
splits with fewer speakers than a mixture needs, and
:func:`refuse_existing_splits` a second corpus written into the folder of
a first (its mixtures were silently added to the first's).
:func:`run_corpus_command` runs a corpus maker's command line with these
errors, and those of the data (a missing folder), as one ``error:`` line.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import shutil
import sys

from speechbrain_galr.data.corpus import SpeakerCorpus
from speechbrain_galr.errors import GALRError, one_line


class MixingError(GALRError):
    """A corpus that cannot be made from these speakers, options or output
    folder; the command line prints it as one ``error:`` line."""

    exit_code = 1


class MixingOptionError(MixingError):
    """An option value no corpus can be made with (exit status 2)."""

    exit_code = 2


def check_mixing_options(
    num_mixtures, num_spks, sample_rate, max_seconds, separator="_"
):
    """Raises :class:`MixingOptionError` for option values that no corpus
    can be made with, before anything is read or written.

    Arguments
    ---------
    num_mixtures : dict
        Split name to the number of mixtures.
    num_spks, sample_rate, max_seconds
        As :func:`speechbrain_galr.data.mixing.create_mixtures` takes them.
    separator : str
        Between the words of the option names in the messages: ``_``
        (``--num_spks``) or ``-`` (``--sample-rate``, the recipes'
        corpus scripts).

    Example
    -------
    >>> check_mixing_options({"tr": 5}, 2, 8000, None)
    >>> check_mixing_options({"tr": 5}, 2, 8000, 0)
    Traceback (most recent call last):
     ...
    speechbrain_galr.data.mixing_checks.MixingOptionError: --max_seconds \
must be at least one sample (1/8000 s), got 0
    """

    def flag(name):
        return "--" + name.replace("_", separator)

    if isinstance(num_spks, bool) or not isinstance(num_spks, int):
        num_spks = repr(num_spks)  # the message below names it
    if isinstance(num_spks, str) or num_spks < 2:
        raise MixingOptionError(
            f"{flag('num_spks')} must be a whole number >= 2 (sources per "
            f"mixture), got {num_spks}"
        )
    if not isinstance(sample_rate, int) or sample_rate < 1000:
        raise MixingOptionError(
            f"{flag('sample_rate')} must be a whole number of Hz >= 1000, "
            f"got {sample_rate!r}"
        )
    if max_seconds is not None and not max_seconds * sample_rate >= 1:
        raise MixingOptionError(
            f"{flag('max_seconds')} must be at least one sample "
            f"(1/{sample_rate} s), got {max_seconds:g}"
        )
    for split, count in num_mixtures.items():
        if not isinstance(count, int) or count < 0:
            raise MixingOptionError(
                f"the number of {split} mixtures must be >= 0, got {count!r}"
            )


def corpus_root(out_folder, sample_rate):
    """The ``<out_folder>/wav{sr/1000}k/min`` folder of the splits."""
    return os.path.join(out_folder, f"wav{sample_rate // 1000}k", "min")


def split_corpora(speaker_folder, num_mixtures, speakers, num_spks, rate):
    """``{split: SpeakerCorpus}`` of the splits with mixtures to make (file
    headers only); a split with fewer speakers than ``num_spks`` is a
    :class:`MixingError`."""
    corpora = {}
    for split, count in num_mixtures.items():
        if count == 0:
            continue
        names = None if speakers is None else speakers[split]
        try:
            corpus = SpeakerCorpus(speaker_folder, names, rate)
        except ValueError as err:  # fewer than 2 speakers with audio
            raise MixingError(f"{split} split: {one_line(err)}") from err
        if len(corpus.speakers) < num_spks:
            raise MixingError(
                f"the {split} split has {len(corpus.speakers)} speakers with "
                f"audio in {speaker_folder}; --num_spks {num_spks} mixes "
                f"{num_spks} different speakers"
            )
        corpora[split] = corpus
    return corpora


def refuse_existing_splits(out_folder, root, speakers, counts, overwrite):
    """Stops a run that would add mixtures to splits of ``root`` that
    hold some, or write another speaker split into ``out_folder``: two
    corpora in one folder.

    Arguments
    ---------
    out_folder : str
        The corpus root.
    root : str
        Its ``wav8k/min`` folder (:func:`corpus_root`).
    speakers : dict
        Split name to the speakers of the new corpus.
    counts : dict
        Split name to the number of mixtures to make.
    overwrite : bool
        Whether the user asked to replace the splits (then nothing is
        refused).

    Returns
    -------
    list of str
        The splits that hold mixtures and are to be replaced (only with
        ``overwrite``): those to be written, or all of them when the
        speaker split changed; ``create_mixtures(replace_splits=...)``.

    Raises
    ------
    MixingError
        Naming the splits and speaker lists in the way, without
        ``overwrite``.
    """

    def holds_mixtures(split):
        folder = os.path.join(root, split)
        return os.path.isdir(folder) and bool(os.listdir(folder))

    taken = [split for split, count in counts.items() if count]
    taken = [split for split in taken if holds_mixtures(split)]
    changed = []
    for split, names in speakers.items():
        path = os.path.join(out_folder, f"speakers_{split}.txt")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fin:
                if fin.read().splitlines() != list(names):
                    changed.append(path)
    if (taken or changed) and not overwrite:
        what = [f"{root} holds {', '.join(taken)} mixtures"] if taken else []
        if changed:
            names = ", ".join(os.path.basename(path) for path in changed)
            what.append(f"{out_folder} has {names} of another speaker split")
        raise MixingError(
            f"{'; '.join(what)}: give a new output folder, or --overwrite "
            "to replace those splits"
        )
    if changed:  # the splits there were made of other speakers
        return [split for split in speakers if holds_mixtures(split)]
    return taken


def remove_splits(root, splits):
    """Removes the folders of ``splits`` under ``root`` (those that
    :func:`refuse_existing_splits` found, once the user asked)."""
    for split in splits:
        path = os.path.join(root, split)
        if os.path.isdir(path):
            shutil.rmtree(path)


def run_corpus_command(make, *args, **kwargs):
    """Runs ``make(*args, **kwargs)`` for a command line; returns its exit
    status: 0, or 1 (2 for a :class:`MixingOptionError`) after printing
    the error as one ``error:`` line (a missing or empty folder, a bad
    option value, a corpus in the way).

    Example
    -------
    >>> import contextlib
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     run_corpus_command(os.listdir, "no/such/folder")
    error: [Errno 2] No such file or directory: 'no/such/folder'
    1
    """
    try:
        make(*args, **kwargs)
    except (GALRError, ValueError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 1)
    return 0
