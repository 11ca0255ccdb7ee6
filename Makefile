# SPDX-License-Identifier: Apache-2.0
# The verbs of tern. CMake does the building; this file only names the steps.
#   make demo          build everything, run the demo on the host and on a Cortex-M4 under QEMU,
#                      then a device publishing telemetry to mosquitto and taking commands,
#                      then a fleet: ternd, three devices, a twin changed with ternctl
#   make test          format check, sanitizer + Cortex-M4 + optimized (-O2 warnings) builds,
#                      all tests (host and QEMU)
#   make size          flash/RAM per module on Cortex-M4 (-Os, hard float)
#   make bench         benchmarks, ours vs a reference, as ratios (first builds mbedTLS with
#                      tern's device configuration, fetching its source: tools/mbedtls-device.sh)
#   make fuzz          run every fuzz target for FUZZ_SECONDS each
#   make powerloss-full the outbox power-cut sweep at full size (every cut, every tear; ~15 min)
#   make bench-fleet   100,000 simulated devices (tern-sim) on 6 brokers with ternd (~6 min)
#   make bench-herd    the thundering-herd experiment: 15,000 devices, 3 backoff policies, a plot
#   make format-check  fail if any file differs from .clang-format; make format fixes them
#   make install       install the host package to PREFIX (default /usr/local)

JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
PREFIX       ?= /usr/local
CMAKE        ?= cmake
CTEST        ?= ctest
QEMU_RUN     := ports/cortex-m/qemu-run.sh

.PHONY: all deps demo test size bench bench-fleet bench-herd fuzz powerloss-full format format-check \
        install clean \
        build-debug build-asan build-release build-cortex-m4 build-size

all: build-debug

deps:
	@./tools/install-deps.sh

build/%/CMakeCache.txt: | deps
	$(CMAKE) --preset $* >/dev/null

build-debug build-asan build-release build-cortex-m4 build-size: build-%: build/%/CMakeCache.txt
	$(CMAKE) --build --preset $* -j $(JOBS)

demo: build-debug build-cortex-m4
	@echo "== demo on the host (POSIX port) =="
	./build/debug/examples/demo/tern_demo
	@echo "== demo on a Cortex-M4 (mps2-an386 under qemu-system-arm) =="
	$(QEMU_RUN) build/cortex-m4/examples/demo/tern_demo.elf
	@echo "== a device talking MQTT to a real broker: telemetry up, commands down =="
	./tools/demo-mqtt.sh build/debug
	@echo "== the fleet: mosquitto with ternd's ACL, ternd on SQLite, three devices, twins =="
	./tools/demo-fleet.sh build/debug

test: format-check build-asan build-cortex-m4 build-release
	@echo "== host tests (ASan + UBSan) =="
	$(CTEST) --preset asan -j $(JOBS)
	@echo "== Cortex-M4 tests under QEMU =="
	$(CTEST) --preset cortex-m4 -j $(JOBS)

size: build-size
	@./tools/size-report.sh build/size

bench: build-release
	@CMAKE="$(CMAKE)" ./tools/run-bench.sh build/release/bench
	@./tools/bench-icount.sh build/release/bench

SIM = build/release/tools/tern-sim/tern-sim
bench-fleet: build-release
	/usr/bin/python3 tools/tern-sim/fleet.py --sim $(SIM) --ternd build/release/cloud/ternd/ternd \
	    --scenario tools/tern-sim/scenarios/fleet-100k.conf --json-out build/release/fleet-100k.json

bench-herd: build-release
	/usr/bin/python3 tools/tern-sim/herd.py --sim $(SIM) --devices 15000 --outage 30 \
	    --out build/release/herd --json-out build/release/herd/herd.json

fuzz: build-asan
	@./tools/run-fuzz.sh build/asan/tests/fuzz $(FUZZ_SECONDS)

powerloss-full: build-release
	TERN_POWERLOSS_FULL=1 ./build/release/tests/powerloss/sweep_outbox

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format-check: | deps
	@test -n "$(FORMAT_FILES)" || { echo "format-check: no files (not a git checkout?)"; exit 1; }
	@clang-format --dry-run --Werror $(FORMAT_FILES)
	@echo "format-check: $(words $(FORMAT_FILES)) files clean"

format: | deps
	@test -n "$(FORMAT_FILES)" || { echo "format: no files (not a git checkout?)"; exit 1; }
	clang-format -i $(FORMAT_FILES)

install: build-release
	$(CMAKE) --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
