"""Tests of the export of recipe checkpoints to hub-style model folders."""

import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.parameter_transfer import Pretrainer

import speechbrain_galr
from speechbrain_galr.export import ExportError, export_model
from speechbrain_galr.inference import GALRSeparation

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
TINY = dict(
    num_filters=16,
    hidden_channels=8,
    num_blocks=2,
    num_heads=2,
    segment_size=10,
    reduced_segment_size=4,
)
# training settings a recipe has besides the model
RECIPE_EXTRA = """
seed: 1234
data_folder: /data/wsj0-mix/2speakers
output_folder: !ref results/galr/<seed>
save_folder: !ref <output_folder>/save
train_data: !ref <save_folder>/wsj_tr.csv
N_epochs: 200
lr: 0.001
optimizer: !name:torch.optim.Adam
    lr: !ref <lr>
epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter
    limit: !ref <N_epochs>
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
    checkpoints_dir: !ref <save_folder>
    recoverables:
        encoder: !ref <encoder>
        masknet: !ref <masknet>
        decoder: !ref <decoder>
        counter: !ref <epoch_counter>
"""
SCORES = [4.0, 9.5, 7.0]  # validation SI-SNR of the three checkpoints
MIX = torch.sin(torch.arange(3000) * 0.05)[None] + 0.1 * torch.randn(
    1, 3000, generator=torch.Generator().manual_seed(0)
)


def make_recipe_output(folder):
    """A recipe output folder as the WSJ0Mix recipe leaves it: the resolved
    hyperparams.yaml, three checkpoints of different weights and scores,
    test_results.csv.  Returns the output of each checkpoint's model on
    MIX."""
    with open(MODEL_YAML) as fin:
        text = fin.read() + RECIPE_EXTRA
    overrides = {**TINY, "output_folder": str(folder)}
    os.makedirs(folder)
    # what create_experiment_directory writes
    with open(os.path.join(folder, "hyperparams.yaml"), "w") as fout:
        fout.write("# yamllint disable\n")
        fout.write(resolve_references(text, overrides).getvalue())
    hparams = load_hyperpyyaml(text, overrides)
    outputs = []
    for epoch, score in enumerate(SCORES, start=1):
        torch.manual_seed(epoch)
        for module in hparams["modules"].values():
            for param in module.parameters():
                torch.nn.init.normal_(param, std=0.3)
        hparams["epoch_counter"].current = epoch
        hparams["checkpointer"].save_checkpoint(
            meta={"si-snr": score, "epoch": epoch}
        )
        with torch.no_grad():
            for module in hparams["modules"].values():
                module.eval()
            outputs.append(hparams["model"](MIX))
    with open(os.path.join(folder, "test_results.csv"), "w") as fout:
        fout.write("snt_id,sdr,sdr_i,si-snr,si-snr_i\n")
        fout.write("a,10.0,10.5,9.0,9.25\nb,12.0,12.5,11.0,11.75\n")
        fout.write("avg,11.0,11.5,10.0,10.5\n")
    return outputs


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("recipe") / "results")
    return folder, make_recipe_output(folder)


def test_export_picks_the_best_checkpoint_and_reproduces_it(recipe, tmp_path):
    folder, outputs = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    assert sorted(os.listdir(dest)) == [
        "README.md",
        "decoder.ckpt",
        "encoder.ckpt",
        "hyperparams.yaml",
        "masknet.ckpt",
        "test_results.csv",
    ]
    model = GALRSeparation.from_hparams(source=dest)
    best = outputs[SCORES.index(max(SCORES))]
    torch.testing.assert_close(model.separate_batch(MIX), best)
    # and through a file, as a user separates
    path = str(tmp_path / "mix.wav")
    sf.write(path, MIX[0].numpy(), 8000, subtype="FLOAT")
    est = model.separate_file(path, normalize=False)
    torch.testing.assert_close(est, best)
    normalized = model.separate_file(path)
    torch.testing.assert_close(
        normalized, best / best.abs().amax(dim=1, keepdim=True)
    )


