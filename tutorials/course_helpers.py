"""What the course notebooks share: paths, the fast mode, signals, figures,
recipe runs and the results file the tests read.

The notebooks of ``tutorials/`` import this module (they run with the
``tutorials`` folder as their working directory, Jupyter's default).  Each
piece is small; it is here, not in the notebooks, so that a notebook shows
what it teaches and not the plumbing.

Importing it puts the checkout first on ``sys.path`` and on
``PYTHONPATH`` (for the recipe and command-line runs the notebooks
start): the notebooks use this checkout's ``speechbrain_galr`` and its
``benchmarks/``, which is not installed with the package.  It also sets
``TQDM_DISABLE=1`` (unless set): progress bars would fill the committed
outputs.  Import it before torch.

Environment variables
---------------------
``GALR_TUTORIAL_FAST``
    ``1`` (or ``true``, ``yes``): the fast mode: shorter signals, smaller
    models, fewer steps (the test suite runs the notebooks this way).
``GALR_TUTORIAL_OUT``
    Folder of the notebooks' outputs (one subfolder per notebook); by
    default ``tutorials/course_output``.
``GALR_DATA``
    Folder of real 8 kHz recordings (``speech/librispeech-251/...``); by
    default ``../shared/data`` beside the checkout.  Optional: without it
    the notebooks use the real mixture of ``tests/quality/data`` and
    generated signals.
"""

import csv
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import warnings

# before torch imports tqdm, which reads its settings from the environment
os.environ.setdefault("TQDM_DISABLE", "1")
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

TUTORIALS = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(TUTORIALS)
PRETRAINED = os.path.join(CHECKOUT, "pretrained", "galr-small-librispeech-8k")
CAUSAL_PRETRAINED = os.path.join(
    CHECKOUT, "pretrained", "galr-causal-librispeech-8k"
)
QUALITY_DATA = os.path.join(CHECKOUT, "tests", "quality", "data")
RECIPE = os.path.join(CHECKOUT, "recipes", "WSJ0Mix", "separation")
RESULTS_FILE = "results.json"
SAMPLE_RATE = 8000

if CHECKOUT not in sys.path:
    sys.path.insert(0, CHECKOUT)
_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [CHECKOUT] + [p for p in _paths if p and p != CHECKOUT]
)
# torch.export (the ONNX export of lesson 4) warns that it sets the LSTM's
# weights during tracing, naming a file of this machine's Python
warnings.filterwarnings("ignore", message=r"The tensor attributes .*")


