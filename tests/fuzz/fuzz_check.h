/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the fuzz targets: the libFuzzer entry point and a check that
 * crashes (so libFuzzer saves the input) instead of returning quietly. */
#ifndef TERN_FUZZ_CHECK_H
#define TERN_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c)) {  \
            abort(); \
        }            \
    } while (0)

#endif
