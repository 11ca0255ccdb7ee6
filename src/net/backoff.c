/* SPDX-License-Identifier: Apache-2.0 */
#include "tern/backoff.h"

tern_err_t tern_backoff_init(tern_backoff_t *b, const tern_backoff_config_t *cfg,
                             const tern_rng_t *rng)
{
    if (b == NULL || cfg == NULL || rng == NULL || cfg->base_ms == 0 ||
        cfg->cap_ms < cfg->base_ms ||
        (cfg->mode != TERN_BACKOFF_FULL_JITTER && cfg->mode != TERN_BACKOFF_ADDITIVE)) {
        return TERN_ERR_INVAL;
    }
    b->cfg = *cfg;
    b->rng = *rng;
    b->attempt = 0;
    return TERN_OK;
}

uint32_t tern_backoff_window(const tern_backoff_config_t *cfg, uint32_t attempt)
{
    /* base * 2^attempt without overflow: once the shift could pass the cap, it has. */
    if (attempt >= 32 || cfg->base_ms > (cfg->cap_ms >> attempt)) {
        return cfg->cap_ms;
    }
    return cfg->base_ms << attempt;
}

/* A uniform value in [0, max], both ends included. */
static tern_err_t uniform_upto(const tern_rng_t *rng, uint32_t max, uint32_t *out)
{
    if (max == UINT32_MAX) {
        return tern_rng_fill(rng, out, sizeof *out);
    }
    return tern_rng_uniform(rng, max + 1u, out);
}

tern_err_t tern_backoff_next(tern_backoff_t *b, uint32_t *delay_ms)
{
    if (b->cfg.max_attempts != 0 && b->attempt >= b->cfg.max_attempts) {
        return TERN_ERR_TIMEOUT;
    }
    uint32_t window = tern_backoff_window(&b->cfg, b->attempt);
    uint32_t r;
    tern_err_t err;
    if (b->cfg.mode == TERN_BACKOFF_FULL_JITTER) {
        err = uniform_upto(&b->rng, window, &r);
        *delay_ms = r;
    } else {
        err = uniform_upto(&b->rng, b->cfg.jitter_ms, &r);
        /* saturate rather than wrap: a huge jitter must not make the delay short */
        *delay_ms = r > UINT32_MAX - window ? UINT32_MAX : window + r;
    }
    if (err == TERN_OK) {
        b->attempt++;
    }
    return err;
}

void tern_backoff_reset(tern_backoff_t *b)
{
    b->attempt = 0;
}

uint32_t tern_backoff_attempts(const tern_backoff_t *b)
{
    return b->attempt;
}
