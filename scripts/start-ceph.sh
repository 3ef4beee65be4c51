#!/usr/bin/env bash
# Starts a throwaway single-node Ceph (mon + mgr + 1 OSD + RGW, auth none) on 127.0.0.1 for the S3
# chunk-store tests (run as root; no systemd). Idempotent: if RGW already answers on 127.0.0.1:7480 it
# only prints the variables. Progress goes to stderr; stdout gets only lines usable with export/eval:
#   export $(scripts/start-ceph.sh)
# Usage: scripts/start-ceph.sh [DIR] [bluestore|memstore]   Stop: scripts/stop-ceph.sh [DIR]
set -euo pipefail
DIR=${1:-/tmp/imagehouse-ceph}; STORE=${2:-bluestore}
PORT=7480; ENDPOINT=http://127.0.0.1:$PORT
ACCESS=testkey; SECRET=testsecret

print_env() {
  echo "IMAGEHOUSE_TEST_S3_ENDPOINT=$ENDPOINT"
  echo "IMAGEHOUSE_TEST_S3_ACCESS_KEY=$ACCESS"
  echo "IMAGEHOUSE_TEST_S3_SECRET_KEY=$SECRET"
}
log() { echo "start-ceph: $*" >&2; }
rgw_up() { curl -sf -o /dev/null "$ENDPOINT/"; }
# RGW rejects curl's SigV4 unless x-amz-content-sha256 is sent (and so signed).
s3() { curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }

if rgw_up; then log "RGW already answers on $ENDPOINT"; print_env; exit 0; fi

START=$(date +%s%3N)
# A half-started cluster from an earlier run would hold the ports: stop it first.
if [ -d "$DIR/run" ]; then "$(dirname "$0")/stop-ceph.sh" "$DIR" >&2 || true; fi
rm -rf "$DIR"; mkdir -p "$DIR"/{run,log,mon,osd/ceph-0,mgr/ceph-x,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid); CONF=$DIR/ceph.conf
# With `auth none`, radosgw loops on "get_initial_auth_request returned -13" unless every ms_*_mode is crc.
cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms service mode = crc
ms cluster mode = crc
ms mon cluster mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
mgr data = $DIR/mgr/\$cluster-\$id
osd objectstore = $STORE
memstore device bytes = 2147483648
bluestore block path = $DIR/osd/\$cluster-\$id/block.file
bluestore block create = true
bluestore block size = 10737418240
bluestore fsck on mount = false
bluestore block db create = false
bluestore block wal create = false
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1
mgr initial modules =
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw dns name = 127.0.0.1
CONF
export CEPH_CONF=$CONF
monmaptool --create --clobber --fsid "$FSID" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/monmap"
ceph-mon -i a
ceph-mgr -i x
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(ceph osd new "$OSD_UUID")
ceph-osd -i "$ID" --mkfs --osd-uuid "$OSD_UUID" 2>>"$DIR/log/osd-mkfs.log"
ceph-osd -i "$ID"
radosgw -n client.rgw.a
log "daemons started; waiting for RGW on $ENDPOINT"
for _ in $(seq 1 240); do rgw_up && break; sleep 0.5; done
rgw_up || { log "RGW did not come up; see $DIR/log"; exit 1; }
radosgw-admin user create --uid=test --display-name=test --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null

# RGW creates its data pools on the first bucket and object (several seconds): do it now, not in a test.
WARM=ih-warmup-$$
for _ in $(seq 1 60); do s3 -X PUT "$ENDPOINT/$WARM" && break; sleep 0.5; done
echo warm | s3 -X PUT --data-binary @- "$ENDPOINT/$WARM/object"
s3 -X DELETE "$ENDPOINT/$WARM/object"
s3 -X DELETE "$ENDPOINT/$WARM"
log "RGW ready on $ENDPOINT (user test, $ACCESS/$SECRET) in $(( $(date +%s%3N) - START )) ms; CEPH_CONF=$CONF"
print_env
