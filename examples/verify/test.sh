#!/usr/bin/env bash
# Runs the token verification recipes' tests (Node with jose, Python with PyJWT, Go with
# golang-jwt), each against real `wxlogin serve --sim` servers it starts itself.
#
# Usage: WXLOGIN_BIN=path/to/wxlogin examples/verify/test.sh WORK_DIR
# WORK_DIR keeps the Python virtual environment between runs (the Go module cache and
# npm's cache are their tools' own). Dependencies are the pinned ones (package-lock.json,
# requirements.txt, go.sum), fetched from the package registries on a fresh machine.
# A recipe whose toolchain is missing is skipped with a line saying so (.ci/run installs
# them); any other trouble fails the run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:?usage: WXLOGIN_BIN=path/to/wxlogin $0 WORK_DIR}
: "${WXLOGIN_BIN:?set WXLOGIN_BIN to the wxlogin binary}"
WXLOGIN_BIN=$(cd "$(dirname "$WXLOGIN_BIN")" && pwd)/$(basename "$WXLOGIN_BIN")
export WXLOGIN_BIN
mkdir -p "$work"
failed=()
skipped=()

if command -v node >/dev/null && command -v npm >/dev/null; then
  echo "--> Node recipe (jose)"
  (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error && node --test) || failed+=(node)
else
  skipped+=("Node recipe: needs node and npm")
fi

if command -v python3 >/dev/null; then
  echo "--> Python recipe (PyJWT)"
  venv=$work/python-venv
  (
    set -e
    # The venv is made again whenever requirements.txt changed, so it holds exactly the pins.
    if ! cmp -s "$here/python/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
      cp "$here/python/requirements.txt" "$venv/requirements.txt"
    fi
    cd "$here/python"
    PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider
  ) || failed+=(python)
else
  skipped+=("Python recipe: needs python3")
fi

if command -v go >/dev/null; then
  echo "--> Go recipe (golang-jwt)"
  (cd "$here/go" && go vet ./... && go test -count=1 ./...) || failed+=(go)
else
  skipped+=("Go recipe: needs go")
fi

for reason in "${skipped[@]}"; do echo "--> skipped: $reason (.ci/run installs it)"; done
if ((${#failed[@]})); then
  echo "--> verification recipes FAILED: ${failed[*]}"
  exit 1
fi
echo "--> verification recipes passed"
