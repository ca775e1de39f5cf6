"""Time ``torch.compile`` spends compiling is not counted in
``max_train_minutes`` (on a 2-core CPU the first compiled step of a
1-block GALR took 174 s, which spent a short budget before any
training)."""

import time

import torch

from speechbrain_galr.training import budget
from speechbrain_galr.training.budget import TrainingBudgetBrain


class SlowFirstBatchBrain(TrainingBudgetBrain):
    """Its first forward pass "compiles" for 0.6 s: it sleeps and adds the
    time to the fake compile timer."""

    compiled = 0.0

    def compute_forward(self, batch, stage):
        if SlowFirstBatchBrain.compiled == 0.0:
            time.sleep(0.6)
            SlowFirstBatchBrain.compiled = 0.6
        return self.modules.layer(batch)

    def compute_objectives(self, output, batch, stage):
        return output.pow(2).mean()


def test_compilation_is_not_counted_in_the_budget(monkeypatch):
    monkeypatch.setattr(
        budget,
        "compile_seconds",
        lambda: SlowFirstBatchBrain.compiled,
        raising=False,
    )
    SlowFirstBatchBrain.compiled = 0.0
    brain = SlowFirstBatchBrain(
        {"layer": torch.nn.Linear(2, 1)},
        lambda params: torch.optim.SGD(params, lr=0.1),
        hparams={"max_train_minutes": 0.005},  # 0.3 s
        run_opts={"device": "cpu", "noprogressbar": True},
    )
    brain.fit(range(1, 2), [torch.ones(2)] * 4)
    # all four batches ran: the 0.6 s of "compilation" spent no budget
    assert brain.optimizer_step == 4
    assert brain.train_seconds < 0.3
    assert abs(brain.compile_seconds - 0.6) < 1e-9


def test_compile_seconds_reads_dynamo_timers(monkeypatch):
    from torch._dynamo import utils

    before = budget.compile_seconds()
    timers = dict(utils.compilation_time_metrics)
    timers["_compile.compile_inner"] = [
        *timers.get("_compile.compile_inner", []),
        2.5,
    ]
    monkeypatch.setattr(utils, "compilation_time_metrics", timers)
    assert abs(budget.compile_seconds() - before - 2.5) < 1e-9
