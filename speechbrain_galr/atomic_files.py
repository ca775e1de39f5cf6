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
import ctypes
import errno
import os
import shutil
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
def atomic_path(path, suffix=None, temp_folder=None):
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
    temp_folder : str or None
        Where to make the temporary file instead of beside ``path`` (a
        folder of the same file system, e.g. a work folder that the
        caller removes, so that even a kill -9 leaves nothing beside
        ``path``).

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
        prefix=TEMP_PREFIX, suffix=suffix, dir=temp_folder or folder
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


def _rename_exchange(first, second):
    """Swaps two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system has no such call.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    status = renameat2(
        at_fdcwd,
        os.fsencode(first),
        at_fdcwd,
        os.fsencode(second),
        rename_exchange,
    )
    if status == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_folders(folder, prefix):
    """Removes the folders of :func:`make_temp_folder` in ``folder`` whose
    process is gone (killed before it could remove them)."""
    for name in os.listdir(folder):
        if not name.startswith(prefix):
            continue
        # <prefix><pid>-<random>, the random part of mkdtemp has no "-"
        parts = name[len(prefix) :].split("-")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if not _pid_alive(int(parts[0])):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def make_temp_folder(parent, prefix):
    """A new folder ``<prefix><process id>-<random>`` in ``parent``, after
    removing those of ``prefix`` that killed processes left behind
    (:func:`remove_stale_temp_folders`).  The caller removes it."""
    remove_stale_temp_folders(parent, prefix)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent)


@contextlib.contextmanager
def atomic_folder(path):
    """Yields an empty staging folder beside ``path``; when the block ends
    without an exception, it takes the place of ``path`` in one rename
    (the old folder, if any, is then removed); otherwise it is removed.

    A kill at any moment leaves at ``path`` the old complete folder or the
    new complete one (on Linux; elsewhere the old folder is moved aside
    for an instant).  Staging folders of killed processes are removed the
    next time.

    Example
    -------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = pathlib.Path(tmp) / "model"
    ...     target.mkdir()
    ...     _ = (target / "old.txt").write_text("old")
    ...     with atomic_folder(target) as staging:
    ...         _ = (pathlib.Path(staging) / "new.txt").write_text("new")
    ...     print(sorted(p.name for p in target.iterdir()),
    ...           sorted(p.name for p in pathlib.Path(tmp).iterdir()))
    ['new.txt'] ['model']
    """
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    staging = make_temp_folder(parent, f"{TEMP_PREFIX}{name}-")
    try:
        yield staging
        for root, _, files in os.walk(staging):
            for file_name in files:
                with open(os.path.join(root, file_name), "rb+") as handle:
                    os.fsync(handle.fileno())
            _fsync_folder(root)
        if not os.path.lexists(path):
            os.rename(staging, path)
        elif _rename_exchange(staging, path):
            pass  # `staging` now holds the old folder
        else:
            os.rename(path, staging + ".old")
            os.rename(staging, path)
            staging += ".old"
        _fsync_folder(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
