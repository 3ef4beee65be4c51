#!/usr/bin/env bash
# Runs tempest's image API tests (tempest.api.image.v2) against a fresh imagehouse server and prints the counts.
#
#   scripts/tempest.sh                      # all of tempest.api.image.v2
#   TEMPEST_REGEX='ImagesTagsTest' scripts/tempest.sh
#
# Needs Debian's `tempest` (apt install tempest). Accounts are pre-provisioned through the CLI (two users and an
# admin, `--serial`), so tempest makes no Keystone admin calls (spec §3.2). A python http.server on 127.0.0.1
# serves tempest's `http_image`; the server's web-download allow-list names that one address and port.
# Environment: TEMPEST_PORT (server port, default 18090), TEMPEST_TIMEOUT (seconds, default 900),
# TEMPEST_REGEX, TEMPEST_MIN_PASS (exit 1 when fewer pass; default 0), TEMPEST_KEEP=1 keeps the work directory.
# The last line is `tempest: passed P skipped S failed F of T`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${TEMPEST_PORT:-18090}
REGEX=${TEMPEST_REGEX:-'^tempest\.api\.image\.v2'}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ih-tempest.XXXXXX")
DATA=$WORK/data
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${WORKSPACE:-}" ] && tempest workspace remove --name "$WORKSPACE" >/dev/null 2>&1 || true
  [ "${TEMPEST_KEEP:-}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

command -v tempest >/dev/null || { echo 'tempest is not installed (apt install tempest)' >&2; exit 2; }
imagehouse() { IMAGEHOUSE_DATA=$DATA exec node --import tsx "$ROOT/src/cli/main.ts" "$@"; }

# The file web-download imports (a small raw disk).
mkdir -p "$WORK/http"
head -c 4194304 /dev/urandom >"$WORK/http/test-image.raw"
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WORK/http" >"$WORK/http.log" 2>&1 &
pids+=($!)

for user in user1 user2; do printf %s tempest-secret | (imagehouse account create --name "$user" --password-stdin >/dev/null); done
printf %s tempest-secret | (imagehouse account create --name admin --password-stdin --admin >/dev/null)

(IMAGEHOUSE_IMPORT_ALLOWED_HOSTS="127.0.0.1:$HTTP_PORT" IMAGEHOUSE_LOG_LEVEL=warn \
  imagehouse serve --port "$PORT" --nbd-port 0 >"$WORK/server.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 600); do curl -sf --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
# The catalog's region is the server's first region; tempest filters endpoints by it.
REGION=$(curl -s "http://127.0.0.1:$PORT/identity/v3/auth/tokens" -H 'content-type: application/json' -d '{"auth":{"identity":{"methods":["password"],
  "password":{"user":{"name":"user1","password":"tempest-secret","domain":{"name":"Default"}}}},"scope":{"project":{"name":"user1","domain":{"name":"Default"}}}}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["catalog"][0]["endpoints"][0]["region"])')

# A workspace of its own name: tempest refuses to register a name twice.
WORKSPACE=imagehouse-$(basename "$WORK")
tempest init --name "$WORKSPACE" "$WORK/ws" >/dev/null
cd "$WORK/ws"
cat >etc/accounts.yaml <<EOF
- {username: user1, project_name: user1, password: tempest-secret, domain_name: Default}
- {username: user2, project_name: user2, password: tempest-secret, domain_name: Default}
- {username: admin, project_name: admin, password: tempest-secret, domain_name: Default, types: [admin]}
EOF
cat >etc/tempest.conf <<EOF
[DEFAULT]
log_file = tempest.log
[oslo_concurrency]
lock_path = $WORK/ws/tempest_lock
[auth]
use_dynamic_credentials = false
test_accounts_file = $WORK/ws/etc/accounts.yaml
default_credentials_domain_name = Default
create_isolated_networks = false
[identity]
auth_version = v3
uri_v3 = http://127.0.0.1:$PORT/identity/v3
region = $REGION
v3_endpoint_type = public
[identity-feature-enabled]
api_v2 = false
[image]
catalog_type = image
region = $REGION
endpoint_type = public
build_timeout = 60
build_interval = 1
http_image = http://127.0.0.1:$HTTP_PORT/test-image.raw
disk_formats = raw,ami,ari,aki
container_formats = bare,ami,ari,aki,ovf,ova
image_caching_enabled = true
[image-feature-enabled]
api_v1 = false
api_v2 = true
import_image = true
os_glance_reserved = true
manage_locations = true
[service_available]
glance = true
nova = false
cinder = false
neutron = false
swift = false
horizon = false
[validation]
run_validation = false
[enforce_scope]
glance = false
EOF

set +e
timeout "${TEMPEST_TIMEOUT:-900}" tempest run --serial --regex "$REGEX" >"$WORK/run.log" 2>&1
rc=$?
set -e
[ $rc -eq 124 ] && echo "tempest: timed out after ${TEMPEST_TIMEOUT:-900} s" >&2
grep -E '^\{[0-9]+\} .* \.\.\. (FAILED|SKIPPED)' "$WORK/run.log" | sed -E 's/^\{[0-9]+\} //; s/ \[[0-9.]+s\]//' || true
count() { grep -E "^ - $1: [0-9]+" "$WORK/run.log" | tail -1 | grep -oE '[0-9]+$' || echo 0; }
passed=$(count Passed); skipped=$(count Skipped); failed=$(count Failed)
echo "tempest: passed $passed skipped $skipped failed $failed of $((passed + skipped + failed))"
[ "$passed" -ge "${TEMPEST_MIN_PASS:-0}" ] || exit 1
