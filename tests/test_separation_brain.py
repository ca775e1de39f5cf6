"""SeparationBrain in-process: loss, lr schedule, time budget, results."""

import csv

import pytest
import speechbrain as sb
import torch
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.nnet.schedulers import StepScheduler
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_galr.galr import GALR
from speechbrain_galr.separation import (
    SeparationBrain,
    fixed_order_si_snr_loss,
)
from speechbrain_galr.tasnet import TasNet


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The brains below set one torch thread (num_threads: fastest for tiny
    models on a busy CPU); other tests get theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _items(num, length=400, num_spks=2):
    generator = torch.Generator().manual_seed(0)
    items = []
    for i in range(num):
        sources = torch.randn(num_spks, length, generator=generator)
        item = {"id": f"utt{i}", "mix_sig": sources.sum(0)}
        for c in range(num_spks):
            item[f"s{c + 1}_sig"] = sources[c]
        items.append(item)
    return items


def _brain(tmp_path, epochs, **extra):
    modules = {
        "encoder": Encoder(kernel_size=16, out_channels=16),
        "masknet": GALR(16, 16, 16, num_blocks=1, num_heads=2,
                        segment_size=10, reduced_segment_size=4),
        "decoder": Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    }  # fmt: skip
    model = TasNet(**modules)
    counter = EpochCounter(epochs)
    hparams = {
        "num_spks": 2,
        "sample_rate": 8000,
        "output_folder": str(tmp_path),
        "epoch_counter": counter,
        "lr_scheduler": StepScheduler(1e-3, 0.96, 2),
        "training_signal_len": 200,
        "num_test_examples": 1,
        "num_threads": 1,
        **extra,
    }
    checkpointer = Checkpointer(
        str(tmp_path / "save"), {"counter": counter, **modules}
    )
    return SeparationBrain(
        {"model": model},
        opt_class=lambda params: torch.optim.Adam(params, lr=1e-3),
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=checkpointer,
    )


def test_fixed_order_loss_is_not_permutation_invariant():
    refs = torch.randn(2, 500, 2)
    swapped = refs.flip(-1)
    pit = sb.nnet.losses.get_si_snr_with_pitwrapper(refs, swapped.clone())
    fixed = fixed_order_si_snr_loss(refs, swapped)
    assert (pit < -50).all() and (fixed > 0).all()


def test_lr_decays_every_two_epochs_and_curves(tmp_path):
    brain = _brain(tmp_path, epochs=4)
    brain.fit(brain.hparams.epoch_counter, _items(2), _items(1))
    with open(tmp_path / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    # lr used in epochs 1..4: x0.96 after epochs 2 and 4
    assert [float(r["lr"]) for r in rows] == pytest.approx(
        [1e-3, 1e-3, 0.96e-3, 0.96e-3]
    )
    assert brain.optimizer.param_groups[0]["lr"] == pytest.approx(0.9216e-3)
    assert [int(r["optimizer_steps"]) for r in rows] == [2, 4, 6, 8]
    assert (tmp_path / "training_curves.png").stat().st_size > 0


def test_time_budget_stops_training(tmp_path):
    brain = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    brain.fit(brain.hparams.epoch_counter, _items(4), _items(1))
    assert brain.budget_exhausted
    assert 1 <= brain.optimizer_step < 4000
    assert brain.train_seconds >= 0.12


def test_rerun_after_the_budget_adds_no_epoch(tmp_path):
    brain = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    brain.fit(brain.hparams.epoch_counter, _items(4), _items(1))
    with open(tmp_path / "curves.csv") as f:
        epochs_done = len(list(csv.DictReader(f)))
    rerun = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    rerun.fit(rerun.hparams.epoch_counter, _items(4), _items(1))
    assert rerun.budget_exhausted
    assert rerun.optimizer_step == brain.optimizer_step
    with open(tmp_path / "curves.csv") as f:
        assert len(list(csv.DictReader(f))) == epochs_done


def test_test_scores_hook_sets_result_columns(tmp_path):
    class OneScoreBrain(SeparationBrain):
        def test_scores(self, mixture, references, estimates):
            return {"energy": float(estimates.pow(2).mean())}

    brain = _brain(tmp_path, epochs=1)
    brain.__class__ = OneScoreBrain
    brain.evaluate(_items(3), test_loader_kwargs={"batch_size": 2})
    with open(tmp_path / "test_results.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["snt_id", "energy"]
    assert [r["snt_id"] for r in rows] == ["utt0", "utt1", "utt2", "avg"]
    assert (tmp_path / "test_examples.png").stat().st_size > 0
