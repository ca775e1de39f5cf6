"""Tests of the cost benchmark (Table 3, the GPU columns): the models built
from the recipe yamls, the --quick Table 3 run and a tiny --throughput run
on the CPU end to end, the compiled training step, the FLOP hooks against
torch's own matmul count, the memory subprocesses and the errors."""

import csv
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import (
    benchmark,
    cost,
    peak_memory,
    recipe_models,
    throughput,
)
from benchmarks import report as benchmark_report
from speechbrain_galr.nnet.galr import GloballyAttentiveLayer

REQUIRED = [
    "model",
    "D",
    "M",
    "K",
    "Q",
    "params",
    "gflops_1s",
    "cpu_peak_mib_train_1s",
    "cpu_ms_per_s_infer",
]


def test_quick_run_writes_csv_md_and_png(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.benchmark",
            "--out",
            str(out),
            "--quick",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "cost.csv") as fin:
        reader = csv.DictReader(fin)
        rows = list(reader)
    assert set(REQUIRED) <= set(reader.fieldnames)
    assert [r["model"] for r in rows] == ["GALR", "DPRNN", "DP-Transformer"]
    by_model = {r["model"]: r for r in rows}
    for row in rows:
        assert (row["D"], row["M"], row["K"]) == ("64", "16", "100")
        q = 32 if row["model"] == "GALR" else None
        overrides = recipe_models.table3_overrides(row["model"], 64, 16, 100, q)
        net = recipe_models.build_model(row["model"], **overrides)
        assert int(row["params"]) == cost.count_parameters(net)
        assert float(row["gflops_1s"]) == pytest.approx(
            2 * float(row["gmacs_1s"]), rel=1e-3
        )
        for column in REQUIRED[6:] + ["cpu_peak_mib_infer_1s"]:
            assert float(row[column]) > 0, (row["model"], column)
        # --quick measures the 1 s passes only
        assert row["cpu_peak_mib_train_4s"] == ""
    assert by_model["GALR"]["Q"] == "32" and by_model["DPRNN"]["Q"] == ""
    # Table 3's figures are carried beside ours
    assert float(by_model["DPRNN"]["paper_gflops"]) == 10.7
    assert by_model["DP-Transformer"]["paper_model"] == "DPTNet"
    # the paper's claim on FLOPs holds for the counted models
    assert float(by_model["GALR"]["gflops_1s"]) < float(
        by_model["DPRNN"]["gflops_1s"]
    )
    report = (out / "cost.md").read_text()
    assert "| GALR | 64 | 16 | 100 | 32 |" in report
    assert "FLOPs ratio" in report and "2 x MACs" in report
    assert (out / "cost.png").stat().st_size > 10_000


def _sdpa_by_matmuls(query, key, value, attn_mask=None, dropout_p=0.0):
    """Eq. 8 with explicit products, which FlopCounterMode counts (it does
    not count the CPU's fused attention kernel)."""
    scores = query @ key.transpose(-1, -2) / query.shape[-1] ** 0.5
    if attn_mask is not None:
        scores = scores + attn_mask
    return scores.softmax(dim=-1) @ value


def test_attention_hook_matches_torch_matmul_count(monkeypatch):
    # with eq. 8 written as explicit products, torch's FlopCounterMode
    # counts every product of the layer (2 FLOPs per MAC); the rest of our
    # count (norms, biases, softmax, query scaling) is added here
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", _sdpa_by_matmuls
    )
    B, S, K, D, Q, J = 2, 7, 10, 16, 4, 4
    layer = GloballyAttentiveLayer(D, J, K, Q).eval()
    x = torch.randn(B, S, K, D)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x)
    matmul_macs = counter.get_total_flops() // 2
    rows = B * S * Q
    norms = 2 * 2 * rows * D
    biases = rows * 4 * D + B * S * (Q * D + K * D)
    softmax_and_scaling = B * Q * (J * S * S + S * D)
    expected = matmul_macs + norms + biases + softmax_and_scaling
    assert cost.attention_layer_macs(layer, x) == expected


