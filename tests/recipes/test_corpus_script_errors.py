"""The recipes' corpus scripts (``create_wsj0music.py``,
``simulate_librimix.py``) on a missing folder or a bad option: one
``error:`` line and exit status 1 (2 for an option), nothing written
(these were tracebacks)."""

import os
import sys

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
for recipe in ("WSJ0Music", "LibriMix"):
    sys.path.insert(0, os.path.join(ROOT, "recipes", recipe, "separation"))

import create_wsj0music  # noqa: E402
import simulate_librimix  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Six speakers of noise utterances and three "music" tracks."""
    root = tmp_path_factory.mktemp("corpus_inputs")
    rng = np.random.default_rng(0)
    for spk in range(6):
        os.makedirs(root / "speech" / f"spk{spk}")
        sf.write(str(root / "speech" / f"spk{spk}" / "u.wav"),
                 0.1 * rng.standard_normal(4000), 8000)  # fmt: skip
    os.makedirs(root / "music")
    for track in range(3):
        sf.write(str(root / "music" / f"t{track}.wav"),
                 0.1 * rng.standard_normal(8000), 8000)  # fmt: skip
    return root


def _music(folders, out, *options):
    return create_wsj0music.main(
        ["--speech-folder", str(folders / "speech"), "--music-folder",
         str(folders / "music"), "--out-folder", str(out), "--num-train", "1",
         "--num-valid", "1", "--num-test", "1", "--valid-speakers", "2",
         "--test-speakers", "2", "--valid-tracks", "1", "--test-tracks", "1",
         *options]
    )  # fmt: skip


def _libri(folders, out, *options):
    return simulate_librimix.main(
        ["--speech-folder", str(folders / "speech"), "--out-folder", str(out),
         "--num-train", "1", "--num-dev", "1", "--num-test", "1",
         "--valid-speakers", "2", "--test-speakers", "2", *options]
    )  # fmt: skip


@pytest.mark.parametrize(
    "script, options, status, message",
    [
        (_music, ["--speech-folder", "nosuch"], 1,
         "speaker folder not found: nosuch"),
        (_music, ["--music-folder", "nosuch"], 1,
         "music folder not found: nosuch"),
        (_music, ["--sample-rate", "0"], 2, "--sample-rate must be"),
        (_music, ["--max-seconds", "0"], 2, "--max-seconds must be"),
        (_libri, ["--speech-folder", "nosuch"], 1,
         "speaker folder not found: nosuch"),
        (_libri, ["--noise-folder", "nosuch"], 1,
         "noise folder not found: nosuch"),
        (_libri, ["--num-spks", "0"], 2, "--num-spks must be a whole number"),
        (_libri, ["--num-spks", "3"], 1, "has 2 speakers, fewer than the 3"),
    ],
)  # fmt: skip
def test_one_error_line_and_nothing_written(
    folders, tmp_path, capsys, script, options, status, message
):
    out = tmp_path / "corpus"
    assert script(folders, out, *options) == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert message in lines[0]
    assert not out.exists()


def test_good_options_still_make_the_corpora(folders, tmp_path):
    assert _music(folders, tmp_path / "music_corpus") == 0
    assert (tmp_path / "music_corpus" / "metadata.csv").is_file()
    assert _libri(folders, tmp_path / "libri", "--max-seconds", "0.2") == 0
    assert (tmp_path / "libri" / "Libri2Mix" / "wav8k" / "min").is_dir()
