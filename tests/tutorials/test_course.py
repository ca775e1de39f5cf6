"""The course notebooks of ``tutorials/``: each runs top to bottom in the
fast mode and computes what it teaches, and the committed copies are not
stale.

The four notebooks are executed once for the module (fast mode, outputs
in a temporary folder, no real data: ``GALR_DATA`` points nowhere, two
notebooks at a time), by ``tools/execute_notebooks.py`` as a developer
executes them.  Each notebook
writes the values it computed to ``results.json``; the tests check those
values, not the notebooks' prose.  The committed notebooks must carry
outputs of an execution of their current code (the code hash that the
tool stores in their metadata), in order, without errors.
"""

import concurrent.futures
import json
import os
import re

import nbformat
import pytest
from tool_runner import REPO, load_tool

TUTORIALS = os.path.join(REPO, "tutorials")
NOTEBOOKS = {
    "01_separate_your_recordings": "01_separate_your_recordings.ipynb",
    "02_inside_galr": "02_inside_galr.ipynb",
    "03_train_galr": "03_train_galr.ipynb",
    "04_deploy": "04_deploy.ipynb",
}
"""Output folder name -> notebook file, in the course's order."""
SHIPPED_SI_SNRI = 3.92
"""SI-SNRi (dB) of the shipped model on tests/quality/data, measured when
it was shipped (tests/quality)."""
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/|/check/)")

execute_notebooks = load_tool("execute_notebooks")


def _checkout_files():
    """Every file under tutorials/ and pretrained/, with its mtime."""
    found = {}
    for top in ("tutorials", "pretrained"):
        for folder, _, names in os.walk(os.path.join(REPO, top)):
            for name in names:
                path = os.path.join(folder, name)
                found[path] = os.stat(path).st_mtime_ns
    return found


PARALLEL = (
    ("03_train_galr", "02_inside_galr"),
    ("04_deploy", "01_separate_your_recordings"),
)
"""Two notebooks at a time, each list in order: the longest first, so
that the two lists take about as long (40 + 20 s, 39 + 22 s in the fast
mode on the 2-core machine, loaded)."""


def _execute(name, out):
    """Runs one notebook in fast mode: ``(notebook, results, folder)``, or
    the exception of a notebook that failed."""
    try:
        notebook = execute_notebooks.execute(
            os.path.join(TUTORIALS, NOTEBOOKS[name]),
            fast=True,
            timeout=600,
            GALR_TUTORIAL_OUT=str(out),
            GALR_DATA=str(out / "no-data"),
            PYTHONDONTWRITEBYTECODE="1",
            MPLBACKEND=None,
        )
        with open(out / name / "results.json") as fin:
            return notebook, json.load(fin), out / name
    except Exception as err:  # a failed cell: reported by its test
        return err


