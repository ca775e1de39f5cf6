"""Atomic file writing: the one way the project writes files to disk.

Every file the project writes (CSVs, yaml, PNGs, WAVs, checkpoints of the
exporter, model cards) goes through :func:`atomic_write` or
:func:`atomic_path`: the content is written to a hidden temporary file in
the destination's own folder and renamed onto the destination with
``os.replace`` only once it is complete, so a kill at any moment leaves
either the old complete file or the new complete one, never a partial one.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import os
import tempfile

TEMP_PREFIX = ".galr-tmp-"


def _fsync_folder(folder):
    """Flushes a folder's entry table, so that a rename survives a crash."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path beside ``path``; renames it onto ``path``
    when the block ends without an exception, removes it otherwise.

    For writers that want a file name (``soundfile.write``,
    ``matplotlib.savefig``, ``torch.save``).

    Arguments
    ---------
    path : str or os.PathLike
        The destination.
    suffix : str or None
        Suffix of the temporary file; by default that of ``path``, so that
        writers that pick the format from the name keep working.

    Yields
    ------
    str
        The temporary path to write.

    Example
    -------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = pathlib.Path(tmp) / "a.txt"
    ...     with atomic_path(target) as tmp_path:
    ...         _ = pathlib.Path(tmp_path).write_text("done")
    ...     names = sorted(p.name for p in target.parent.iterdir())
    ...     print(target.read_text(), names)
    done ['a.txt']
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(
        prefix=TEMP_PREFIX, suffix=suffix, dir=folder or "."
    )
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="w", **open_kwargs):
    """Opens a temporary file beside ``path`` for writing; it replaces
    ``path`` when the block ends without an exception.

    Arguments
    ---------
    path : str or os.PathLike
        The destination.
    mode : str
        ``"w"`` (text) or ``"wb"`` (bytes).
    **open_kwargs
        Passed to ``open`` (``newline``, ``encoding``).

    Yields
    ------
    file object

    Example
    -------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = pathlib.Path(tmp) / "b.csv"
    ...     with atomic_write(target, newline="") as handle:
    ...         _ = handle.write("x,y\\n")
    ...     print(repr(target.read_text()))
    'x,y\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()


def write_text_atomic(path, text):
    """Writes ``text`` to ``path`` atomically (see :func:`atomic_write`).

    Example
    -------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_text_atomic(pathlib.Path(tmp) / "c.md", "# card")
    ...     print((pathlib.Path(tmp) / "c.md").read_text())
    # card
    """
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(text)
