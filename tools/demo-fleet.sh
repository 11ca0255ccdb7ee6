#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The fleet part of `make demo`: mosquitto with the configuration ternd
# generates (passwords, and an ACL that keeps each device under its own id),
# ternd (SQLite, the operator API), and three devices sending compact batches
# and keeping twins. The operator lists the fleet with `ternctl devices`,
# changes desired state with `ternctl twin set`, and the devices converge; a
# device that is off while the desired state changes three times converges in
# one exchange when it comes back. Ends with how to query the API yourself.
# Usage: tools/demo-fleet.sh <build dir>
set -eu
build=${1:-build/debug}
ternctl="$build/tools/ternctl/ternctl"
ternd="$build/cloud/ternd/ternd"
device="$build/examples/device/tern_device"
work=$(mktemp -d /tmp/tern-fleet.XXXXXX)
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
say() { printf '\n== %s\n' "$*"; }
export TERND_STATE_DIR="$work/ternd" # where ternctl finds the API and its token
op() { echo "operator\$ ternctl $*"; "$ternctl" "$@"; }

# The devices' passwords, then the broker configuration ternd writes for them.
: >"$work/users"
for d in dev-1 dev-2 dev-3; do
    echo "$d:$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >>"$work/users"
done
pass_of() { sed -n "s/^$1://p" "$work/users"; }
say "broker: ternd --gen-broker-conf (passwords, one ACL pattern per topic kind)"
"$ternd" --gen-broker-conf "$work/broker" --broker-port "$port" --dev-users "$work/users" >/dev/null
grep '^pattern' "$work/broker/acl" | sed 's/^/  /'
/usr/sbin/mosquitto -c "$work/broker/mosquitto.conf" >"$work/broker.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do
    "$ternctl" pub -p "$port" -t x -n -W 1 2>&1 | grep -q "not authorized" && break
    sleep 0.1
done

say "ternd: MQTT 5 shared subscriptions, SQLite in $work/ternd, API on loopback"
"$ternd" --port "$port" --username ternd --password-file "$work/broker/ternd.pass" \
    --state-dir "$work/ternd" --api-port 0 >"$work/ternd.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -f "$work/ternd/api.url" ] && break; sleep 0.1; done
echo "ternd: API at $(cat "$work/ternd/api.url"), token in $work/ternd/token (mode $(stat -c %a "$work/ternd/token"))"

start_device() { # id region
    "$device" -f "$work/$1.flash" -p 200 -B 2 -q -1 -u "$1" -w "$(pass_of "$1")" -r "$2" \
        127.0.0.1 "$port" "$1" >>"$work/$1.log" 2>&1 &
    eval "pid_$(echo "$1" | tr - _)=$!"
    pids="$pids $!"
}
say "three devices: a reading every 200 ms, a compact batch every 2 s, a twin each"
start_device dev-1 eu
start_device dev-2 eu
start_device dev-3 us
sleep 5
op devices

say "the operator changes dev-1 and dev-2's desired state"
op twin set dev-1 interval=30 led=on
op twin set dev-2 interval=60
sleep 2
op twin get dev-1
grep 'twin:' "$work/dev-1.log" | sed 's/^/  /'

say "dev-3 is switched off; its desired state changes three times meanwhile"
kill "$pid_dev_3"
sleep 1
op twin set dev-3 interval=10
op twin set dev-3 interval=20 led=off
op twin set dev-3 mode=eco led=null
: >"$work/dev-3.log"
start_device dev-3 us
sleep 4
echo "dev-3, back: one delta with the net result"
grep 'twin' "$work/dev-3.log" | sed 's/^/  /'
op twin get dev-3

say "telemetry: each reading stored once, whatever the broker redelivered"
op telemetry dev-1 --limit 6
"$ternctl" devices --json |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["devices"]; print("fleet: %d devices, %d messages, %d readings stored" % (len(d), sum(x["messages"] for x in d), sum(x["readings"] for x in d)))'

say "query the API yourself (while ternd runs)"
cat <<EOF
  token=\$(cat <state dir>/token)
  curl -H "Authorization: Bearer \$token" \$(cat <state dir>/api.url)/v1/devices
  curl -H "Authorization: Bearer \$token" \$(cat <state dir>/api.url)/v1/devices/dev-1/telemetry?since=0
  curl -X PATCH -H "Authorization: Bearer \$token" -d '{"led": "on"}' \\
       \$(cat <state dir>/api.url)/v1/devices/dev-1/twin/desired
  or: TERND_STATE_DIR=<state dir> ternctl devices | device ID | twin get|set ID | telemetry ID
  (docs/api.md; a request without the token gets 401:)
EOF
curl -s -o /dev/null -w "  curl without the token: HTTP %{http_code}\n" "$(cat "$work/ternd/api.url")/v1/devices" || true
