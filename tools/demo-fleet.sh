#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The fleet part of `make demo`: mosquitto with the configuration ternd
# generates (a TLS listener that requires a client certificate and takes its
# CN as the user name, and an ACL that keeps each device under its own id),
# ternd (SQLite, the operator API, the fleet's certificate authority), and
# three devices with mTLS identities sending compact batches and keeping
# twins. Each device is provisioned like in a factory: its key is made in
# its key store, the CA signs its CSR. On first connect each one trades its
# factory certificate for an operational one by CSR, and dev-1 (rotating at 3 %
# of a certificate's life) rotates again while the demo runs. The operator lists the fleet with `ternctl devices`,
# changes desired state with `ternctl twin set`, and the devices converge; a
# device that is off while the desired state changes three times converges in
# one exchange when it comes back. Ends with how to query the API yourself.
# Usage: tools/demo-fleet.sh <build dir>
set -eu
# shellcheck disable=SC2034 # read by demo-common.sh
demo_name=tern-fleet
# shellcheck source=tools/demo-common.sh
. "$(dirname "$0")/demo-common.sh"
export TERND_STATE_DIR="$work/ternd" # where ternctl finds the API and its token
op() { echo "operator\$ ternctl $*"; "$ternctl" "$@"; }

tls_port=$(free_port)
say "PKI: the fleet CA and the broker's certificate (openssl, EC P-256)"
mkdir -p "$work/pki"
(
    cd "$work/pki"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=tern demo fleet CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out ca.crt
    openssl ecparam -name prime256v1 -genkey -noout -out broker.key
    openssl req -new -key broker.key -subj /CN=localhost -out broker.csr
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -sha256 -extfile broker.ext -out broker.crt
) >"$work/pki.log" 2>&1
openssl x509 -in "$work/pki/ca.crt" -noout -subject | sed 's/^/  CA: /'

# The simulated devices at the end (tern-sim) log in with a password: one each, all alike.
sim_devices=300
sim_pass=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
i=0
: >"$work/users"
while [ "$i" -lt "$sim_devices" ]; do
    printf 'sim-%06d:%s\n' "$i" "$sim_pass" >>"$work/users"
    i=$((i + 1))
done
say "broker: ternd --gen-broker-conf (mTLS listener, the CN is the user; one ACL pattern per topic kind)"
"$ternd" --gen-broker-conf "$work/broker" --broker-port "$port" --broker-cafile "$work/pki/ca.crt" \
    --broker-cert "$work/pki/broker.crt" --broker-key "$work/pki/broker.key" \
    --broker-tls-port "$tls_port" --dev-users "$work/users" >/dev/null
grep -E '^(require_certificate|use_identity_as_username)' "$work/broker/mosquitto.conf" | sed 's/^/  /'
grep '^pattern' "$work/broker/acl" | sed 's/^/  /'
/usr/sbin/mosquitto -c "$work/broker/mosquitto.conf" >"$work/broker.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do
    "$ternctl" pub -p "$port" -t x -n -W 1 2>&1 | grep -q "not authorized" && break
    sleep 0.1
done

say "ternd: MQTT 5 shared subscriptions, SQLite in $work/ternd, API on loopback, the CA"
"$ternd" --port "$port" --username ternd --password-file "$work/broker/ternd.pass" \
    --state-dir "$work/ternd" --api-port 0 --ca-cert "$work/pki/ca.crt" \
    --ca-key "$work/pki/ca.key" --cert-lifetime 600 >"$work/ternd.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -f "$work/ternd/api.url" ] && break; sleep 0.1; done
echo "ternd: API at $(cat "$work/ternd/api.url"), token in $work/ternd/token (mode $(stat -c %a "$work/ternd/token"))"

provision() { # id: the factory makes the key in the device's key store, the CA signs its CSR
    "$device" -K "$work/$1.keys" -M "$work/$1.csr" 127.0.0.1 0 "$1" >/dev/null
    "$ternd" --ca-sign "$work/$1.csr" --ca-cert "$work/pki/ca.crt" --ca-key "$work/pki/ca.key" \
        --cert-lifetime 31536000 >"$work/$1.factory.pem"
    echo "  $1: key 'factory' in $work/$1.keys, $(openssl x509 -in "$work/$1.factory.pem" -noout -subject -enddate | tr '\n' ' ')"
}
start_device() { # id region [options]
    id=$1 region=$2
    shift 2
    "$device" -f "$work/$id.flash" -p 200 -B 2 -q -1 -r "$region" -K "$work/$id.keys" \
        -C "$work/$id.factory.pem" -A "$work/pki/ca.crt" -N localhost "$@" \
        127.0.0.1 "$tls_port" "$id" >>"$work/$id.log" 2>&1 &
    eval "pid_$(echo "$id" | tr - _)=$!"
    pids="$pids $!"
}
say "factory: three devices provisioned (key in the key store, CSR signed by the CA, 1 year)"
for d in dev-1 dev-2 dev-3; do provision "$d"; done
say "three devices over mTLS: a reading every 200 ms, a compact batch every 2 s, a twin each"
start_device dev-1 eu -R 30
start_device dev-2 eu
start_device dev-3 us
sleep 5
op devices
echo "dev-2 traded its factory certificate for an operational one (CSR to ternd's CA):"
grep -E 'identity|rotation' "$work/dev-2.log" | sed 's/^/  /'

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

say "certificate rotation: dev-1's certificates rotate at 3 % of their 10-minute life (18 s)"
for _ in $(seq 450); do
    [ "$(grep -c 'new identity is committed' "$work/dev-1.log")" -ge 2 ] && break
    sleep 0.1
done
grep -E 'certificate rotation|identity:' "$work/dev-1.log" | sed 's/^/  /'
grep 'issued certificate' "$work/ternd.log" | grep dev-1 | sed 's/^/  /'
ls "$work/dev-1.keys" | sed 's/^/  key store of dev-1: /'

say "telemetry: each reading stored once, whatever the broker redelivered"
op telemetry dev-1 --limit 6
"$ternctl" devices --json |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["devices"]; print("fleet: %d devices, %d messages, %d readings stored" % (len(d), sum(x["messages"] for x in d), sum(x["readings"] for x in d)))'

say "a simulated fleet behind the same ternd: $sim_devices devices of the real SDK in one process (tern-sim)"
echo "(a line a second: devices online, connects and attempts per second, telemetry sent and"
echo " acknowledged, devices running the newest desired state; at 6 s the operator changes the"
echo " desired state of the whole fleet with one command)"
(sleep 6 && echo "operator\$ ternctl twin set --all sample=5" &&
    "$ternctl" twin set --all sample=5 | sed 's/^/  /') &
"$build/tools/tern-sim/tern-sim" --broker "127.0.0.1:$port" --devices "$sim_devices" --prefix sim- \
    --password "$sim_pass" --ramp 100 --period-ms 2000 --duration 12 --drain 10 --backoff full \
    --base-ms 500 --cap-ms 5000 --twin-key sample --stats-file "$work/sim.csv" |
    grep -v '^tern-sim' | sed 's/^/  /'
wait $! 2>/dev/null || true
op fleet

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
