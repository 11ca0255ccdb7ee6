/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file backoff.h
 * @brief Layer 2: retry delays with exponential growth and random jitter.
 *
 * Every retry in the SDK (reconnects, and later OTA polls and provisioning)
 * asks one of these for its next delay, so a fleet that lost its broker at
 * the same instant does not come back at the same instant. Two shapes:
 *
 *  - TERN_BACKOFF_FULL_JITTER: delay = random(0, min(cap, base * 2^attempt)),
 *    the default; it spreads a herd over the whole window.
 *  - TERN_BACKOFF_ADDITIVE: delay = min(cap, base * 2^attempt) + random(0, jitter),
 *    the classic shape: a fixed ladder with a small random offset.
 *
 * Random numbers come from the HAL RNG, so tests and the fleet simulator are
 * deterministic with a seeded one. No heap, no globals.
 */
#ifndef TERN_BACKOFF_H
#define TERN_BACKOFF_H

#include <stdint.h>

#include "tern/err.h"
#include "tern/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tern_backoff_mode {
    TERN_BACKOFF_FULL_JITTER = 0,
    TERN_BACKOFF_ADDITIVE = 1,
} tern_backoff_mode_t;

/** The shape of a retry schedule. */
typedef struct tern_backoff_config {
    tern_backoff_mode_t mode;
    uint32_t base_ms;      /* the first window (attempt 0); > 0 */
    uint32_t cap_ms;       /* no window grows past this; >= base_ms */
    uint32_t jitter_ms;    /* ADDITIVE: the random offset's range */
    uint32_t max_attempts; /* tern_backoff_next() gives up after this many; 0 = never */
} tern_backoff_config_t;

/** A retry schedule in progress. Caller-owned; fields are private. */
typedef struct tern_backoff {
    tern_backoff_config_t cfg;
    tern_rng_t rng;
    uint32_t attempt;
} tern_backoff_t;

/**
 * Set @p b up with @p cfg (copied) and the RNG @p rng (copied; its state must
 * outlive @p b), at attempt 0. TERN_ERR_INVAL for a zero base or a cap below it.
 */
tern_err_t tern_backoff_init(tern_backoff_t *b, const tern_backoff_config_t *cfg,
                             const tern_rng_t *rng);

/**
 * The delay before the next retry, in ms, and count the attempt. TERN_ERR_TIMEOUT
 * once max_attempts delays were given (the caller gives up or reports); the RNG's
 * error if it fails.
 */
tern_err_t tern_backoff_next(tern_backoff_t *b, uint32_t *delay_ms);

/** Start over at attempt 0: call it when the retried operation succeeded. */
void tern_backoff_reset(tern_backoff_t *b);

/** How many delays were given since init or the last reset. */
uint32_t tern_backoff_attempts(const tern_backoff_t *b);

/** The upper bound of the exponential part for @p attempt: min(cap, base * 2^attempt). */
uint32_t tern_backoff_window(const tern_backoff_config_t *cfg, uint32_t attempt);

#ifdef __cplusplus
}
#endif
#endif /* TERN_BACKOFF_H */
