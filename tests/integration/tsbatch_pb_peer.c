/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peer for integration.tsbatch_protobuf: fills four series (a temperature at
 * 0.01, a pressure at 1 Pa, a door switch, a three-state machine) with a
 * stream generated from the seed in argv[1], skipping samples at random, and
 * prints, one per line:
 *   expect <series> <t_ms> <value>   every reading added, as the sensor's
 *                                    resolution quantizes it (q for numbers)
 *   cbor <hex>                       the compact CBOR batch
 *   pb <hex>                         the same batch as tern.Batch (nanopb)
 * The test decodes the two with independent implementations (cbor2, protoc).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tern/tsbatch.h"
#include "tern/tsbatch_pb.h"

static uint64_t g_x;

static uint32_t rnd(void)
{
    g_x ^= g_x << 13;
    g_x ^= g_x >> 7;
    g_x ^= g_x << 17;
    return (uint32_t)(g_x >> 16);
}

static void hex(const char *tag, const uint8_t *b, size_t n)
{
    printf("%s ", tag);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", b[i]);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    static const char *const states[3] = { "idle", "run", "charge" };
    static uint8_t bufs[4][4096], cbor[1 << 15], pb[1 << 15];
    g_x = 0x9E3779B97F4A7C15ull ^ (argc > 1 ? strtoull(argv[1], NULL, 10) : 1u);
    tern_tsb_series_t s[4] = {
        { .name = "temp", .unit = "Cel", .kind = TERN_TSB_NUM, .scale = -2, .period_ms = 1000 },
        { .name = "pres", .unit = "Pa", .kind = TERN_TSB_NUM, .scale = 0, .period_ms = 1000 },
        { .name = "door", .kind = TERN_TSB_BOOL, .period_ms = 1000 },
        { .name = "state", .kind = TERN_TSB_ENUM, .period_ms = 2000 },
    };
    for (int i = 0; i < 4; i++) {
        s[i].buf = bufs[i];
        s[i].cap = sizeof bufs[i];
        tern_tsb_reset(&s[i]);
    }
    const uint64_t t0 = 1700000000000ull + (rnd() % 1000u) * 1000u;
    int64_t temp = 2000 + (int64_t)(rnd() % 500u), pres = 101325;
    bool door = false;
    unsigned st = 0;
    int n = 60 + (int)(rnd() % 300u);
    for (int k = 0; k < n; k++) {
        uint64_t t = t0 + (uint64_t)k * 1000u;
        temp += (int64_t)(rnd() % 9u) - 4;
        pres += (int64_t)(rnd() % 4001u) - 2000; /* deltas past one byte too */
        door = rnd() % 10u == 0 ? !door : door;
        bool skip = k > 0 && rnd() % 7u == 0;
        if (!skip && tern_tsb_add_num(&s[0], t, (double)temp / 100.0) == TERN_OK) {
            printf("expect temp %" PRIu64 " %" PRId64 "\n", t, temp);
        }
        if (tern_tsb_add_num(&s[1], t, (double)pres) == TERN_OK) {
            printf("expect pres %" PRIu64 " %" PRId64 "\n", t, pres);
        }
        if (!skip && tern_tsb_add_bool(&s[2], t, door) == TERN_OK) {
            printf("expect door %" PRIu64 " %d\n", t, door ? 1 : 0);
        }
        if (k % 2 == 0) {
            st = rnd() % 5u == 0 ? (st + 1u) % 3u : st;
            if (tern_tsb_add_enum(&s[3], t, states[st]) == TERN_OK) {
                printf("expect state %" PRIu64 " %s\n", t, states[st]);
            }
        }
    }
    size_t cl = 0, pl = 0;
    if (tern_tsb_encode("urn:dev:peer:", s, 4, cbor, sizeof cbor, &cl) != TERN_OK ||
        tern_tsb_encode_pb("urn:dev:peer:", s, 4, pb, sizeof pb, &pl) != TERN_OK ||
        tern_tsb_size_pb("urn:dev:peer:", s, 4) != pl) {
        fprintf(stderr, "tsbatch_pb_peer: encoding failed\n");
        return 1;
    }
    hex("cbor", cbor, cl);
    hex("pb", pb, pl);
    return 0;
}
