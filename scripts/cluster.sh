#!/usr/bin/env bash
# A local imagehouse cluster: PostgreSQL + single-node Ceph RGW + N stateless nodes + HAProxy in front, with
# health checks on /healthz (run as root: PostgreSQL and Ceph are started as in the test scripts).
#   scripts/cluster.sh up N        start everything; prints the endpoint, the database URL and each node's pid
#   scripts/cluster.sh node I      (re)start node I (after a kill -9, say); prints its pid
#   scripts/cluster.sh lb N        (re)start HAProxy in front of nodes 1..N (to add a node: `node N`, then `lb N`)
#   scripts/cluster.sh config N    print the HAProxy configuration for nodes 1..N
#   scripts/cluster.sh down        stop all of it (PostgreSQL and Ceph only if `up` started them)
# Settings: CLUSTER_DIR (/tmp/imagehouse-cluster), CLUSTER_PORT (8480; nodes listen on the ports after it),
# CLUSTER_PG_PORT (55470), CLUSTER_DATABASE_URL (an existing database instead of starting PostgreSQL),
# CLUSTER_S3_BUCKET (imagehouse-cluster), CLUSTER_JOB_LEASE_MS (30000), CLUSTER_GC_GRACE_MS (3600000),
# CLUSTER_CLIENT_CONNECTIONS (20: concurrent connections HAProxy takes from one client address).
# Responses through HAProxy carry `X-Served-By: nodeI`.
#
# Connections. A node refuses a client address's connections beyond IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS (20).
# Behind HAProxy every connection comes from HAProxy's address, so that guard moves to HAProxy's frontend (20 per
# client address) and the nodes take up to NODE_CONNECTIONS from it (HAProxy queues requests beyond
# SERVER_MAXCONN per node). Left at 20 on the nodes, a burst of more than ~18 client connections through one
# node got its connections closed at once (502s and resets), and the health check's too, which took the node out.
# Keep-alive. Idle client connections are kept LB_KEEPALIVE_S and advertised as LB_KEEPALIVE_S - 5 (the node's own
# `Keep-Alive: timeout=72` used to pass through while HAProxy closed idle clients after 15 s: a client reusing
# one after 15-72 s could write into a closing connection). Towards the nodes HAProxy drops idle connections long
# before a node's keep-alive ends (half of them each 5 s; a node closes an idle connection after its idle timeout,
# IMAGEHOUSE_IDLE_TIMEOUT_MS, 30 s by default, and advertises that), and a request that meets
# a connection closing under it is retried on a new one when replaying it cannot do anything twice: GET/HEAD, or a
# signed ECS call, whose nonce the nodes refuse the second time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${CLUSTER_DIR:-/tmp/imagehouse-cluster}
PORT=${CLUSTER_PORT:-8480}
PG_PORT=${CLUSTER_PG_PORT:-55470}
log() { echo "cluster: $*" >&2; }
CLIENT_CONNECTIONS=${CLUSTER_CLIENT_CONNECTIONS:-20}
SERVER_MAXCONN=256
NODE_CONNECTIONS=1024
LB_KEEPALIVE_S=65

node_port() { echo $((PORT + $1)); }

start_node() {
  local i=$1 port pid
  port=$(node_port "$i")
  # shellcheck disable=SC1091
  set -a; . "$DIR/env"; set +a
  if [ -f "$DIR/node$i.pid" ] && kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null; then kill "$(cat "$DIR/node$i.pid")" || true; sleep 1; fi
  mkdir -p "$DIR/node$i"
  # Each node keeps only scratch files in its data directory; metadata and bytes are shared.
  IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS=$NODE_CONNECTIONS nohup node "$ROOT/bin/imagehouse.js" serve --host 127.0.0.1 --port "$port" --nbd-port $((port + 1000)) --data "$DIR/node$i" \
    >>"$DIR/node$i.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$DIR/node$i.pid"
  for _ in $(seq 1 120); do
    if curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$port/healthz"; then echo "pid $pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "node $i exited; see $DIR/node$i.log"; tail -5 "$DIR/node$i.log" >&2; return 1; }
    sleep 0.5
  done
  log "node $i did not become healthy; see $DIR/node$i.log"; return 1
}

haproxy_config() {
  local n=$1
  cat <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout http-request 15s
  timeout http-keep-alive ${LB_KEEPALIVE_S}s
  timeout queue 30s
  # A request that could not reach a node (refused, reset before it was sent) goes to another one.
  option redispatch
  retries 3
frontend imagehouse
  bind 127.0.0.1:$PORT
  # The nodes' per-address connection guard, applied to the real client address.
  stick-table type ip size 1m expire 10m store conn_cur
  tcp-request connection track-sc0 src
  tcp-request connection reject if { sc0_conn_cur gt $CLIENT_CONNECTIONS }
  default_backend nodes
backend nodes
  http-response set-header X-Served-By %s
  http-response set-header Keep-Alive timeout=$((LB_KEEPALIVE_S - 5))
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  # /healthz gives up on each probe after 5 s: a node slow under load stays in, a dead one (refused) drops in ~2 s.
  timeout check 6s
  # Retry a request whose node connection closed with no answer, when a replay cannot act twice.
  retry-on conn-failure empty-response
  http-request disable-l7-retry unless METH_GET || { req.hdr(x-acs-signature-nonce) -m found } || { url_param(SignatureNonce) -m found }
  default-server inter 1s fall 2 rise 2 maxconn $SERVER_MAXCONN
CFG
  for i in $(seq 1 "$n"); do echo "  server node$i 127.0.0.1:$(node_port "$i") check"; done
}

