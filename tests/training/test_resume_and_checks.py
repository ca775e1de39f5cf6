"""Training that must not go wrong quietly: a budget stop resumes
mid-epoch, a corpus file with NaN samples, and runs that would test a
random model or mix up two corpora."""

import csv
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
import yaml
from recipe_runner import run_train
from speechbrain.core import INTRA_EPOCH_CKPT_FLAG
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.nnet.schedulers import StepScheduler
from speechbrain.utils.epoch_loop import EpochCounter

import speechbrain_galr.training.budget as budget
from speechbrain_galr.data.corpus import prepare_wsj0mix
from speechbrain_galr.data.demo_corpus import make_demo_corpus
from speechbrain_galr.nnet.galr import GALR
from speechbrain_galr.nnet.tasnet import TasNet
from speechbrain_galr.training.brain import SeparationBrain
from speechbrain_galr.training.checkpoints import AtomicCheckpointer
from speechbrain_galr.training.options import RecipeDataError
from speechbrain_galr.training.recipe import main, separation_csv_dataset


@pytest.fixture(autouse=True)
def restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class FakeClock:
    """``time`` for budget.py: every call is one second later."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        self.now += 1.0
        return self.now


def items(num, length=400):
    generator = torch.Generator().manual_seed(0)
    result = []
    for i in range(num):
        sources = torch.randn(2, length, generator=generator)
        result.append(
            {"id": f"utt{i}", "mix_sig": sources.sum(0),
             "s1_sig": sources[0], "s2_sig": sources[1]}
        )  # fmt: skip
    return result


class RecordingBrain(SeparationBrain):
    """Records the ids of the training batches."""

    def compute_forward(self, batch, stage):
        if stage == sb.Stage.TRAIN:
            self.hparams.seen.extend(batch.id)
        return super().compute_forward(batch, stage)


def make_brain(folder, epochs, max_train_minutes, seen):
    torch.manual_seed(0)
    modules = {
        "encoder": Encoder(kernel_size=16, out_channels=16),
        "masknet": GALR(16, 16, 16, num_blocks=1, num_heads=2,
                        segment_size=10, reduced_segment_size=4),
        "decoder": Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    }  # fmt: skip
    counter = EpochCounter(epochs)
    hparams = {
        "num_spks": 2,
        "sample_rate": 8000,
        "output_folder": str(folder),
        "epoch_counter": counter,
        "lr_scheduler": StepScheduler(1e-3, 0.5, 1),
        "max_train_minutes": max_train_minutes,
        "num_threads": 1,
        "seen": seen,
    }
    checkpointer = AtomicCheckpointer(
        str(folder / "save"), {"counter": counter, **modules}
    )
    return RecordingBrain(
        {"model": TasNet(**modules)},
        opt_class=lambda params: torch.optim.Adam(params, lr=1e-3),
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=checkpointer,
    )


def _checkpoint_metas(save_folder):
    metas = []
    for name in sorted(os.listdir(save_folder)):
        if name.startswith("CKPT+"):
            with open(save_folder / name / "CKPT.yaml") as f:
                meta = yaml.safe_load(f)
            with open(save_folder / name / "brain.ckpt") as f:
                meta["step"] = yaml.safe_load(f)["step"]
            metas.append(meta)
    return metas


def test_budget_stop_resumes_mid_epoch(tmp_path, monkeypatch):
    """A budget that runs out after batch 4 of 10 leaves epoch 1 open (an
    intra-epoch checkpoint at batch 4, no validation, no lr decay, no
    curve row); the rerun with a larger budget trains batches 5 to 10 of
    the same epoch (in the same shuffled order), then validates it."""
    monkeypatch.setattr(budget, "time", FakeClock())
    loader = {"batch_size": 1, "shuffle": True}
    seen = []
    brain = make_brain(tmp_path, 1, 3.5 / 60, seen)  # 1 s a batch
    brain.fit(brain.hparams.epoch_counter, items(10), items(1),
              train_loader_kwargs=loader)  # fmt: skip
    assert brain.optimizer_step == 4 and len(seen) == 4
    (meta,) = _checkpoint_metas(tmp_path / "save")
    assert meta[INTRA_EPOCH_CKPT_FLAG] and meta["step"] == 4
    assert not (tmp_path / "curves.csv").exists()  # not validated
    assert brain.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)

    rerun = make_brain(tmp_path, 1, 100 / 60, seen)
    rerun.fit(rerun.hparams.epoch_counter, items(10), items(1),
              train_loader_kwargs=loader)  # fmt: skip
    assert rerun.optimizer_step == 10
    assert sorted(seen) == sorted(f"utt{i}" for i in range(10))
    with open(tmp_path / "curves.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["epoch"] == "1" and row["optimizer_steps"] == "10"
    assert float(row["lr"]) == pytest.approx(1e-3)  # decayed after it
    assert rerun.optimizer.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    (meta,) = _checkpoint_metas(tmp_path / "save")
    assert meta["end-of-epoch"] and meta["epoch"] == 1


def test_nan_corpus_file_stops_before_training(tmp_path):
    """A floating-point WAV of the corpus with NaN samples is named before
    training starts (it used to crash training in the middle of an epoch,
    losing the steps since the last checkpoint); integer WAVs, which
    cannot hold NaN, are not read."""
    signal = 0.1 * np.ones(800)
    for name in ("mix", "s1", "s2"):
        sf.write(str(tmp_path / f"{name}.wav"), signal, 8000)
    signal[10:20] = np.nan
    sf.write(str(tmp_path / "bad.wav"), signal, 8000, subtype="FLOAT")
    csv_path = tmp_path / "data.csv"
    csv_path.write_text(
        "ID,duration,mix_wav,s1_wav,s2_wav\n"
        "a,0.1,$data_root/mix.wav,$data_root/s1.wav,$data_root/s2.wav\n"
        "b,0.1,$data_root/mix.wav,$data_root/bad.wav,$data_root/s2.wav\n"
    )
    with pytest.raises(RecipeDataError) as error:
        separation_csv_dataset(str(csv_path), 2, data_root=str(tmp_path))
    assert str(error.value).startswith(f"1 file(s) listed in {csv_path} ")
    assert f"NaN or Inf samples, e.g. {tmp_path / 'bad.wav'} " in str(
        error.value
    )
    sf.write(str(tmp_path / "bad.wav"), 0.1 * np.ones(800), 8000, "FLOAT")
    data = separation_csv_dataset(str(csv_path), 2, data_root=str(tmp_path))
    assert len(data) == 2


RECIPE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    "recipes",
    "WSJ0Mix",
    "separation",
)
TINY_RUN = [
    "--num_blocks", "1", "--num_filters", "16", "--hidden_channels", "16",
    "--num_heads", "2", "--segment_size", "20", "--reduced_segment_size",
    "4", "--training_signal_len", "2000", "--num_workers", "0",
    "--num_threads", "1", "--noprogressbar", "--save_audio", "False",
    "--num_test_examples", "1", "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two tiny wsj0-2mix corpora (other mixtures) and a copy of the
    first one elsewhere (a moved corpus)."""
    folder = tmp_path_factory.mktemp("corpora")
    for name, seed in (("a", 0), ("b", 5)):
        make_demo_corpus(str(folder / name), num_spks=2, num_speakers=10,
                         utterances_per_speaker=2, num_mixtures=(4, 2, 2),
                         num_valid_speakers=3, num_test_speakers=3,
                         max_seconds=0.5, seed=seed)  # fmt: skip
    shutil.copytree(folder / "a", folder / "moved")
    names = ("a", "b", "moved")
    return {name: str(folder / name / "2speakers") for name in names}


