/* SPDX-License-Identifier: Apache-2.0 */
/* The demo on a Cortex-M4 (QEMU's MPS2 AN386): the board's HAL, the same
 * portable demo; main's return value becomes QEMU's exit code. */
#include "demo.h"
#include "tern/port/cortex_m.h"

int main(void)
{
    tern_hal_t hal;
    tern_err_t err = tern_cm_board_init(&hal);
    if (err != TERN_OK) {
        return 1;
    }
    return tern_demo_run(&hal, "cortex-m4 (mps2-an386)");
}
