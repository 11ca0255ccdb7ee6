/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NOR simulator, through the HAL dispatch layer, driven by arbitrary
 * operation sequences and checked against a shadow copy: programs only clear
 * bits, rule violations change nothing, erases give 0xFF, and a power cut
 * leaves exactly a prefix of the cut operation (plus one partially changed
 * byte whose bits moved only in the operation's direction).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/hal.h"
#include "tern_norsim.h"

enum { SECTOR = 256, SECTORS = 4, SIZE = SECTOR * SECTORS };

/* After a torn operation that wanted @p want over @p old, the actual bytes must be
 * want for a prefix, old after it, and one byte in between that only moved bits
 * the way the operation moves them (program: 1->0, erase: 0->1). */
static void check_torn(const uint8_t *now, const uint8_t *old, const uint8_t *want, size_t len)
{
    size_t i = 0;
    while (i < len && now[i] == want[i]) {
        i++;
    }
    if (i < len) {
        uint8_t b = now[i], o = old[i], w = want[i];
        CHECK((b & ~(o | w)) == 0 && ((o & w) & ~b) == 0); /* b lies between o and w */
        for (size_t j = i + 1; j < len; j++) {
            CHECK(now[j] == old[j]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t mem[SIZE];
    static uint32_t counts[SECTORS];
    uint8_t shadow[SIZE], buf[SIZE], want[SIZE];
    if (size < 2) {
        return 0;
    }
    uint32_t prog = 1u << (data[0] % 4); /* 1, 2, 4 or 8 */
    tern_norsim_config_t cfg = { SIZE, SECTOR, prog, (data[1] & 1u) ? TERN_NORSIM_PROGRAM_ONCE : 0,
                                 0,    data[1] };
    tern_norsim_t sim;
    CHECK(tern_norsim_init(&sim, &cfg, mem, counts) == TERN_OK);
    tern_norsim_format(&sim);
    tern_flash_t f = tern_norsim_flash(&sim);
    memset(shadow, 0xFF, sizeof shadow);

    for (size_t i = 2; i + 3 < size; i += 4) {
        uint32_t addr = ((uint32_t)data[i + 1] << 8 | data[i + 2]) % (SIZE + 16);
        size_t len = data[i + 3] % 64;
        bool lost = tern_norsim_power_lost(&sim);
        tern_err_t e;
        switch (data[i] % 6) {
        case 0: /* program a pattern derived from the input */
            for (size_t k = 0; k < len; k++) {
                buf[k] = (uint8_t)(data[i + 3] * (k + 1) ^ data[i]);
            }
            memcpy(want, shadow, sizeof want);
            e = tern_flash_program(&f, addr, buf, len);
            if (addr + len > SIZE) {
                CHECK(e == TERN_ERR_RANGE);
            } else if (addr % prog || len % prog) {
                CHECK(e == TERN_ERR_ALIGN);
            } else if (len == 0) {
                CHECK(e == TERN_OK);
            } else if (lost) {
                CHECK(e == TERN_ERR_POWER_LOST);
            } else {
                bool ok = true;
                for (size_t k = 0; k < len; k++) {
                    ok = ok && (buf[k] & ~shadow[addr + k]) == 0;
                    want[addr + k] = shadow[addr + k] & buf[k];
                }
                if (cfg.flags & TERN_NORSIM_PROGRAM_ONCE) {
                    for (size_t k = 0; k < len; k++) {
                        ok = ok && shadow[addr + k] == 0xFF;
                    }
                }
                if (e == TERN_ERR_POWER_LOST) {
                    CHECK(ok);
                    memcpy(buf, mem, SIZE);
                    check_torn(buf + addr, shadow + addr, want + addr, len);
                    memcpy(shadow, mem, SIZE);
                } else {
                    CHECK(e == (ok ? TERN_OK : TERN_ERR_FLASH_NOR));
                    if (ok) {
                        memcpy(shadow, want, sizeof shadow);
                    }
                }
            }
            break;
        case 1: /* erase */
            e = tern_flash_erase(&f, addr);
            if (addr >= SIZE) {
                CHECK(e == TERN_ERR_RANGE);
            } else if (addr % SECTOR) {
                CHECK(e == TERN_ERR_ALIGN);
            } else if (lost) {
                CHECK(e == TERN_ERR_POWER_LOST);
            } else if (e == TERN_ERR_POWER_LOST) {
                memcpy(want, shadow, sizeof want);
                memset(want + addr, 0xFF, SECTOR);
                check_torn(mem + addr, shadow + addr, want + addr, SECTOR);
                memcpy(shadow, mem, SIZE);
            } else {
                CHECK(e == TERN_OK);
                memset(shadow + addr, 0xFF, SECTOR);
            }
            break;
        case 2: /* read and compare */
            e = tern_flash_read(&f, addr, buf, len);
            if (addr + len > SIZE) {
                CHECK(e == TERN_ERR_RANGE);
            } else if (lost && len > 0) {
                CHECK(e == TERN_ERR_POWER_LOST);
            } else {
                CHECK(e == TERN_OK);
                CHECK(memcmp(buf, shadow + addr, len) == 0);
            }
            break;
        case 3: /* arm a cut a few operations ahead */
            tern_norsim_cut_after(&sim, 1u + data[i + 1] % 4,
                                  (data[i + 2] & 1u) ? TERN_NORSIM_TEAR_RANDOM : data[i + 3]);
            break;
        case 4: /* power comes back */
            tern_norsim_reboot(&sim);
            break;
        default:
            CHECK(memcmp(mem, shadow, SIZE) == 0);
            break;
        }
    }
    return 0;
}
