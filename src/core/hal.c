/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HAL dispatch layer: the one place that checks arguments before they
 * reach a port, so every port can trust them and no check is written twice.
 */
#include "tern/hal.h"

#include <string.h>

#include "tern/tern_config.h"

#if TERN_HAL_CHECK_ARGS
#define CHECK(cond, err)  \
    do {                  \
        if (!(cond)) {    \
            return (err); \
        }                 \
    } while (0)
#else
#define CHECK(cond, err) ((void)0)
#endif

/* ---------------------------------------------------------------- clock -- */

tern_ms_t tern_clock_now(const tern_clock_t *c)
{
    return (c && c->ops) ? c->ops->now_ms(c->ctx) : 0u;
}

tern_walltime_t tern_clock_wall(const tern_clock_t *c)
{
    if (c && c->ops && c->ops->wall) {
        return c->ops->wall(c->ctx);
    }
    tern_walltime_t unknown = { 0, false };
    return unknown;
}

tern_err_t tern_clock_set_wall(const tern_clock_t *c, int64_t unix_ms)
{
    if (!c || !c->ops || !c->ops->set_wall) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(unix_ms >= 0, TERN_ERR_RANGE);
    return c->ops->set_wall(c->ctx, unix_ms);
}

/* ------------------------------------------------------------------ rng -- */