up() {
  local n=${1:?usage: cluster.sh up N}
  [ "$n" -ge 1 ] || { log "N must be at least 1"; exit 2; }
  mkdir -p "$DIR"
  local db_url=${CLUSTER_DATABASE_URL:-}
  if [ -z "$db_url" ]; then
    local pgbin; pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    runuser -u postgres -- "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null || touch "$DIR/started-postgres"
    "$ROOT/scripts/start-postgres.sh" "$PG_PORT" >/dev/null
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'create database imagehouse_cluster' 2>/dev/null || true
    db_url="postgres://postgres@127.0.0.1:$PG_PORT/imagehouse_cluster"
  fi
  curl -sf -o /dev/null http://127.0.0.1:7480/ || touch "$DIR/started-ceph"
  local s3; s3=$("$ROOT/scripts/start-ceph.sh")
  local key; key=$(cat "$DIR/master.key" 2>/dev/null || openssl rand -hex 32 | tee "$DIR/master.key")
  {
    echo "IMAGEHOUSE_DATABASE_URL=$db_url"
    echo "$s3" | sed -n 's/^IMAGEHOUSE_TEST_S3_ENDPOINT=/IMAGEHOUSE_S3_ENDPOINT=/p; s/^IMAGEHOUSE_TEST_S3_ACCESS_KEY=/IMAGEHOUSE_S3_ACCESS_KEY_ID=/p; s/^IMAGEHOUSE_TEST_S3_SECRET_KEY=/IMAGEHOUSE_S3_SECRET_ACCESS_KEY=/p'
    echo "IMAGEHOUSE_S3_BUCKET=${CLUSTER_S3_BUCKET:-imagehouse-cluster}"
    echo "IMAGEHOUSE_MASTER_KEY=$key"
    echo "IMAGEHOUSE_JOB_LEASE_MS=${CLUSTER_JOB_LEASE_MS:-30000}"
    echo "IMAGEHOUSE_GC_GRACE_MS=${CLUSTER_GC_GRACE_MS:-3600000}"
    echo "IMAGEHOUSE_LOG_LEVEL=${IMAGEHOUSE_LOG_LEVEL:-warn}"
    echo "UV_THREADPOOL_SIZE=16"
  } >"$DIR/env"
  echo "$n" >"$DIR/nodes"
  # The first node migrates the schema; the others would wait on the migration lock, so starting them together is safe too.
  local pids=()
  for i in $(seq 1 "$n"); do pids+=("$(start_node "$i")"); done
  start_lb "$n"
  echo "IMAGEHOUSE_DATABASE_URL=$db_url"
  printf '%s\n' "${pids[@]}"
}

# (Re)starts HAProxy in front of nodes 1..N; a running one hands its listener over (-sf), so nothing is refused.
start_lb() {
  local n=${1:?usage: cluster.sh lb N} old=()
  haproxy_config "$n" >"$DIR/haproxy.cfg"
  haproxy -c -q -f "$DIR/haproxy.cfg"
  if [ -f "$DIR/haproxy.pid" ] && kill -0 "$(cat "$DIR/haproxy.pid")" 2>/dev/null; then old=(-sf "$(cat "$DIR/haproxy.pid")"); fi
  haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid" "${old[@]}"
  echo "$n" >"$DIR/nodes"
  for _ in $(seq 1 60); do curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.5; done
  echo "endpoint http://127.0.0.1:$PORT"
}

down() {
  [ -d "$DIR" ] || return 0
  [ -f "$DIR/haproxy.pid" ] && kill "$(cat "$DIR/haproxy.pid")" 2>/dev/null || true
  for f in "$DIR"/node*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 1
  for f in "$DIR"/node*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  [ -f "$DIR/started-postgres" ] && "$ROOT/scripts/stop-postgres.sh" "$PG_PORT"
  [ -f "$DIR/started-ceph" ] && "$ROOT/scripts/stop-ceph.sh" >&2
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  node) start_node "${2:?usage: cluster.sh node I}" ;;
  lb) mkdir -p "$DIR"; start_lb "${2:-}" ;;
  config) haproxy_config "${2:?usage: cluster.sh config N}" ;;
  down) down ;;
  *) echo "usage: cluster.sh up N | node I | lb N | config N | down" >&2; exit 2 ;;
esac
