"""GALR (globally attentive, locally recurrent) separation for SpeechBrain.

``speechbrain_galr.galr`` holds the network (Lam et al., SLT 2021),
``speechbrain_galr.tasnet`` the encoder-masknet-decoder forward pass.
"""

import os

HPARAMS_DIR = os.path.join(os.path.dirname(__file__), "hparams")
"""Folder of the hyperparameter files shipped with the package."""