tern_err_t tern_rng_fill(const tern_rng_t *r, void *buf, size_t len)
{
    if (!r || !r->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(buf != NULL || len == 0, TERN_ERR_INVAL);
    return r->ops->fill(r->ctx, buf, len);
}

tern_err_t tern_rng_uniform(const tern_rng_t *r, uint32_t bound, uint32_t *out)
{
    if (bound == 0 || out == NULL) {
        return TERN_ERR_INVAL;
    }
    /* Reject the top partial copy of [0, bound) so every result is equally
     * likely: 2^32 mod bound values are thrown away, fewer than half. */
    uint32_t limit = (uint32_t)(0u - bound) % bound; /* = 2^32 mod bound */
    for (;;) {
        uint32_t x;
        tern_err_t err = tern_rng_fill(r, &x, sizeof x);
        if (err != TERN_OK) {
            return err;
        }
        if (x >= limit) {
            *out = x % bound;
            return TERN_OK;
        }
    }
}

/* ---------------------------------------------------------------- flash -- */

tern_err_t tern_flash_geometry(const tern_flash_t *f, tern_flash_geometry_t *g)
{
    if (!f || !f->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    if (!g) {
        return TERN_ERR_INVAL;
    }
    f->ops->geometry(f->ctx, g);
    return TERN_OK;
}

/* Range check shared by read/program/erase; flash checks stay on whatever the config says. */
static tern_err_t flash_check(const tern_flash_t *f, uint32_t addr, size_t len,
                              tern_flash_geometry_t *g)
{
    tern_err_t err = tern_flash_geometry(f, g);
    if (err != TERN_OK) {
        return err;
    }
    if (addr > g->size || len > g->size - addr) {
        return TERN_ERR_RANGE;
    }
    return TERN_OK;
}

tern_err_t tern_flash_read(const tern_flash_t *f, uint32_t addr, void *buf, size_t len)
{
    tern_flash_geometry_t g;
    tern_err_t err = flash_check(f, addr, len, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (buf == NULL && len > 0) {
        return TERN_ERR_INVAL;
    }
    return len == 0 ? TERN_OK : f->ops->read(f->ctx, addr, buf, len);
}

tern_err_t tern_flash_program(const tern_flash_t *f, uint32_t addr, const void *buf, size_t len)
{
    tern_flash_geometry_t g;
    tern_err_t err = flash_check(f, addr, len, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (addr % g.prog_size != 0 || len % g.prog_size != 0) {
        return TERN_ERR_ALIGN;
    }
    if (buf == NULL && len > 0) {
        return TERN_ERR_INVAL;
    }
    return len == 0 ? TERN_OK : f->ops->program(f->ctx, addr, buf, len);
}

tern_err_t tern_flash_program_padded(const tern_flash_t *f, uint32_t addr, const void *buf,
                                     size_t len)
{
    tern_flash_geometry_t g;
    uint8_t tail[TERN_FLASH_PAD_MAX];
    tern_err_t err = tern_flash_geometry(f, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (g.prog_size == 0 || g.prog_size > sizeof tail) {
        return TERN_ERR_UNSUPPORTED;
    }
    size_t body = len / g.prog_size * g.prog_size;
    if ((err = tern_flash_program(f, addr, buf, body)) != TERN_OK || body == len) {
        return err;
    }
    memset(tail, 0xFF, g.prog_size);
    memcpy(tail, (const uint8_t *)buf + body, len - body);
    return tern_flash_program(f, addr + (uint32_t)body, tail, g.prog_size);
}

tern_err_t tern_flash_erase(const tern_flash_t *f, uint32_t addr)
{
    tern_flash_geometry_t g;
    tern_err_t err = flash_check(f, addr, 0, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (addr >= g.size) {
        return TERN_ERR_RANGE;
    }
    if (addr % g.sector_size != 0) {
        return TERN_ERR_ALIGN;
    }
    return f->ops->erase(f->ctx, addr);
}

/* A partition forwards to its parent with an offset; the parent's dispatch
 * checks run again on the translated address, which costs little and means a
 * partition can never reach outside itself or its parent. */
static void part_geometry(void *ctx, tern_flash_geometry_t *g)
{
    const tern_flash_part_t *p = ctx;
    (void)tern_flash_geometry(&p->parent, g);
    g->size = p->size;
}

static tern_err_t part_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    const tern_flash_part_t *p = ctx;
    return tern_flash_read(&p->parent, p->offset + addr, buf, len);
}

static tern_err_t part_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    const tern_flash_part_t *p = ctx;
    return tern_flash_program(&p->parent, p->offset + addr, buf, len);
}

static tern_err_t part_erase(void *ctx, uint32_t addr)
{
    const tern_flash_part_t *p = ctx;
    return tern_flash_erase(&p->parent, p->offset + addr);
}

static const tern_flash_ops_t k_part_ops = {
    .name = "partition",
    .geometry = part_geometry,
    .read = part_read,
    .program = part_program,
    .erase = part_erase,
};

tern_err_t tern_flash_partition(const tern_flash_t *parent, uint32_t offset, uint32_t size,
                                tern_flash_part_t *part, tern_flash_t *out)
{
    tern_flash_geometry_t g;
    if (part == NULL || out == NULL) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = tern_flash_geometry(parent, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (size == 0 || offset > g.size || size > g.size - offset) {
        return TERN_ERR_RANGE;
    }
    if (offset % g.sector_size != 0 || size % g.sector_size != 0) {
        return TERN_ERR_ALIGN;
    }
    part->parent = *parent;
    part->offset = offset;
    part->size = size;
    out->ops = &k_part_ops;
    out->ctx = part;
    return TERN_OK;
}

/* Self-check pattern: distinct per byte and position, never all 0x00 or 0xFF. */
static uint8_t check_pattern(uint32_t i)
{
    return (uint8_t)(0xA5u ^ (i * 7u) ^ (i >> 8));
}

tern_err_t tern_flash_selfcheck(const tern_flash_t *f, uint32_t addr)
{
    enum { CHUNK = 64 };
    uint8_t buf[CHUNK];
    tern_flash_geometry_t g;
    tern_err_t err = tern_flash_geometry(f, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (g.prog_size == 0 || g.prog_size > CHUNK || CHUNK % g.prog_size != 0) {
        return TERN_ERR_UNSUPPORTED;
    }
    if ((err = tern_flash_erase(f, addr)) != TERN_OK) {
        return err;
    }
    /* Erased means all 0xFF, then program a pattern chunk by chunk, then verify. */
    for (uint32_t off = 0; off < g.sector_size; off += CHUNK) {
        uint32_t n = g.sector_size - off < CHUNK ? g.sector_size - off : CHUNK;
        if ((err = tern_flash_read(f, addr + off, buf, n)) != TERN_OK) {
            return err;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (buf[i] != 0xFFu) {
                return TERN_ERR_CORRUPT;
            }
            buf[i] = check_pattern(off + i);
        }
        n -= n % g.prog_size;
        if ((err = tern_flash_program(f, addr + off, buf, n)) != TERN_OK) {
            return err;
        }
    }
    for (uint32_t off = 0; off < g.sector_size; off += CHUNK) {
        uint32_t n = g.sector_size - off < CHUNK ? g.sector_size - off : CHUNK;
        n -= n % g.prog_size;
        if ((err = tern_flash_read(f, addr + off, buf, n)) != TERN_OK) {
            return err;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (buf[i] != check_pattern(off + i)) {
                return TERN_ERR_CORRUPT;
            }
        }
    }
    /* The NOR rule: setting a cleared bit must be refused and change nothing. */
    memset(buf, 0xFF, g.prog_size);
    err = tern_flash_program(f, addr, buf, g.prog_size);
    if (err != TERN_ERR_FLASH_NOR) {
        return err == TERN_OK ? TERN_ERR_CORRUPT : err;
    }
    if ((err = tern_flash_read(f, addr, buf, 1)) != TERN_OK) {
        return err;
    }
    if (buf[0] != check_pattern(0)) {
        return TERN_ERR_CORRUPT;
    }
    return tern_flash_erase(f, addr);
}

/* --------------------------------------------------- gpio, i2c, spi, uart -- */

tern_err_t tern_gpio_configure(const tern_gpio_t *g, uint32_t pin, tern_gpio_mode_t mode)
{
    if (!g || !g->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK((unsigned)mode <= (unsigned)TERN_GPIO_OUTPUT_OPEN_DRAIN, TERN_ERR_INVAL);
    return g->ops->configure(g->ctx, pin, mode);
}

tern_err_t tern_gpio_write(const tern_gpio_t *g, uint32_t pin, bool level)
{
    if (!g || !g->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    return g->ops->write(g->ctx, pin, level);
}

tern_err_t tern_gpio_read(const tern_gpio_t *g, uint32_t pin, bool *level)
{
    if (!g || !g->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(level != NULL, TERN_ERR_INVAL);
    return g->ops->read(g->ctx, pin, level);
}

tern_err_t tern_i2c_transfer(const tern_i2c_t *bus, uint8_t addr7, const uint8_t *tx, size_t tx_len,
                             uint8_t *rx, size_t rx_len)
{
    if (!bus || !bus->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(addr7 < 0x80u, TERN_ERR_INVAL);
    CHECK((tx != NULL || tx_len == 0) && (rx != NULL || rx_len == 0), TERN_ERR_INVAL);
    return bus->ops->transfer(bus->ctx, addr7, tx, tx_len, rx, rx_len);
}

tern_err_t tern_spi_transfer(const tern_spi_t *bus, uint32_t cs, const uint8_t *tx, uint8_t *rx,
                             size_t len)
{
    if (!bus || !bus->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    return bus->ops->transfer(bus->ctx, cs, tx, rx, len);
}

tern_err_t tern_uart_write(const tern_uart_t *u, const void *buf, size_t len, size_t *written)
{
    if (!u || !u->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(written != NULL && (buf != NULL || len == 0), TERN_ERR_INVAL);
    return u->ops->write(u->ctx, buf, len, written);
}

tern_err_t tern_uart_read(const tern_uart_t *u, void *buf, size_t cap, size_t *got)
{
    if (!u || !u->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(got != NULL && (buf != NULL || cap == 0), TERN_ERR_INVAL);
    return u->ops->read(u->ctx, buf, cap, got);
}

/* ------------------------------------------- reset, watchdog, critical -- */

tern_reset_reason_t tern_reset_reason(const tern_reset_t *r)
{
    return (r && r->ops) ? r->ops->reason(r->ctx) : TERN_RESET_UNKNOWN;
}

void tern_reset_reboot(const tern_reset_t *r, tern_reset_reason_t why)
{
    if (r && r->ops) {
        r->ops->reboot(r->ctx, why);
    }
}

const char *tern_reset_reason_str(tern_reset_reason_t why)
{
    static const char *const names[] = {
        [TERN_RESET_UNKNOWN] = "unknown",   [TERN_RESET_POWER_ON] = "power-on",
        [TERN_RESET_BROWNOUT] = "brownout", [TERN_RESET_PIN] = "pin",
        [TERN_RESET_WATCHDOG] = "watchdog", [TERN_RESET_SOFTWARE] = "software",
        [TERN_RESET_FAULT] = "fault",
    };
    return ((unsigned)why < sizeof names / sizeof names[0]) ? names[why] : "unknown";
}

tern_err_t tern_watchdog_start(const tern_watchdog_t *w, uint32_t timeout_ms)
{
    if (!w || !w->ops) {
        return TERN_ERR_UNSUPPORTED;
    }
    CHECK(timeout_ms > 0, TERN_ERR_INVAL);
    return w->ops->start(w->ctx, timeout_ms);
}

void tern_watchdog_feed(const tern_watchdog_t *w)
{
    if (w && w->ops) {
        w->ops->feed(w->ctx);
    }
}

uint32_t tern_critical_enter(const tern_critical_t *c)
{
    return (c && c->ops) ? c->ops->enter(c->ctx) : 0u;
}

void tern_critical_exit(const tern_critical_t *c, uint32_t state)
{
    if (c && c->ops) {
        c->ops->exit(c->ctx, state);
    }
}

/* ---------------------------------------------------------------- board -- */

size_t tern_hal_describe(const tern_hal_t *hal, tern_hal_visit_fn visit, void *arg)
{
    /* Every ops table starts with its name, so one cast serves all members. */
    const struct {
        const char *member;
        const void *ops;
    } rows[] = {
        { "clock", hal->clock.ops },       { "rng", hal->rng.ops },
        { "flash", hal->flash.ops },       { "gpio", hal->gpio.ops },
        { "i2c", hal->i2c.ops },           { "spi", hal->spi.ops },
        { "uart", hal->uart.ops },         { "reset", hal->reset.ops },
        { "watchdog", hal->watchdog.ops }, { "critical", hal->critical.ops },
    };
    size_t n = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < n; i++) {
        visit(arg, rows[i].member, rows[i].ops ? *(const char *const *)rows[i].ops : NULL);
    }
    return n;
}
