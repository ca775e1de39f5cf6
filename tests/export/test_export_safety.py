"""Tests that an export never loses or mixes up a user's files: modes,
the run folder itself as destination, concurrent exports, symbolic
links."""

import errno
import os
import stat

import pytest
from recipe_runner import tree_digest
from tiny_recipe import run_main, write_tiny_recipe_output

import speechbrain_galr.export.folder as export_folder
from speechbrain_galr.export.folder import (
    EXPORTED_FILES,
    ExportError,
    export_model,
)

MODEL_FILES = sorted(
    ["README.md", "custom_interface.py", "hyperparams.yaml"]
    + [f"{name}.ckpt" for name in ("encoder", "masknet", "decoder")]
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A recipe output folder with one checkpoint, and in it what
    SpeechBrain's recipes also save: an optimizer state of 1 MB."""
    folder = write_tiny_recipe_output(tmp_path_factory.mktemp("run"))
    (ckpt,) = (folder / "save").glob("CKPT+*")
    (ckpt / "optimizer.ckpt").write_bytes(b"\0" * 2**20)
    (ckpt / "brain.ckpt").write_text("step: 3\n")
    return folder


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def one_line_error(status, err):
    assert status == 1, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    return err


# --- permissions -------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_exported_folder_honours_the_umask(run, tmp_path, umask, mask):
    """Other users can read a model exported under umask 022 (folder
    0755, files 0644), as with cp; not 0700/0600."""
    umask(mask)
    dest = export_model(str(run), str(tmp_path / "model"))
    assert mode(dest) == 0o777 & ~mask
    for name in os.listdir(dest):
        assert mode(os.path.join(dest, name)) == 0o666 & ~mask, name


def test_overwrite_keeps_the_modes_the_user_set(run, tmp_path, umask):
    dest = tmp_path / "model"
    export_model(str(run), str(dest))
    os.chmod(dest, 0o750)
    os.chmod(dest / "README.md", 0o600)
    (dest / "notes.txt").write_text("mine")
    os.chmod(dest / "notes.txt", 0o604)
    umask(0o077)
    export_model(str(run), str(dest), overwrite=True)
    assert mode(dest) == 0o750
    assert mode(dest / "README.md") == 0o600
    assert mode(dest / "notes.txt") == 0o604
    assert mode(dest / "hyperparams.yaml") == 0o644  # as it was


# --- the run folder is not a destination --------------------------------


@pytest.mark.parametrize("where", ["run", "dot", "inside", "parent"])
def test_export_into_its_own_run_folder_is_refused(
    run, tmp_path, monkeypatch, where
):
    """`export RUN --out RUN --overwrite` (or `.` in RUN, RUN/model, or a
    folder holding RUN) would replace the run (training config and
    checkpoints); it stops with one line and leaves the run as it was."""
    before = tree_digest(run)
    monkeypatch.chdir(run)
    out = {
        "run": str(run),
        "dot": ".",
        "inside": str(run / "save" / "model"),
        "parent": str(run.parent),
    }[where]
    status, _, err = run_main("export", str(run), "--out", out, "--overwrite")
    err = one_line_error(status, err)
    assert "export to a folder outside it" in err
    assert tree_digest(run) == before
    assert not (run / "save" / "model").exists()


def test_export_copies_only_the_hub_files(run, tmp_path):
    """The optimizer state and brain.ckpt of the checkpoint stay behind;
    the folder holds the three module files and the texts, no more."""
    dest = export_model(str(run), str(tmp_path / "model"))
    names = sorted(os.listdir(dest))
    assert names == MODEL_FILES
    assert set(names) <= set(EXPORTED_FILES)
    (ckpt,) = (run / "save").glob("CKPT+*")
    size = sum(os.path.getsize(os.path.join(dest, n)) for n in names)
    module_size = sum(
        os.path.getsize(ckpt / f"{n}.ckpt")
        for n in ("encoder", "masknet", "decoder")
    )
    assert size < module_size + 200_000 < 2**20


# --- two exports into one folder ----------------------------------------


def test_second_export_without_overwrite_is_refused(run, tmp_path):
    dest = tmp_path / "model"
    assert run_main("export", str(run), "--out", str(dest))[0] == 0
    before = tree_digest(dest)
    status, _, err = run_main("export", str(run), "--out", str(dest))
    assert "not empty (use --overwrite" in one_line_error(status, err)
    assert tree_digest(dest) == before


def test_concurrent_export_is_not_replaced(run, tmp_path, monkeypatch):
    """Two exports into one new --out, neither with --overwrite: the one
    that finishes second (here the first started, while it was checking
    its folder) stops with one line instead of replacing the other's
    model; nothing is left beside --out."""
    dest = tmp_path / "model"
    real_verify = export_folder.verify_folder

    def other_export_meanwhile(folder, states):
        monkeypatch.setattr(export_folder, "verify_folder", real_verify)
        export_model(str(run), str(dest))
        (dest / "other-was-here").write_text("x")
        return real_verify(folder, states)

    monkeypatch.setattr(export_folder, "verify_folder", other_export_meanwhile)
    status, _, err = run_main("export", str(run), "--out", str(dest))
    err = one_line_error(status, err)
    assert "written by another process during this export" in err
    assert sorted(os.listdir(dest)) == sorted(MODEL_FILES + ["other-was-here"])
    assert os.listdir(tmp_path) == ["model"]


def test_export_into_an_empty_folder_keeps_it(run, tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    os.chmod(dest, 0o751)
    export_model(str(run), str(dest))
    assert sorted(os.listdir(dest)) == MODEL_FILES and mode(dest) == 0o751


# --- symbolic links -----------------------------------------------------


def test_overwrite_through_a_linked_model_folder(run, tmp_path):
    """`--out current` where current -> releases/v1: the model in v1 is
    replaced, the link stays a link, no temporary link or folder is left
    in either parent."""
    store = tmp_path / "releases"
    store.mkdir()
    real = store / "v1"
    real.mkdir()
    (real / "hyperparams.yaml").write_text("stale_model: 1\n")
    (real / "notes.txt").write_text("mine")
    link = tmp_path / "current"
    link.symlink_to(real)
    status, out, err = run_main(
        "export", str(run), "--out", str(link), "--overwrite"
    )
    assert status == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sorted(os.listdir(real)) == sorted(MODEL_FILES + ["notes.txt"])
    assert "stale_model" not in (real / "hyperparams.yaml").read_text()
    assert sorted(os.listdir(tmp_path)) == ["current", "releases"]
    assert os.listdir(store) == ["v1"]


def test_links_the_user_put_in_the_model_folder_stay_links(run, tmp_path):
    """A link to a file, one to a folder and a dangling one survive an
    overwrite as the same links (not copies, not an error)."""
    dest = tmp_path / "model"
    export_model(str(run), str(dest))
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "card.md").write_text("card")
    (dest / "samples").symlink_to(tmp_path / "samples")
    (dest / "card.md").symlink_to(tmp_path / "card.md")
    (dest / "gone").symlink_to(tmp_path / "no-such-file")
    status, _, err = run_main(
        "export", str(run), "--out", str(dest), "--overwrite"
    )
    assert status == 0, err
    for name, target in [
        ("samples", "samples"),
        ("card.md", "card.md"),
        ("gone", "no-such-file"),
    ]:
        assert (dest / name).is_symlink(), name
        assert os.readlink(dest / name) == str(tmp_path / target)
    assert sorted(os.listdir(tmp_path)) == [
        "card.md",
        "model",
        "samples",
    ]


def test_dangling_link_as_destination_is_one_line(run, tmp_path):
    link = tmp_path / "model"
    link.symlink_to(tmp_path / "missing" / "model")
    status, _, err = run_main("export", str(run), "--out", str(link))
    assert "is a link to a missing" in one_line_error(status, err)
    assert not (tmp_path / "missing").exists()


def test_export_model_raises_an_export_error(run, tmp_path):
    with pytest.raises(ExportError, match="is the recipe output folder"):
        export_model(str(run), str(run), overwrite=True)


# --- destinations that are not model folders ----------------------------


@pytest.mark.parametrize("out", ["", " "])
def test_empty_out_is_refused(run, tmp_path, monkeypatch, out):
    """`--out ''` would be the current folder (with --overwrite: replace
    it); it stops with one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work.txt").write_text("mine")
    status, _, err = run_main("export", str(run), "--out", out, "--overwrite")
    assert "is empty" in one_line_error(status, err)
    assert os.listdir(tmp_path) == ["work.txt"]


def test_overwrite_replaces_model_folders_only(run, tmp_path):
    """`--out ~ --overwrite` (a folder with content but no model) is
    refused: the folder and its content stay where they are."""
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    (home / "projects" / "a.txt").write_text("mine")
    before = tree_digest(home)
    inode = os.stat(home).st_ino
    status, _, err = run_main(
        "export", str(run), "--out", str(home), "--overwrite"
    )
    assert "not a model folder" in one_line_error(status, err)
    assert tree_digest(home) == before and os.stat(home).st_ino == inode


def test_full_disk_during_overwrite_keeps_the_old_model(
    run, tmp_path, monkeypatch
):
    """A disk that fills while the new model is copied: one line that
    says so and names --out (not a hidden staging path); the old model
    as it was; nothing left beside it."""
    dest = tmp_path / "model"
    export_model(str(run), str(dest))
    before = tree_digest(dest)

    def full_disk(source, target, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)

    monkeypatch.setattr(export_folder.shutil, "copy2", full_disk)
    status, _, err = run_main(
        "export", str(run), "--out", str(dest), "--overwrite"
    )
    line = one_line_error(status, err)
    assert "No space left on device" in line and str(dest) in line
    assert ".galr" not in line
    assert tree_digest(dest) == before
    assert os.listdir(tmp_path) == ["model"]


def test_out_linked_into_the_run_folder_is_refused(run, tmp_path):
    """`--out g` where g -> RUN/save: the link is resolved, the export
    refused (it swapped save/, the checkpoints, for a model)."""
    before = tree_digest(run)
    link = tmp_path / "g"
    link.symlink_to(run / "save")
    status, _, err = run_main(
        "export", str(run), "--out", str(link), "--overwrite"
    )
    assert "inside the recipe output folder" in one_line_error(status, err)
    assert tree_digest(run) == before