def test_one_galr_block_is_counted_once_and_whole():
    # the MACs one more block adds: its Bi-LSTM (ptflops' formula: gate
    # products, gate arithmetic and biases per step and direction), the
    # linear layer and segment norm of eq. 2-3, and the globally attentive
    # layer of our hook, none of it twice
    D, H, K, Q, samples = 16, 8, 10, 4, 800

    def macs(num_blocks):
        torch.manual_seed(0)
        net = recipe_models.build_model(
            "GALR",
            num_filters=D,
            segment_size=K,
            reduced_segment_size=Q,
            hidden_channels=H,
            num_blocks=num_blocks,
        )
        return cost.count_macs(net, samples / 8000), net

    one, _ = macs(1)
    two, net = macs(2)
    frames = (samples - 16) // 8 + 1
    S = -(-2 * frames // K) + 1
    positions = S * K
    lstm = 2 * positions * (4 * H * D + 4 * H * H + 18 * H)
    linear = positions * (2 * H * D + D)
    norm = 2 * positions * D
    layer = net.masknet.dual_mdl[1].globally
    attention = cost.attention_layer_macs(layer, torch.zeros(1, S, K, D))
    assert two - one == lstm + linear + norm + attention


def test_dprnn_lstms_are_counted():
    # ptflops' aten backend counts none of the LSTMs; ours counts all 2N
    D, H, K, samples = 16, 8, 10, 800
    net = recipe_models.build_model(
        "DPRNN", num_filters=D, segment_size=K, hidden_channels=H, num_blocks=2
    )
    lower_bound = 4 * 2 * 4 * H * (D + H) * (samples // 8) * 2
    assert cost.count_macs(net, samples / 8000) > lower_bound


def test_cpu_peak_memory_methods_agree():
    # vmhwm (Linux) reads the kernel's peak mark, reset before the pass;
    # sampled reads the resident set every millisecond
    passes = [("train", 0.5)]
    small = dict(num_filters=16, segment_size=10, reduced_segment_size=4)
    peaks = {
        method: peak_memory.cpu_peak_memory(
            "GALR", small, passes, method=method
        )["train_0.5s"]
        for method in (peak_memory.peak_rss_method(), "sampled")
    }
    assert min(peaks.values()) > 0, peaks
    assert max(peaks.values()) < 1.25 * min(peaks.values()), peaks


def test_bad_input_raises_a_clear_error(tmp_path):
    a_file = tmp_path / "cost.csv"
    a_file.write_text("")
    args = benchmark.build_parser().parse_args(["--out", str(a_file)])
    with pytest.raises(NotADirectoryError, match="is a file"):
        benchmark.run(args)
    args = benchmark.build_parser().parse_args(
        ["--out", str(tmp_path), "--threads", "0"]
    )
    with pytest.raises(ValueError, match="--threads"):
        benchmark.run(args)
    with pytest.raises(ValueError, match="unknown model 'TCN'"):
        recipe_models.build_model("TCN")
    with pytest.raises(ValueError, match="no hyperparameter num_filter$"):
        recipe_models.build_model("GALR", num_filter=16)
    with pytest.raises(ValueError, match="at least one sample"):
        cost.count_macs(
            recipe_models.build_model("GALR", **recipe_models.TINY_GALR), 0.0
        )
    with pytest.raises(RuntimeError, match="memory subprocess"):
        peak_memory.cpu_peak_memory(
            "GALR", recipe_models.TINY_GALR, [("sleep", 1.0)]
        )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--override", "num_filter=16"], "has no hyperparameter num_filter"),
        (["--override", "num_blocks"], "expected KEY=VALUE"),
        (["--override", "num_filters=16"], "num_filters: set by each row"),
        (["--override", "num_heads=5"], "divisible by num_heads (5)"),
        (["--override", "num_blocks=many"], "GALR cannot be built"),
        (["--throughput", "--precisions", "fp8"], "subset of fp32,bf16"),
        (["--throughput", "--steps", "0"], "--steps >= 1"),
        (["--throughput", "--device", "tpu"], "--device must be cpu"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main(["--out", str(tmp_path / "out")] + argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last and message in last
    assert not (tmp_path / "out").exists()


def test_ratios_are_to_dprnn_at_d64_with_the_same_segmentation():
    rows = [
        dict(model="DPRNN", D=64, M=16, K=100, Q=None, x=4.0),
        dict(model="DPRNN", D=64, M=8, K=150, Q=None, x=8.0),
        dict(model="GALR", D=128, M=8, K=150, Q=16, x=6.0),
    ]
    assert benchmark_report.ratio(rows, rows[2], "x") == 0.75
    assert benchmark_report.ratio(rows, rows[2], "missing") is None
    rows[1]["y"] = 3.0
    assert benchmark_report.ratio(rows, rows[2], "x", "y") == 2.0


def test_models_are_the_recipe_yamls_built_without_side_effects(
    tmp_path, monkeypatch
):
    # the sizes the README states, from the yamls with Table 3's overrides;
    # building seeds nothing and creates no output folder
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(7)
    sizes = {
        name: cost.count_parameters(recipe_models.build_model(name))
        for name in recipe_models.MODELS
    }
    assert sizes == {
        "GALR": 1458969,
        "DPRNN": 2609793,
        "DP-Transformer": 629889,
    }
    assert torch.initial_seed() == 7
    assert list(tmp_path.iterdir()) == []
    hparams = recipe_models.load_hparams(
        "GALR", **recipe_models.table3_overrides("GALR", 128, 4, 200, 8)
    )
    galr = hparams["model"]
    assert galr.encoder.conv1d.kernel_size == (4,)
    assert galr.encoder.conv1d.out_channels == 128
    assert hparams["segment_size"] == 200
    assert hparams["reduced_segment_size"] == 8
    # the paper's best GALR is galr.yaml: the same model as the overrides
    best = recipe_models.build_model(
        os.path.join(recipe_models.HPARAMS_FOLDER, "galr.yaml")
    )
    assert cost.count_parameters(best) == cost.count_parameters(galr)


def test_throughput_run_on_the_cpu_writes_csv_md_and_png(tmp_path):
    # the GPU measurement's code path with tiny settings: 1 x 0.1 s batch,
    # one-block models, one timed step, eager in fp32 and bf16
    out = tmp_path / "gpu"
    benchmark.main(
        [
            "--out", str(out), "--throughput", "--quick", "--device", "cpu",
            "--train-batch", "2", "--train-seconds", "0.1", "--steps", "1",
            "--warmup", "0", "--infer-seconds", "0.2",
            "--override", "num_blocks=1", "--compile-modes", "eager",
        ]
    )  # fmt: skip
    with open(out / "throughput.csv") as fin:
        rows = list(csv.DictReader(fin))
    assert [r["model"] for r in rows] == list(recipe_models.MODELS)
    for row in rows:
        assert (row["device"], row["batch"]) == ("cpu", "2")
        assert float(row["seconds"]) == 0.1
        for precision in throughput.PRECISIONS:
            ms = float(row[f"step_ms_{precision}_eager"])
            assert ms > 0
            xrt = float(row[f"xrt_{precision}_eager"])
            assert xrt == pytest.approx(2 * 0.1 / (ms / 1000), rel=1e-3)
            assert float(row[f"infer_mib_per_s_{precision}"]) >= 0
            assert row[f"step_ms_{precision}_compiled"] == ""
    report = (out / "throughput.md").read_text()
    assert "| GALR | 64 | 16 | 100 | 32 |" in report
    assert "## Targets: GALR against DPRNN (Table 3 cost)" in report
    assert (out / "throughput.png").stat().st_size > 10_000


def test_compiled_training_step_computes_what_the_eager_one_does():
    # dynamo traces the model (the "eager" backend: no code generation);
    # with one graph or with graph breaks, the compiled forward is the
    # model's, and the compiled step trains it
    hparams = recipe_models.load_hparams(
        "GALR", dropout=0.0, **recipe_models.TINY_GALR
    )
    step = throughput.TrainStep(hparams, "fp32")
    mix, targets = torch.randn(2, 800), torch.randn(2, 800, 2)
    how = step.compile(mix, targets, backend="eager")
    assert how == "fullgraph" or how.startswith("graph breaks (")
    with torch.no_grad():
        torch.testing.assert_close(step.forward(mix), step.model(mix))
    before = [p.detach().clone() for p in step.model.parameters()]
    assert throughput.time_steps(step, mix, targets, steps=1, warmup=0) > 0
    after = list(step.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
