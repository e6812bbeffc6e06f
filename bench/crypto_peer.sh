#!/usr/bin/env bash
# The crypto peer comparison: wxlogin-crypto and wechatpy decrypt the same payloads
# (made once by make_payloads.py with Python `cryptography`), the same fixed number of
# times, each on one thread pinned to the same core. Prints a markdown table of ops per
# CPU-second (ops/s per core) and the ratio.
#
#   bench/crypto_peer.sh [--smoke] [ITERATIONS]      (default 200000; --smoke: 200, debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
iterations=200000
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) profile=dev; iterations=200 ;;
        *) iterations="$1" ;;
    esac
    shift
done

if [ "$profile" = release ]; then
    cargo build --quiet --release -p wxlogin-bench --bin crypto-peer
    bin="${CARGO_TARGET_DIR:-target}/release/crypto-peer"
else
    cargo build --quiet -p wxlogin-bench --bin crypto-peer
    bin="${CARGO_TARGET_DIR:-target}/debug/crypto-peer"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/make_payloads.py "$work/payloads.json"

# Same core for both sides: the last one, away from core 0 where interrupts land.
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
    pin=(taskset -c "$(($(nproc) - 1))")
fi

"${pin[@]}" "$bin" --payloads "$work/payloads.json" --iterations "$iterations" >"$work/rust.jsonl"
if python3 -c 'import wechatpy' 2>/dev/null; then
    "${pin[@]}" python3 bench/peer_wechatpy.py "$work/payloads.json" "$iterations" >"$work/peer.jsonl"
else
    echo "wechatpy is not installed (pip install wechatpy cryptography): peer side skipped" >&2
    : >"$work/peer.jsonl"
fi

python3 - "$work/rust.jsonl" "$work/peer.jsonl" <<'PY'
import json, sys
rust = {m["operation"]: m for m in map(json.loads, open(sys.argv[1]))}
peer = {m["operation"]: m for m in map(json.loads, open(sys.argv[2]))}
print("| operation | iterations | wxlogin-crypto ops/s per core | wechatpy ops/s per core | ratio |")
print("|---|---:|---:|---:|---:|")
for operation, ours in rust.items():
    theirs = peer.get(operation)
    their_rate = f"{theirs['ops_per_cpu_sec']:,.0f}" if theirs else "n/a"
    ratio = f"{ours['ops_per_cpu_sec'] / theirs['ops_per_cpu_sec']:.1f}x" if theirs else "n/a"
    label = {"phone": "decrypt + JSON + watermark: phone", "user_info": "decrypt + JSON + watermark: user info"}[operation]
    print(f"| {label} | {ours['iterations']} | {ours['ops_per_cpu_sec']:,.0f} | {their_rate} | {ratio} |")
if peer:
    print(f"\n(peer: {next(iter(peer.values()))['implementation']}; ops per CPU-second of the process, single thread)")
PY
