/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-32 throughput: tern_crc32 (as built, TERN_CRC_TABLE default: nibble
 * tables, 64 bytes) against zlib's crc32 (slice-by-N tables, kilobytes of them),
 * the implementation most Linux software uses. Same polynomial and result, so
 * the values are cross-checked before timing. Best of several runs on a 64 KiB
 * buffer (a typical flash sector or OTA chunk). Prints MB/s, higher is better.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_clock.h"
#include <zlib.h>

#include "tern/crc.h"

enum { BUF = 64 * 1024, RUNS = 7 };

typedef uint32_t (*crc_fn)(const uint8_t *p, size_t n);

static uint32_t run_tern(const uint8_t *p, size_t n)
{
    return tern_crc32(p, n);
}

static uint32_t run_zlib(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

/* MB/s of the best run; each run hashes the buffer for at least 0.1 s. */
static double throughput(crc_fn fn, const uint8_t *buf, uint32_t *sink)
{
    double best = 0;
    for (int r = 0; r < RUNS; r++) {
        size_t bytes = 0;
        double t0 = bench_now_s(), t1;
        do {
            *sink ^= fn(buf, BUF);
            bytes += BUF;
            t1 = bench_now_s();
        } while (t1 - t0 < 0.1);
        double mbps = (double)bytes / (t1 - t0) / 1e6;
        if (mbps > best) {
            best = mbps;
        }
    }
    return best;
}

int main(void)
{
    static uint8_t buf[BUF];
    uint32_t x = 0x12345678u, sink = 0;
    for (size_t i = 0; i < BUF; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    if (run_tern(buf, BUF) != run_zlib(buf, BUF)) {
        fprintf(stderr, "crc32: results differ: tern=%08x zlib=%08x\n", run_tern(buf, BUF),
                run_zlib(buf, BUF));
        return 1;
    }
    double ours = throughput(run_tern, buf, &sink);
    double ref = throughput(run_zlib, buf, &sink);
    printf("crc32 on %d KiB, best of %d, zlib %s (sink %08x)\n", BUF / 1024, RUNS, zlibVersion(),
           sink);
    printf("crc32: tern=%.1f MB/s reference=%.1f MB/s ratio=%.3f\n", ours, ref, ours / ref);
    return 0;
}
