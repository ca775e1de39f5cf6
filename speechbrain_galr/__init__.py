"""GALR (globally attentive, locally recurrent) separation for SpeechBrain.

The package is layered; each layer imports only the ones above it in this
list (``tests/test_layers.py`` checks it):

* shared: :mod:`~speechbrain_galr.errors`, :mod:`~speechbrain_galr.audio`,
  :mod:`~speechbrain_galr.atomic_files`, :mod:`~speechbrain_galr.metrics`,
  :mod:`~speechbrain_galr.model_folder`;
* :mod:`speechbrain_galr.nnet`: the network of Lam et al. (SLT 2021),
  Section 2, and the encoder-masknet-decoder ``TasNet``; imports nothing
  else of the package;
* :mod:`speechbrain_galr.data`: corpora, mixing, dynamic mixing;
* :mod:`speechbrain_galr.training`: the recipes' Brain, options,
  checkpoints, results;
* :mod:`speechbrain_galr.inference`: ``GALRSeparation``, chunked and file
  separation, the onnxruntime backend;
* :mod:`speechbrain_galr.export`: hub folders, ``custom_interface.py``,
  the model card, ONNX export;
* ``__main__``: the command line.

Old module paths of the flat layout still import (:mod:`.moved`).
"""

import os

from speechbrain_galr import moved

HPARAMS_DIR = os.path.join(os.path.dirname(__file__), "hparams")
"""Folder of the hyperparameter files shipped with the package."""

moved.install()
