/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_config.h
 * @brief Compile-time configuration: every tunable of the SDK, with its default.
 *
 * To override, either define the macro on the compiler command line
 * (-DTERN_CRC_TABLE=0), or put your overrides in a header of your own and build
 * with -DTERN_USER_CONFIG='"my_tern_config.h"'; that file is included first,
 * so whatever it defines wins over the defaults below. The library and your
 * application must be built with the same configuration.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#ifdef TERN_USER_CONFIG
#include TERN_USER_CONFIG
#endif

/**
 * CRC lookup-table size, a flash/speed trade-off shared by CRC-32 and CRC-16:
 *  0 - bitwise, no table (smallest, ~8x slower than 1);
 *  1 - 16-entry nibble tables: 64 B (CRC-32) + 32 B (CRC-16) of rodata (default);
 *  2 - 256-entry byte tables: 1 KiB + 512 B of rodata (fastest).
 */
#ifndef TERN_CRC_TABLE
#define TERN_CRC_TABLE 1
#endif

/**
 * Argument checks in the HAL dispatch layer (range, alignment, NULL). They cost
 * a few hundred bytes of flash; 1 keeps them (default), 0 trusts the caller.
 * The flash checks stay on regardless: a bad address must never reach a port.
 */
#ifndef TERN_HAL_CHECK_ARGS
#define TERN_HAL_CHECK_ARGS 1
#endif

/**
 * MQTT 5 support in the MQTT codec and session: 1 speaks 3.1.1 and 5.0
 * (default); 0 leaves every MQTT 5 feature (properties, reason codes on the
 * wire, AUTH) out of the build for about half the flash, and a call for
 * protocol version 5 then returns TERN_ERR_UNSUPPORTED. Not to be confused
 * with TERN_MQTT_PROTO_V5, the protocol level passed to those calls.
 */
#ifndef TERN_MQTT_V5
#define TERN_MQTT_V5 1
#endif

/**
 * The longest time interval, in ms, that the wrap-safe time helpers of
 * tern/time.h compare correctly. Fixed by the 32-bit millisecond clock
 * (2^31 - 1 ms, about 24.8 days); listed here so it is documented, not to be changed.
 */
#define TERN_TIME_MAX_INTERVAL_MS 0x7FFFFFFFu

/*
 * The outbox's look-ahead: how many of the next records in drain order one scan
 * of the flash remembers (12 bytes of RAM each, in tern_outbox_t), so that
 * draining a backlog of N records costs about N / TERN_OUTBOX_LOOKAHEAD scans
 * instead of N. 0 turns it off (every peek/next scans).
 */
#ifndef TERN_OUTBOX_LOOKAHEAD
#define TERN_OUTBOX_LOOKAHEAD 16
#endif

/*
 * CBOR (tern/cbor.h): the deepest nesting of arrays, maps, tags and
 * indefinite strings the encoder and decoder accept (each level costs 12-20
 * bytes in tern_cbor_enc_t / tern_cbor_dec_t). Deeper input is refused with
 * TERN_ERR_CBOR_TOO_DEEP.
 */
#ifndef TERN_CBOR_MAX_DEPTH
#define TERN_CBOR_MAX_DEPTH 16
#endif

/*
 * The CBOR decoder's short way for common items (tern_cbor_dec_next() as leaf
 * code before the whole way): about 0.4 KiB more on Cortex-M4, for roughly
 * twice the decoding speed. On unless the build optimizes for size (-Os),
 * as newlib picks its string routines; 0 or 1 to choose.
 */
#ifndef TERN_CBOR_FAST
#if defined(__OPTIMIZE_SIZE__)
#define TERN_CBOR_FAST 0
#else
#define TERN_CBOR_FAST 1
#endif
#endif

#endif /* TERN_CONFIG_H */
