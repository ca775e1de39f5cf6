"""The GALR network (Section 2 of the paper) as SpeechBrain ``nnet``
modules: :mod:`.galr` (the mask network), :mod:`.galr_layers` (the
locally recurrent layer and the GALR block), :mod:`.attention` (the
globally attentive layer), :mod:`.segments` (segmentation, norms, row
maps) and :mod:`.tasnet` (encoder, mask network, decoder as one model).
Imports nothing else of the package."""
