#!/usr/bin/env bash
# HTTP load benchmarks of `wxlogin serve` (on SQLite, or on PostgreSQL) with the
# bare-handler ceiling measured in the same run. wrk sends a fixed number of requests per
# scenario (see BENCHMARKS.md for why wrk and how the count is fixed), each with its own
# token or code:
#   me       GET /v1/me, access tokens of many users
#   refresh  POST /v1/token/refresh, rotating refresh tokens
#   login    POST /v1/login, fresh codes of distinct users, simulator in another process
#   mixed    90 % me, 8 % refresh, 2 % login
#   admin_search  GET /admin/v1/users?q=OPENID, a different seeded user each time
# Reports throughput, p50/p99/p99.9, server CPU per request (/proc/PID/stat) and RSS
# (VmRSS, VmHWM), for wxlogin and for the ceiling.
#
#   bench/run-http.sh [--smoke] [--database sqlite|postgres] [--users N] [--requests N]
#                     [--connections N] [--scenarios "me refresh login mixed"] [--no-ceiling]
#                     [--out FILE.jsonl] [--label TEXT]
#                     [--bin-dir DIR]   (prebuilt wxlogin, seed, codes, ceiling: no cargo build)
#   --smoke: debug build, 200 users, 200 requests, 4 connections; checks every answer is
#   2xx and the count is exact (no timing judgement), for CI (which runs it on SQLite).
#   --database: sqlite (default) seeds and serves sqlite://FILE in a temporary directory;
#   postgres starts a throw-away local cluster (scripts/postgres-throwaway.sh, PostgreSQL's
#   default settings, fsync on) for the run, seeds and serves it, and removes it at the end,
#   pass or fail. Every result line carries "database" beside "label".
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir="" profile=release users=10000 requests=20000 connections=64 wrk_threads=1
scenarios="me refresh login mixed" ceiling=yes out="" smoke=no label="" database=sqlite
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=yes profile=dev users=200 requests=200 connections=4 ;;
        --users) users="$2"; shift ;;
        --requests) requests="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --scenarios) scenarios="$2"; shift ;;
        --no-ceiling) ceiling=no ;;
        --out) out="$2"; shift ;;
        --label) label="$2"; shift ;;
        --bin-dir) bin_dir="$2"; shift ;;
        --database) database="$2"; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case "$database" in
    sqlite | postgres) ;;
    *) echo "--database must be sqlite or postgres, not $database" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }

if [ -n "$bin_dir" ]; then
    bin="$bin_dir"
elif [ "$profile" = release ]; then
    cargo build --quiet --release -p wxlogin -p wxlogin-bench
    bin="${CARGO_TARGET_DIR:-target}/release"
else
    cargo build --quiet -p wxlogin -p wxlogin-bench
    bin="${CARGO_TARGET_DIR:-target}/debug"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$database" = postgres ]; then postgres_throwaway_stop; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$database" = postgres ]; then
    # shellcheck source=scripts/postgres-throwaway.sh
    source scripts/postgres-throwaway.sh
    # One local server with PostgreSQL's default settings (the tests' cluster turns fsync
    # off and raises max_connections; a benchmark must not).
    echo "starting a throw-away PostgreSQL cluster (default settings)..." >&2
    POSTGRES_THROWAWAY_SETTINGS="" postgres_throwaway_start \
        || { echo "could not start PostgreSQL (see above)" >&2; exit 1; }
    database_url=$POSTGRES_THROWAWAY_URL
    "$POSTGRES_THROWAWAY_BINDIR/psql" "$database_url" -Atc "SELECT 'PostgreSQL ' || current_setting('server_version')
        || ': ' || string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
        WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'max_connections', 'wal_level')" >&2 || true
else
    database_url="sqlite://$work/wxlogin.db"
fi

appid=wxbench0000000001
secret=bench-secret-0123456789abcdef
master_key=$(head -c32 /dev/urandom | base64)
results="$work/results.jsonl"
: >"$results"

# Start a process whose stdout announces its address; sets $started_pid and $started_url.
start() {
    local name="$1" pattern="$2"
    shift 2
    "$@" >"$work/$name.out" 2>"$work/$name.log" &
    started_pid=$!
    pids+=("$started_pid")
    for _ in $(seq 1 300); do
        started_url=$(grep -o "$pattern http://[0-9.:]*" "$work/$name.out" | head -1 | awk '{print $NF}' || true)
        [ -n "$started_url" ] && return 0
        kill -0 "$started_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

start sim "simulator on" "$bin/wxlogin" sim --listen 127.0.0.1:0 --app "$appid:$secret"
sim_url=$started_url sim_pid=$started_pid

echo "seeding $users users and sessions..." >&2
WXLOGIN_MASTER_KEY="$master_key" "$bin/seed" --database-url "$database_url" --appid "$appid" \
    --users "$users" --sampled "$((users < 10000 ? users : 10000))" --out "$work"

# The whole load comes from 127.0.0.1, so the per-address login limit (an abuse guard for
# real traffic from many addresses) is turned off; everything else runs with its defaults.
# A refresh token presented twice revokes its session, so the refresh and mixed scenarios
# each get their own half of the seeded refresh tokens.
half=$(($(wc -l <"$work/refresh_tokens.txt") / 2))
head -n "$half" "$work/refresh_tokens.txt" >"$work/refresh_tokens.refresh.txt"
tail -n "+$((half + 1))" "$work/refresh_tokens.txt" >"$work/refresh_tokens.mixed.txt"

# The admin search scenario's key (users:read), made the way an operator makes one.
admin_key=""
case " $scenarios " in *" admin_search "*)
    admin_key=$("$bin/wxlogin" admin-keys create --database-url "$database_url" \
        --name bench --scopes users:read 2>/dev/null) ;;
