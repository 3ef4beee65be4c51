#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for tests (run as root) and prints its URL on the last line.
# Usage: scripts/start-postgres.sh [PORT]   Stop: scripts/stop-postgres.sh
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=${1:-${PGPORT:-55432}}
PGTMP=${PGTMP:-/tmp/imagehouse-pg-$PGPORT}
if runuser -u postgres -- "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
  echo "postgres://postgres@127.0.0.1:$PGPORT/imagehouse_test"; exit 0
fi
rm -rf "$PGTMP"; mkdir -p "$PGTMP"; chown postgres:postgres "$PGTMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$PGTMP/initdb.log"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres imagehouse_test
echo "postgres://postgres@127.0.0.1:$PGPORT/imagehouse_test"
