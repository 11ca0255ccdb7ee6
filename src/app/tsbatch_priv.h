/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the time-series batch's encoders (src/app/tsbatch*.c). */
#ifndef TERN_TSBATCH_PRIV_H
#define TERN_TSBATCH_PRIV_H

#include "tern/tsbatch.h"

/* The batch's base time (the earliest first sample) in *bt; how many series have samples. */
size_t tern_tsb_base_time(const tern_tsb_series_t *series, size_t n, uint64_t *bt);

#endif /* TERN_TSBATCH_PRIV_H */
