"""A recipe's checkpoint as a SpeechBrain hub folder: the export
(:mod:`.folder`), the hub ``hyperparams.yaml`` and checkpoint choice
(:mod:`.hub`), the generated ``custom_interface.py``
(:mod:`.standalone`), the model card (:mod:`.model_card`) and ONNX
(:mod:`.onnx`)."""

from speechbrain_galr.moved import forward_former_name


def __getattr__(name):  # the names of the former module ``export``
    return forward_former_name(__name__, name)
