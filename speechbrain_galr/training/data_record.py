"""Which data a run's checkpoints were trained and validated on.

The best checkpoint is chosen by its validation score, so the scores of a
run must all come from one validation set.  :class:`DataRecord` is saved
in every checkpoint (``data.ckpt``: the ``data_folder`` and a digest of
the validation set's mixture ids and durations); a run that resumes on
other validation data is stopped with one line, and one that finds the
same validation data in another folder (a moved corpus) is told so.

Authors
 * speechbrain-galr contributors 2026
"""

import hashlib
import logging
import os

import yaml
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

from speechbrain_galr.errors import GALRError

logger = logging.getLogger(__name__)


class DataMismatchError(GALRError):
    """A run resumes on other validation data than its checkpoints."""

    exit_code = 2


def dataset_digest(dataset):
    """A digest of a ``DynamicItemDataset``'s ids and durations.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> a = DynamicItemDataset({"x": {"duration": 1.0}})
    >>> b = DynamicItemDataset({"y": {"duration": 1.0}})
    >>> dataset_digest(a) == dataset_digest(a), dataset_digest(a) == (
    ...     dataset_digest(b))
    (True, False)
    """
    rows = sorted(
        f"{key},{value.get('duration', '')}"
        for key, value in dataset.data.items()
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


@register_checkpoint_hooks
class DataRecord:
    """The data of a run, a checkpoint recoverable (``data.ckpt``).

    Arguments
    ---------
    data_folder : str
        The run's ``data_folder``.
    valid_digest : str
        :func:`dataset_digest` of its validation set.

    Example
    -------
    >>> path = getfixture("tmp_path") / "data.ckpt"
    >>> DataRecord("/data/a", "1234")._save(path)
    >>> record = DataRecord("/data/b", "1234")
    >>> record._recover(path, True)
    >>> record.check()  # the same validation set, moved
    >>> other = DataRecord("/data/a", "5678")
    >>> other._recover(path, True)
    >>> other.check()
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.data_record.DataMismatchError: the checkpoints ...
    """

    def __init__(self, data_folder, valid_digest):
        self.data_folder = os.path.abspath(str(data_folder))
        self.valid_digest = valid_digest
        self.recorded = None

    @mark_as_saver
    def _save(self, path):
        with open(path, "w", encoding="utf-8") as fout:
            yaml.safe_dump(
                {
                    "data_folder": self.data_folder,
                    "valid_digest": self.valid_digest,
                },
                fout,
            )

    @mark_as_loader
    def _recover(self, path, end_of_epoch):
        del end_of_epoch
        with open(path, encoding="utf-8") as fin:
            self.recorded = yaml.safe_load(fin)

    def check(self):
        """Compares the recovered record with this run's data.

        Raises
        ------
        DataMismatchError
            The validation set differs from the checkpoints'.
        """
        if not isinstance(self.recorded, dict):
            return  # nothing recovered, or a run from before the record
        folder = self.recorded.get("data_folder")
        if self.recorded.get("valid_digest") != self.valid_digest:
            raise DataMismatchError(
                f"the checkpoints of this output folder were validated on "
                f"other data (data_folder {folder}, now "
                f"{self.data_folder}): their validation scores would be "
                "compared with another validation set's; give the same "
                "--data_folder, or a new --output_folder"
            )
        if folder != self.data_folder:
            logger.warning(
                f"the checkpoints were trained on data_folder {folder}; "
                f"resuming on the same validation set in {self.data_folder}"
            )
