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
import sys
import time

EXIT_ERROR = 1


def _plot_sources(paths, png_path, max_points=200_000):
    """Saves the waveforms and spectrograms of the separated wavs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    fig, axes = plt.subplots(
        len(paths), 2, figsize=(12, 2.6 * len(paths)), squeeze=False
    )
    for row, path in enumerate(paths):
        signal, rate = sf.read(path, dtype="float32")
        step = max(1, len(signal) // max_points)
        times = [i / rate for i in range(0, len(signal), step)]
        axes[row, 0].plot(times, signal[::step], linewidth=0.4)
        axes[row, 0].set_title(os.path.basename(path))
        axes[row, 0].set_xlabel("time (s)")
        axes[row, 1].specgram(signal, NFFT=512, Fs=rate, noverlap=256)
        axes[row, 1].set_xlabel("time (s)")
        axes[row, 1].set_ylabel("Hz")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def separate_command(args):
    """Runs ``separate``; returns the exit status."""
    from speechbrain_galr.inference import _looks_remote, open_audio
    from speechbrain_galr.loading import load_model

    # check the input before loading the model
    with open_audio(args.mixture) as audio:
        seconds = audio.frames / audio.samplerate
        rate, channels = audio.samplerate, audio.channels
    if not os.path.isdir(args.model) and not _looks_remote(args.model, 1):
        raise FileNotFoundError(f"model folder not found: {args.model}")
    run_opts = {"device": args.device}
    model = load_model(args.model, savedir=args.savedir, run_opts=run_opts)
    print(
        f"separating {args.mixture} ({seconds:.1f} s, {rate} Hz, "
        f"{channels} channel(s)) into {model.hparams.num_spks} sources",
        file=sys.stderr,
    )
    start = time.time()
    paths = model.separate_file_to_folder(
        args.mixture,
        args.out,
        chunk_seconds=args.chunk_seconds,
        overlap_seconds=args.overlap_seconds,
        progress=False if args.quiet else None,
    )
    if args.plot:
        name = os.path.splitext(os.path.basename(args.mixture))[0]
        png = os.path.join(args.out, f"{name}_sources.png")
        _plot_sources(paths, png)
        paths.append(png)
    print(f"done in {time.time() - start:.1f} s", file=sys.stderr)
    for path in paths:
        print(path)
    return 0


def export_command(args):
    """Runs ``export``; returns the exit status."""
    from speechbrain_galr.export import export_model

    dest = export_model(
        args.recipe_output,
        args.out,
        checkpoint=args.checkpoint,
        max_key=args.max_key,
        min_key=args.min_key,
        training_data=args.training_data,
        overwrite=args.overwrite,
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
    sep = sub.add_parser(
        "separate",
        help="separate a recording into one wav per source",
        description="Separate MIXTURE (wav, flac, ogg...; any length, "
        "sample rate and channel count: channels are averaged) into one "
        "16-bit wav per source, <name>_source<i>.wav, at the input's "
        "sample rate. Long files are separated in overlapping chunks in "
        "bounded memory.",
    )
    sep.add_argument("mixture", help="audio file to separate")
    sep.add_argument(
        "--model",
        required=True,
        help="model folder written by `export` (hyperparams.yaml, *.ckpt), "
        "or a hub id (owner/name) with the same files",
    )
    sep.add_argument("--out", required=True, help="output folder")
    sep.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        help="chunk length for long files (default 10)",
    )
    sep.add_argument(
        "--overlap-seconds",
        type=float,
        default=None,
        help="overlap of consecutive chunks (default 2)",
    )
    sep.add_argument(
        "--device", default="cpu", help="torch device (default cpu)"
    )
    sep.add_argument(
        "--savedir",
        default=None,
        help="where to keep links to the model files (default: none)",
    )
    sep.add_argument(
        "--plot",
        action="store_true",
        help="also save waveforms and spectrograms as <name>_sources.png",
    )
    sep.add_argument("--quiet", action="store_true", help="no progress bar")
    sep.set_defaults(func=separate_command)

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
        "a failed or interrupted export leaves OUT as it was.",
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
        help="checkpoint meta key to maximise (default: si-snr, maximised "
        "for this package's recipes, which store the validation SI-SNR, "
        "minimised for SpeechBrain's, which store the loss)",
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
        help="replace the model in an existing output folder (files you "
        "added to it are kept)",
    )
    exp.set_defaults(func=export_command)
    return parser


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
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
