/* SPDX-License-Identifier: Apache-2.0 */
/* What every benchmark times with: seconds on the host's monotonic clock.
 * Include after defining _POSIX_C_SOURCE (clock_gettime). */
#ifndef TERN_BENCH_CLOCK_H
#define TERN_BENCH_CLOCK_H

#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
