"""The outputs of one input in an output folder, written as one set.

``separate`` writes, for an input ``<name>``, the files
``<name>_source<i>.wav`` (i = 1, 2, ...) and ``<name>_sources.png``
(``--plot``): the *outputs of* ``<name>`` (:func:`existing_outputs`; no
other file of the folder is ever touched).  The policies, as ``cp -n`` and
``mv`` follow them:

* one run at a time per input name and folder: a run holds the lock file
  ``.galr-lock-<name>`` (created with ``O_EXCL``, holding its process id)
  while it writes; a second run stops with an error instead of mixing its
  files with the first one's (a lock left by a killed run is taken over
  once its process is gone);
* without ``overwrite`` nothing is replaced: an existing output stops the
  run, and the new files are put in place by exclusive renames, so a
  writer that does not take the lock is not overwritten either;
* with ``overwrite`` the set is replaced as one (:func:`replace_outputs`):
  every new file is complete in the work folder first (a full disk fails
  there, before any old output is touched); then the old outputs are
  hard-linked aside, the new ones renamed in, and the earlier run's
  outputs that this run does not write (``<name>_source3.wav`` of a
  3-speaker model, an old figure) removed, which is logged; if a rename
  fails, the old set is put back.  Only a kill during these few renames
  can leave a mix.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import os
import re

from speechbrain.utils.logger import get_logger

from speechbrain_galr.atomic_files import _pid_alive, rename_no_replace

logger = get_logger(__name__)

LOCK_PREFIX = ".galr-lock-"
"""Name prefix of the lock file of an input name (``.galr-lock-mix``)."""


class OutputsBusyError(FileExistsError):
    """Another run is writing the outputs of the same input name."""


def output_names(name, num_sources, plot=False):
    """File names of the outputs of input ``name``.

    Example
    -------
    >>> output_names("mix", 2, plot=True)
    ['mix_source1.wav', 'mix_source2.wav', 'mix_sources.png']
    """
    names = [f"{name}_source{i + 1}.wav" for i in range(num_sources)]
    return names + ([f"{name}_sources.png"] if plot else [])


def is_output_of(file_name, name):
    """Whether ``file_name`` is one that ``separate`` writes for input
    ``name`` (``mix_source01.wav`` is not: the tool never writes it).

    Example
    -------
    >>> [is_output_of(n, "mix") for n in ("mix_source3.wav",
    ...     "mix_sources.png", "mix_source01.wav", "mix_source1.wav.bak")]
    [True, True, False, False]
    """
    pattern = re.escape(name) + r"_(source[1-9][0-9]*\.wav|sources\.png)"
    return re.fullmatch(pattern, file_name) is not None


def existing_outputs(out_dir, name):
    """The outputs of input ``name`` already in ``out_dir``, sorted
    (links included, dangling ones too).

    Example
    -------
    >>> existing_outputs(str(getfixture("tmp_path")), "mix")
    []
    """
    try:
        names = os.listdir(out_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        os.path.join(out_dir, n) for n in names if is_output_of(n, name)
    )


def _read_pid(path):
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _create_lock(path):
    """Creates the lock file ``path`` holding this process's id, in one
    step (a hard link of a complete file, which fails if ``path``
    exists); False if it exists."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: O_EXCL
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        return True
    finally:
        os.remove(tmp)


def _remove_dead_lock(path, pid):
    """Removes the lock ``path`` of the dead process ``pid``, unless
    another process replaced it meanwhile (then it is left)."""
    aside = f"{path}.{os.getpid()}.dead"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another run removed it first
    if _read_pid(aside) == pid:
        os.remove(aside)
        return
    with contextlib.suppress(OSError):  # a live run's: put it back
        rename_no_replace(aside, path)


def remove_dead_locks(out_dir):
    """Removes the lock files in ``out_dir`` of runs that were killed
    (their process is gone), whatever their input name."""
    for entry in os.listdir(out_dir):
        helper = re.search(r"\.[0-9]+\.(tmp|dead)$", entry)  # in use
        if entry.startswith(LOCK_PREFIX) and not helper:
            path = os.path.join(out_dir, entry)
            pid = _read_pid(path)
            if pid and pid != os.getpid() and not _pid_alive(pid):
                _remove_dead_lock(path, pid)


