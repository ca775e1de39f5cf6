"""A ``savedir`` (``--savedir``) that always loads the model asked for.

SpeechBrain's ``from_hparams(source=FOLDER, savedir=SAVEDIR)`` links each
file it fetches into ``SAVEDIR`` (``LocalStrategy.SYMLINK``) and, for a
local folder, uses a file already there as it is.  A ``SAVEDIR`` reused
for another model folder therefore still holds links to the first one,
and the first model runs without a word.  :func:`prepare_savedir`, called
before SpeechBrain's loader, follows ``ln -sf``: a link in ``SAVEDIR`` to
another model's file is re-linked to the file of the folder asked for
(with a warning naming both); a real file there (a copy of another
model, or the user's own file) is never replaced: the load stops with a
one-line :class:`SavedirError`.  Hub models are not concerned (SpeechBrain
checks them for updates and re-links them itself).

Authors
 * speechbrain-galr contributors 2026
"""

import filecmp
import os

from speechbrain.utils.logger import get_logger

from speechbrain_galr.errors import GALRError

logger = get_logger(__name__)


class SavedirError(GALRError):
    """A ``savedir`` that cannot be used for the model asked for."""


def _same_file(first, second):
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _relink(link, target):
    """Points the link ``link`` to ``target`` in one rename."""
    tmp = f"{link}.galr-relink-{os.getpid()}"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        os.remove(tmp)
        raise


def prepare_savedir(source, savedir):
    """Checks ``savedir`` for loading the model folder ``source``; links
    in it to another model's files are re-linked to ``source``'s.

    Arguments
    ---------
    source : str
        The model folder (or a hub id or URL: then only ``savedir``'s name
        is checked).
    savedir : str or os.PathLike or None
        Where SpeechBrain links the model's files; None for none.

    Returns
    -------
    list of str
        The names of the entries that were re-linked.

    Raises
    ------
    SavedirError
        When ``savedir`` is empty text or a file, or holds a file (not a
        link) of the same name that differs from ``source``'s.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> for model in ("first", "second"):
    ...     (tmp / model).mkdir()
    ...     _ = (tmp / model / "hyperparams.yaml").write_text(model)
    >>> (tmp / "saved").mkdir()
    >>> (tmp / "saved" / "hyperparams.yaml").symlink_to(
    ...     tmp / "first" / "hyperparams.yaml")
    >>> prepare_savedir(str(tmp / "second"), str(tmp / "saved"))
    ['hyperparams.yaml']
    >>> (tmp / "saved" / "hyperparams.yaml").read_text()
    'second'
    """
    if savedir is None:
        return []
    savedir = os.fspath(savedir)
    if not savedir.strip():
        raise SavedirError(
            "--savedir (savedir) is empty; give a folder, or leave it out "
            "to load the model where it is"
        )
    if os.path.exists(savedir) and not os.path.isdir(savedir):
        raise SavedirError(f"savedir {savedir} is a file, not a folder")
    if not os.path.isdir(source) or not os.path.isdir(savedir):
        return []
    relinked = []
    for name in sorted(set(os.listdir(savedir)) & set(os.listdir(source))):
        entry, wanted = (
            os.path.join(savedir, name),
            os.path.abspath(os.path.join(source, name)),
        )
        if not os.path.isfile(wanted) or _same_file(entry, wanted):
            continue
        if os.path.islink(entry):
            _relink(entry, wanted)
            relinked.append(name)
        elif not (os.path.isfile(entry) and filecmp.cmp(entry, wanted, False)):
            raise SavedirError(
                f"savedir {savedir} holds a {name} that is not a link and "
                f"differs from {wanted} (another model's?); use another "
                "--savedir (savedir), or remove it"
            )
    if relinked:
        logger.warning(
            f"warning: savedir {savedir} held links to another model's "
            f"{', '.join(relinked)}; re-linked to {source}"
        )
    return relinked
