/* SPDX-License-Identifier: Apache-2.0 */
#include "demo.h"

#include <inttypes.h>
#include <stdio.h>

#include "tern/tern.h"

static void print_member(void *arg, const char *member, const char *port)
{
    (void)arg;
    printf("  %-9s %s\n", member, port ? port : "(absent)");
}

int tern_demo_run(const tern_hal_t *hal, const char *port)
{
    printf("tern %s on %s\n", tern_version(), port);
    printf("HAL:\n");
    tern_hal_describe(hal, print_member, NULL);

    tern_ms_t t0 = tern_clock_now(&hal->clock);
    tern_walltime_t wall = tern_clock_wall(&hal->clock);
    printf("clock: monotonic %" PRIu32 " ms, wall time %s\n", t0, wall.known ? "known" : "unknown");
    printf("reset reason: %s\n", tern_reset_reason_str(tern_reset_reason(&hal->reset)));

    uint32_t r = 0;
    tern_err_t err = tern_rng_fill(&hal->rng, &r, sizeof r);
    printf("rng: %s\n", err == TERN_OK ? "ok" : tern_strerror(err));

    tern_flash_geometry_t g;
    err = tern_flash_geometry(&hal->flash, &g);
    if (err != TERN_OK) {
        printf("flash: %s\n", tern_strerror(err));
        return 1;
    }
    printf("flash: %" PRIu32 " KiB, %" PRIu32 " B sectors, %" PRIu32 " B program unit\n",
           g.size / 1024, g.sector_size, g.prog_size);

    /* Self-check on a partition of the last sector, so nothing else is touched. */
    tern_flash_part_t part_state;
    tern_flash_t part;
    err = tern_flash_partition(&hal->flash, g.size - g.sector_size, g.sector_size, &part_state,
                               &part);
    if (err == TERN_OK) {
        err = tern_flash_selfcheck(&part, 0);
    }
    printf("flash self-check: %s\n", err == TERN_OK ? "PASS" : tern_strerror(err));
    return err == TERN_OK ? 0 : 1;
}
