"""``separate`` and ``export`` messages that misled: a FIFO or a piped
stdin called "empty (0 bytes)", permission denied called "not audio",
a full disk called "System error.", a dangling --out called "File exists",
an unwritable --out found only after the model was loaded, a bare
``--checkpoint CKPT+...`` name looked up in the current folder, and URLs
documented as mixtures that could not be fetched."""

import functools
import http.server
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf
from tiny_recipe import run_main, write_tiny_recipe_output

import speechbrain_galr.audio as audio
from speechbrain_galr.export.folder import export_model
from speechbrain_galr.inference import file_separation, loading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    return write_tiny_recipe_output(tmp_path_factory.mktemp("recipe"))


@pytest.fixture(scope="module")
def model_dir(recipe, tmp_path_factory):
    dest = tmp_path_factory.mktemp("models") / "model"
    return export_model(str(recipe), str(dest))


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "mix.wav"
    sf.write(str(path), np.random.default_rng(0).normal(0, 0.1, 4000), 8000)
    return path


def _separate(mixture, model_dir, out, *options):
    status, stdout, err = run_main("separate", str(mixture), "--model",
                                   str(model_dir), "--out", str(out),
                                   *options)  # fmt: skip
    return status, err.strip().splitlines(), stdout


def _last_error(lines):
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, lines
    return errors[0]


def test_fifo_is_not_called_empty(model_dir, tmp_path):
    fifo = tmp_path / "mix.wav"
    os.mkfifo(fifo)
    status, lines, _ = _separate(fifo, model_dir, tmp_path / "out")
    assert status == 1 and len(lines) == 1
    assert "it is a pipe or a device, not a regular file" in lines[0]
    assert "(0 bytes)" not in lines[0]


def test_piped_stdin_is_not_called_empty(model_dir, wav, tmp_path):
    """``cat mix.wav | separate /dev/stdin`` (a subprocess: its stdin is
    a pipe); ``separate /dev/stdin < mix.wav`` still works."""
    command = [sys.executable, "-m", "speechbrain_galr", "separate",
               "/dev/stdin", "--model", str(model_dir), "--out"]  # fmt: skip
    data = wav.read_bytes()
    piped = subprocess.run(command + [str(tmp_path / "o1")], input=data,
                           capture_output=True, timeout=120)  # fmt: skip
    err = piped.stderr.decode().strip().splitlines()
    assert piped.returncode == 1 and len(err) == 1, err
    assert "/dev/stdin: it is a pipe or a device" in err[0]
    with open(wav, "rb") as fin:
        redirected = subprocess.run(command + [str(tmp_path / "o2")],
                                    stdin=fin, capture_output=True,
                                    timeout=120)  # fmt: skip
    assert redirected.returncode == 0, redirected.stderr.decode()[-2000:]
    assert sorted(os.listdir(tmp_path / "o2")) == [
        "stdin_source1.wav", "stdin_source2.wav"]  # fmt: skip


def test_permission_denied_is_named(model_dir, wav, tmp_path, monkeypatch):
    """(The tests may run as root, whom chmod does not stop: the file's
    opening is made to fail as it does for other users.)"""

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(audio, "open", denied, raising=False)
    status, lines, _ = _separate(wav, model_dir, tmp_path / "out")
    assert status == 1
    assert lines == [f"error: cannot read audio file {wav}: permission denied"]


def test_full_disk_says_no_space_left(model_dir, wav, tmp_path, monkeypatch):
    """The sources' files are written on /dev/full, which fails as a full
    disk does (ENOSPC); libsndfile calls it "System error."."""
    real = file_separation.sf.SoundFile

    def on_full_disk(path, mode="r", *args, **kwargs):
        if mode != "w":
            return real(path, mode, *args, **kwargs)
        return real("/dev/full", mode, *args, format="WAV", **kwargs)

    monkeypatch.setattr(file_separation.sf, "SoundFile", on_full_disk)
    status, lines, _ = _separate(wav, model_dir, tmp_path / "out")
    assert status == 1
    line = _last_error(lines)
    assert line == (
        f"error: cannot write the separated sources to {tmp_path / 'out'}: "
        "No space left on device"
    )
    assert not [n for n in os.listdir(tmp_path / "out") if "source" in n]