def _error_line(stderr):
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr[-3000:]
    assert lines[-1].startswith("error: "), stderr[-3000:]
    return lines[-1]


@pytest.mark.parametrize(
    "option, why",
    [(["--test_only"], "--test_only trains nothing"),
     (["--max_train_minutes", "0"], "--max_train_minutes 0 trains nothing")],
)  # fmt: skip
def test_nothing_to_test_is_refused(tmp_path, capsys, option, why):
    """--test_only or a zero budget with no checkpoint used to test a
    random model and write test_results.csv with exit status 0: now one
    error line, exit status 2, and nothing written."""
    out = tmp_path / "run"
    argv = [os.path.join(RECIPE, "hparams", "galr-small.yaml"),
            "--data_folder", str(tmp_path), "--output_folder", str(out),
            *option]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    line = _error_line(capsys.readouterr().err)
    assert line == (
        f"error: nothing to test: {why} and {out / 'save'} holds no "
        "checkpoint (train first, or give the --output_folder of a trained "
        "run)"
    )
    assert not out.exists()


def _never_called(hparams):
    raise AssertionError("the recipe went past the checks")


def test_num_spks_below_the_corpus_sources_is_refused(corpora, tmp_path):
    """--num_spks 1 on a 2-speaker corpus used to train without a word."""
    with pytest.raises(ValueError, match=r"holds more sources than "
                       r"num_spks=1 \(.*/tr/s2 exists\)"):  # fmt: skip
        prepare_wsj0mix(corpora["a"], str(tmp_path), num_spks=1)
    assert not list(tmp_path.iterdir())


def test_resume_on_other_validation_data_is_refused(corpora, tmp_path):
    """A run resumed on another corpus used to compare validation scores
    of two validation sets; now it stops with one line (exit status 2)
    before training, and a moved copy of the same corpus resumes with a
    warning."""
    out = str(tmp_path / "run")
    args = ["hparams/galr-small.yaml", "--output_folder", out, *TINY_RUN]
    run_train(RECIPE, args + ["--data_folder", corpora["a"],
                              "--N_epochs", "1"])  # fmt: skip
    proc = run_train(
        RECIPE,
        args + ["--data_folder", corpora["b"], "--N_epochs", "2"],
        expect_success=False,
    )
    assert proc.returncode == 2
    line = _error_line(proc.stderr)
    assert line.startswith(
        "error: the checkpoints of this output folder were validated on "
        f"other data (data_folder {corpora['a']}, now {corpora['b']})"
    )
    with open(os.path.join(out, "curves.csv")) as f:
        assert len(list(csv.DictReader(f))) == 1  # epoch 2 not trained
    proc = run_train(RECIPE, args + ["--data_folder", corpora["moved"],
                                     "--N_epochs", "2"])  # fmt: skip
    assert (
        f"the checkpoints were trained on data_folder {corpora['a']}; "
        f"resuming on the same validation set in {corpora['moved']}"
    ) in proc.stdout + proc.stderr
    with open(os.path.join(out, "curves.csv")) as f:
        assert len(list(csv.DictReader(f))) == 2
