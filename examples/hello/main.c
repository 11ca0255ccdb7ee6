/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest program a firmware team writes against an installed tern:
 * get the board's HAL from the port, check its flash, print the result. Only
 * board_open() knows which port it runs on. */
#include <stdio.h>

#include "tern/tern.h"

#if defined(HELLO_CORTEX_M) && HELLO_CORTEX_M
#include "tern/port/cortex_m.h"

static tern_hal_t g_hal;

static const tern_hal_t *board_open(void)
{
    return tern_cm_board_init(&g_hal) == TERN_OK ? &g_hal : NULL;
}
#else
#include "tern/port/posix.h"

static tern_posix_board_t g_board;

static const tern_hal_t *board_open(void)
{
    tern_posix_board_config_t cfg;
    tern_posix_board_config_default(&cfg);
    return tern_posix_board_open(&g_board, &cfg) == TERN_OK ? tern_posix_board_hal(&g_board) : NULL;
}
#endif

int main(void)
{
    const tern_hal_t *hal = board_open();
    tern_err_t err = hal ? tern_flash_selfcheck(&hal->flash, 0) : TERN_ERR_IO;
    printf("hello: tern %s (headers %s), flash self-check: %s\n", tern_version(),
           TERN_VERSION_STRING, tern_strerror(err));
    if (err != TERN_OK) {
        return 1;
    }
    printf("hello: PASS\n");
    return 0;
}
