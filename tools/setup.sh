#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and links it as .venv.
#
# The environment lives outside the checkout (about 5 GB, torch included), in
# $GALR_VENV or ~/.cache/speechbrain-galr/venv, so that clean clones and CI
# reuse it; it is rebuilt when requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${GALR_VENV:-$HOME/.cache/speechbrain-galr/venv}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing requirements.txt into $venv (a few minutes)"
    "$venv/bin/python" -m pip install -q -r requirements.txt
    echo "$want" > "$stamp"
fi
# make this checkout importable from the venv (what an editable install does)
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$PWD" > "$site/speechbrain_galr_checkout.pth"
ln -sfn "$venv" .venv
