/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file time.h
 * @brief Wrap-safe arithmetic on the 32-bit monotonic millisecond clock.
 *
 * tern_ms_t wraps every 2^32 ms (49.7 days). Comparing two timestamps with
 * `<` breaks at the wrap; these helpers compare the signed distance instead,
 * which is right as long as the two instants are less than
 * TERN_TIME_MAX_INTERVAL_MS (24.8 days) apart. All are pure and freestanding.
 */
#ifndef TERN_TIME_H
#define TERN_TIME_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Monotonic milliseconds since an arbitrary origin; wraps at 2^32. */
typedef uint32_t tern_ms_t;

/** Signed distance a - b in ms, correct across the wrap (no implementation-defined cast). */
static inline int32_t tern_time_diff(tern_ms_t a, tern_ms_t b)
{
    uint32_t d = (uint32_t)(a - b);
    return d <= 0x7FFFFFFFu ? (int32_t)d : -(int32_t)(0xFFFFFFFFu - d) - 1;
}

/** True if instant @p a is strictly later than @p b. */
static inline bool tern_time_after(tern_ms_t a, tern_ms_t b)
{
    return tern_time_diff(a, b) > 0;
}

/** True if instant @p a is strictly earlier than @p b. */
static inline bool tern_time_before(tern_ms_t a, tern_ms_t b)
{
    return tern_time_diff(a, b) < 0;
}

/** Milliseconds from @p since to @p now (now assumed not earlier than since). */
static inline uint32_t tern_time_elapsed(tern_ms_t now, tern_ms_t since)
{
    return (uint32_t)(now - since);
}

/** The instant @p delay_ms after @p now (wraps like the clock). */
static inline tern_ms_t tern_deadline_in(tern_ms_t now, uint32_t delay_ms)
{
    return (tern_ms_t)(now + delay_ms);
}

/** True once @p now has reached or passed @p deadline. */
static inline bool tern_deadline_passed(tern_ms_t now, tern_ms_t deadline)
{
    return tern_time_diff(now, deadline) >= 0;
}

/** Milliseconds left until @p deadline, 0 if it has passed: what a poll loop may sleep. */
static inline uint32_t tern_deadline_remaining(tern_ms_t now, tern_ms_t deadline)
{
    int32_t d = tern_time_diff(deadline, now);
    return d > 0 ? (uint32_t)d : 0u;
}

#ifdef __cplusplus
}
#endif
#endif /* TERN_TIME_H */
