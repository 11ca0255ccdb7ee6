/* SPDX-License-Identifier: Apache-2.0 */
/* The demo on a Linux host: a POSIX board with real clock and getrandom, and
 * its flash in a file when a path is given (it then survives the process). */
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "tern/port/posix.h"

int main(int argc, char **argv)
{
    tern_posix_board_config_t cfg;
    tern_posix_board_t board;
    tern_posix_board_config_default(&cfg);
    if (argc > 1) {
        cfg.flash.path = argv[1];
    }
    tern_err_t err = tern_posix_board_open(&board, &cfg);
    if (err != TERN_OK) {
        fprintf(stderr, "demo: cannot open the board: %s\n", tern_strerror(err));
        return 1;
    }
    int rc = tern_demo_run(tern_posix_board_hal(&board), argc > 1 ? "posix (file flash)" : "posix");
    tern_posix_board_close(&board);
    return rc;
}
