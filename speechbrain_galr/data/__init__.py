"""Data for the separation recipes: wsj0-mix CSVs and speaker corpora
(:mod:`.corpus`), audio clips and splits (:mod:`.audio_clips`), fixed
mixtures (:mod:`.mixing`), mixing on the fly (:mod:`.dynamic_mixing`)
and the synthetic demo corpus (:mod:`.demo_corpus`)."""

from speechbrain_galr.moved import forward_former_name


def __getattr__(name):  # the names of the former module ``data``
    return forward_former_name(__name__, name)
