"""Atomic file writing: the one way the project writes files to disk.

Every file the project writes (CSVs, yaml, PNGs, WAVs, checkpoints of the
exporter, model cards) goes through :func:`atomic_write` or
:func:`atomic_path`: the content is written to a hidden temporary file in
the destination's own folder and renamed onto the destination with
``os.replace`` only once it is complete, so a kill at any moment leaves
either the old complete file or the new complete one, never a partial one.

Permissions are those a plain ``open()`` or ``mkdir`` would give, not the
private 0600/0700 of ``mkstemp``/``mkdtemp``: a new file gets
``0o666 & ~umask`` (0644 under the usual umask 022), a new folder
``0o777 & ~umask``, and a file or folder that is replaced keeps the mode
its owner had set on it (:func:`new_mode`).

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
import threading

TEMP_PREFIX = ".galr-tmp-"

_UMASK_LOCK = threading.Lock()


def current_umask():
    """The process's umask, read without changing it where the system
    tells it (Linux ``/proc/self/status``), else by setting it and setting
    it back at once.

    Example
    -------
    >>> old = os.umask(0o027)
    >>> oct(current_umask())
    '0o27'
    >>> _ = os.umask(old)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_mode(path, folder=False):
    """The permission bits to give a file (or folder) written at ``path``:
    those of the file already there (its owner chose them), else what
    ``open()`` (``mkdir``) gives under the umask.

    Example
    -------
    >>> old = os.umask(0o022)
    >>> oct(new_mode("/no/such/file")), oct(new_mode("/no/such", True))
    ('0o644', '0o755')
    >>> _ = os.umask(old)
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return (0o777 if folder else 0o666) & ~current_umask()


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


def _fsync_file(path):
    """Flushes a file's content to disk (read-only files too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
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
        _fsync_file(tmp)
        os.chmod(tmp, new_mode(path))
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


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
"""Flags of Linux ``renameat2``."""


def _renameat2(first, second, flags):
    """Linux ``renameat2(first, second, flags)``; False where the system
    has no such call (or the file system not this flag)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    status = renameat2(
        at_fdcwd,
        os.fsencode(first),
        at_fdcwd,
        os.fsencode(second),
        flags,
    )
    if status == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def _rename_exchange(first, second):
    """Swaps two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system has no such call.
    """
    return _renameat2(first, second, RENAME_EXCHANGE)


def rename_no_replace(source, dest):
    """Renames ``source`` to ``dest`` only if ``dest`` does not exist, in
    one step (Linux ``renameat2(RENAME_NOREPLACE)``), so that of two
    writers racing for ``dest`` the second gets ``FileExistsError``
    instead of replacing the first one's work.  Elsewhere a check before
    the rename (a small window remains).

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> for name in ("a", "b"):
    ...     (tmp / name).mkdir()
    >>> rename_no_replace(tmp / "a", tmp / "b")
    Traceback (most recent call last):
    ...
    FileExistsError: [Errno 17] File exists: '.../b'
    """
    source, dest = os.fspath(source), os.fspath(dest)
    try:
        if _renameat2(source, dest, RENAME_NOREPLACE):
            return
    except OSError as err:
        if err.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, err.strerror, dest) from None
        raise
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
    os.rename(source, dest)


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


def _fsync_tree(folder):
    """Flushes every file and folder under ``folder`` (not links)."""
    for root, _, files in os.walk(folder):
        for file_name in files:
            path = os.path.join(root, file_name)
            if not os.path.islink(path):
                with contextlib.suppress(PermissionError):  # a user's
                    _fsync_file(path)
        _fsync_folder(root)


def _put_in_place(staging, path, replace):
    """Moves the complete ``staging`` folder to ``path``; returns the path
    of what is to be removed afterwards (the old folder, or ``staging``)."""
    if not replace:
        try:
            os.rmdir(path)  # an empty folder only; not a link, not a file
        except FileNotFoundError:
            pass
        except OSError:
            raise FileExistsError(
                errno.EEXIST, "exists and is not an empty folder", path
            ) from None
        rename_no_replace(staging, path)
        return staging
    if not os.path.lexists(path):
        rename_no_replace(staging, path)
    elif _rename_exchange(staging, path):
        pass  # `staging` now holds the old folder
    else:
        os.rename(path, staging + ".old")
        os.rename(staging, path)
        return staging + ".old"
    return staging


@contextlib.contextmanager
def atomic_folder(path, replace=True):
    """Yields an empty staging folder beside ``path``; when the block ends
    without an exception, it takes the place of ``path`` in one rename
    (the old folder, if any, is then removed); otherwise it is removed.

    A kill at any moment leaves at ``path`` the old complete folder or the
    new complete one (on Linux; elsewhere the old folder is moved aside
    for an instant).  Staging folders of killed processes are removed the
    next time.  When ``path`` is a symbolic link to a folder, the folder
    it points to is replaced and the link is kept.  The new folder gets
    the mode of the one it replaces, or ``0o777 & ~umask``.

    Arguments
    ---------
    path : str or os.PathLike
        The folder to write.
    replace : bool
        Whether an existing folder at ``path`` may be replaced; if not,
        ``FileExistsError`` is raised when the block ends and one is there
        (an empty folder excepted), also one that another process put
        there meanwhile.

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
    if os.path.islink(path):
        path = os.path.realpath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    staging = make_temp_folder(parent, f"{TEMP_PREFIX}{name}-")
    try:
        yield staging
        _fsync_tree(staging)
        os.chmod(staging, new_mode(path, folder=True))
        staging = _put_in_place(staging, path, replace)
        _fsync_folder(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
