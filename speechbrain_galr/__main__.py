"""Command line of speechbrain-galr.

``python -m speechbrain_galr separate MIX.wav --model DIR --out DIR``
separates a recording (any length, sample rate and channel count) into one
wav per source at the input's sample rate; ``python -m speechbrain_galr
export RECIPE_OUTPUT --out DIR`` turns a recipe's best checkpoint into a
model folder that ``separate`` (and ``GALRSeparation.from_hparams``) loads.
Bad input ends with a one-line ``error:`` message and exit status 1 (2 for
bad arguments), not a traceback.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time

from speechbrain_galr import streaming_cli
from speechbrain_galr.errors import GALRError
from speechbrain_galr.inference.run_options import PRECISIONS

EXIT_ERROR = 1
EXIT_USAGE = 2

SEPARATE_HELP = """\
Separate MIXTURE (wav, flac, ogg, mp3...; any length, sample rate and
channel count) into one 16-bit wav per source, OUT/<name>_source<i>.wav, at
the input's sample rate.

how loud the sources are:
  each source is scaled on its own to a peak of -0.1 dBFS (as SpeechBrain's
  separate_file, which scales to 1.0): a quiet recording comes out at full
  scale, and the sources no longer sum to the mixture. --keep-scale keeps
  the mixture's scale instead (to remix or measure levels): each source
  gets the gain that makes the sources sum closest to the mixture (least
  squares; the model, trained with the scale-invariant SI-SNR, has no
  scale of its own), and all are scaled down together, with a warning,
  only if one would clip.

how the input is read:
  channels are averaged (the mean of the channels) and the signal is
  resampled to the model's rate (soxr) and back; long files are separated
  in overlapping chunks whose sources are aligned, in bounded memory. A WAV
  file shorter than its header says is separated as far as it goes, with a
  warning.

what is left on disk:
  existing outputs for the same input name (<name>_source<i>.wav,
  <name>_sources.png; also from another file with the same name, mix.wav
  then mix.ogg) are never replaced without --overwrite: the run stops first
  with exit status 1, or at the end if another run wrote them meanwhile.
  One run at a time writes the outputs of a name into OUT: a second one
  stops with an error (the lock file OUT/.galr-lock-<name>, removed at the
  end; one left by kill -9 is taken over). All outputs are made complete
  in a hidden work folder first, then put in place together: a failure (a
  full disk) leaves the earlier set complete. --overwrite removes the
  earlier run's outputs of that name that this run does not write (a
  <name>_source3.wav of a 3-speaker model, an old figure) and says so; no
  other file is touched. Files get mode 0666 & ~umask (0644 under umask
  022), replaced ones keep theirs. The work folder OUT/.galr-work-<pid>-*
  is removed on success, error, Ctrl-C and SIGTERM; one left by kill -9 is
  removed by the next run into OUT.

paths:
  an existing path is used as it is (--model must be a folder, not a
  file); a missing path that looks local
  (starts with / . or ~, or its first folder exists here) is "not found" at
  once; owner/name (--model) or owner/name/file (MIXTURE) is looked up on
  the hub once (a few seconds), then fetched.

live streams (--streaming):
  a causal model (trained with hparams/galr-causal.yaml) separates MIXTURE
  block by block (--block-ms, default 10), each output sample delayed by
  the model's algorithmic latency (printed, with the compute per block and
  the real-time factor); MIXTURE - reads raw mono PCM at the model's rate
  from standard input (--raw-format s16le or f32le) until it closes. The
  sources are appended to files in the work folder as they come and put in
  place together at the end, peak-normalised as above.

