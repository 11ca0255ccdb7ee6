/* SPDX-License-Identifier: Apache-2.0 */
/* The demo's portable part: the same code runs on every port. */
#ifndef TERN_DEMO_H
#define TERN_DEMO_H

#include "tern/hal.h"

/** Print the SDK version, the HAL members @p hal provides, and self-check its
 * flash on a partition made of the last sector. Returns 0 if all is well. */
int tern_demo_run(const tern_hal_t *hal, const char *port);

#endif