def _execute_all(names, out):
    """Runs notebooks one after the other: ``[(name, run)]``."""
    return [(name, _execute(name, out)) for name in names]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The four notebooks executed in fast mode, two at a time (each in
    its own kernel): ``name -> (notebook, results, output folder)``, or
    the exception of a notebook that failed."""
    out = tmp_path_factory.mktemp("course")
    before = _checkout_files()
    with concurrent.futures.ThreadPoolExecutor(len(PARALLEL)) as pool:
        lists = [pool.submit(_execute_all, names, out) for names in PARALLEL]
        runs = dict(pair for done in lists for pair in done.result())
    runs["checkout unchanged"] = before == _checkout_files()
    return runs


def _run(course, name):
    result = course[name]
    if isinstance(result, Exception):
        raise result
    return result


def _code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def _errors(notebook):
    return [
        output
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if output.output_type == "error"
    ]


def _shows(cell):
    """Whether a code cell shows something (printed text, a result, a
    figure); stderr, where warnings go, does not count."""
    return any(
        output.output_type in ("execute_result", "display_data")
        or (output.output_type == "stream" and output.name == "stdout")
        for output in cell.outputs
    )


def _png(path):
    with open(path, "rb") as fin:
        return fin.read(8) == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- staleness


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_executed_from_its_code(name):
    """The committed notebook's outputs come from its current code: the
    hash of its code cells is the one stored when it was executed, every
    code cell ran, in order, without an error, and its first cell says in
    which mode."""
    path = os.path.join(TUTORIALS, NOTEBOOKS[name])
    with open(path, encoding="utf-8") as fin:
        notebook = nbformat.read(fin, as_version=4)
    info = notebook.metadata.get("galr_course")
    assert info, f"{path} was not executed by tools/execute_notebooks.py"
    assert info["code_sha256"] == execute_notebooks.code_hash(notebook), (
        f"{path}: code changed since it was executed; run "
        f".venv/bin/python tools/execute_notebooks.py {path}"
    )
    cells = _code_cells(notebook)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    assert not _errors(notebook)
    assert sum(_shows(c) for c in cells) >= len(cells) // 2
    assert f"executed in {info['mode']} mode" in notebook.cells[0].source
    # what a repository page shows names no path of this machine
    for cell in cells:
        for output in cell.outputs:
            text = output.get("text", "") + str(
                output.get("data", {}).get("text/plain", "")
            )
            assert not MACHINE_PATH.search(text), (name, text[:300])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_as_committed(course, name):
    """Executed again (fast mode), the notebook has the committed code
    cells, all run in order without errors, and the cells that show
    something in the fresh run show something in the committed copy."""
    fresh, _, out = _run(course, name)
    with open(os.path.join(TUTORIALS, NOTEBOOKS[name])) as fin:
        committed = nbformat.read(fin, as_version=4)
    cells, old = _code_cells(fresh), _code_cells(committed)
    assert len(cells) == len(old)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    assert not _errors(fresh)
    for index, (new_cell, old_cell) in enumerate(zip(cells, old)):
        assert new_cell.source == old_cell.source
        if _shows(new_cell):
            assert _shows(old_cell), f"{name}: code cell {index + 1}"
    # each notebook saves its figures as PNGs too
    assert any(_png(out / f) for f in os.listdir(out) if f.endswith(".png"))


def test_notebooks_write_nothing_into_the_checkout(course):
    for name in NOTEBOOKS:
        _run(course, name)
    assert course["checkout unchanged"]


# ---------------------------------------------------------------- values


def test_01_separates_the_real_mixture(course):
    notebook, results, out = _run(course, "01_separate_your_recordings")
    assert results["estimate_shape"] == [1, 32000, 2]
    # the shipped model on the real held-out mixture, as tests/quality
    assert results["si_snr_i"] >= SHIPPED_SI_SNRI - 0.5
    assert results["si_snr_i_by_hand"] == pytest.approx(
        results["si_snr_i"], abs=1e-3
    )
    assert results["heldout_si_snr_i"] == []  # no ../shared/data here
    players = [
        output
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if "<audio" in output.get("data", {}).get("text/html", "")
    ]
    assert len(players) == results["audio_players"] == 5
    # the long 16 kHz recording: one file per source, its rate and length
    seconds = results["long_seconds"]
    assert results["long_files"] == [[16000, seconds * 16000]] * 2
    whole = results["long_si_snr_i_whole"]
    assert abs(whole - results["long_si_snr_i_chunked"]) < 1.0
    assert whole > 1.0
    assert sorted(results["cli_files"]) == [
        "long_mixture_source1.wav",
        "long_mixture_source2.wav",
        "long_mixture_sources.png",
    ]
    assert abs(results["bf16_si_snr_i"] - results["fp32_si_snr_i"]) < 0.1
    assert 0 < results["bf16_max_difference"] < 0.05
    assert _png(out / "separation.png")


def test_02_every_shape_and_the_cost_ratio(course):
    _, results, out = _run(course, "02_inside_galr")
    sizes = results["sizes"]
    assert sizes == {"M": 16, "D": 64, "K": 100, "Q": 32, "J": 8, "H": 128}
    frames, segments = results["frames"], results["segments"]
    assert frames == (32000 - 16) // 8 + 1 == 3999
    assert segments == -(-2 * frames // 100) + 1 == 81  # ceil(2I/K) + 1
    assert results["encoder_shape"] == [1, 64, frames]
    assert results["segments_shape"] == [1, segments, 100, 64]
    assert results["segment_error"] == 0
    assert results["lstm_output_shape"] == [100, segments, 256]
    assert results["c_map_shape"] == [1, segments, 32, 64]
    assert results["attention_shape"] == [1, 32, 8, segments, segments]
    assert results["attention_blocks"] == 6
    assert results["masks_shape"] == [2, 1, 64, frames]
    assert results["estimate_shape"] == [1, 32000, 2]
    assert results["forward_error"] < 1e-5
    assert len(results["fig3_heads"]) == 2
    # Table 1 and Table 3: GALR needs about half of DPRNN's FLOPs
    assert results["params"] == {"GALR": 1458969, "DPRNN": 2609793}
    assert 0.45 < results["flop_ratio_1s"] < 0.55
    assert 0.45 < results["table1_ratio_1s"] < 0.55
    ratios = results["flop_ratios"]
    assert all(r < 1 for r in ratios) and ratios == sorted(ratios)
    assert results["time_ratio"] > 0
    for png in ("segments", "attention_maps", "attention_fig3", "flops"):
        assert _png(out / f"{png}.png")


def test_03_trains_resumes_and_compares(course):
    _, results, out = _run(course, "03_train_galr")
    assert results["yaml_parameters"] == 1458969
    assert results["tiny_brain_steps"] > 0
    first, last = results["tiny_brain_si_snr"]
    assert last > first
    assert results["dm_new_each_epoch"] is True
    assert results["dm_item_shapes"]["mix_sig"] == [16000]
    # permutation invariance of the loss (eq. 17)
    assert results["pit_loss"] == pytest.approx(results["pit_loss_swapped"])
    # the rerun continued the epoch the checkpoint was saved in (or the
    # next one after an end-of-epoch checkpoint)
    interrupted = results["interrupted_checkpoint"]
    expected = interrupted["epoch"] + (0 if interrupted["inside_epoch"] else 1)
    assert results["expected_resume_epoch"] == expected
    assert results["resumed_epoch"] == expected
    assert results["epochs"] == len(results["valid_si_snr"]) >= expected
    # Table 2 and Table 3 as overrides: the README's parameter counts
    table2 = results["table2"]
    assert {k: v["parameters"] for k, v in table2.items()} == {
        "GALR": 1458969,
        "DPRNN-like": 2648985,
        "attention only": 268953,
        "swapped": 1458969,
    }
    assert table2["GALR"]["gflops"] < table2["DPRNN-like"]["gflops"]
    assert results["table3_parameters"][0] == 1458969
    assert results["table3_parameters"][6] == 2609793
    for name in ("GALR", "DPRNN"):
        run = results["equal_time"][name]
        assert run["steps"] > 0 and run["seconds_per_step"] > 0
        assert -60 < run["test_si-snr_i"] < 60
    assert _png(out / "training_curves.png") and _png(out / "equal_time.png")


def test_04_exports_and_backends_agree(course):
    _, results, out = _run(course, "04_deploy")
    assert {
        "hyperparams.yaml",
        "encoder.ckpt",
        "masknet.ckpt",
        "decoder.ckpt",
        "custom_interface.py",
        "README.md",
        "model.onnx",
    } <= set(results["exported_files"])
    assert results["estimate_shape"] == [32000, 2]
    # foreign_class with speechbrain_galr blocked computes the same
    assert results["foreign_difference"] < 1e-5
    assert results["shipped_foreign_si_snr_i"] >= SHIPPED_SI_SNRI - 0.5
    # onnxruntime alone, and the package's onnxruntime backend
    assert len(results["onnx_differences"]) == 4
    assert results["onnx_difference"] < 1e-4
    assert results["backend_difference"] < 1e-4
    assert all(v > 0 for v in results["ms_per_second"].values())
    assert _png(out / "backends.png")
    # the shipped causal model streamed in 10 ms blocks: 62.9 ms latency,
    # the whole-signal output, every sample
    assert results["stream_latency_samples"] == 503
    assert results["stream_difference"] < 1e-5
    assert results["stream_samples"] == 32000
    assert results["stream_si_snr_i"] > 0
    assert 0 < results["stream_real_time_factor"] < 5
    assert _png(out / "streaming.png")
