#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The MQTT part of `make demo`: a real mosquitto on a free loopback port, a
# device (examples/device) publishing telemetry, an operator watching it with
# `ternctl sub`, and commands sent back down with `ternctl pub`.
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

printf 'user %s\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$(id -un)" "$port" >"$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
pids="$!"
for _ in $(seq 50); do
    "$ternctl" pub -h 127.0.0.1 -p "$port" -t demo/ping -n -W 1 2>/dev/null && break
    sleep 0.1
done
echo "broker: mosquitto on 127.0.0.1:$port"

# The operator's view: every reading and every command response.
"$ternctl" sub -h 127.0.0.1 -p "$port" -v -t 'tern/+/telemetry' -t 'tern/+/cmd/resp' -W 20 \
    >"$work/operator.log" 2>&1 &
sub=$!
pids="$pids $sub"
sleep 0.5

"$device" 127.0.0.1 "$port" dev-1 &
dev=$!
pids="$pids $dev"
sleep 1.6
echo "operator: ternctl pub -t tern/dev-1/cmd -m led=on"
"$ternctl" pub -h 127.0.0.1 -p "$port" -q 1 -t tern/dev-1/cmd -m led=on
sleep 0.6
echo "operator: ternctl pub -t tern/dev-1/cmd -m stop"
"$ternctl" pub -h 127.0.0.1 -p "$port" -q 1 -t tern/dev-1/cmd -m stop
wait "$dev"
sleep 0.3
kill "$sub" 2>/dev/null || true
sed 's/^/operator sees: /' "$work/operator.log"
grep -q "tern/dev-1/cmd/resp done: stop" "$work/operator.log"
echo "demo: telemetry went up, commands came down and were answered"
