#!/usr/bin/env bash
# CI smoke of every benchmark: tiny counts, debug builds, no timing judgement. Fails if a
# benchmark no longer builds or runs, or if any load-test answer is not 2xx.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/run-crypto.sh --smoke
bench/run-http.sh --smoke
bench/run-growth.sh --smoke
echo "benchmark smoke: crypto, http and growth ran"
