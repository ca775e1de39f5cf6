"""The training code the recipes share: the Brain (:mod:`.brain`), the
recipe driver and its options (:mod:`.recipe`, :mod:`.options`),
checkpoints (:mod:`.checkpoints`), the time budget (:mod:`.budget`),
test results, figures and their record (:mod:`.results`,
:mod:`.plotting`, :mod:`.results_record`)."""
