/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest program a firmware team writes against an installed tern:
 * build a device from the POSIX port, check its flash, print the result. */
#include <stdio.h>

#include "tern/port/posix.h"
#include "tern/tern.h"

int main(void)
{
    tern_posix_board_config_t cfg;
    tern_posix_board_t board;
    tern_posix_board_config_default(&cfg);
    tern_err_t err = tern_posix_board_open(&board, &cfg);
    if (err == TERN_OK) {
        err = tern_flash_selfcheck(&tern_posix_board_hal(&board)->flash, 0);
        tern_posix_board_close(&board);
    }
    printf("hello: tern %s (headers %s), flash self-check: %s\n", tern_version(),
           TERN_VERSION_STRING, tern_strerror(err));
    if (err != TERN_OK) {
        return 1;
    }
    printf("hello: PASS\n");
    return 0;
}
