#!/usr/bin/env bash
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=${1:-${PGPORT:-55432}}
PGTMP=${PGTMP:-/tmp/imagehouse-pg-$PGPORT}
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast stop >/dev/null 2>&1 || true
rm -rf "$PGTMP"
