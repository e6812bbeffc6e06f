#!/usr/bin/env bash
# Growth: the same load against databases of 10 thousand, 100 thousand and 1 million users
# and live sessions (seeded directly, see crates/wxlogin-bench/src/seed.rs). Throughput and
# latency should stay flat (indexed lookups only, the admin search by openid too) and RSS
# bounded (no per-user memory).
#
#   bench/run-growth.sh [--smoke] [--sizes "10000 100000 1000000"] [--requests N] [--bin-dir DIR]
#                       [--database sqlite|postgres]   (as bench/run-http.sh: a throw-away
#                       local PostgreSQL cluster per size, default settings)
#   --smoke: one database of 1,000 users, 200 requests per scenario, debug build; checks
#   counts and 2xx only.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="10000 100000 1000000" requests=20000 pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) sizes="1000"; requests=200; pass+=(--smoke) ;;
        --sizes) sizes="$2"; shift ;;
        --requests) requests="$2"; shift ;;
        --bin-dir) pass+=(--bin-dir "$2"); shift ;;
        --database) pass+=(--database "$2"); shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for users in $sizes; do
    bench/run-http.sh "${pass[@]}" --users "$users" --requests "$requests" --no-ceiling \
        --scenarios "me refresh login admin_search" --out "$results" >/dev/null
done
python3 bench/report.py "$results" --growth
