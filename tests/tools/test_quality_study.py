"""tools/quality_study.py: two tiny configurations of the WSJ0Mix recipe
for a few seconds each on generated speakers, as a user runs it."""

import csv
import os

import pytest
from tool_runner import load_tool, run_tool

from speechbrain_galr.data.demo_corpus import make_speakers

TINY_GALR = (
    "galr:galr-small.yaml:num_filters=16,hidden_channels=16,num_blocks=1,"
    "num_heads=2,segment_size=20,reduced_segment_size=4"
)
TINY_DPRNN = (
    "dprnn:dprnn.yaml:num_filters=16,hidden_channels=16,num_blocks=1,"
    "segment_size=20"
)


def _load_tool():
    return load_tool("quality_study")


def _run(*args):
    return run_tool("quality_study", *args, timeout=180)


def test_parse_config():
    tool = _load_tool()
    config = tool.parse_config("a:dprnn.yaml:num_blocks=2,lr=0.01")
    assert config.name == "a"
    assert config.hparams.endswith(os.path.join("hparams", "dprnn.yaml"))
    assert config.overrides == {"num_blocks": "2", "lr": "0.01"}
    assert tool.parse_config("b:dprnn.yaml").overrides == {}
    for bad in ("a", "a:nothere.yaml", "a b:dprnn.yaml", "a:dprnn.yaml:x"):
        with pytest.raises(ValueError):
            tool.parse_config(bad)


def test_bad_configuration_is_a_one_line_error(tmp_path):
    result = _run(str(tmp_path), str(tmp_path / "out"), "a:nothere.yaml",
                  "--max_train_minutes", "1")  # fmt: skip
    assert result.returncode == 2
    assert "no hparams file nothere.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_study_of_two_configurations(tmp_path):
    speakers = str(tmp_path / "speakers")
    make_speakers(speakers, num_speakers=8, utterances_per_speaker=1,
                  min_seconds=1.0, max_seconds=1.5)  # fmt: skip
    out = str(tmp_path / "study")
    args = [
        speakers, out, TINY_GALR, TINY_DPRNN,
        "--max_train_minutes", "0.03", "--mixtures_per_epoch", "4",
        "--num_valid_speakers", "2", "--num_test_speakers", "2",
        "--num_valid", "2", "--num_test", "2", "--valid_seconds", "1",
        "--set", "training_signal_len=4000,num_test_examples=1",
    ]  # fmt: skip
    result = _run(*args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "[2/2] dprnn: training" in result.stdout
    assert "valid SI-SNR" in result.stdout  # progress, per epoch

    with open(os.path.join(out, "study.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["config"] for row in rows] == ["galr", "dprnn"]
    for row in rows:
        run = os.path.join(out, "runs", row["config"])
        with open(os.path.join(run, "test_results.csv"), newline="") as f:
            avg = list(csv.DictReader(f))[-1]
        assert float(row["test_si-snri"]) == pytest.approx(
            float(avg["si-snr_i"]), abs=0.006
        )
        assert int(row["steps"]) > 0 and float(row["seconds_per_step"]) > 0
        assert row["device"] == "cpu, 1 thread" and row["budget_min"] == "0.03"
        # both trained on the same held-out corpus
        with open(os.path.join(run, "hyperparams.yaml")) as f:
            assert os.path.join(out, "corpus") in f.read()
    assert 0 < int(rows[0]["params"]) < int(rows[1]["params"])
    with open(os.path.join(out, "study.md")) as f:
        table = f.read().splitlines()
    assert len(table) == 4 and table[2].startswith("| galr |")
    with open(os.path.join(out, "study.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # held-out speakers: none of the test speakers is a training speaker
    with open(os.path.join(out, "corpus", "speakers_tr.txt")) as f:
        train = set(f.read().split())
    with open(os.path.join(out, "corpus", "speakers_tt.txt")) as f:
        assert train.isdisjoint(f.read().split())

    # a rerun reuses the finished runs and the corpus
    result = _run(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("done already") == 2
    assert "reusing the 2 tt mixtures" in result.stdout