def fast_mode():
    """Whether ``GALR_TUTORIAL_FAST`` asks for the fast mode.

    Example
    -------
    >>> os.environ["GALR_TUTORIAL_FAST"] = "1"; fast_mode()
    True
    """
    value = os.environ.get("GALR_TUTORIAL_FAST", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


class Course:
    """The settings of one notebook: its mode, data and output folder.

    Arguments
    ---------
    name : str
        The notebook's output subfolder, e.g. ``"01_separate"``.
    seed : int
        Seed of torch and NumPy.
    fresh : bool
        Empty the output folder first, so that each run of the notebook
        starts from nothing (trainings and checkpoints included).

    Attributes
    ----------
    fast : bool
        The fast mode (:func:`fast_mode`).
    out : str
        This notebook's output folder (created).
    speech : str or None
        The folder of real speakers (``<speaker>/<file>.flac``), or None
        when ``GALR_DATA`` holds none.
    """

    def __init__(self, name, seed=0, fresh=True):
        self.name = name
        self.fast = fast_mode()
        root = os.environ.get("GALR_TUTORIAL_OUT") or os.path.join(
            TUTORIALS, "course_output"
        )
        self.out_root = os.path.abspath(root)
        self.out = os.path.join(self.out_root, name)
        if fresh:
            shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(self.out, exist_ok=True)
        data = os.environ.get("GALR_DATA") or os.path.join(
            CHECKOUT, "..", "shared", "data"
        )
        speech = os.path.join(data, "speech", "librispeech-251")
        self.speech = speech if os.path.isdir(speech) else None
        torch.manual_seed(seed)
        np.random.seed(seed)

    def pick(self, fast, full):
        """``fast`` in the fast mode, else ``full``."""
        return fast if self.fast else full

    def path(self, *names):
        """A path in this notebook's output folder."""
        return os.path.join(self.out, *names)

    def show(self, path):
        """``path`` as the notebooks print it: relative to the output root
        or the checkout, never this machine's absolute path."""
        path = os.path.abspath(path)
        for root, label in (
            (self.out_root, "$OUT"),
            (CHECKOUT, "<checkout>"),
        ):
            if path == root or path.startswith(root + os.sep):
                return os.path.join(label, os.path.relpath(path, root))
        return os.path.basename(path)

    def __repr__(self):
        where = (
            "$GALR_DATA" if os.environ.get("GALR_DATA") else "../shared/data"
        )
        speech = f"{where} (found)" if self.speech else "not found"
        return (
            f"{self.name}: {'fast' if self.fast else 'full'} mode; outputs "
            f"in $OUT/{self.name}; real speech data: {speech}"
        )

    def save_results(self, results):
        """Writes ``results`` (numbers, lists, strings) as
        ``results.json`` in the output folder (what the tests read) and
        returns them, rounded, to be displayed."""
        from speechbrain_galr.atomic_files import write_text_atomic

        text = json.dumps(results, indent=1, sort_keys=True)
        write_text_atomic(self.path(RESULTS_FILE), text + "\n")
        return _rounded(results)

    def save_figure(self, fig, name):
        """Saves ``fig`` as ``<name>.png`` in the output folder."""
        fig.savefig(self.path(f"{name}.png"), dpi=100, bbox_inches="tight")


def _rounded(value, digits=4):
    """``value`` with its floats rounded to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, digits) for v in value]
    return value


# ---------------------------------------------------------------- signals


def read_wav(path):
    """``[T]`` float32 tensor and the sample rate of a mono audio file."""
    signal, rate = sf.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(signal.mean(axis=1)), rate


def quality_mixture():
    """The real two-speaker mixture of ``tests/quality/data``: two
    held-out LibriSpeech speakers, 4 s at 8 kHz, equal power.

    Returns
    -------
    mix : torch.Tensor
        ``[T]``.
    refs : torch.Tensor
        ``[T, 2]`` the two clean sources (``mix`` is their sum).
    """
    mix, _ = read_wav(os.path.join(QUALITY_DATA, "mix.wav"))
    refs = [
        read_wav(os.path.join(QUALITY_DATA, f"s{i}.wav"))[0] for i in (1, 2)
    ]
    return mix, torch.stack(refs, dim=-1)


def long_mixture(refs, seconds, seed=0):
    """A long two-speaker recording made of the clean sources ``refs``
    (``[T, 2]``): each source repeated with random offsets and gains
    (2 to 6 dB apart), so that the true sources of the long mixture are
    known.

    Returns
    -------
    mix : torch.Tensor
        ``[N]`` with N = ``seconds`` at 8 kHz.
    sources : torch.Tensor
        ``[N, 2]``.
    """
    rng = np.random.default_rng(seed)
    length = int(seconds * SAMPLE_RATE)
    out = torch.zeros(length, refs.shape[1])
    for c in range(refs.shape[1]):
        pos = 0
        while pos < length:
            start = int(rng.integers(0, refs.shape[0] // 2))
            piece = refs[start:, c] * 10 ** (rng.uniform(-3, 3) / 20)
            piece = piece[: length - pos]
            out[pos : pos + len(piece), c] = piece
            pos += len(piece)
    return out.sum(-1), out


def heldout_mixtures(speech, count, seconds=4.0, seed=0):
    """Equal-power mixtures of different pairs of the 20 held-out test
    speakers of the recipes' split (the last 20 of a LibriSpeech speaker
    folder, never trained on), ``seconds`` long, from 1 s into each
    utterance; pairs whose utterances are too short are skipped.

    Returns
    -------
    list of tuple
        ``(mix [T], refs [T, 2])`` per mixture.
    """
    speakers = sorted(os.listdir(speech), key=int)[-20:]
    pairs = list(itertools.combinations(speakers, 2))
    np.random.default_rng(seed).shuffle(pairs)
    length, start = int(seconds * SAMPLE_RATE), SAMPLE_RATE
    mixtures = []
    for pair in pairs:
        refs = []
        for speaker in pair:
            folder = os.path.join(speech, speaker)
            signal, _ = read_wav(os.path.join(folder, os.listdir(folder)[0]))
            refs.append(signal[start : start + length])
        if min(len(r) for r in refs) < length:
            continue  # an utterance too short for this mixture
        refs = torch.stack([r / r.pow(2).mean().sqrt() for r in refs], -1)
        refs = refs * 0.5 / refs.sum(-1).abs().max()
        mixtures.append((refs.sum(-1), refs))
        if len(mixtures) == count:
            break
    return mixtures


def synthetic_sources(batch, seconds, generator, rate=SAMPLE_RATE):
    """``[B, T, 2]`` easy synthetic sources: a low harmonic "voice" with a
    gliding pitch and a high warbling tone, varying in level.

    Example
    -------
    >>> synthetic_sources(3, 0.5, torch.Generator().manual_seed(0)).shape
    torch.Size([3, 4000, 2])
    """
    length = int(seconds * rate)
    t = torch.arange(length) / rate

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    drift = 1 + 0.2 * torch.sin(2 * math.pi * 0.15 * rand(batch, 1) * t)
    f0 = (100 + 150 * rand(batch, 1)) * drift
    phase = 2 * math.pi * torch.cumsum(f0 / rate, dim=1)
    low = sum(torch.sin(k * phase + 6 * rand(batch, 1)) / k for k in (1, 2, 3))
    low = low * (0.6 + 0.4 * torch.sin(2 * math.pi * rand(batch, 1) * t))
    f1 = (2000 + 1500 * rand(batch, 1)) * drift
    high = torch.sin(2 * math.pi * torch.cumsum(f1 / rate, dim=1))
    high = high * (0.6 + 0.4 * torch.cos(2 * math.pi * rand(batch, 1) * t))
    return 0.3 * torch.stack([low, high], dim=-1)


# ---------------------------------------------------------------- figures


def plot_signals(signals, rate, title):
    """Waveform (left) and spectrogram (right) of each named signal.

    Arguments
    ---------
    signals : list of tuple
        ``(name, [T] tensor or array)``.
    rate : int
        Sample rate in Hz.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    rows = len(signals)
    fig, axes = plt.subplots(
        rows, 2, figsize=(12, 2.2 * rows + 0.6), squeeze=False
    )
    peak = max(float(np.abs(np.asarray(s)).max()) for _, s in signals)
    for row, (name, signal) in enumerate(signals):
        signal = np.asarray(signal, dtype=np.float64)
        seconds = np.arange(len(signal)) / rate
        wave, spec = axes[row]
        wave.plot(seconds, signal, linewidth=0.4, color=f"C{row}")
        wave.set(
            title=name,
            ylabel="amplitude",
            xlim=(0, seconds[-1]),
            ylim=(-peak, peak),
        )
        *_, image = spec.specgram(
            signal, NFFT=256, Fs=rate, noverlap=192, vmin=-120, vmax=-20
        )
        spec.set(title=f"{name}: spectrogram", ylabel="frequency (Hz)")
        fig.colorbar(image, ax=spec, label="power (dB)", pad=0.01)
        wave.set_xlabel("time (s)")
        spec.set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- models


