#!/usr/bin/env bash
# Trains and exports the shipped models pretrained/galr-small-librispeech-8k
# (galr-small, Table 3: D=64, M=16, K=100, Q=32) and
# pretrained/galr-causal-librispeech-8k (galr-causal.yaml, the streaming
# model) by the WSJ0Mix recipe with
# dynamic mixing on the 211 training speakers of a LibriSpeech speaker
# folder (8 kHz; the recipes' split: the first 211 by number train, the
# next 20 validate, the last 20 test), then tested on 100 mixtures of the
# 20 held-out test speakers.
#
#   tools/train_pretrained.sh SPEAKERS RUNS [MINUTES] [HPARAMS] [THREADS]
#
# SPEAKERS: <speaker>/<file> folder (e.g. ../shared/data/speech/librispeech-251)
# RUNS: work folder (corpus of the validation/test mixtures, the run)
# MINUTES: wall-clock training budget (default 125).  Rerunning the same
# command resumes the run from its last checkpoint.
# HPARAMS: the recipe's yaml (default galr-small.yaml); THREADS: torch CPU
# threads (default 2).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
speakers="$(realpath "$1")"
runs="$(realpath -m "$2")"
minutes="${3:-125}"
hparams="${4:-galr-small.yaml}"
threads="${5:-2}"
name="$(basename "$hparams" .yaml)"
# the galr-small run keeps the folder name it was trained in
run="$runs/pretrained"
[ "$name" = galr-small ] || run="$runs/$name"
python="$repo/.venv/bin/python"
mkdir -p "$runs"
# validation (20 x 4 s) and test (100) mixtures of held-out speakers, and
# the training speakers' list (the quality study's corpus)
"$python" - "$speakers" "$runs/corpus" <<'PY'
import sys, types
sys.path.insert(0, "tools")
import quality_study
args = types.SimpleNamespace(num_valid=20, valid_seconds=4.0, num_test=100,
    num_valid_speakers=20, num_test_speakers=20, seed=1234)
quality_study.make_heldout_corpus(sys.argv[1], sys.argv[2], args)
PY
cd "$repo/recipes/WSJ0Mix/separation"
"$python" train.py "hparams/$hparams" --noprogressbar \
    --data_folder "$runs/corpus" --output_folder "$run" \
    --dynamic_mixing True --base_folder_dm "$speakers" \
    --dm_speakers "$runs/corpus/speakers_tr.txt" \
    --dm_mixtures_per_epoch 1000 --max_train_minutes "$minutes" \
    --num_threads "$threads" --num_workers 0 --early_stop_patience 1000 \
    --ckpt_interval_minutes 5
cd "$repo"
"$python" -m speechbrain_galr export "$run" \
    --out "$runs/$name-librispeech-8k" \
    --training-data "LibriSpeech train-clean-100 (CC BY 4.0), 211 speakers, one utterance each, 8 kHz, dynamic mixing"
