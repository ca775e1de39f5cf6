"""Ready-to-use GALR separation: the SpeechBrain ``Pretrained`` interface.

:class:`GALRSeparation` has the API of
``speechbrain.inference.separation.SepformerSeparation`` (``from_hparams``,
``separate_batch``, ``separate_file``, ``forward``), plus chunked
separation of long inputs (:mod:`speechbrain_galr.inference.chunked`),
streaming of a file of any length to one WAV per source
(:mod:`speechbrain_galr.inference.file_separation`), the attention weights
of every block (the paper's Fig. 3), and the ``device`` and ``precision``
run options checked up front
(:mod:`speechbrain_galr.inference.run_options`; ``precision="auto"`` picks
bf16 where the processor computes it fast).  Audio is read by
:mod:`speechbrain_galr.audio`; user paths are resolved by
:mod:`speechbrain_galr.inference.user_paths`.

Authors
 * speechbrain-galr contributors 2026
"""

import os

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import split_path
from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch
from speechbrain.utils.logger import get_logger

from speechbrain_galr.audio import (
    AudioInputError,
    AudioNotFoundError,
    read_audio,
)
from speechbrain_galr.errors import GALRError
from speechbrain_galr.inference import file_separation
from speechbrain_galr.inference.chunked import (
    DEFAULT_CHUNK_SECONDS,
    ChunkedSeparator,
    ChunkSettings,
    shows_progress,
)
from speechbrain_galr.inference.file_separation import OutputSet, input_name
from speechbrain_galr.inference.mixture_input import checked_mixtures
from speechbrain_galr.inference.run_options import resolve_run_opts
from speechbrain_galr.inference.streaming import StreamSeparator
from speechbrain_galr.inference.user_paths import (
    resolve_source,
    url_download_folder,
)
from speechbrain_galr.nnet.tasnet import TasNet

logger = get_logger(__name__)
URL_FETCH = FetchConfig(overwrite=True)


def _peak_normalize(sources, eps=1e-8):
    """Scales each source of ``[B, T, C]`` to a peak of 1 (silent ones are
    left as they are)."""
    peak = sources.abs().amax(dim=1, keepdim=True)
    return sources / peak.clamp(min=eps)