esac

WXLOGIN_MASTER_KEY="$master_key" start server "listening on" ${BENCH_SERVER_WRAPPER:-} "$bin/wxlogin" serve --listen 127.0.0.1:0 \
    --database-url "$database_url" --appid "$appid" --secret "$secret" --wechat-base-url "$sim_url" \
    --rate-limit-login-per-ip 0 ${WXLOGIN_SERVE_EXTRA:-}
server_pid=$started_pid server_url=$started_url
if [ "$ceiling" = yes ]; then
    start ceiling "listening on" "$bin/ceiling" --listen 127.0.0.1:0
    ceiling_pid=$started_pid ceiling_url=$started_url
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The PostgreSQL server's processes (all owned by the postgres user here), summed: on
# PostgreSQL much of a request's work is theirs, not wxlogin's. 0 on SQLite.
database_ticks() {
    [ "$database" = postgres ] || { echo 0; return; }
    local total=0 pid
    for pid in $(pgrep -u postgres 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
status_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }

# run TARGET PID URL SCENARIO: one fixed-count wrk run, one JSON line into $results.
run() {
    local target="$1" pid="$2" url="$3" scenario="$4"
    local done_dir="$work/done-$target-$scenario"
    mkdir -p "$done_dir"
    if [ "$scenario" = login ] || [ "$scenario" = mixed ]; then
        "$bin/codes" --sim "$sim_url" --appid "$appid" --count "$((requests + connections + 100))" \
            --user-prefix "$target-$scenario-$RANDOM" --out "$work/codes.txt"
    fi
    local refresh_set=refresh
    [ "$scenario" = mixed ] && refresh_set=mixed
    local before sim_before database_before
    before=$(cpu_ticks "$pid")
    sim_before=$(cpu_ticks "$sim_pid")
    database_before=$(database_ticks)
    BENCH_REQUESTS="$requests" BENCH_THREADS="$wrk_threads" BENCH_DONE_DIR="$done_dir" \
        BENCH_ACCESS_TOKENS="$work/access_tokens.txt" BENCH_REFRESH_TOKENS="$work/refresh_tokens.$refresh_set.txt" \
        BENCH_LOGIN_BODIES="$work/codes.txt" BENCH_ADMIN_KEY="$admin_key" BENCH_USERS="$users" \
        wrk -t "$wrk_threads" -c "$connections" -d 600s --timeout 10s -s "bench/wrk/$scenario.lua" "$url" \
        >"$work/wrk.out" 2>&1 &
    local wrk_pid=$!
    pids+=("$wrk_pid")
    while [ "$(find "$done_dir" -type f | wc -l)" -lt "$wrk_threads" ]; do
        kill -0 "$wrk_pid" 2>/dev/null || { cat "$work/wrk.out" >&2; exit 1; }
        sleep 0.05
    done
    kill -INT "$wrk_pid"
    wait "$wrk_pid" || true
    local after sim_after database_after
    after=$(cpu_ticks "$pid")
    sim_after=$(cpu_ticks "$sim_pid")
    database_after=$(database_ticks)
    local result
    result=$(grep '^BENCH_RESULT ' "$work/wrk.out" | cut -d' ' -f2-)
    [ -n "$result" ] || { cat "$work/wrk.out" >&2; exit 1; }
    python3 - "$result" "$target" "$scenario" "$((after - before))" "$(getconf CLK_TCK)" \
        "$(status_kib "$pid" VmRSS)" "$(status_kib "$pid" VmHWM)" "$users" "$connections" "$label" \
        "$((sim_after - sim_before))" "$database" "$((database_after - database_before))" >>"$results" <<'PY'
import json, sys
result = json.loads(sys.argv[1])
target, scenario, ticks, hz, rss, hwm, users, connections, label, sim_ticks, database, database_ticks = sys.argv[2:]
result.update(
    target=target, scenario=scenario, users=int(users), connections=int(connections), label=label,
    database=database,
    cpu_ms_per_request=int(ticks) * 1000 / int(hz) / max(result["requests"], 1),
    # The simulator (WeChat) runs on the same cores: what each request cost it.
    sim_cpu_ms_per_request=int(sim_ticks) * 1000 / int(hz) / max(result["requests"], 1),
    # The PostgreSQL server's processes (0 on SQLite, whose work is inside wxlogin's).
    database_cpu_ms_per_request=int(database_ticks) * 1000 / int(hz) / max(result["requests"], 1),
    rss_mib=int(rss) / 1024, hwm_mib=int(hwm) / 1024,
)
print(json.dumps(result))
PY
    tail -1 "$results" >&2
}

for scenario in $scenarios; do
    if [ "$ceiling" = yes ]; then
        run ceiling "$ceiling_pid" "$ceiling_url" "$scenario"
    fi
    run wxlogin "$server_pid" "$server_url" "$scenario"
done

[ -n "$out" ] && cat "$results" >>"$out"
python3 bench/report.py "$results"

if [ "$smoke" = yes ]; then
    python3 - "$results" "$requests" <<'PY'
import json, sys
expected = int(sys.argv[2])
failed = False
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["requests"] != expected or (r["target"] == "wxlogin" and (r["non_2xx"] or r["socket_errors"])):
        print(f"smoke FAILED: {r['target']} {r['scenario']}: {r['requests']} answers, "
              f"{r['non_2xx']} not 2xx, {r['socket_errors']} socket errors", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
PY
    echo "http smoke: every scenario answered $requests requests, all 2xx" >&2
fi
