"""tools/measure_inference.py on a generated speech folder: the cost table
with an fp32 and a bf16 column, and the bf16-against-fp32 quality check on
held-out speakers, as a user runs them."""

import json
import re

import pytest
from tiny_recipe import run_main, write_tiny_recipe_output
from tool_runner import load_tool, run_tool

from speechbrain_galr.data.demo_corpus import make_speakers


def _load_tool():
    return load_tool("measure_inference")


def _run(*args):
    return run_tool("measure_inference", *args, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A shared-data-like folder: 44 generated speakers, one utterance
    each, in ``speech/librispeech-251``."""
    root = tmp_path_factory.mktemp("data")
    make_speakers(root / "speech" / "librispeech-251", 44, 1, 1.0, 2.0)
    return root


def test_quality_speakers_are_the_recipes_test_speakers(data):
    # numeric ids sort by value (the recipes' split), names after them
    speakers = _load_tool().test_speakers(str(data))
    assert speakers == [f"spk{i:02d}" for i in range(24, 44)]


def test_quality_compares_bf16_with_fp32_on_held_out_mixtures(data, tmp_path):
    (tmp_path / "run").mkdir()
    run = write_tiny_recipe_output(tmp_path / "run")
    status, _, err = run_main("export", str(run), "--out", str(tmp_path / "m"))
    assert status == 0, err
    result = _run(
        "--data", str(data), "--quality", str(tmp_path / "m"),
        "--precision", "bf16", "--quality-n", "3",
        "--quality-seconds", "3", "--threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 mixtures of 3 s, test speakers" in result.stdout
    # one line per chunking: mean and worst bf16 - fp32 SI-SNRi difference
    lines = re.findall(
        r"bf16 - fp32, chunks (\S+ s / overlap \S+) s: mean ([-+0-9.]+) dB, "
        r"worst ([-+0-9.]+) dB .* 3 mixtures",
        result.stdout,
    )
    chunkings = ["10 s / overlap 2", "10 s / overlap 1", "4 s / overlap 1"]
    assert [chunk for chunk, _, _ in lines] == chunkings + ["2 s / overlap 0.5"]
    for _, mean, worst in lines:
        # a tiny untrained model: bf16 rounding moves SI-SNRi very little
        assert abs(float(mean)) < 1 and float(worst) <= float(mean)


def test_cost_table_has_fp32_and_bf16_rows(data, tmp_path):
    work = tmp_path / "work"
    result = _run(
        "--data", str(data), "--minutes", "0.05", "--threads", "1",
        "--precisions", "fp32", "bf16", "--work", str(work),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # one row per recording, a group of columns per precision
    table = [line for line in result.stdout.splitlines() if "|" in line]
    assert "fp32 x real time" in table[0] and "bf16 x real time" in table[0]
    assert len(table) == 3 and table[2].startswith("| 0.05 min |")
    assert len(table[2].split("|")) == len(table[0].split("|"))
    results = json.loads((work / "results.json").read_text())
    assert [r["precision"] for r in results] == ["fp32", "bf16"]
    for r in results:
        assert r["audio_s"] == pytest.approx(3.0, abs=0.01)
        assert r["wall_s"] > 0 and r["peak_mib"] > 0
    assert (work / "results.png").stat().st_size > 0