def test_hub_hyperparams_have_modules_and_pretrainer(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"), hub_id="me/galr")
    with open(os.path.join(dest, "hyperparams.yaml")) as fin:
        text = fin.read()
    hub = load_hyperpyyaml(text)
    assert sorted(hub["modules"]) == ["decoder", "encoder", "masknet"]
    assert hub["sample_rate"] == 8000 and hub["num_spks"] == 2
    assert isinstance(hub["pretrainer"], Pretrainer)
    assert hub["pretrainer"].loadables["masknet"] is hub["masknet"]
    assert hub["pretrainer"].paths["masknet"] == "me/galr/masknet.ckpt"
    # the recipe's values, and nothing of its training machinery
    assert hub["masknet"].num_layers == TINY["num_blocks"]
    assert hub["encoder"].conv1d.out_channels == TINY["num_filters"]
    for key in ("optimizer", "checkpointer", "epoch_counter", "data_folder"):
        assert key not in hub


def test_model_card_has_training_data_and_test_results(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(
        folder, str(tmp_path / "model"), training_data="Synthetic tones."
    )
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    assert card.startswith("---\n")
    assert "Synthetic tones." in card
    assert "| data_folder | /data/wsj0-mix/2speakers |" in card
    assert "| N_epochs | 200 |" in card
    assert "Average over 2 test mixtures" in card
    assert "| SI-SNRi (dB) | 10.50 |" in card
    assert "| SDRi (dB) | 11.50 |" in card
    assert "si-snr = 9.50" in card
    assert "GALRSeparation.from_hparams" in card


def test_exported_folder_can_be_moved(recipe, tmp_path):
    folder, outputs = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    moved = str(tmp_path / "elsewhere")
    shutil.move(dest, moved)
    model = GALRSeparation.from_hparams(
        source=moved, savedir=str(tmp_path / "cache")
    )
    torch.testing.assert_close(model.separate_batch(MIX), outputs[1])


def test_checkpoint_choice(recipe, tmp_path):
    folder, outputs = recipe
    lowest = export_model(folder, str(tmp_path / "a"), min_key="si-snr")
    model = GALRSeparation.from_hparams(source=lowest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[0])
    # an explicit checkpoint
    checkpoints = Checkpointer(os.path.join(folder, "save")).list_checkpoints()
    last = max(checkpoints, key=lambda c: c.meta["epoch"])
    dest = export_model(folder, str(tmp_path / "b"), checkpoint=last.path)
    model = GALRSeparation.from_hparams(source=dest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])
    # no checkpoint has the key: the newest one
    dest = export_model(folder, str(tmp_path / "c"), max_key="sdr")
    model = GALRSeparation.from_hparams(source=dest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])


def test_export_errors_name_the_problem(recipe, tmp_path):
    folder, _ = recipe
    with pytest.raises(ExportError, match="output folder not found"):
        export_model(str(tmp_path / "nowhere"), str(tmp_path / "m"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="hyperparameter file not found"):
        export_model(str(empty), str(tmp_path / "m"))
    shutil.copy(os.path.join(folder, "hyperparams.yaml"), empty)
    with pytest.raises(ExportError, match="checkpoint folder not found"):
        export_model(str(empty), str(tmp_path / "m"))
    (empty / "save").mkdir()
    with pytest.raises(ExportError, match="no CKPT"):
        export_model(str(empty), str(tmp_path / "m"))
    # a checkpoint without the mask network
    saver = Checkpointer(
        str(empty / "save"), {"encoder": torch.nn.Linear(1, 1)}
    )
    saver.save_checkpoint(meta={"si-snr": 1.0})
    with pytest.raises(ExportError, match="masknet.ckpt"):
        export_model(str(empty), str(tmp_path / "m"))
    # an existing folder is not overwritten unless asked
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_model(folder, str(dest))
    export_model(folder, str(dest), overwrite=True)
    assert (dest / "notes.txt").read_text() == "mine"
    # a recipe without the model definitions
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "hyperparams.yaml").write_text("sample_rate: 8000\nnum_spks: 2\n")
    with pytest.raises(ExportError, match="lack encoder, masknet, decoder"):
        export_model(str(bare), str(tmp_path / "m2"))


def test_mismatched_definition_is_caught(recipe, tmp_path):
    folder, _ = recipe
    wrong = tmp_path / "wrong"
    shutil.copytree(folder, wrong)
    text = (wrong / "hyperparams.yaml").read_text()
    # a recipe whose saved definition does not fit its checkpoints
    (wrong / "hyperparams.yaml").write_text(
        text.replace("num_blocks: 2", "num_blocks: 3")
    )
    with pytest.raises(ExportError, match="does not match"):
        export_model(str(wrong), str(tmp_path / "m"))
    assert not os.path.exists(tmp_path / "m")


def test_separate_file_of_exported_model_handles_other_rates(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    model = GALRSeparation.from_hparams(source=dest)
    stereo = np.random.default_rng(0).normal(0, 0.2, (44100, 2))
    path = str(tmp_path / "stereo.wav")
    sf.write(path, stereo, 44100)
    est = model.separate_file(path)
    assert est.shape == (1, 8000, 2) and torch.isfinite(est).all()


# --- end to end with the WSJ0Mix recipe -----------------------------------

RECIPE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "recipes",
    "WSJ0Mix",
    "separation",
)


def test_recipe_run_export_and_separate_file_reproduce_its_results(tmp_path):
    """Trains the WSJ0Mix recipe for a tiny run, exports it, and checks that
    the exported model, loaded with from_hparams, separates the recipe's
    test mixtures from their files exactly as the recipe's own test did
    (its test_results.csv)."""
    import csv
    import subprocess
    import sys

    from speechbrain_galr.demo import make_demo_corpus
    from speechbrain_galr.inference import load_mono
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
        "--segment_seconds", "0.5", "--num_workers", "0",
        "--num_threads", "1", "--noprogressbar", "--num_test_examples", "1",
    ]
    # fmt: on
    proc = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    dest = export_model(out, str(tmp_path / "model"))
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    with open(os.path.join(out, "test_results.csv")) as fin:
        rows = list(csv.DictReader(fin))
    avg = rows[-1]
    assert f"| SI-SNRi (dB) | {float(avg['si-snr_i']):.2f} |" in card
    assert f"| data_folder | {corpus} |" in card

    model = GALRSeparation.from_hparams(source=dest)
    with open(os.path.join(out, "save", "wsj_tt.csv")) as fin:
        items = {row["ID"]: row for row in csv.DictReader(fin)}
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
            assert scores[key] == pytest.approx(float(row[key]), abs=0.01), (
                key,
                scores,
                row,
            )
