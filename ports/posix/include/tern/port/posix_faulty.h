/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_faulty.h
 * @brief Test support in the POSIX port: a tern_transport_t that wraps any other
 * one and misbehaves on command, to prove failover, keep-alive and retries.
 *
 * Modes, switchable at any time between calls:
 *  - PASS: calls go straight through (after anything still held by DELAY).
 *  - DROP: sends are reported taken and discarded; reads still arrive.
 *  - BLACKHOLE: sends are discarded and reads never arrive (what comes from the
 *    stream below is read and thrown away, its errors hidden): a dead path that
 *    only a timeout can find.
 *  - DELAY: data both ways is held for delay_ms by the wrapper's clock before it
 *    moves on, in order. Held data keeps its due time when the mode changes.
 *  - CUT: every call fails with TERN_ERR_IO and nothing moves.
 * Held data moves only inside send, recv or tern_posix_faulty_flush(). The
 * wrapper never closes the stream below; that stays the caller's.
 */
#ifndef TERN_PORT_POSIX_FAULTY_H
#define TERN_PORT_POSIX_FAULTY_H

#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/hal.h"
#include "tern/time.h"
#include "tern/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes DELAY can hold each way; a send beyond it is taken only in part. */
#define TERN_POSIX_FAULTY_HOLD   16384u
/** Separate due times held each way (one per send or read). */
#define TERN_POSIX_FAULTY_CHUNKS 64u

typedef enum tern_posix_faulty_mode {
    TERN_POSIX_FAULTY_PASS = 0,
    TERN_POSIX_FAULTY_DROP,
    TERN_POSIX_FAULTY_BLACKHOLE,
    TERN_POSIX_FAULTY_DELAY,
    TERN_POSIX_FAULTY_CUT,
} tern_posix_faulty_mode_t;

/** Data held in one direction. Private. */
typedef struct tern_posix_faulty_queue {
    uint8_t buf[TERN_POSIX_FAULTY_HOLD];
    size_t len;
    size_t nchunks;
    struct {
        size_t len;
        tern_ms_t due;
    } chunk[TERN_POSIX_FAULTY_CHUNKS];
} tern_posix_faulty_queue_t;

/** The wrapper. Read the counters; the rest is private. */
typedef struct tern_posix_faulty {
    tern_transport_t lower;
    tern_clock_t clock;
    tern_posix_faulty_mode_t mode;
    uint32_t delay_ms;
    tern_err_t rx_err;  /* the stream below failed while DELAY held reads: told once they are out */
    uint64_t dropped;   /* bytes sent and discarded (DROP, BLACKHOLE) */
    uint64_t swallowed; /* bytes read from below and discarded (BLACKHOLE) */
    tern_posix_faulty_queue_t tx, rx;
} tern_posix_faulty_t;

/**
 * Wrap @p lower (copied; its state must outlive @p f), timed by @p clock (copied; may
 * be NULL if DELAY is never used), in PASS mode.
 */
void tern_posix_faulty_init(tern_posix_faulty_t *f, const tern_transport_t *lower,
                            const tern_clock_t *clock);

/**
 * Switch to @p mode; @p delay_ms is used by DELAY only. TERN_ERR_INVAL for an unknown
 * mode, or DELAY without a clock.
 */
tern_err_t tern_posix_faulty_set_mode(tern_posix_faulty_t *f, tern_posix_faulty_mode_t mode,
                                      uint32_t delay_ms);

/** The misbehaving stream; valid as long as @p f. */
tern_transport_t tern_posix_faulty_transport(tern_posix_faulty_t *f);

/**
 * Send held data whose time has come: TERN_OK when nothing is held any more,
 * TERN_ERR_AGAIN while some is, or the error of the stream below. CUT: TERN_ERR_IO.
 */
tern_err_t tern_posix_faulty_flush(tern_posix_faulty_t *f);

/** "pass", "drop", "blackhole", "delay", "cut". */
const char *tern_posix_faulty_mode_name(tern_posix_faulty_mode_t mode);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_FAULTY_H */
