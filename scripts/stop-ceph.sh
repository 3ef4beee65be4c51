#!/usr/bin/env bash
# Stops the Ceph daemons started by scripts/start-ceph.sh [DIR] and removes DIR.
set -euo pipefail
DIR=${1:-/tmp/imagehouse-ceph}
pids=()
for f in "$DIR"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  # Only signal a process that really is one of this cluster's ceph daemons.
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE '(ceph-(mon|mgr|osd)|radosgw)'; then
    kill "$pid" 2>/dev/null && pids+=("$pid")
  fi
done
for _ in $(seq 1 60); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.5
done
for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
rm -rf "$DIR"
