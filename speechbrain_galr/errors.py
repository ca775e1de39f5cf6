"""The package's one error base and its one-line formatter.

Every error the package raises on bad input derives from
:class:`GALRError` (a ``ValueError``), so a caller catches them all with
one clause and the command line prints each as one line that names the
problem, without a traceback.  :func:`one_line` turns any exception,
ours or a library's, into such a line.

Authors
 * speechbrain-galr contributors 2026
"""


class GALRError(ValueError):
    """Base of the errors of speechbrain_galr: bad input, a damaged file,
    a missing optional package; its text is one line that names what is
    wrong.

    Example
    -------
    >>> issubclass(GALRError, ValueError)
    True
    """


def one_line(err, limit=300):
    """The text of an exception on one line, at most ``limit`` characters.

    Arguments
    ---------
    err : BaseException or str
        The error (or text) to format.
    limit : int or None
        The longest result; None for no limit.

    Returns
    -------
    str

    Example
    -------
    >>> one_line(OSError("no space\\n  left on device"))
    'no space left on device'
    >>> one_line("x" * 10, limit=8)
    'xxxxx...'
    """
    text = " ".join(str(err).split())
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
