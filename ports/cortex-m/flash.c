/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The board's "flash": 64 KiB of RAM driven by the NOR simulator, so it obeys
 * the NOR rules (program clears bits, erase sets a sector to 0xFF) and power
 * cuts can be injected (tern_cm_flash_sim()). The array and the erase counts
 * are in .noinit: a warm reset keeps them as a real flash would. On a cold
 * boot (no valid marker) the chip is formatted, as if factory-fresh.
 */
#include "cm_internal.h"

#define CM_FLASH_MAGIC   0x464C5348u /* "HSLF" */
#define CM_FLASH_SECTORS (TERN_CM_FLASH_SIZE / TERN_CM_FLASH_SECTOR_SIZE)

static uint8_t s_mem[TERN_CM_FLASH_SIZE] __attribute__((section(".noinit"), aligned(8)));
static uint32_t s_erase_counts[CM_FLASH_SECTORS] __attribute__((section(".noinit")));
static uint32_t s_magic __attribute__((section(".noinit")));
static tern_norsim_t s_sim;
static bool s_ready;

tern_err_t cm_flash_init(tern_flash_t *flash)
{
    if (!s_ready) {
        const tern_norsim_config_t cfg = {
            .size = TERN_CM_FLASH_SIZE,
            .sector_size = TERN_CM_FLASH_SECTOR_SIZE,
            .prog_size = TERN_CM_FLASH_PROG_SIZE,
            .flags = 0,
            .endurance = 0,
            .seed = tern_cm_boot_count(),
        };
        tern_err_t err = tern_norsim_init(&s_sim, &cfg, s_mem, s_erase_counts);
        if (err != TERN_OK) {
            return err;
        }
        if (s_magic != CM_FLASH_MAGIC) {
            tern_norsim_format(&s_sim);
            s_magic = CM_FLASH_MAGIC;
        }
        s_ready = true;
    }
    *flash = tern_norsim_flash(&s_sim);
    return TERN_OK;
}

tern_norsim_t *tern_cm_flash_sim(void)
{
    return s_ready ? &s_sim : NULL;
}
