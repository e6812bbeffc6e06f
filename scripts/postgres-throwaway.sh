# Sourced by scripts/test: a throw-away PostgreSQL cluster owned by one test run.
# postgres_throwaway_start sets POSTGRES_THROWAWAY_URL and _PORT; postgres_throwaway_stop
# stops the server and deletes its files. Runs the server as the `postgres` user when
# invoked as root (initdb refuses root).
#
# The tests' server runs with fsync off and room for 400 connections. A caller that wants
# other settings sets POSTGRES_THROWAWAY_SETTINGS before starting (extra `postgres`
# options; empty: PostgreSQL's defaults, as bench/run-http.sh --database postgres does).

postgres_throwaway_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

postgres_throwaway_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_throwaway_start() {
  local bindir
  bindir=$(postgres_throwaway_bindir) || return 1
  POSTGRES_THROWAWAY_DIR=$(mktemp -d /tmp/wxlogin-pg.XXXXXX)
  chmod 755 "$POSTGRES_THROWAWAY_DIR"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$POSTGRES_THROWAWAY_DIR"
  POSTGRES_THROWAWAY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  POSTGRES_THROWAWAY_BINDIR=$bindir
  postgres_throwaway_as_owner "$bindir/initdb" -D "$POSTGRES_THROWAWAY_DIR/data" -U wxlogin \
    --auth=trust --no-sync -E UTF8 >"$POSTGRES_THROWAWAY_DIR/initdb.log" 2>&1 \
    || { cat "$POSTGRES_THROWAWAY_DIR/initdb.log"; return 1; }
  postgres_throwaway_as_owner "$bindir/pg_ctl" -D "$POSTGRES_THROWAWAY_DIR/data" -w -t 60 \
    -l "$POSTGRES_THROWAWAY_DIR/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_THROWAWAY_PORT -k $POSTGRES_THROWAWAY_DIR ${POSTGRES_THROWAWAY_SETTINGS--c fsync=off -c max_connections=400}" \
    start >/dev/null || { cat "$POSTGRES_THROWAWAY_DIR/server.log"; return 1; }
  POSTGRES_THROWAWAY_URL="postgres://wxlogin@127.0.0.1:$POSTGRES_THROWAWAY_PORT/postgres"
  export POSTGRES_THROWAWAY_URL POSTGRES_THROWAWAY_PORT
}

postgres_throwaway_stop() {
  [[ -n "${POSTGRES_THROWAWAY_DIR:-}" ]] || return 0
  postgres_throwaway_as_owner "$POSTGRES_THROWAWAY_BINDIR/pg_ctl" -D "$POSTGRES_THROWAWAY_DIR/data" \
    -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$POSTGRES_THROWAWAY_DIR"
  POSTGRES_THROWAWAY_DIR=
}
