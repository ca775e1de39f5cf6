"""Separating an audio file of any length into one WAV per source.

The file is read block by block, resampled to the model's rate, separated
in chunks (:class:`~speechbrain_galr.inference.chunked.ChunkedSeparator`),
resampled
back to the file's rate and written as raw float samples to a hidden work
folder inside the output folder; a second pass scales each source to a peak
of 0.99 and writes ``<name>_source<i>.wav`` (16-bit PCM).  Memory does not
grow with the file's length.

What is on disk, whatever happens:

* existing outputs are not replaced unless asked (``overwrite=True``,
  ``--overwrite``): a run that would write ``<name>_source<i>.wav`` or
  ``<name>_sources.png`` where one exists (an earlier run, or another input
  with the same name, ``mix.wav`` then ``mix.ogg``) stops before separating;
* each output appears by an atomic rename once complete, so a kill at any
  moment leaves the old complete file or the new complete one;
* the work folder (``.galr-work-<pid>-*``) is removed when the run ends,
  also on an error, Ctrl-C or SIGTERM (the command line turns SIGTERM into
  an exception); one left by a run killed with SIGKILL is removed by the
  next run into the same folder once its process is gone.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import glob
import os
import re
import shutil

import soundfile as sf
import torch

from speechbrain_galr.atomic_files import atomic_path, make_temp_folder
from speechbrain_galr.audio import StreamResampler, open_audio, read_blocks
from speechbrain_galr.inference.chunked import ChunkedSeparator, shows_progress

WORK_PREFIX = ".galr-work-"
"""Name prefix of the hidden work folders (followed by the process id)."""


def output_names(name, num_sources):
    """File names of the separated sources of input ``name``.

    Example
    -------
    >>> output_names("mix", 2)
    ['mix_source1.wav', 'mix_source2.wav']
    """
    return [f"{name}_source{i + 1}.wav" for i in range(num_sources)]


def existing_outputs(out_dir, name):
    """The outputs of input ``name`` already in ``out_dir`` (any number of
    sources, and the figure), sorted.

    Example
    -------
    >>> existing_outputs(str(getfixture("tmp_path")), "mix")
    []
    """
    pattern = re.compile(re.escape(name) + r"_source\d+\.wav")
    found = [
        path
        for path in glob.glob(os.path.join(glob.escape(out_dir), "*"))
        if pattern.fullmatch(os.path.basename(path))
    ]
    figure = os.path.join(out_dir, f"{name}_sources.png")
    return sorted(found + ([figure] if os.path.exists(figure) else []))


def check_outputs(out_dir, name, overwrite=False):
    """Raises FileExistsError if outputs of ``name`` would be replaced
    without ``overwrite``, or if ``out_dir`` is not a folder."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f"output folder is a file: {out_dir}")
    found = existing_outputs(out_dir, name) if os.path.isdir(out_dir) else []
    if found and not overwrite:
        raise FileExistsError(
            f"{found[0]} exists ({len(found)} output(s) of {name!r} in "
            f"{out_dir}); pass --overwrite (overwrite=True) to replace them"
        )


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

    Example
    -------
    >>> outputs = OutputSet(getfixture("tmp_path") / "out", "mix")
    >>> outputs.name
    'mix'
    """

    def __init__(self, out_dir, name, overwrite=False):
        self.out_dir = os.fspath(out_dir)
        self.name = name
        self.overwrite = overwrite
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
            f"{err.error_string}"
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

    def publish(self, out_dir, name, block):
        """Writes the peak-normalised 16-bit wavs, each by an atomic
        rename; returns their paths."""
        self.close()
        paths = []
        names = output_names(name, len(self.files))
        for i, peak in enumerate(self.peaks.tolist()):
            gain = 0.99 / peak if peak > 1e-8 else 1.0
            path = os.path.join(out_dir, names[i])
            raw = os.path.join(self.folder, f"raw{i}.wav")
            with atomic_path(path, temp_folder=self.folder) as tmp:
                with (
                    sf.SoundFile(raw) as fin,
                    sf.SoundFile(
                        tmp, "w", self.rate, 1, "PCM_16", format="WAV"
                    ) as fout,
                ):
                    for samples in fin.blocks(block, dtype="float32"):
                        fout.write(samples * gain)
            paths.append(path)
        return paths


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

    Returns
    -------
    list of str
        The written files, one per source the model gives.
    """
    out_dir, name = outputs.out_dir, outputs.name
    with open_audio(path) as audio, work_folder(out_dir) as work:
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
                remaining -= min(remaining, est.shape[0])

        try:
            with _errors_name(out_dir):
                block = max(1, round(block_seconds * rate))
                for samples in read_blocks(audio, block):
                    # [n, 1] at the model's rate
                    resampled = to_model.push(samples[:, None])
                    write(chunked.push(resampled.T.to(device))[0])
                write(chunked.push(to_model.flush().T.to(device))[0])
                final = chunked.flush()
                if final.shape[1] > 0:
                    write(final[0])
                write(None)
                return raw.publish(out_dir, name, block)
        finally:
            chunked.close()
            raw.close()
