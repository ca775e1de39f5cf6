"""Separation with a trained model: ``GALRSeparation``, a SpeechBrain
``Pretrained`` (:mod:`.separator`), chunked separation of long signals
(:mod:`.chunked`), file in / one WAV per source out
(:mod:`.file_separation`), model loading and paths (:mod:`.loading`,
:mod:`.user_paths`), run options (:mod:`.run_options`), the onnxruntime
backend (:mod:`.onnx_runtime`) and the sources figure
(:mod:`.source_figure`).

>>> from speechbrain_galr.inference import GALRSeparation
"""

from speechbrain_galr.moved import forward_former_name


def __getattr__(name):  # GALRSeparation and the former module's names
    return forward_former_name(__name__, name)
