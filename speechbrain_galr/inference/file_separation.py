"""Separating an audio file of any length into one WAV per source.

The file is read block by block, resampled to the model's rate, separated
in chunks (:class:`~speechbrain_galr.inference.chunked.ChunkedSeparator`),
resampled back to the file's rate and written as raw float samples to a
hidden work folder inside the output folder; a second pass scales the
sources (:mod:`speechbrain_galr.inference.output_scale`: each to a peak of
-0.1 dBFS by default, as SpeechBrain's ``separate_file``; or all at the
mixture's scale) and writes ``<name>_source<i>.wav`` (16-bit PCM) and,
if asked, the figure ``<name>_sources.png``, still in the work folder.
Memory does not grow with the file's length.

What is on disk, whatever happens
(:mod:`speechbrain_galr.inference.output_set`):

* existing outputs are not replaced unless asked (``overwrite=True``,
  ``--overwrite``): a run that would write ``<name>_source<i>.wav`` or
  ``<name>_sources.png`` where one exists (an earlier run, or another input
  with the same name, ``mix.wav`` then ``mix.ogg``) stops before separating,
  and a run that finds one when it ends (another run's) stops too;
* one run at a time writes the outputs of a name in a folder (a lock file
  ``.galr-lock-<name>``, removed at the end);
* the outputs are put in place as one set once all are complete, so a
  failure (a full disk) leaves the earlier run's set complete; with
  ``overwrite`` the earlier run's outputs that this run does not write
  are removed (and logged);
* each output appears by an atomic rename once complete, so a kill at any
  moment leaves complete files (only a kill during the last renames can
  leave some old and some new);
* the work folder (``.galr-work-<pid>-*``) is removed when the run ends,
  also on an error, Ctrl-C or SIGTERM (the command line turns SIGTERM into
  an exception); one left by a run killed with SIGKILL is removed by the
  next run into the same folder once its process is gone.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import os
import shutil

import soundfile as sf
import torch

from speechbrain_galr.atomic_files import make_temp_folder
from speechbrain_galr.audio import (
    StreamResampler,
    open_audio,
    read_blocks,
    sound_write_problem,
)
from speechbrain_galr.inference.chunked import ChunkedSeparator, shows_progress
from speechbrain_galr.inference.output_scale import check_scale, source_gains
from speechbrain_galr.inference.output_set import (  # noqa: F401 (API)
    check_outputs,
    existing_outputs,
    output_lock,
    output_names,
    replace_outputs,
)

WORK_PREFIX = ".galr-work-"
"""Name prefix of the hidden work folders (followed by the process id)."""


def input_name(path):
    """The name the outputs of an input file are called by (its stem).

    Example
    -------
    >>> input_name("/data/meeting.flac")
    'meeting'
    """
    return os.path.splitext(os.path.basename(str(path)))[0]


class OutputSet:
    """The outputs of one input in one folder, checked once, when made
    (:func:`check_outputs`): the command line makes it before loading the
    model, so that a run that would replace outputs stops at once.

    Arguments
    ---------
    out_dir : str
        The output folder (created when the outputs are written).
    name : str
        The input's name (:func:`input_name`).
    overwrite : bool
        Whether outputs of an earlier run may be replaced.
    plot : bool
        Whether the figure ``<name>_sources.png`` is one of the outputs.

    Example
    -------
    >>> outputs = OutputSet(getfixture("tmp_path") / "out", "mix")
    >>> outputs.name
    'mix'
    """

    def __init__(self, out_dir, name, overwrite=False, plot=False):
        self.out_dir = os.fspath(out_dir)
        self.name = name
        self.overwrite = overwrite
        self.plot = plot
        check_outputs(self.out_dir, name, overwrite)


@contextlib.contextmanager
def work_folder(out_dir):
    """A hidden work folder in ``out_dir``, removed when the block ends."""
    os.makedirs(out_dir, exist_ok=True)
    path = make_temp_folder(out_dir, WORK_PREFIX)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _errors_name(out_dir):
    """Turns write errors into one naming ``out_dir``, not a temp file."""
    try:
        yield
    except sf.LibsndfileError as err:
        raise OSError(
            f"cannot write the separated sources to {out_dir}: "
            f"{sound_write_problem(err)}"
        ) from err
    except OSError as err:
        if err.filename is None or WORK_PREFIX not in str(err.filename):
            raise
        raise OSError(
            f"cannot write the separated sources to {out_dir}: {err.strerror}"
        ) from err


class _RawSources:
    """Raw float samples of each source, written to the work folder,
    with their running peaks."""

    def __init__(self, folder, rate):
        self.folder, self.rate = folder, rate
        self.files, self.peaks = [], None

    def write(self, est):
        """Appends ``[n, C]`` samples."""
        if est.shape[0] == 0:
            return
        if not self.files:
            for i in range(est.shape[1]):
                path = os.path.join(self.folder, f"raw{i}.wav")
                self.files.append(
                    sf.SoundFile(path, "w", self.rate, 1, "FLOAT")
                )
            self.peaks = torch.zeros(est.shape[1])
        self.peaks = torch.maximum(self.peaks, est.abs().amax(dim=0))
        for i, out in enumerate(self.files):
            out.write(est[:, i].numpy())

    def close(self):
        for out in self.files:
            out.close()

    def stage(self, name, block, gains):
        """Writes the scaled 16-bit wavs into the work folder; returns
        {final file name: staged path}."""
        self.close()
        staged = {}
        names = output_names(name, len(self.files))
        for i, gain in enumerate(gains):
            staged[names[i]] = os.path.join(self.folder, names[i])
            raw = os.path.join(self.folder, f"raw{i}.wav")
            with (
                sf.SoundFile(raw) as fin,
                sf.SoundFile(
                    staged[names[i]], "w", self.rate, 1, "PCM_16", format="WAV"
                ) as fout,
            ):
                for samples in fin.blocks(block, dtype="float32"):
                    fout.write(samples * gain)
        return staged


def _publish(raw, outputs, block, scale, fit, work):
    """Stages the outputs of ``raw`` (and the figure) in the work folder,
    then puts them in place as one set; returns their paths."""
    peaks = raw.peaks if raw.peaks is not None else torch.zeros(0)
    gains = source_gains(peaks, scale, fit, outputs.name)
    staged = raw.stage(outputs.name, block, gains)
    if outputs.plot:
        from speechbrain_galr.inference.source_figure import plot_sources

        png = f"{outputs.name}_sources.png"
        plot_sources(list(staged.values()), os.path.join(work, png))
        staged[png] = os.path.join(work, png)
    old = os.path.join(work, "earlier-run")
    os.mkdir(old)
    return replace_outputs(
        outputs.out_dir, outputs.name, staged, old, outputs.overwrite
    )


def separate_file_to_folder(
    separate_fn,
    model_rate,
    path,
    outputs,
    chunk_size,
    overlap,
    device="cpu",
    progress=None,
    block_seconds=30.0,
    scale="peak",
):
    """Separates an audio file of any length into one wav per source.

    Arguments
    ---------
    separate_fn : callable
        ``[B, T]`` mixtures at ``model_rate`` -> ``[B, T, C]`` sources
        (``GALRSeparation.separate_batch``).
    model_rate : int
        The model's sample rate.
    path : str
        Local audio file (any rate and channel count).
    outputs : OutputSet
        Where the outputs go (checked already).
    chunk_size, overlap : int
        Chunk length and overlap in model-rate samples (checked already:
        :class:`~speechbrain_galr.inference.chunked.ChunkSettings`).
    device : str or torch.device
        Where the mixture chunks are sent.
    progress : bool or None
        Progress bar; by default shown from 4 chunks on.
    block_seconds : float
        Seconds of audio read from disk at a time.
    scale : str
        ``"peak"`` (each source to -0.1 dBFS) or ``"mixture"`` (the
        mixture's scale; :mod:`speechbrain_galr.inference.output_scale`).

    Returns
    -------
    list of str
        The written files, one per source the model gives, and the
        figure if ``outputs.plot``.
    """
    out_dir, name = outputs.out_dir, outputs.name
    check_scale(scale)
    fit = None
    if scale == "mixture":
        from speechbrain_galr.inference.mixture_fit import MixtureFit

        fit = MixtureFit()
    os.makedirs(out_dir, exist_ok=True)
    with (
        open_audio(path) as audio,
        output_lock(out_dir, name),
        work_folder(out_dir) as work,
    ):
        rate = audio.samplerate
        total = -(-audio.frames * model_rate // rate)
        to_model = StreamResampler(rate, model_rate)
        if progress is None:
            progress = shows_progress(total, chunk_size, overlap)
        chunked = ChunkedSeparator(
            separate_fn, chunk_size, overlap, total=total, progress=progress
        )
        raw = _RawSources(work, rate)
        # the round trip through the model's rate may add a sample
        remaining = audio.frames
        to_file = None

        def write(est):
            """Resamples ``[n, C]`` output (model rate; None: the end) to
            the file's rate and writes it."""
            nonlocal remaining, to_file
            if est is None:
                est = to_file.flush() if to_file is not None else est
            elif est.shape[0] > 0:
                if to_file is None:
                    channels = est.shape[1]
                    to_file = StreamResampler(model_rate, rate, channels)
                est = to_file.push(est.float().cpu())
            if est is not None:
                raw.write(est[:remaining])
                if fit is not None:
                    fit.push_sources(est[:remaining])
                remaining -= min(remaining, est.shape[0])

        try:
            with _errors_name(out_dir):
                block = max(1, round(block_seconds * rate))
                for samples in read_blocks(audio, block):
                    if fit is not None:
                        fit.push_mixture(samples)
                    # [n, 1] at the model's rate
                    resampled = to_model.push(samples[:, None])
                    write(chunked.push(resampled.T.to(device))[0])
                write(chunked.push(to_model.flush().T.to(device))[0])
                final = chunked.flush()
                if final.shape[1] > 0:
                    write(final[0])
                write(None)
                return _publish(raw, outputs, block, scale, fit, work)
        finally:
            chunked.close()
            raw.close()