exit status: 0 done, 1 error (one line "error: ..."), 2 bad option value,
130 Ctrl-C, 143 SIGTERM.
"""


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP, so that cleanup
    (``finally`` blocks, temporary files) runs as on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated(signum)


class UsageError(GALRError):
    """A bad option value (exit status 2, as argparse's own errors)."""


def check_separate_options(args):
    """Checks the option values of ``separate`` that argparse cannot, once.

    Returns
    -------
    run_opts : dict
        ``device`` and ``precision`` for the model.
    chunking : speechbrain_galr.inference.chunked.ChunkSettings
        The checked chunk length and overlap.
    """
    from speechbrain_galr.inference.chunked import ChunkSettings
    from speechbrain_galr.inference.run_options import resolve_run_opts

    precision = args.precision
    if args.backend == "onnxruntime":
        from speechbrain_galr.inference.onnx_runtime import import_optional

        import_optional("onnxruntime")
        if args.device != "cpu" or precision not in ("auto", "fp32"):
            raise UsageError(
                "--backend onnxruntime runs fp32 on the CPU; leave out "
                "--device and --precision"
            )
        precision = "fp32"
    if args.streaming and (
        args.backend != "torch"
        or args.chunk_seconds is not None
        or args.overlap_seconds is not None
        or args.keep_scale
        or args.plot
    ):
        raise UsageError(
            "--streaming runs the torch backend without chunks: leave out "
            "--backend, --chunk-seconds, --overlap-seconds, --keep-scale "
            "and --plot"
        )
    if args.streaming and not args.block_ms > 0:
        raise UsageError(f"--block-ms must be positive, got {args.block_ms}")
    if args.savedir is not None and not args.savedir.strip():
        raise UsageError(
            "--savedir is empty; give a folder, or leave it out to load "
            "the model where it is"
        )
    try:
        chunking = ChunkSettings(args.chunk_seconds, args.overlap_seconds)
        run_opts = resolve_run_opts(
            {"device": args.device, "precision": precision}
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    return run_opts, chunking


def separate_command(args):
    """Runs ``separate``; returns the exit status.

    One way through: the options are checked, the mixture and the model
    resolved, the outputs checked and the model's yaml read, each once,
    before anything is separated; only the backend asked for is loaded.
    """
    import torch

    from speechbrain_galr.audio import audio_info
    from speechbrain_galr.inference.file_separation import (
        OutputSet,
        input_name,
    )
    from speechbrain_galr.inference.separator import GALRSeparation

    run_opts, chunking = check_separate_options(args)
    if args.streaming:
        from speechbrain_galr.streaming_cli import stream_command

        return stream_command(args, run_opts)
    mixture = GALRSeparation._fetch(args.mixture, args.savedir)
    # the separation reads it and warns if it is truncated
    frames, rate, channels = audio_info(mixture, warn_truncated=False)
    about = f" ({frames / rate:.1f} s, {rate} Hz, {channels} channel(s))"
    outputs = OutputSet(
        args.out, input_name(mixture), args.overwrite, plot=args.plot
    )
    onnx = args.backend == "onnxruntime"
    model = GALRSeparation.from_hparams(
        args.model,
        savedir=args.savedir,
        run_opts=run_opts,
        backend=args.backend,
        onnx_threads=torch.get_num_threads() if onnx else None,
    )
    print(
        f"separating {args.mixture}{about} into {model.num_sources} "
        f"sources on {run_opts['device']}, {run_opts['precision']}"
        + (", onnxruntime" if onnx else ""),
        file=sys.stderr,
    )
    start = time.time()
    paths = model.separate_file_to_folder(
        mixture,
        outputs,
        chunk_seconds=chunking,
        progress=False if args.quiet else None,
        scale="mixture" if args.keep_scale else "peak",
    )
    print(f"done in {time.time() - start:.1f} s", file=sys.stderr)
    for path in paths:
        print(path)
    return 0


def export_command(args):
    """Runs ``export``; returns the exit status."""
    from speechbrain_galr.export.folder import export_model

    dest = export_model(
        args.recipe_output,
        args.out,
        checkpoint=args.checkpoint,
        max_key=args.max_key,
        min_key=args.min_key,
        training_data=args.training_data,
        overwrite=args.overwrite,
        onnx=args.onnx,
    )
    for name in sorted(os.listdir(dest)):
        print(os.path.join(dest, name))
    return 0


def build_parser():
    """The argument parser (subcommands ``separate`` and ``export``)."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_galr",
        description="GALR speech separation: separate recordings with a "
        "trained model, or export a recipe checkpoint as a model folder.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_separate_parser(sub)
    add_export_parser(sub)
    return parser


def add_separate_parser(sub):
    """The ``separate`` subcommand's arguments."""
    sep = sub.add_parser(
        "separate",
        help="separate a recording into one wav per source",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=SEPARATE_HELP,
    )
    sep.add_argument(
        "mixture",
        help="audio file to separate: a local path, a URL (downloaded "
        "afresh into --savedir, by default ~/.cache/speechbrain_galr/"
        "downloads), or a file of a hub repository (owner/name/file.wav)",
    )
    sep.add_argument(
        "--model",
        required=True,
        help="model folder written by `export` (hyperparams.yaml, *.ckpt), "
        "or a hub id (owner/name) with the same files",
    )
    sep.add_argument("--out", required=True, help="output folder")
    sep.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs of an earlier run with the same input name "
        "(default: stop with an error if one exists)",
    )
    sep.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        help="chunk length for long files, >= 0.1 (default 10)",
    )
    sep.add_argument(
        "--overlap-seconds",
        type=float,
        default=None,
        help="overlap of consecutive chunks, from 0.02 to half the chunk "
        "length (default 2, or a quarter of --chunk-seconds if shorter)",
    )
    sep.add_argument(
        "--device",
        default="cpu",
        help="torch device: cpu (default), cuda or cuda:N",
    )
    sep.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="arithmetic of the model (outputs are 16-bit PCM either way): "
        "auto (default) is bf16 on a CPU with bf16 instructions "
        "(AVX512-BF16/AMX) or a GPU, fp32 otherwise",
    )
    sep.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "onnxruntime"),
        help="what runs the model: torch (default), or onnxruntime with "
        "the folder's model.onnx (written by `export --onnx`; CPU, fp32; "
        "needs pip install 'speechbrain-galr[onnx]')",
    )
    sep.add_argument(
        "--keep-scale",
        action="store_true",
        help="keep the mixture's scale: sources that sum (as closely as "
        "gains can make them) to the mixture, scaled down together only "
        "if one would clip (default: each source peak-normalised to -0.1 "
        "dBFS, as SpeechBrain)",
    )
    sep.add_argument(
        "--savedir",
        default=None,
        help="where to keep links to the model files and a downloaded "
        "MIXTURE (default: none, and ~/.cache/speechbrain_galr/downloads "
        "for a URL); links there to another model's files are re-linked to "
        "--model's (with a warning), a differing file that is not a link "
        "stops the run",
    )
    sep.add_argument(
        "--plot",
        action="store_true",
        help="also save waveforms and spectrograms as <name>_sources.png "
        "(drawn in bounded memory)",
    )
    sep.add_argument("--quiet", action="store_true", help="no progress bar")
    streaming_cli.add_streaming_arguments(sep)
    sep.set_defaults(func=separate_command)


