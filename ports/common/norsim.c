/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NOR flash simulator. Every operation validates completely before it touches
 * memory, so a refused call (range, alignment, NOR rule, wear) changes nothing
 * and is not counted as an operation: only calls that really start to change
 * the flash move the op counter, which is what a power cut can interrupt.
 *
 * Freestanding: memcpy/memset only, no heap, no globals besides the ops table.
 */
#include "tern_norsim.h"

#include <string.h>

/* splitmix64: one 64-bit word of state, good enough statistics for choosing
 * tear points and bits, and trivially reproducible from cfg.seed. */
static uint64_t prng_next(tern_norsim_t *sim)
{
    uint64_t z = (sim->prng += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n]: the top 32 bits scaled, no division needed on the MCU. */
static uint32_t prng_upto(tern_norsim_t *sim, uint32_t n)
{
    uint64_t r = prng_next(sim) >> 32;
    return (uint32_t)((r * ((uint64_t)n + 1u)) >> 32);
}

static bool in_range(const tern_norsim_t *sim, uint32_t addr, size_t len)
{
    return addr <= sim->cfg.size && len <= (size_t)(sim->cfg.size - addr);
}

static bool all_erased(const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] != 0xFFu) {
            return false;
        }
    }
    return true;
}

/*
 * Count an operation about to change @p len bytes and tell how many of them
 * land: @p len normally, fewer if this is the armed cut (then sim->lost is set
 * and the caller must finish with the torn byte and TERN_ERR_POWER_LOST).
 */
static uint32_t begin_op(tern_norsim_t *sim, uint32_t len)
{
    sim->ops++;
    if (sim->cut_at == 0 || sim->ops != sim->cut_at) {
        return len;
    }
    sim->cut_at = 0;
    sim->lost = true;
    if (sim->tear == TERN_NORSIM_TEAR_RANDOM) {
        return prng_upto(sim, len);
    }
    return sim->tear < len ? sim->tear : len;
}

/* ------------------------------------------------------------ ops table -- */

static void sim_geometry(void *ctx, tern_flash_geometry_t *g)
{
    const tern_norsim_t *sim = ctx;
    g->size = sim->cfg.size;
    g->sector_size = sim->cfg.sector_size;
    g->prog_size = sim->cfg.prog_size;
}

static tern_err_t sim_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    tern_norsim_t *sim = ctx;
    if (sim->lost) {
        return TERN_ERR_POWER_LOST;
    }
    if (!in_range(sim, addr, len)) {
        return TERN_ERR_RANGE;
    }
    if (buf == NULL && len > 0) {
        return TERN_ERR_INVAL;
    }
    if (len > 0) {
        memcpy(buf, sim->mem + addr, len);
    }
    sim->reads++;
    return TERN_OK;
}

static tern_err_t sim_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    tern_norsim_t *sim = ctx;
    const uint8_t *src = buf;
    if (sim->lost) {
        return TERN_ERR_POWER_LOST;
    }
    if (!in_range(sim, addr, len)) {
        return TERN_ERR_RANGE;
    }
    if (addr % sim->cfg.prog_size != 0 || len % sim->cfg.prog_size != 0) {
        return TERN_ERR_ALIGN;
    }
    if (len == 0) {
        return TERN_OK;
    }
    if (src == NULL) {
        return TERN_ERR_INVAL;
    }
    uint8_t *dst = sim->mem + addr;
    uint32_t n = (uint32_t)len; /* fits: checked against cfg.size above */
    for (uint32_t i = 0; i < n; i++) {
        if ((src[i] & (uint8_t)~dst[i]) != 0) {
            return TERN_ERR_FLASH_NOR;
        }
    }
    if (sim->cfg.flags & TERN_NORSIM_PROGRAM_ONCE) {
        for (uint32_t off = 0; off < n; off += sim->cfg.prog_size) {
            if (!all_erased(dst + off, sim->cfg.prog_size)) {
                return TERN_ERR_FLASH_NOR;
            }
        }
    }

    uint32_t landed = begin_op(sim, n);
    sim->programs++;
    /* The data only clears bits (checked above), so storing it is the AND. */
    memcpy(dst, src, landed);
    if (!sim->lost) {
        return TERN_OK;
    }
    if (landed < n) {
        uint8_t to_clear = (uint8_t)(dst[landed] & (uint8_t)~src[landed]);
        dst[landed] &= (uint8_t) ~(to_clear & (uint8_t)prng_next(sim));
    }
    return TERN_ERR_POWER_LOST;
}

