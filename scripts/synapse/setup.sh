#!/usr/bin/env bash
# Installs matrix-synapse into a reusable venv for Hearth's Matrix integration tests.
#
#   scripts/synapse/setup.sh            # install (or reuse) the venv; prints the venv path
#
# The venv lives in "${HEARTH_CACHE:-$HOME/.cache/hearth}/synapse-venv-<version>" so reruns and
# other checkouts reuse it; the install is skipped when the installed version already matches.
# Per-run server config (port, data dir, shared secret) is written by start.sh, not here, so the
# venv stays shareable. Needs: python3 (>= 3.10) with venv; Synapse ships manylinux wheels, so no
# compiler is normally needed (Debian: python3-venv; libffi-dev libssl-dev build-essential
# python3-dev only if pip falls back to building from source).
set -euo pipefail

SYNAPSE_VERSION="${HEARTH_SYNAPSE_VERSION:-1.163.2}"
CACHE="${HEARTH_CACHE:-$HOME/.cache/hearth}"
VENV="$CACHE/synapse-venv-$SYNAPSE_VERSION"
PY="${PYTHON:-python3}"

mkdir -p "$CACHE"
# Serialise concurrent setups (parallel CI steps / engineers) on one lock file.
exec 9>"$CACHE/synapse-setup.lock"
flock 9

installed=""
if [ -x "$VENV/bin/python" ]; then
  installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null || true)"
fi

if [ "$installed" != "$SYNAPSE_VERSION" ]; then
  echo "synapse setup: installing matrix-synapse==$SYNAPSE_VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
  "$VENV/bin/python" -c 'import synapse.app.homeserver' # fail here, not at test time
else
  echo "synapse setup: reusing $VENV (matrix-synapse $installed)" >&2
fi

echo "$VENV"
