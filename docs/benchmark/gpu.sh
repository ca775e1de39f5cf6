#!/usr/bin/env bash
# The GPU columns of the benchmark (issue 9) in one call of a GPU machine.
#
#   docs/benchmark/gpu.sh wheels        # 1. here, once (network to PyPI)
#   docs/benchmark/gpu.sh run "$OUT"    # 2. on the GPU machine, one call
#
# 1. `wheels` downloads into .whl/ (git-ignored) the Python 3.12 wheels
#    that the GPU machine's image lacks (speechbrain, HyperPyYAML,
#    ruamel.yaml; torch, matplotlib, tqdm and psutil are there).
# 2. `run OUT [options]` installs them into /tmp/site and runs
#        python3 -m benchmarks.benchmark --throughput --out OUT
#    (GALR, DPRNN and the dual-path transformer at D=64, M=16; the paper's
#    best GALR, D=128, M=4, and DPRNN at M=4: a training step at batch
#    4 x 4 s in fp32 and bf16, eager and compiled, mean of 15 steps after
#    3 warm-ups; peak inference memory of a 60 s input), writing
#    OUT/throughput.csv, .md and .png after each model (a run cut short
#    keeps what it measured) and the log OUT/log.txt.  Options after OUT
#    go to the benchmark, e.g. --quick (the D=64, M=16 rows only).
#    With the device tool: command "docs/benchmark/gpu.sh run $OUT",
#    carry [".whl"], timeout_s 600 (the run stops itself at 570 s).
# 3. Copy the files it returns into docs/benchmark/gpu/ and commit them.
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
wheels)
    "${PYTHON:-.venv/bin/python}" -m pip download --no-deps \
        --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        speechbrain==1.1.2 HyperPyYAML==1.2.3 ruamel.yaml==0.18.17 \
        ruamel.yaml.clib==0.2.15 ptflops==0.7.5
    ;;
run)
    out=${2:?"usage: $0 run OUT [benchmark options]"}
    shift 2
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    nvidia-smi -L | tee "$out/log.txt"
    timeout 570 python3 -m benchmarks.benchmark --throughput \
        --out "$out" "$@" 2>&1 | tee -a "$out/log.txt"
    ;;
*)
    echo "usage: $0 wheels | run OUT [benchmark options]" >&2
    exit 2
    ;;
esac
