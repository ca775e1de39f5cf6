"""Fixtures shared by the tests of ``speechbrain_galr.inference``."""

import pytest
import torch
from inference_helpers import synthetic_sources, tiny_hparams

from speechbrain_galr.inference.separator import GALRSeparation

# This file is not collected for doctests: --doctest-modules
# imports each conftest.py once more as a module named "conftest", which
# clashes with another folder's conftest.py when both folders are given
# on one command line ("import file mismatch").
collect_ignore = ["conftest.py"]


@pytest.fixture(scope="session")
def trained():
    """A tiny GALR trained for 60 steps on the synthetic sources (about
    15 dB SI-SNR); a model that separates makes the chunked-versus-whole
    comparison meaningful.  Session scope: test_chunked.py and
    test_run_options_and_paths.py share the one training."""
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    hparams = tiny_hparams(seed=0)
    modules = torch.nn.ModuleList(hparams["modules"].values())
    optimizer = torch.optim.Adam(modules.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(60):
        sources = synthetic_sources(4, 2000, generator)
        est = hparams["model"](sources.sum(-1))
        loss = get_si_snr_with_pitwrapper(sources, est).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return GALRSeparation(hparams["modules"], hparams)
