"""Which checkpoint a recipe's ``test_results.csv`` belongs to.

A recipe writes ``test_results.csv`` when it tests a checkpoint.  A run
resumed later may train further, save newer checkpoints and stop before
its test: the csv then describes an older checkpoint.  So the Brain writes
beside it ``test_results.yaml``, naming the tested checkpoint and the
csv's SHA-256 (:func:`write_results_record`), and the exporter pairs the
results with a checkpoint only when both match (:func:`results_for`).

Authors
 * speechbrain-galr contributors 2026
"""

import hashlib
import os

import yaml

from speechbrain_galr.atomic_files import write_text_atomic

RESULTS_FILE = "test_results.csv"
RECORD_FILE = "test_results.yaml"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        for block in iter(lambda: fin.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_results_record(output_folder, checkpoint):
    """Records that ``test_results.csv`` of ``output_folder`` is the test
    of ``checkpoint`` (call it right after writing the csv).

    Arguments
    ---------
    output_folder : str
        The recipe's output folder.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint or None
        The checkpoint the test loaded (``Checkpointer.recover_if_possible``
        returns it); None when the model tested came from no checkpoint.
    """
    results = os.path.join(output_folder, RESULTS_FILE)
    record = {
        "checkpoint": None if checkpoint is None else checkpoint.path.name,
        "unixtime": None
        if checkpoint is None
        else checkpoint.meta.get("unixtime"),
        "test_results_sha256": _sha256(results),
    }
    write_text_atomic(
        os.path.join(output_folder, RECORD_FILE),
        "# the checkpoint that test_results.csv is the test of\n"
        + yaml.safe_dump(record, sort_keys=False),
    )


def results_for(output_folder, checkpoint):
    """Whether ``test_results.csv`` of a recipe is the test of a checkpoint.

    Arguments
    ---------
    output_folder : str
        The recipe's output folder.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The checkpoint to be exported.

    Returns
    -------
    path : str or None
        The csv, when it belongs to ``checkpoint``.
    reason : str
        Why not, otherwise ("" when it does).

    Example
    -------
    >>> import torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> tmp = str(getfixture("tmp_path"))
    >>> saver = Checkpointer(tmp + "/save", {"m": torch.nn.Linear(1, 1)})
    >>> old = saver.save_checkpoint(meta={"si-snr": 1.0})
    >>> _ = open(tmp + "/test_results.csv", "w").write("snt_id\\navg\\n")
    >>> write_results_record(tmp, old)
    >>> results_for(tmp, old)[0] == tmp + "/test_results.csv"
    True
    >>> new = saver.save_checkpoint(meta={"si-snr": 2.0}, name="later")
    >>> results_for(tmp, new)[1]
    'test_results.csv is the test of checkpoint CKPT+...'
    """
    results = os.path.join(output_folder, RESULTS_FILE)
    record_path = os.path.join(output_folder, RECORD_FILE)
    if not os.path.isfile(results):
        return None, f"the recipe wrote no {RESULTS_FILE}"
    if not os.path.isfile(record_path):
        return None, (
            f"{RESULTS_FILE} does not say which checkpoint it tested "
            f"(no {RECORD_FILE})"
        )
    try:
        with open(record_path, encoding="utf-8") as fin:
            record = yaml.safe_load(fin)
    except yaml.YAMLError:
        record = None
    if not isinstance(record, dict):
        return None, f"{RECORD_FILE} cannot be read"
    if record.get("test_results_sha256") != _sha256(results):
        return None, f"{RESULTS_FILE} changed after {RECORD_FILE} was written"
    tested = record.get("checkpoint")
    if tested != checkpoint.path.name or record.get(
        "unixtime"
    ) != checkpoint.meta.get("unixtime"):
        return None, f"{RESULTS_FILE} is the test of checkpoint {tested}"
    return results, ""