def add_export_parser(sub):
    """The ``export`` subcommand's arguments."""
    exp = sub.add_parser(
        "export",
        help="export a recipe checkpoint as a model folder",
        description="Export the best checkpoint of a separation recipe "
        "output folder (hyperparams.yaml, save/CKPT+*/, test_results.csv) "
        "as a SpeechBrain hub folder: hyperparams.yaml with the model and "
        "a pretrainer, encoder/masknet/decoder .ckpt files, "
        "custom_interface.py (the model code, for SpeechBrain's "
        "foreign_class) and a README.md model card. The folder is built "
        "beside OUT, loaded and checked, then put in place in one rename: "
        "a failed or interrupted export leaves OUT as it was. Only these "
        "files are written (the optimizer states stay in save/). Files "
        "get the modes cp gives them (0666 & ~umask, folders 0777 & "
        "~umask); --overwrite keeps the modes you set. Without "
        "--overwrite, OUT must be missing or empty, also when the export "
        "ends: of two exports into one OUT the second stops with an "
        "error. An OUT that is, contains or lies inside RECIPE_OUTPUT is "
        "refused, and --overwrite replaces a model folder only (one with "
        "hyperparams.yaml), not any other non-empty folder. A link OUT to "
        "a folder: that folder is replaced and the link kept.",
    )
    exp.add_argument("recipe_output", help="the recipe's output folder")
    exp.add_argument("--out", required=True, help="folder to write")
    exp.add_argument(
        "--checkpoint",
        default=None,
        help="a CKPT+* folder to export instead of the best one",
    )
    exp.add_argument(
        "--max-key",
        default=None,
        help="checkpoint meta key to maximise (default: si-snr, minimised "
        "where it is SpeechBrain's loss, as the recipes now store it "
        "(si-snr_is_loss) and SpeechBrain's own do, maximised where it "
        "is the validation SI-SNR, as earlier runs of this package stored "
        "it)",
    )
    exp.add_argument(
        "--min-key",
        default=None,
        help="meta key to minimise instead (e.g. a loss)",
    )
    exp.add_argument(
        "--training-data",
        default=None,
        help="description of the training data for the model card",
    )
    exp.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the model in an existing output folder (files and "
        "links you added to it, and the modes you set, are kept)",
    )
    exp.add_argument(
        "--onnx",
        action="store_true",
        help="also write model.onnx (input mix [batch, samples], output "
        "sources [batch, samples, C]; checked against PyTorch) for "
        "`separate --backend onnxruntime`; needs pip install "
        "'speechbrain-galr[onnx]'",
    )
    exp.set_defaults(func=export_command)


def main(argv=None):
    """Runs the command line; returns the exit status.

    Example
    -------
    >>> import contextlib
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     status = main(["separate", "no/such.wav", "--model", "m",
    ...                    "--out", "o"])
    error: audio file not found: no/such.wav
    >>> status
    1
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {
            signum: signal.signal(signum, _raise_terminated)
            for signum in (signal.SIGTERM, signal.SIGHUP)
        }
    try:
        return args.func(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as err:
        print(f"terminated by signal {err.args[0]}", file=sys.stderr)
        return 128 + err.args[0]
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
