/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_norsim.h
 * @brief A NOR flash simulator over caller-owned memory, shared by every port.
 *
 * It enforces the NOR rules exactly (a program only clears bits, an erase sets a
 * whole sector to 0xFF, programming a 0 bit back to 1 is TERN_ERR_FLASH_NOR),
 * counts erases per sector, and can cut power: the N-th program or erase after
 * arming writes only a torn prefix of itself, returns TERN_ERR_POWER_LOST, and
 * every later call (reads too) fails with TERN_ERR_POWER_LOST until
 * tern_norsim_reboot(). It is the test bed of every power-loss test.
 *
 * Freestanding: no heap, no I/O. The POSIX port adds a file backing on top;
 * the Cortex-M port uses it for its flash partition in RAM.
 */
#ifndef TERN_NORSIM_H
#define TERN_NORSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flag: a program unit may be programmed only once between erases (ECC flash such as STM32L4/U5).
 */
#define TERN_NORSIM_PROGRAM_ONCE 0x1u

/** Tear length meaning "draw it from the simulator's seeded PRNG" for each cut. */
#define TERN_NORSIM_TEAR_RANDOM 0xFFFFFFFFu

typedef struct tern_norsim_config {
    uint32_t size;        /* total bytes, a multiple of sector_size */
    uint32_t sector_size; /* erase unit */
    uint32_t prog_size;   /* program unit (1, 2, 4, 8, 16 ...) */
    uint32_t flags;       /* TERN_NORSIM_* */
    uint32_t endurance;   /* erases a sector survives before erase fails with TERN_ERR_WORN_OUT; 0 =
                             unlimited */
    uint64_t seed;        /* seeds the PRNG used for random tears and partially programmed bits */
} tern_norsim_config_t;

/** Simulator state; the caller owns it, the memory and the erase-count array. Fields are private.
 */
typedef struct tern_norsim {
    tern_norsim_config_t cfg;
    uint8_t *mem;           /* cfg.size bytes */
    uint32_t *erase_counts; /* one per sector */
    uint64_t prng;
    uint32_t ops;    /* programs + erases since init or reboot */
    uint32_t cut_at; /* op number that loses power; 0 = not armed */
    uint32_t tear;   /* bytes of the cut op that land, or TERN_NORSIM_TEAR_RANDOM */
    bool lost;
    uint32_t programs, erases, reads; /* lifetime statistics */
} tern_norsim_t;

/**
 * Set up a simulator over @p mem (cfg->size bytes) and @p erase_counts
 * (cfg->size / cfg->sector_size entries). The memory is left as it is, so a
 * file-backed image keeps its content; call tern_norsim_format() for a blank chip.
 * TERN_ERR_INVAL on an inconsistent geometry.
 */
tern_err_t tern_norsim_init(tern_norsim_t *sim, const tern_norsim_config_t *cfg, void *mem,
                            uint32_t *erase_counts);

/** Make every byte 0xFF and zero the erase counts: a factory-fresh chip. Not counted as operations.
 */
void tern_norsim_format(tern_norsim_t *sim);

/** A HAL flash instance backed by @p sim. */
tern_flash_t tern_norsim_flash(tern_norsim_t *sim);

/**
 * Arm a power cut: the @p nth program or erase from now (1 = the next one)
 * lands only its first @p tear_bytes bytes (clamped to its length; the byte
 * after the prefix gets a random subset of its bit changes), or a random prefix
 * with TERN_NORSIM_TEAR_RANDOM. @p nth of 0 disarms.
 */
void tern_norsim_cut_after(tern_norsim_t *sim, uint32_t nth, uint32_t tear_bytes);

/** True between a cut and the next tern_norsim_reboot(). */
bool tern_norsim_power_lost(const tern_norsim_t *sim);

/** Power comes back: operations work again, the op counter restarts, no cut is armed. Memory keeps
 * what landed. */
void tern_norsim_reboot(tern_norsim_t *sim);

/** Programs and erases since init or the last reboot: a sweep runs once clean to learn its cut
 * points. */
uint32_t tern_norsim_op_count(const tern_norsim_t *sim);

/** Erases the sector holding @p addr has seen. */
uint32_t tern_norsim_erase_count(const tern_norsim_t *sim, uint32_t addr);

#ifdef __cplusplus
}
#endif
#endif /* TERN_NORSIM_H */
