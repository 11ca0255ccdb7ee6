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
build=${1:-build/debug}
ternctl="$build/tools/ternctl/ternctl"
device="$build/examples/device/tern_device"
work=$(mktemp -d /tmp/tern-demo.XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

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
# The operator keeps a persistent session, so what arrives while it is away waits for it.
operator() {
    "$ternctl" sub -h 127.0.0.1 -p "$port" -i operator -c -x 300 -q 1 -v \
        -t 'tern/+/telemetry' -t 'tern/+/alert' -t 'tern/+/cmd/resp' -W 30 >>"$work/operator.log" 2>/dev/null &
    sub=$!
    pids="$pids $sub"
}

command() {
    echo "operator: ternctl pub -t tern/dev-1/cmd -m '$1'"
    "$ternctl" pub -h 127.0.0.1 -p "$port" -q 1 -t tern/dev-1/cmd -m "$1"
}

start_broker
echo "broker: mosquitto on 127.0.0.1:$port (persistence on)"
operator
sleep 0.5
# a reading every 200 ms (every 10th also a critical alert); fail back after 1 s stable
"$device" -f "$work/dev-1.flash" -p 200 -a -q -s 1000 127.0.0.1 "$port" dev-1 &
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
kill "$sub" 2>/dev/null || true
grep -v telemetry "$work/operator.log" | sed 's/^/operator sees: /'
echo "operator sees: $(grep -c telemetry "$work/operator.log") telemetry messages"
grep -q "tern/dev-1/cmd/resp done: stop" "$work/operator.log"
# Every reading 0..last arrived at least once (QoS 1 may repeat one after a reconnect).
last=$(sed -n 's/.*"n":\([0-9]*\).*/\1/p' "$work/operator.log" | sort -n | tail -1)
seen=$(grep telemetry "$work/operator.log" | sed -n 's/.*"n":\([0-9]*\).*/\1/p' | sort -nu | wc -l)
echo "demo: readings 0..$last, $seen distinct received, $((last + 1 - seen)) missing"
[ "$seen" -eq $((last + 1)) ]
echo "demo: a link cut, a fail back and a broker restart, and not one reading lost"
