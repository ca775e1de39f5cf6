"""The one place where paths given by a user are resolved.

A model (``--model``, ``GALRSeparation.from_hparams(source=...)``) or an
audio file (``separate``, ``separate_file``) may be named by a local path,
a URL, or a hub entry, as in SpeechBrain: ``owner/name`` for a model,
``owner/name/file.wav`` for a file in a hub repository.  The rule:

1. an existing local path is used as it is;
2. ``scheme://...`` is a URL;
3. a path that looks local and does not exist is "not found" at once: it
   starts with ``/``, ``.`` or ``~``, holds a backslash, its first folder
   exists here (``models/my-galr`` when ``models/`` exists), or it does not
   have the shape of a hub entry;
4. anything else is a hub entry, checked with one quick look-up (a few
   seconds at most) before it is fetched, so that a typo or a missing
   network gives "not found" instead of a long series of retries.

An audio file given by URL is downloaded (afresh each time) into
:func:`url_download_folder`: a folder of its own under ``savedir``, or
under ``~/.cache/speechbrain_galr/downloads`` without one (SpeechBrain's
fetcher needs a folder for URLs).

Authors
 * speechbrain-galr contributors 2026
"""

import hashlib
import os

HUB_TIMEOUT_S = 5.0
"""Seconds the hub look-up of :func:`resolve_source` may take."""


def looks_local(path, hub_parts):
    """Whether a path that does not exist names a local path (not a URL or
    a hub entry of ``hub_parts`` components).

    Example
    -------
    >>> looks_local("./model", 2), looks_local("owner/name", 2)
    (True, False)
    >>> looks_local("owner/name", 3), looks_local("a/b/c.wav", 3)
    (True, False)
    """
    if "://" in path:
        return False
    if path.startswith((".", "/", "~")) or "\\" in path:
        return True
    parts = path.split("/")
    if len(parts) != hub_parts or not all(parts):
        return True
    return os.path.exists(parts[0])


def _check_hub_entry(path, hub_parts):
    """None if the hub entry exists, else why not (one short request)."""
    from huggingface_hub import HfApi, constants, errors

    if constants.HF_HUB_OFFLINE:
        return None  # the fetcher reads the local cache
    parts = path.split("/")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        info = HfApi().model_info(repo, timeout=HUB_TIMEOUT_S)
    except errors.RepositoryNotFoundError:
        return f"no hub repository {repo}"
    except Exception as err:  # network errors of several libraries
        return f"the hub could not be reached ({type(err).__name__}: {err})"
    names = {s.rfilename for s in info.siblings or []}
    if hub_parts == 3 and filename not in names:
        return f"hub repository {repo} has no file {filename}"
    return None


def resolve_source(path, what="model folder", error=FileNotFoundError):
    """Checks a user's path (rules in the module docstring).

    Arguments
    ---------
    path : str or os.PathLike
        What the user gave.
    what : str
        ``"model folder"`` (hub entries ``owner/name``) or ``"audio file"``
        (hub entries ``owner/name/file``), for the rule and the message.
    error : type
        Exception raised when it is not found.

    Returns
    -------
    str
        ``path`` as a string: an existing local path, a URL or an existing
        hub entry.

    Example
    -------
    >>> resolve_source("./models/nothing-here", "model folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model folder not found: ./models/nothing-here
    """
    path = os.fspath(path)
    if os.path.exists(path) or "://" in path:
        return path
    hub_parts = 3 if what == "audio file" else 2
    if looks_local(path, hub_parts):
        raise error(f"{what} not found: {path}")
    problem = _check_hub_entry(path, hub_parts)
    if problem is not None:
        raise error(
            f"{what} not found: {path} (no such local path; as a hub id: "
            f"{problem})"
        )
    return path


def url_download_folder(url, savedir=None):
    """The folder a URL's file is downloaded into: one per URL (two URLs
    ending in the same file name do not share it), under ``savedir`` or
    under ``$XDG_CACHE_HOME/speechbrain_galr/downloads`` (``~/.cache``).

    Example
    -------
    >>> a = url_download_folder("https://a.org/x/mix.wav", "dl")
    >>> b = url_download_folder("https://b.org/y/mix.wav", "dl")
    >>> os.path.dirname(a), a != b
    ('dl', True)
    """
    if savedir is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"
        )
        savedir = os.path.join(cache, "speechbrain_galr", "downloads")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return os.path.join(os.fspath(savedir), digest)