def test_dangling_out_link_is_named(model_dir, wav, tmp_path):
    link = tmp_path / "out"
    os.symlink(tmp_path / "gone", link)
    status, lines, _ = _separate(wav, model_dir, link)
    assert status == 1 and len(lines) == 1
    assert lines[0] == (
        f"error: output folder {link} is a link to {tmp_path / 'gone'}, "
        "which does not exist: create it, or give another folder"
    )
    assert not (tmp_path / "gone").exists()


def test_unwritable_out_stops_before_the_model_loads(
    model_dir, wav, tmp_path, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded first")

    monkeypatch.setattr(loading, "load_pretrained", never)
    real_access = os.access
    folder = str(tmp_path / "ro")
    os.makedirs(folder)

    def access(path, mode, *args, **kwargs):
        if os.fspath(path) == folder:
            return False  # as for a user without write permission
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(file_separation.os, "access", access)
    status, lines, _ = _separate(wav, model_dir, f"{folder}/out")
    assert status == 1 and len(lines) == 1, lines
    assert lines[0] == (
        f"error: cannot write to output folder {folder}/out: permission "
        f"denied on {folder}"
    )
    status, lines, _ = _separate(wav, model_dir, f"{wav}/out")
    assert status == 1
    assert lines == [f"error: cannot make output folder {wav}/out: {wav} "
                     "is a file"]  # fmt: skip


def test_empty_out_is_named(model_dir, wav, tmp_path):
    status, lines, _ = _separate(wav, model_dir, "")
    assert status == 1
    assert lines == ["error: the output folder is an empty path ('')"]


def test_bare_checkpoint_name_is_found_in_save(recipe, tmp_path):
    name = next(n for n in os.listdir(recipe / "save") if n.startswith("CKPT"))
    out = str(tmp_path / "m")
    status, _, err = run_main("export", str(recipe), "--out", out,
                              "--checkpoint", name)  # fmt: skip
    assert status == 0, err
    assert name in (tmp_path / "m" / "hyperparams.yaml").read_text()
    status, _, err = run_main("export", str(recipe), "--out",
                              str(tmp_path / "m2"), "--checkpoint",
                              "CKPT+nosuch")  # fmt: skip
    assert status == 1
    assert err.strip() == (
        "error: checkpoint not found: CKPT+nosuch (give a CKPT+* folder of "
        f"{recipe / 'save'}, by path or name)"
    )


@pytest.fixture
def http_folder(tmp_path):
    """An HTTP server on localhost serving ``tmp_path/www``."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(www)
    )
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_mixture_by_url_is_downloaded(
    model_dir, wav, tmp_path, http_folder, monkeypatch
):
    www, base = http_folder
    os.makedirs(www / "a")
    os.replace(wav, www / "a" / "mix.wav")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, lines, stdout = _separate(f"{base}/a/mix.wav", model_dir,
                                      tmp_path / "out")  # fmt: skip
    assert status == 0, lines
    assert sorted(os.listdir(tmp_path / "out")) == [
        "mix_source1.wav", "mix_source2.wav"]  # fmt: skip
    downloads = tmp_path / "cache" / "speechbrain_galr" / "downloads"
    assert len(os.listdir(downloads)) == 1
    status, lines, _ = _separate(f"{base}/a/nosuch.wav", model_dir,
                                 tmp_path / "out2")  # fmt: skip
    assert status == 1
    assert _last_error(lines).startswith(
        f"error: audio file not found: {base}/a/nosuch.wav"
    )


def test_two_urls_with_one_file_name_are_not_mixed_up(
    model_dir, tmp_path, http_folder
):
    """Two URLs ending in mix.wav, fetched into one --savedir: the second
    run separated the first's file (SpeechBrain's fetcher reuses a file
    of the same name in savedir)."""
    www, base = http_folder
    for sub, seed in (("a", 0), ("b", 1)):
        os.makedirs(www / sub)
        noise = np.random.default_rng(seed).normal(0, 0.1, 4000)
        sf.write(str(www / sub / "mix.wav"), noise, 8000)
    outputs = []
    for sub in ("a", "b"):
        out = tmp_path / f"out_{sub}"
        url, savedir = f"{base}/{sub}/mix.wav", str(tmp_path / "dl")
        status, lines, _ = _separate(url, model_dir, out, "--savedir", savedir)
        assert status == 0, lines
        outputs.append((out / "mix_source1.wav").read_bytes())
    assert outputs[0] != outputs[1]
