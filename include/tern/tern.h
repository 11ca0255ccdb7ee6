/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern.h
 * @brief Umbrella header: the whole public API of libtern.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include "tern/crc.h"
#include "tern/err.h"
#include "tern/hal.h"
#include "tern/ring.h"
#include "tern/tern_config.h"
#include "tern/time.h"
#include "tern/transport.h"
#include "tern/version.h"

#endif /* TERN_TERN_H */
