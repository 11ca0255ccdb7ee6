/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file crc.h
 * @brief CRC-32 (IEEE 802.3) and CRC-16/CCITT-FALSE, incremental, table size set by TERN_CRC_TABLE.
 */
#ifndef TERN_CRC_H
#define TERN_CRC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * CRC-32 as zlib, Ethernet and PNG compute it (reflected poly 0x04C11DB7,
 * init and xorout 0xFFFFFFFF; check value of "123456789" is 0xCBF43926).
 * Incremental: pass 0 to start, then the previous result to continue, so
 * crc32_update(crc32_update(0, a), b) == crc32 of a followed by b.
 */
uint32_t tern_crc32_update(uint32_t crc, const void *data, size_t len);

/** CRC-32 of one buffer: tern_crc32_update(0, data, len). */
uint32_t tern_crc32(const void *data, size_t len);

/** Start value of CRC-16/CCITT-FALSE. */
#define TERN_CRC16_INIT 0xFFFFu

/**
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no xorout;
 * check value of "123456789" is 0x29B1). Incremental: pass TERN_CRC16_INIT
 * to start, then the previous result to continue.
 */
uint16_t tern_crc16_update(uint16_t crc, const void *data, size_t len);

/** CRC-16/CCITT-FALSE of one buffer: tern_crc16_update(TERN_CRC16_INIT, data, len). */
uint16_t tern_crc16(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* TERN_CRC_H */
