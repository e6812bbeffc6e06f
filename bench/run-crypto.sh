#!/usr/bin/env bash
# Crypto benchmarks: the criterion micro-benchmarks (open-data decryption, rawData
# signature, access-token sign/verify) and the wechatpy peer comparison.
#
#   bench/run-crypto.sh           full run (a few minutes)
#   bench/run-crypto.sh --smoke   each benchmark once, tiny counts; checks they still run
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--smoke" ]; then
    # `cargo test` runs criterion benches in test mode: every benchmark once, untimed.
    cargo test --quiet -p wxlogin-crypto --bench open_data
    cargo test --quiet -p wxlogin-server --bench tokens
    bench/crypto_peer.sh --smoke
    exit 0
fi

cargo bench -p wxlogin-crypto --bench open_data -- --warm-up-time 2 --measurement-time 5
cargo bench -p wxlogin-server --bench tokens -- --warm-up-time 2 --measurement-time 5
bench/crypto_peer.sh 200000
