/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-32 (reflected, poly 0xEDB88320) and CRC-16/CCITT-FALSE (poly 0x1021, MSB
 * first). TERN_CRC_TABLE picks the table size: the nibble tables are the
 * default because 96 bytes of rodata cost two table look-ups per byte instead
 * of one from 1.5 KiB of byte tables, the right trade on a microcontroller.
 */
#include "tern/crc.h"

#include "tern/tern_config.h"

#if TERN_CRC_TABLE < 0 || TERN_CRC_TABLE > 2
#error "TERN_CRC_TABLE must be 0, 1 or 2"
#endif

#define CRC32_POLY_REFLECTED 0xEDB88320u
#define CRC16_POLY           0x1021u

/* One register step of each CRC, branch-free so the table macros below expand
 * each argument only twice per step. The tables are computed by the compiler:
 * no hand-typed constants, no run-time initialisation, no mutable state. */
#define CRC32_STEP(c)  (((c) >> 1) ^ (CRC32_POLY_REFLECTED & (0u - ((c)&1u))))
#define CRC16_STEP(c)  ((((c) << 1) ^ (CRC16_POLY & (0u - (((c) >> 15) & 1u)))) & 0xFFFFu)
#define CRC32_STEP4(c) CRC32_STEP(CRC32_STEP(CRC32_STEP(CRC32_STEP(c))))
#define CRC16_STEP4(c) CRC16_STEP(CRC16_STEP(CRC16_STEP(CRC16_STEP(c))))

#if TERN_CRC_TABLE == 1
#define CRC32_NIB(i) CRC32_STEP4((uint32_t)(i))
#define CRC16_NIB(i) (uint16_t) CRC16_STEP4((uint32_t)(i) << 12)
#define ROW4(f, i)   f(i), f((i) + 1), f((i) + 2), f((i) + 3)
#define ROW16(f, i)  ROW4(f, i), ROW4(f, (i) + 4), ROW4(f, (i) + 8), ROW4(f, (i) + 12)
/* Entry i is the register contribution of the 4-bit value i. */
static const uint32_t k_crc32_nibble[16] = { ROW16(CRC32_NIB, 0u) };
static const uint16_t k_crc16_nibble[16] = { ROW16(CRC16_NIB, 0u) };
#elif TERN_CRC_TABLE == 2
#define CRC32_BYTE(i) CRC32_STEP4(CRC32_STEP4((uint32_t)(i)))
#define CRC16_BYTE(i) (uint16_t) CRC16_STEP4(CRC16_STEP4((uint32_t)(i) << 8))
#define ROW4(f, i)    f(i), f((i) + 1), f((i) + 2), f((i) + 3)
#define ROW16(f, i)   ROW4(f, i), ROW4(f, (i) + 4), ROW4(f, (i) + 8), ROW4(f, (i) + 12)
#define ROW64(f, i)   ROW16(f, i), ROW16(f, (i) + 16), ROW16(f, (i) + 32), ROW16(f, (i) + 48)
#define ROW256(f)     ROW64(f, 0u), ROW64(f, 64u), ROW64(f, 128u), ROW64(f, 192u)
/* Entry i is the register contribution of the byte value i. */
static const uint32_t k_crc32_byte[256] = { ROW256(CRC32_BYTE) };
static const uint16_t k_crc16_byte[256] = { ROW256(CRC16_BYTE) };
#endif

uint32_t tern_crc32_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;
    for (size_t i = 0; i < len; i++) {
#if TERN_CRC_TABLE == 0
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = CRC32_STEP(c);
        }
#elif TERN_CRC_TABLE == 1
        c ^= p[i];
        c = (c >> 4) ^ k_crc32_nibble[c & 0x0Fu];
        c = (c >> 4) ^ k_crc32_nibble[c & 0x0Fu];
#else
        c = (c >> 8) ^ k_crc32_byte[(c ^ p[i]) & 0xFFu];
#endif
    }
    return ~c;
}

uint32_t tern_crc32(const void *data, size_t len)
{
    return tern_crc32_update(0, data, len);
}

uint16_t tern_crc16_update(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint16_t c = crc;
    for (size_t i = 0; i < len; i++) {
#if TERN_CRC_TABLE == 0
        c ^= (uint16_t)(p[i] << 8);
        for (int k = 0; k < 8; k++) {
            c = (uint16_t)CRC16_STEP((uint32_t)c);
        }
#elif TERN_CRC_TABLE == 1
        c = (uint16_t)((c << 4) ^ k_crc16_nibble[((c >> 12) ^ (p[i] >> 4)) & 0x0Fu]);
        c = (uint16_t)((c << 4) ^ k_crc16_nibble[((c >> 12) ^ (p[i] & 0x0Fu)) & 0x0Fu]);
#else
        c = (uint16_t)((c << 8) ^ k_crc16_byte[((c >> 8) ^ p[i]) & 0xFFu]);
#endif
    }
    return c;
}

uint16_t tern_crc16(const void *data, size_t len)
{
    return tern_crc16_update(TERN_CRC16_INIT, data, len);
}
