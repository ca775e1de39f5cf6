"""Tests of atomic_files: permissions as `open()` and `mkdir` give them,
and exclusive creation of folders."""

import os
import stat
import threading

import pytest

from speechbrain_galr.atomic_files import (
    atomic_folder,
    atomic_path,
    current_umask,
    rename_no_replace,
    write_text_atomic,
)


@pytest.fixture
def umask():
    """Sets the process's umask for a test and puts it back after."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_new_files_and_folders_honour_the_umask(tmp_path, umask, mask):
    """A file gets 0o666 & ~umask and a folder 0o777 & ~umask, as open()
    and mkdir give them; not mkstemp's 0600 and mkdtemp's 0700."""
    umask(mask)
    assert current_umask() == mask
    write_text_atomic(tmp_path / "a.csv", "x")
    with atomic_path(tmp_path / "b.wav") as tmp:
        with open(tmp, "wb") as handle:
            handle.write(b"RIFF")
    with atomic_folder(tmp_path / "model") as staging:
        write_text_atomic(os.path.join(staging, "c.yaml"), "a: 1")
    for name in ("a.csv", "b.wav", "model/c.yaml"):
        assert mode(tmp_path / name) == 0o666 & ~mask, name
    assert mode(tmp_path / "model") == 0o777 & ~mask


def test_replaced_files_and_folders_keep_their_mode(tmp_path, umask):
    """A user who made a file 0640 or a folder 0750 (or 0755 under a
    private umask) keeps that mode when the project replaces it."""
    umask(0o077)
    target = tmp_path / "results.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o640
    folder = tmp_path / "model"
    folder.mkdir()
    os.chmod(folder, 0o755)
    with atomic_folder(folder) as staging:
        write_text_atomic(os.path.join(staging, "x"), "new")
    assert mode(folder) == 0o755


def test_the_umask_is_read_without_changing_it_for_other_threads(umask):
    """/proc/self/status is read; os.umask is not called (which would
    leave another thread's files with a wrong mode for an instant)."""
    umask(0o027)
    calls = []
    real = os.umask
    os.umask = lambda value: calls.append(value) or real(value)
    try:
        assert current_umask() == 0o027
    finally:
        os.umask = real
    if os.path.exists("/proc/self/status"):
        assert calls == []


def test_no_replace_folder_refuses_a_folder_made_meanwhile(tmp_path):
    """Of two writers of one folder without --overwrite, the second gets
    FileExistsError and the first one's folder stays as it is."""
    target = tmp_path / "out"
    with pytest.raises(FileExistsError):
        with atomic_folder(target, replace=False) as staging:
            write_text_atomic(os.path.join(staging, "mine"), "second")
            with atomic_folder(target, replace=False) as first:
                write_text_atomic(os.path.join(first, "mine"), "first")
    assert (target / "mine").read_text() == "first"
    assert os.listdir(tmp_path) == ["out"]


def test_no_replace_folder_takes_an_empty_folder_and_its_mode(tmp_path, umask):
    target = tmp_path / "out"
    target.mkdir()
    os.chmod(target, 0o750)
    with atomic_folder(target, replace=False) as staging:
        write_text_atomic(os.path.join(staging, "x"), "new")
    assert os.listdir(target) == ["x"] and mode(target) == 0o750


def test_rename_no_replace_lets_one_of_many_racers_win(tmp_path):
    """Eight threads race to rename their folder onto one name: exactly
    one succeeds, the others get FileExistsError."""
    sources = []
    for i in range(8):
        sources.append(tmp_path / f"s{i}")
        sources[-1].mkdir()
        (sources[-1] / "id").write_text(str(i))
    results = []

    def race(source):
        try:
            rename_no_replace(source, tmp_path / "dest")
            results.append(source.name)
        except FileExistsError:
            results.append(None)

    threads = [threading.Thread(target=race, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r]
    assert len(winners) == 1 and len(results) == 8
    assert (tmp_path / "dest" / "id").read_text() == winners[0][1:]


def test_folder_through_a_link_replaces_the_target(tmp_path):
    """atomic_folder on a symbolic link to a folder replaces the folder
    it points to and keeps the link; nothing is left beside either."""
    real = tmp_path / "store" / "model-v1"
    real.mkdir(parents=True)
    (real / "old").write_text("old")
    link = tmp_path / "model"
    link.symlink_to(real)
    with atomic_folder(link) as staging:
        write_text_atomic(os.path.join(staging, "new"), "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert os.listdir(real) == ["new"]
    assert sorted(os.listdir(tmp_path)) == ["model", "store"]
    assert os.listdir(tmp_path / "store") == ["model-v1"]
