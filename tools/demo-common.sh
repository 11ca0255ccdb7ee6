# shellcheck shell=sh
# SPDX-License-Identifier: Apache-2.0
# What the demo scripts share (sourced, not run): the build's tools, a scratch
# folder, a free loopback port, and a cleanup that stops every process the
# script started (their pids in $pids) and removes the folder.
# Usage: demo_name=NAME; . tools/demo-common.sh   (the build dir is the script's $1)
# shellcheck disable=SC2034,SC2154 # the scripts that source this set demo_name and use these
build=${1:-build/debug}
ternctl="$build/tools/ternctl/ternctl"
ternd="$build/cloud/ternd/ternd"
device="$build/examples/device/tern_device"
work=$(mktemp -d "/tmp/$demo_name.XXXXXX")
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