static tern_err_t sim_erase(void *ctx, uint32_t addr)
{
    tern_norsim_t *sim = ctx;
    if (sim->lost) {
        return TERN_ERR_POWER_LOST;
    }
    if (addr >= sim->cfg.size) {
        return TERN_ERR_RANGE;
    }
    if (addr % sim->cfg.sector_size != 0) {
        return TERN_ERR_ALIGN;
    }
    uint32_t sector = addr / sim->cfg.sector_size;
    if (sim->cfg.endurance != 0 && sim->erase_counts[sector] >= sim->cfg.endurance) {
        return TERN_ERR_WORN_OUT;
    }

    uint32_t n = sim->cfg.sector_size;
    uint8_t *dst = sim->mem + addr;
    uint32_t landed = begin_op(sim, n);
    sim->erases++;
    sim->erase_counts[sector]++; /* a torn erase has worn the cells all the same */
    memset(dst, 0xFF, landed);
    if (!sim->lost) {
        return TERN_OK;
    }
    if (landed < n) {
        dst[landed] |= (uint8_t)prng_next(sim);
    }
    return TERN_ERR_POWER_LOST;
}

static const tern_flash_ops_t k_norsim_ops = {
    .name = "norsim",
    .geometry = sim_geometry,
    .read = sim_read,
    .program = sim_program,
    .erase = sim_erase,
};

/* ----------------------------------------------------------- public API -- */

tern_err_t tern_norsim_init(tern_norsim_t *sim, const tern_norsim_config_t *cfg, void *mem,
                            uint32_t *erase_counts)
{
    if (sim == NULL || cfg == NULL || mem == NULL || erase_counts == NULL) {
        return TERN_ERR_INVAL;
    }
    if (cfg->size == 0 || cfg->sector_size == 0 || cfg->prog_size == 0 ||
        cfg->size % cfg->sector_size != 0 || cfg->sector_size % cfg->prog_size != 0 ||
        (cfg->flags & ~TERN_NORSIM_PROGRAM_ONCE) != 0) {
        return TERN_ERR_INVAL;
    }
    memset(sim, 0, sizeof *sim);
    sim->cfg = *cfg;
    sim->mem = mem;
    sim->erase_counts = erase_counts;
    sim->prng = cfg->seed;
    return TERN_OK;
}

void tern_norsim_format(tern_norsim_t *sim)
{
    memset(sim->mem, 0xFF, sim->cfg.size);
    memset(sim->erase_counts, 0, (sim->cfg.size / sim->cfg.sector_size) * sizeof(uint32_t));
}

tern_flash_t tern_norsim_flash(tern_norsim_t *sim)
{
    tern_flash_t f = { &k_norsim_ops, sim };
    return f;
}

void tern_norsim_cut_after(tern_norsim_t *sim, uint32_t nth, uint32_t tear_bytes)
{
    sim->cut_at = nth == 0 ? 0u : sim->ops + nth;
    sim->tear = tear_bytes;
}

bool tern_norsim_power_lost(const tern_norsim_t *sim)
{
    return sim->lost;
}

void tern_norsim_reboot(tern_norsim_t *sim)
{
    sim->lost = false;
    sim->ops = 0;
    sim->cut_at = 0;
    sim->tear = 0;
}

uint32_t tern_norsim_op_count(const tern_norsim_t *sim)
{
    return sim->ops;
}

uint32_t tern_norsim_erase_count(const tern_norsim_t *sim, uint32_t addr)
{
    if (addr >= sim->cfg.size) {
        return 0;
    }
    return sim->erase_counts[addr / sim->cfg.sector_size];
}
