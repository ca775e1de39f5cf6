"""Tests of ``speechbrain_galr.export.standalone``: the generated
``custom_interface.py`` needs only SpeechBrain, and ``foreign_class``
loads an exported recipe run where ``speechbrain_galr`` cannot be
imported."""

import csv
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from scored_recipe import BLOCK_PACKAGE

from speechbrain_galr.export.folder import export_model
from speechbrain_galr.export.hub import (
    list_checkpoints,
    score_direction,
)
from speechbrain_galr.inference.separator import GALRSeparation


def test_custom_interface_needs_only_speechbrain(recipe, tmp_path):
    """custom_interface.py imports nothing but the standard library and
    what installing speechbrain installs."""
    import ast
    import importlib.metadata

    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    with open(os.path.join(dest, "custom_interface.py")) as fin:
        tree = ast.parse(fin.read())
    required = {"speechbrain", "torch", "torchaudio"}
    for requirement in importlib.metadata.requires("speechbrain"):
        if "extra ==" not in requirement:
            name = requirement.split(";")[0].split(">")[0].split("=")[0]
            required.add(name.strip().replace("-", "_").lower())
    imported = set()
    for node in tree.body:  # module level: what loading the file needs
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party <= required | {"speechbrain_galr"}, third_party
    # the package itself only in the guarded fallback at the end
    assert "speechbrain_galr" not in third_party or any(
        isinstance(node, ast.Try) for node in tree.body
    )


REPO = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)

# --- end to end with the WSJ0Mix recipe -----------------------------------

RECIPE = os.path.join(REPO, "recipes", "WSJ0Mix", "separation")

FOREIGN_LOAD = (
    BLOCK_PACKAGE
    + """
est = model.separate_file(sys.argv[2], normalize=False)
# the classes came from custom_interface.py, not from an installed package
assert not hasattr(sys.modules["speechbrain_galr"], "__file__")
assert type(model).__module__ == "custom_interface"
torch.save(est, sys.argv[3])
"""
)


def test_recipe_run_export_and_foreign_class_reproduce_its_results(tmp_path):
    """Trains the WSJ0Mix recipe for a tiny run, exports it, and checks that
    the exported model separates the recipe's test mixtures from their
    files as the recipe's own test did (test_results.csv): loaded with
    from_hparams, and with foreign_class in a process where
    speechbrain_galr cannot be imported."""
    from speechbrain_galr.audio import load_mono
    from speechbrain_galr.data.demo_corpus import make_demo_corpus
    from speechbrain_galr.metrics import separation_scores

    corpus = make_demo_corpus(
        str(tmp_path / "corpus"),
        num_speakers=8,
        utterances_per_speaker=1,
        num_mixtures=(4, 2, 2),
        num_valid_speakers=2,
        num_test_speakers=2,
        max_seconds=1.0,
    )
    out = str(tmp_path / "recipe_output")
    # fmt: off
    command = [
        sys.executable, "train.py", "hparams/galr-small.yaml",
        "--data_folder", corpus, "--output_folder", out,
        "--num_filters", "16", "--hidden_channels", "16",
        "--num_blocks", "1", "--num_heads", "2", "--segment_size", "20",
        "--reduced_segment_size", "4", "--N_epochs", "2",
        "--num_workers", "0",
        "--num_threads", "1", "--noprogressbar", "--num_test_examples", "1",
    ]
    # fmt: on
    proc = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # the recipe stores SpeechBrain's loss (si-snr_is_loss), minimised
    checkpoints = list_checkpoints(os.path.join(out, "save"))
    assert {score_direction(c) for c in checkpoints} == {"min"}
    dest = export_model(out, str(tmp_path / "model"))
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    with open(os.path.join(out, "test_results.csv")) as fin:
        rows = list(csv.DictReader(fin))
    avg = rows[-1]
    assert f"| SI-SNRi (dB) | {float(avg['si-snr_i']):.2f} |" in card
    assert "| data_folder | .../2speakers |" in card  # its last folder only

    model = GALRSeparation.from_hparams(source=dest)
    with open(os.path.join(out, "save", "wsj_tt.csv")) as fin:
        # the prepared CSV's paths start with $data_root (SpeechBrain's)
        items = {
            row["ID"]: {
                key: value.replace("$data_root", corpus)
                for key, value in row.items()
            }
            for row in csv.DictReader(fin)
        }
    assert len(rows) - 1 == len(items) == 2
    for row in rows[:-1]:
        item = items[row["snt_id"]]
        est = model.separate_file(item["mix_wav"])[0]  # [T, C]
        mixture, _ = load_mono(item["mix_wav"])
        references = torch.stack(
            [load_mono(item[f"s{c}_wav"])[0] for c in (1, 2)], dim=-1
        )
        scores = separation_scores(mixture, references, est)
        for key in ("si-snr", "si-snr_i", "sdr", "sdr_i"):
            assert scores[key] == pytest.approx(float(row[key]), abs=0.01)

    # foreign_class, with speechbrain_galr blocked, run outside the checkout
    row = rows[0]
    item = items[row["snt_id"]]
    script = tmp_path / "foreign.py"
    script.write_text(textwrap.dedent(FOREIGN_LOAD))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = str(tmp_path / "foreign.pt")
    proc = subprocess.run(
        [sys.executable, str(script), dest, item["mix_wav"], result],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    foreign = torch.load(result)[0]
    torch.testing.assert_close(
        foreign, model.separate_file(item["mix_wav"], normalize=False)[0]
    )
    mixture, _ = load_mono(item["mix_wav"])
    references = torch.stack(
        [load_mono(item[f"s{c}_wav"])[0] for c in (1, 2)], dim=-1
    )
    scores = separation_scores(mixture, references, foreign)
    print(
        f"foreign_class SI-SNR {scores['si-snr']:.4f} dB, recipe test "
        f"{float(row['si-snr']):.4f} dB, difference "
        f"{abs(scores['si-snr'] - float(row['si-snr'])):.2e} dB"
    )
    assert scores["si-snr"] == pytest.approx(float(row["si-snr"]), abs=0.01)
