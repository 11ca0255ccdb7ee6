#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The MQTT part of `make demo`: a real mosquitto on a free loopback port, a
# device (examples/device) with two links (eth0 from 127.0.0.1, preferred and
# free; lte0 from 127.0.0.2, metered) and a flash-file outbox, publishing
# telemetry at QoS 1; an operator watching with `ternctl sub` and sending
# commands with `ternctl pub`. Midway eth0 is cut (the device fails over to
# lte0 and resumes its session there), healed (it fails back once eth0 has
# been stable), then the broker is stopped and restarted (the device queues in
# flash, reconnects after a jittered backoff and resumes). The device prints a
# line per event; the operator checks that no reading was lost.
# Usage: tools/demo-mqtt.sh <build dir>
set -eu
# shellcheck disable=SC2034 # read by demo-common.sh
demo_name=tern-demo
# shellcheck source=tools/demo-common.sh
. "$(dirname "$0")/demo-common.sh"

printf 'user %s\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 0\nset_tcp_nodelay true\n' \
    "$(id -un)" "$port" "$work" >"$work/mosquitto.conf"
start_broker() {
    /usr/sbin/mosquitto -c "$work/mosquitto.conf" >>"$work/broker.log" 2>&1 &
    broker=$!
    pids="$pids $broker"
    for _ in $(seq 50); do
        "$ternctl" pub -h 127.0.0.1 -p "$port" -t demo/ping -n -W 1 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo: mosquitto did not start" >&2
    return 1
}
# The operator keeps persistent sessions, so what arrives while it is away waits for it:
# one for the command replies (text), one for the telemetry (compact batches: binary,
# printed as hex, turned into SenML at the end with `ternctl cbor senml --hex`).
operator() {
    "$ternctl" sub -h 127.0.0.1 -p "$port" -i operator -c -x 300 -q 1 -v \
        -t 'tern/+/cmd/resp' -W 30 >>"$work/operator.log" 2>/dev/null &
    sub=$!
    "$ternctl" sub -h 127.0.0.1 -p "$port" -i operator-telemetry -c -x 300 -q 1 --hex \
        -t 'tern/+/telemetry' -W 30 >>"$work/telemetry.hex" 2>/dev/null &
    tsub=$!
    pids="$pids $sub $tsub"
}

command() {
    echo "operator: ternctl pub -t tern/dev-1/cmd -m '$1'"
    "$ternctl" pub -h 127.0.0.1 -p "$port" -q 1 -t tern/dev-1/cmd -m "$1"
}

start_broker
echo "broker: mosquitto on 127.0.0.1:$port (persistence on)"
operator
sleep 0.5
# a reading every 200 ms into compact batches of 2 s (every 10th temperature an alert that
# sends its batch at once, critical); fail back after 1 s stable
"$device" -f "$work/dev-1.flash" -p 200 -B 2 -a -q -s 1000 127.0.0.1 "$port" dev-1 &
dev=$!
pids="$pids $dev"
sleep 1.5
command led=on
sleep 1
echo "demo: cutting the preferred link (eth0)"
command "cut eth0"
sleep 2
echo "demo: healing eth0"
command "heal eth0"
sleep 4
echo "demo: stopping the broker for 3 s"
kill "$broker"
wait "$broker" 2>/dev/null || true
sleep 3
start_broker
echo "demo: broker is back"
operator
sleep 4
command stop
wait "$dev"
sleep 0.5
kill "$sub" "$tsub" 2>/dev/null || true
sed 's/^/operator sees: /' "$work/operator.log"
grep -q "tern/dev-1/cmd/resp done: stop" "$work/operator.log"
# The telemetry pipeline: each batch (a line of hex) back into SenML records.
echo "operator: ternctl sub -t 'tern/+/telemetry' --hex | ternctl cbor senml --hex"
: >"$work/senml.json"
while read -r batch; do
    echo "$batch" | "$ternctl" cbor senml --hex >>"$work/senml.json"
done <"$work/telemetry.hex"
echo "operator sees: $(wc -l <"$work/telemetry.hex") batches, $(grep -c '"n":"' "$work/senml.json") SenML records, e.g."
grep '"n":"temp"' "$work/senml.json" | head -2 | sed 's/^[[,]*/  /'
# Every reading 0..last arrived at least once (QoS 1 may repeat a batch after a reconnect).
nums=$(grep '"n":"n"' "$work/senml.json" | sed -n 's/.*"v":\([0-9]*\).*/\1/p' | sort -nu)
last=$(echo "$nums" | tail -1)
seen=$(echo "$nums" | wc -l)
echo "demo: readings 0..$last, $seen distinct received, $((last + 1 - seen)) missing"
[ "$seen" -eq $((last + 1)) ]
echo "demo: a link cut, a fail back and a broker restart, and not one reading lost"
