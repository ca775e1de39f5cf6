#!/usr/bin/env bash
# The main job: the WSJ0Mix recipe end to end on a demo corpus generated here,
# offline (synthetic speakers, wsj0-2mix layout), in a few minutes on 2 CPU
# cores.  Needs the venv of tools/setup.sh.
#
#   tools/demo.sh [OUT_DIR]        (default demo_data in the checkout)
#
# Environment: DEMO_MINUTES (training budget, default 3), DEMO_THREADS
# (torch threads, default 1: fastest on a busy machine).  Results: OUT_DIR/results/test_results.csv
# (per-mixture SDRi and SI-SNRi, avg row last), test_examples.png,
# training_curves.png.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
out="$(realpath -m "${1:-$repo/demo_data}")"
python="$repo/.venv/bin/python"

# 1. corpus: 20 synthetic speakers (14 train, 3 valid, 3 test)
"$python" -m speechbrain_galr.data.demo_corpus --out "$out" --num_mixtures 20 20 20 \
    --max_seconds 4

# 2. recipe: a small GALR (D=64, N=2, H=64, K=100, Q=32), training mixtures
# made on the fly from the training speakers, for DEMO_MINUTES of training
cd "$repo/recipes/WSJ0Mix/separation"
"$python" train.py hparams/galr-small.yaml \
    --data_folder "$out/2speakers" \
    --output_folder "$out/results" \
    --dynamic_mixing True \
    --base_folder_dm "$out/speakers" \
    --dm_speakers "$out/2speakers/speakers_tr.txt" \
    --dm_mixtures_per_epoch 100 \
    --training_signal_len 16000 \
    --batch_size 1 \
    --num_blocks 2 --hidden_channels 64 \
    --max_train_minutes "${DEMO_MINUTES:-3}" \
    --num_threads "${DEMO_THREADS:-1}" --num_workers 0 \
    --noprogressbar

echo
echo "test results ($out/results/test_results.csv), last row = mean:"
tail -n 1 "$out/results/test_results.csv"
echo "figures: $out/results/test_examples.png $out/results/training_curves.png"
