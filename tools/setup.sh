#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and links it as .venv.
#
# The environment lives outside the checkout (about 5 GB, torch included), in
# $GALR_VENV or ~/.cache/speechbrain-galr/venv, so that clean clones and CI
# reuse it.  requirements.txt installs this checkout editable with the
# dependencies pyproject.toml declares; pip runs again only when
# requirements.txt, pyproject.toml or the checkout's path changed (a stamp
# in the venv records them).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${GALR_VENV:-$HOME/.cache/speechbrain-galr/venv}"
stamp="$venv/.requirements.sha256"
want="$(cat requirements.txt pyproject.toml <(echo "$PWD") | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing requirements.txt into $venv (a few minutes)"
    "$venv/bin/python" -m pip install -q -r requirements.txt
    # the path file of older versions of this script (the editable install
    # does its job now)
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    rm -f "$site/speechbrain_galr_checkout.pth"
    echo "$want" > "$stamp"
fi
ln -sfn "$venv" .venv