class GALRSeparation(Pretrained):
    """A ready-to-use GALR separation model.

    The API of SpeechBrain's ``SepformerSeparation``: build it with
    ``GALRSeparation.from_hparams(source=..., savedir=...)`` from a folder
    written by :mod:`speechbrain_galr.export.folder` (or a hub repository
    with the same files), then call :meth:`separate_batch` on ``[B, T]``
    tensors at the model's sample rate or :meth:`separate_file` on a file
    of any rate and channel count.  Long inputs are separated in chunks
    (:meth:`separate_chunked`, :meth:`separate_file_to_folder`).

    Run options (``run_opts``) besides SpeechBrain's: ``device`` is checked
    (``gpu``, or ``cuda`` without CUDA, give a one-line ValueError) and
    ``precision`` may be ``fp32`` (default), ``bf16``, ``fp16`` or ``auto``
    (see :func:`speechbrain_galr.inference.run_options.resolve_precision`);
    the model then runs under ``torch.autocast`` and the outputs are float32.

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> from speechbrain_galr import HPARAMS_DIR
    >>> with open(os.path.join(HPARAMS_DIR, "galr-model.yaml")) as fin:
    ...     hparams = load_hyperpyyaml(fin, {"num_filters": 16,
    ...         "hidden_channels": 8, "num_blocks": 1, "num_heads": 2,
    ...         "segment_size": 10, "reduced_segment_size": 4})
    >>> model = GALRSeparation(hparams["modules"], hparams)
    >>> mix = torch.randn(2, 4000)  # [B, T]
    >>> model.separate_batch(mix).shape
    torch.Size([2, 4000, 2])
    >>> model.separate_chunked(mix, chunk_seconds=0.2).shape
    torch.Size([2, 4000, 2])
    >>> bf16 = GALRSeparation(hparams["modules"], hparams,
    ...                       run_opts={"precision": "bf16"})
    >>> bf16.separate_batch(mix).dtype
    torch.float32
    """

    HPARAMS_NEEDED = ["sample_rate", "num_spks"]
    MODULES_NEEDED = ["model"]
    """The :class:`speechbrain_galr.nnet.tasnet.TasNet`; ``from_hparams`` is
    SpeechBrain's own: the ``pretrainer`` of a hub folder loads
    ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt`` from ``source``."""

    chunk_seconds = DEFAULT_CHUNK_SECONDS
    """Chunk length of chunked separation; inputs up to this length are
    separated whole by :meth:`separate_file`."""
    overlap_seconds = 2.0
    """Samples shared by consecutive chunks, in seconds."""

    def __init__(self, modules=None, hparams=None, run_opts=None, **kwargs):
        super().__init__(modules, hparams, resolve_run_opts(run_opts), **kwargs)
        self._num_sources = None
        self._onnx_model = None

    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file="hyperparams.yaml",
        savedir=None,
        run_opts=None,
        overrides=None,
        backend="torch",
        onnx_threads=None,
        **kwargs,
    ):
        """SpeechBrain's ``from_hparams``, one way through
        (:func:`speechbrain_galr.inference.loading.load_pretrained`): the
        source resolved once (a missing local folder is "not found" at
        once, not a hub id), ``hyperparams.yaml`` read once, the ``.ckpt``
        files loaded only for ``backend="torch"``; ``backend=
        "onnxruntime"`` runs the folder's ``model.onnx``.  SpeechBrain's
        other options (``download_only``, ``fetch_config``, another
        ``hparams_file``, ...) go to SpeechBrain's own loader."""
        from speechbrain_galr.inference.loading import (
            HPARAMS_FILE,
            load_pretrained,
        )

        if hparams_file != HPARAMS_FILE or kwargs:
            if backend != "torch":
                raise ValueError(f"backend {backend!r} needs {HPARAMS_FILE}")
            from speechbrain_galr.inference.savedir import prepare_savedir

            source = resolve_source(source, "model folder")
            prepare_savedir(source, savedir)
            return super().from_hparams(
                source,
                hparams_file,
                savedir=savedir,
                run_opts=run_opts,
                overrides=overrides or {},
                **kwargs,
            )
        return load_pretrained(
            cls, source, savedir, run_opts, overrides, backend, onnx_threads
        )

    @property
    def sample_rate(self):
        """The model's sample rate in Hz."""
        return int(self.hparams.sample_rate)

    @property
    def num_sources(self):
        """The number of sources the model gives, from its settings (the
        mask network's ``num_spks``, or the ONNX graph's output width); a
        ``num_spks`` in the yaml that says otherwise is warned about once.
        """
        if self._num_sources is None:
            model = self._model()
            found = getattr(model, "num_spks", None)  # OnnxTasNet
            if found is None:
                found = model.masknet.num_spks
            self._num_sources = int(found)
            if self._num_sources != int(self.hparams.num_spks):
                logger.warning(
                    f"warning: the model's hyperparams.yaml says num_spks: "
                    f"{self.hparams.num_spks}, but the model gives "
                    f"{self._num_sources} sources; writing all "
                    f"{self._num_sources}"
                )
        return self._num_sources

    def separate_batch(self, mix, lengths=None):
        """Separates a batch of mixtures at the model's sample rate.

        Arguments
        ---------
        mix : torch.Tensor
            ``[B, T]`` mixtures, floating point (converted to float32; a
            NumPy array or a list is converted to a tensor).
        lengths : torch.Tensor or None
            ``[B]`` relative lengths of padded mixtures (a list too), or
            None.

        Returns
        -------
        torch.Tensor
            ``[B, T, C]`` float32 estimated sources.
        """
        mix, lengths = checked_mixtures(mix, lengths)
        mix = mix.to(self.device, torch.float32)
        if lengths is not None:
            lengths = lengths.to(self.device)
        with torch.no_grad(), self.inference_ctx:
            est = self._model()(mix, lengths)
        return est.float()

    def use_onnxruntime(self, path, threads=None):
        """Runs the model through onnxruntime from now on (CPU, fp32).

        Arguments
        ---------
        path : str
            The folder's ``model.onnx`` (``export --onnx``; see
            :func:`speechbrain_galr.inference.onnx_runtime.find_onnx_file`).
        threads : int or None
            onnxruntime's intra-op threads (None: one per core).

        Returns
        -------
        GALRSeparation
            This object, separating with
            :class:`speechbrain_galr.inference.onnx_runtime.OnnxTasNet`.
        """
        from speechbrain_galr.inference.onnx_runtime import OnnxTasNet

        self._onnx_model = OnnxTasNet(path, threads=threads)
        self._num_sources = None
        return self

    def _model(self):
        """The hparams' TasNet ``model``, or one made of the three modules
        (hub folders exported before the ``model`` entry existed), or the
        onnxruntime session of :meth:`use_onnxruntime`."""
        if self._onnx_model is not None:
            return self._onnx_model
        if "model" in self.mods:
            return self.mods.model
        return TasNet(self.mods.encoder, self.mods.masknet, self.mods.decoder)

    def separate_chunked(
        self, mix, chunk_seconds=None, overlap_seconds=None, progress=None
    ):
        """Separates long mixtures chunk by chunk (see
        :class:`~speechbrain_galr.inference.chunked.ChunkedSeparator`);
        peak memory depends on the chunk length.

        Arguments
        ---------
        mix : torch.Tensor
            ``[B, T]`` mixtures at the model's sample rate.
        chunk_seconds : float or None
            Chunk length (default :attr:`chunk_seconds`).
        overlap_seconds : float or None
            Overlap of consecutive chunks (default :attr:`overlap_seconds`,
            at most half a chunk).
        progress : bool or None
            Progress bar; by default shown from 4 chunks on.

        Returns
        -------
        torch.Tensor
            ``[B, T, C]`` estimated sources.
        """
        mix, _ = checked_mixtures(mix)  # [B, T], not empty, finite
        chunked = self.chunked_separator(
            mix.shape[1],
            self.chunking(chunk_seconds, overlap_seconds),
            progress,
        )
        return chunked.separate(mix)

    def chunking(self, chunk_seconds=None, overlap_seconds=None):
        """The checked :class:`~speechbrain_galr.inference.chunked.
        ChunkSettings` of the given seconds (checked once: settings made
        already pass through); None takes this object's
        :attr:`chunk_seconds` and :attr:`overlap_seconds`."""
        if isinstance(chunk_seconds, ChunkSettings):
            return chunk_seconds
        if chunk_seconds is None:
            chunk_seconds = self.chunk_seconds
            if overlap_seconds is None:
                overlap_seconds = self.overlap_seconds
        return ChunkSettings(chunk_seconds, overlap_seconds)

    def chunked_separator(self, total, settings, progress=None):
        """A :class:`~speechbrain_galr.inference.chunked.ChunkedSeparator`
        for ``total`` samples with checked ``settings``."""
        chunk, overlap = settings.samples(self.sample_rate)
        if progress is None:
            progress = shows_progress(total, chunk, overlap)
        return ChunkedSeparator(
            self.separate_batch, chunk, overlap, total=total, progress=progress
        )

    @staticmethod
    def _fetch(path, savedir):
        """Local path of an audio file given by a user (fetched when it is
        a URL or a hub file; see
        :mod:`speechbrain_galr.inference.user_paths`)."""
        if not isinstance(path, (str, os.PathLike)):
            raise AudioInputError(
                f"an audio file path is expected, got {type(path).__name__} "
                "(separate samples with separate_batch)"
            )
        path = os.fspath(path)
        if os.path.exists(path):
            return path  # a local file: nothing to resolve
        path = resolve_source(path, "audio file", AudioNotFoundError)
        source, filename = split_path(path)
        config = FetchConfig()
        if "://" in path:  # downloaded afresh into a folder of its own
            savedir, config = url_download_folder(path, savedir), URL_FETCH
        try:
            local = fetch(
                filename,
                source=source,
                savedir=savedir,
                local_strategy=LocalStrategy.SYMLINK,
                fetch_config=config,
            )
        except Exception as err:
            raise AudioNotFoundError(
                f"audio file not found: {path} (fetching it failed: {err})"
            ) from err
        return str(local)

    def separate_file(
        self, path, savedir=None, chunk_seconds=None, normalize=True
    ):
        """Separates the sources of an audio file.

        The file may have any sample rate and number of channels: channels
        are averaged and the signal is resampled to the model's rate
        (:func:`speechbrain_galr.audio.read_audio`).  Recordings longer
        than ``chunk_seconds`` are separated in chunks.

        Arguments
        ---------
        path : str
            Audio file (local path, URL or hub file, as SpeechBrain's).
        savedir : str or None
            Where to store a downloaded file.
        chunk_seconds : float or None
            Chunk length for long files (default :attr:`chunk_seconds`).
        normalize : bool
            Scale each source to a peak of 1, as ``SepformerSeparation``
            does (silent sources stay silent).

        Returns
        -------
        torch.Tensor
            ``[1, T, C]`` sources at the model's sample rate.
        """
        signal = read_audio(self._fetch(path, savedir), self.sample_rate)
        # [1, T]
        mix = signal[None].to(self.device)
        settings = self.chunking(chunk_seconds)
        chunk, _ = settings.samples(self.sample_rate)
        if mix.shape[1] <= chunk:
            est = self.separate_batch(mix)
        else:
            est = self.separate_chunked(mix, settings)
        return _peak_normalize(est) if normalize else est

    def separate_file_to_folder(
        self,
        path,
        out_dir,
        chunk_seconds=None,
        overlap_seconds=None,
        block_seconds=30.0,
        progress=None,
        overwrite=False,
        scale="peak",
        plot=False,
    ):
        """Separates an audio file of any length into one wav per source,
        ``<name>_source<i>.wav`` at the file's rate, in bounded memory
        (see :mod:`speechbrain_galr.inference.file_separation` for what is
        left on disk in every case).

        Arguments
        ---------
        path : str
            Audio file (any rate and channel count; local, URL or hub).
        out_dir : str
            Output folder (created).
        chunk_seconds : float or None
            Chunk length (default :attr:`chunk_seconds`).
        overlap_seconds : float or None
            Overlap of chunks (default :attr:`overlap_seconds`).
        block_seconds : float
            Seconds of audio read from disk at a time.
        progress : bool or None
            Progress bar; by default shown for files of more than 4 chunks.
        overwrite : bool
            Replace outputs of an earlier run (else FileExistsError); the
            earlier run's outputs this run does not write are removed.
        scale : str
            ``"peak"`` (default): each source scaled to -0.1 dBFS, as
            SpeechBrain's ``separate_file`` does (to 1.0); ``"mixture"``:
            the sources at the mixture's scale (their sum closest to it),
            scaled down together only if one would clip
            (:mod:`speechbrain_galr.inference.output_scale`).
        plot : bool
            Also draw ``<name>_sources.png`` (when ``out_dir`` is a path).

        Returns
        -------
        list of str
            The written files, one per source (and the figure).
        """
        path = self._fetch(path, None)
        outputs = out_dir
        if not isinstance(outputs, OutputSet):
            outputs = OutputSet(out_dir, input_name(path), overwrite, plot)
        chunk, overlap = self.chunking(chunk_seconds, overlap_seconds).samples(
            self.sample_rate
        )
        return file_separation.separate_file_to_folder(
            self.separate_batch,
            self.sample_rate,
            path,
            outputs,
            chunk,
            overlap,
            device=self.device,
            progress=progress,
            block_seconds=block_seconds,
            scale=scale,
        )

    def separate_with_attention(self, mix):
        """Separates ``[B, T]`` mixtures and returns the attention weights.

        Returns
        -------
        est_sources : torch.Tensor
            ``[B, T, C]``.
        attention : list of torch.Tensor
            One ``[B, rows, J, S, S]`` tensor per GALR block: the softmax
            weights of eq. 8 (row r, head j: how much segment s attends to
            segment s'), as in the paper's Fig. 3.
        """
        masknet = self._model().masknet
        if not hasattr(masknet, "keep_attention"):
            raise TypeError(
                f"the mask network ({type(masknet).__name__}) does not keep "
                "attention weights; a GALR mask network does"
            )
        masknet.keep_attention(True)
        try:
            est = self.separate_batch(mix)
            attention = [a.cpu() for a in masknet.attention_weights()]
        finally:
            masknet.keep_attention(False)
        return est, attention

    def stream(self):
        """A :class:`~speechbrain_galr.inference.streaming.StreamSeparator`
        for a live stream (a causal model, e.g. ``galr-causal.yaml``):
        ``process(block)`` returns each block's sources, delayed by
        ``latency_ms``; ``flush()`` ends the stream."""
        if self._onnx_model is not None:
            raise GALRError("streaming runs the torch backend, not onnxruntime")
        return StreamSeparator(self._model(), self.sample_rate)

    def forward(self, mix):
        """Separates ``[B, T]`` mixtures (see :meth:`separate_batch`)."""
        return self.separate_batch(mix)


def load_model(source, savedir=None, run_opts=None, backend="torch"):
    """``GALRSeparation.from_hparams`` (the command line's loader)."""
    return GALRSeparation.from_hparams(
        source, savedir=savedir, run_opts=run_opts, backend=backend
    )