def capture(model, modules, *inputs):
    """Runs ``model(*inputs)`` and returns the input and output of each
    named submodule in ``modules`` (its last call), through forward hooks.

    Returns
    -------
    output
        The model's output.
    seen : dict
        ``name -> (inputs tuple, output)``.

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    >>> _, seen = capture(net, {"linear": net[0]}, torch.zeros(2, 3))
    >>> seen["linear"][1].shape
    torch.Size([2, 4])
    """
    seen = {}

    def hook(name):
        def keep(module, args, output):
            seen[name] = (args, output)

        return keep

    handles = [m.register_forward_hook(hook(n)) for n, m in modules.items()]
    try:
        with torch.no_grad():
            output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return output, seen


def parameters(model):
    """Number of parameters of a module."""
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- recipes

LOG_LINES = re.compile(
    r"epoch: \d|budget|resuming|left open|test mixtures|Parameters:|"
    r"^error|Error"
)
"""The lines of a recipe run's log that the notebooks print."""


FLAGS = ("noprogressbar", "debug", "compile")
"""SpeechBrain's command-line flags (options without a value)."""


def run_recipe(hparams, course, **options):
    """Runs ``recipes/WSJ0Mix/separation/train.py`` as a user does
    (a subprocess, in the recipe folder) and prints the lines of its log
    that tell the story (:data:`LOG_LINES`), paths shortened.

    Arguments
    ---------
    hparams : str
        The yaml, e.g. ``"hparams/galr-small.yaml"``.
    course : Course
        For printing paths.
    **options
        Command-line options without the dashes, e.g.
        ``output_folder=...``, ``num_blocks=2``; SpeechBrain's flags
        (:data:`FLAGS`) are given when True.

    Returns
    -------
    str
        The command as it would be typed, paths shortened.
    """
    args = [
        f"--{key}" if key in FLAGS else f"--{key}={value}"
        for key, value in options.items()
        if key not in FLAGS or value
    ]
    command = [sys.executable, "train.py", hparams, *args]
    result = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, check=False
    )
    log = result.stdout + result.stderr
    for line in log.splitlines():
        if LOG_LINES.search(line):
            print(_short_paths(line, course))
    if result.returncode != 0:
        raise RuntimeError(f"the recipe failed:\n{log[-3000:]}")
    lines = [f"python train.py {hparams}"]
    lines += [_short_paths(arg, course) for arg in args]
    return " \\\n    ".join(lines)