@contextlib.contextmanager
def output_lock(out_dir, name):
    """Holds the lock file of input ``name`` in ``out_dir`` for a block.

    Raises
    ------
    OutputsBusyError
        When a live process holds it.

    Example
    -------
    >>> folder = str(getfixture("tmp_path"))
    >>> with output_lock(folder, "mix"):
    ...     with output_lock(folder, "mix"):
    ...         pass
    Traceback (most recent call last):
    ...
    speechbrain_galr.inference.output_set.OutputsBusyError: another run ...
    """
    path = os.path.join(out_dir, f"{LOCK_PREFIX}{name}")
    remove_dead_locks(out_dir)
    for _ in range(3):
        if _create_lock(path):
            break
        pid = _read_pid(path)
        if pid == os.getpid() or (pid and _pid_alive(pid)):
            raise OutputsBusyError(
                f"another run (process {pid}) is writing the outputs of "
                f"{name!r} in {out_dir}; wait for it to end (or remove "
                f"{path} if that process is not a separate run)"
            )
        _remove_dead_lock(path, pid)  # left by a killed run
    else:
        raise OutputsBusyError(f"cannot take the lock {path}")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)


def check_writable(out_dir):
    """Raises OSError when ``out_dir`` cannot be made or written to: a
    link to nothing (``os.makedirs`` said only "File exists"), or no
    write permission on it or on the folder it would be made in."""
    if not out_dir:
        raise FileNotFoundError("the output folder is an empty path ('')")
    if os.path.islink(out_dir) and not os.path.exists(out_dir):
        raise FileNotFoundError(
            f"output folder {out_dir} is a link to {os.readlink(out_dir)}, "
            "which does not exist: create it, or give another folder"
        )
    existing = os.path.abspath(out_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise FileExistsError(
            f"cannot make output folder {out_dir}: {existing} is a file"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write to output folder {out_dir}: permission denied "
            f"on {existing}"
        )


def check_outputs(out_dir, name, overwrite=False):
    """Raises FileExistsError if outputs of ``name`` would be replaced
    without ``overwrite``, or if ``out_dir`` is not a folder."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f"output folder is a file: {out_dir}")
    check_writable(out_dir)
    found = existing_outputs(out_dir, name)
    if found and not overwrite:
        raise FileExistsError(
            f"{found[0]} exists ({len(found)} output(s) of {name!r} in "
            f"{out_dir}); pass --overwrite (overwrite=True) to replace them"
        )
    for path in found:
        if os.path.isdir(path) and not os.path.islink(path):
            raise FileExistsError(
                f"{path} is a folder, not an output of an earlier run; "
                "move it away first"
            )


def _put_back(placed, backups):
    """Undoes :func:`replace_outputs` after a failed rename."""
    for path in placed:
        with contextlib.suppress(OSError):
            os.remove(path)
    for path, backup in backups.items():
        with contextlib.suppress(OSError):
            os.replace(backup, path)


def replace_outputs(out_dir, name, staged, backup_dir, overwrite=False):
    """Puts complete new outputs of ``name`` in place as one set.

    Arguments
    ---------
    out_dir : str
        The output folder.
    name : str
        The input name.
    staged : dict
        Final file name -> complete file in ``backup_dir``'s file system
        (the work folder).
    backup_dir : str
        A folder of the same file system for the old outputs (removed by
        the caller).
    overwrite : bool
        Whether outputs of an earlier run may be replaced (and removed).

    Returns
    -------
    list of str
        The paths of the new outputs, in the order of ``staged``.
    """
    check_outputs(out_dir, name, overwrite)
    old = existing_outputs(out_dir, name)
    backups, placed, paths = {}, [], []
    try:
        for path in old:  # kept until the new set is in place
            backup = os.path.join(backup_dir, os.path.basename(path))
            try:
                os.link(path, backup, follow_symlinks=False)
            except OSError:
                os.replace(path, backup)
            backups[path] = backup
        for file_name, tmp in staged.items():
            path = os.path.join(out_dir, file_name)
            if overwrite:
                os.replace(tmp, path)
            else:
                rename_no_replace(tmp, path)
            placed.append(path)
            paths.append(path)
    except BaseException:
        _put_back(placed, backups)
        raise
    stale = [p for p in old if p not in paths]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    if stale:
        logger.warning(
            f"--overwrite: removed {len(stale)} output(s) of an earlier run "
            f"that this run does not write: {', '.join(stale)}"
        )
    return paths