def _short_paths(text, course):
    """``text`` with absolute paths under the output root or the checkout
    replaced by their short forms (:meth:`Course.show`)."""
    for root, label in ((course.out_root, "$OUT"), (CHECKOUT, "<checkout>")):
        text = text.replace(root, label)
    return text


def read_csv(path):
    """The rows of a CSV file as dicts of floats (text where not a
    number)."""

    def value(text):
        try:
            return float(text)
        except ValueError:
            return text

    with open(path, newline="") as fin:
        return [
            {k: value(v) for k, v in row.items()} for row in csv.DictReader(fin)
        ]


INTRA_EPOCH = "brain_intra_epoch_ckpt"
"""The meta key of SpeechBrain's checkpoints saved inside an epoch."""


def checkpoints(run_folder):
    """The checkpoints of a recipe run, oldest first.

    Returns
    -------
    list of dict
        For each checkpoint: ``name`` (its folder), ``epoch`` (the epoch
        counter: the last finished epoch, or the open one for a checkpoint
        saved inside an epoch), ``inside_epoch``, ``after_batch`` (the
        batch it was saved after, inside an epoch) and ``valid_si-snr``
        (dB, at the end of an epoch).
    """
    import yaml

    save = os.path.join(run_folder, "save")
    found = []
    for name in sorted(os.listdir(save)):
        folder = os.path.join(save, name)
        if not name.startswith("CKPT+") or not os.path.isdir(folder):
            continue
        with open(os.path.join(folder, "CKPT.yaml")) as fin:
            meta = yaml.safe_load(fin)
        with open(os.path.join(folder, "counter.ckpt")) as fin:
            epoch = int(fin.read().strip())
        with open(os.path.join(folder, "brain.ckpt")) as fin:
            batch = yaml.safe_load(fin)["step"]
        score = meta.get("si-snr")
        if score is not None and meta.get("si-snr_is_loss"):
            score = -score  # SpeechBrain's loss: minus the SI-SNR
        found.append(
            {
                "name": name,
                "epoch": epoch,
                "inside_epoch": bool(meta.get(INTRA_EPOCH)),
                "after_batch": batch if meta.get(INTRA_EPOCH) else None,
                "valid_si-snr": score,
            }
        )
    return found
