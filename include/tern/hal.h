/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file hal.h
 * @brief Layer 1: the hardware abstraction every other layer runs on.
 *
 * Each peripheral is an *instance*: a pointer to a table of operations (const,
 * so it lives in flash on an MCU) plus a context pointer to the port's own
 * state. Nothing here is global, so one process can hold many devices, each
 * with its own clock, flash and links (the fleet simulator runs 100,000).
 *
 * Ports fill the ops tables (see ports/posix and ports/cortex-m); portable code
 * calls the tern_<peripheral>_<verb>() functions below, never the ops directly,
 * so argument checks live in one place. An instance whose ops is NULL is
 * absent; calls on it return TERN_ERR_UNSUPPORTED.
 *
 * Calls never sleep. Flash, I2C and SPI calls are short, bounded transactions
 * (a NOR sector erase is the longest, tens of ms on real parts); the UART is
 * fully non-blocking and moves only what fits right now.
 */
#ifndef TERN_HAL_H
#define TERN_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- clock -- */

/** Wall-clock time: UTC milliseconds since 1970, and whether it is known at all. */
typedef struct tern_walltime {
    int64_t unix_ms;
    bool known; /* false until set by SNTP, the cellular network, an RTC, ... */
} tern_walltime_t;

typedef struct tern_clock_ops {
    const char *name;
    /** Monotonic ms; never goes back, wraps at 2^32. */
    tern_ms_t (*now_ms)(void *ctx);
    /** UTC wall time; .known is false until something set it. */
    tern_walltime_t (*wall)(void *ctx);
    /** Set UTC wall time (from SNTP, cellular NITZ, a server's Date...). NULL if the port cannot.
     */
    tern_err_t (*set_wall)(void *ctx, int64_t unix_ms);
} tern_clock_ops_t;

typedef struct tern_clock {
    const tern_clock_ops_t *ops;
    void *ctx;
} tern_clock_t;

/** Monotonic milliseconds from @p c; 0 if the clock is absent. */
tern_ms_t tern_clock_now(const tern_clock_t *c);

/** UTC wall time from @p c; .known is false if unknown or the clock is absent. */
tern_walltime_t tern_clock_wall(const tern_clock_t *c);

/** Set the UTC wall time; TERN_ERR_UNSUPPORTED if the port has no settable wall clock. */
tern_err_t tern_clock_set_wall(const tern_clock_t *c, int64_t unix_ms);

/* ------------------------------------------------------------------ rng -- */

typedef struct tern_rng_ops {
    const char *name;
    /** Fill @p buf with @p len random bytes. */
    tern_err_t (*fill)(void *ctx, void *buf, size_t len);
} tern_rng_ops_t;

typedef struct tern_rng {
    const tern_rng_ops_t *ops;
    void *ctx;
} tern_rng_t;

/** Fill @p buf with @p len bytes from the RNG. */
tern_err_t tern_rng_fill(const tern_rng_t *r, void *buf, size_t len);

/** A uniform value in [0, bound) without modulo bias; TERN_ERR_INVAL if bound is 0. */
tern_err_t tern_rng_uniform(const tern_rng_t *r, uint32_t bound, uint32_t *out);

/* ---------------------------------------------------------------- flash -- */

/**
 * NOR flash geometry. Addresses are offsets from the start of this flash
 * instance (a whole chip or one partition of it), 0 .. size-1.
 */
typedef struct tern_flash_geometry {
    uint32_t size;        /* bytes; a multiple of sector_size */
    uint32_t sector_size; /* erase unit; erased bytes read 0xFF */
    uint32_t prog_size;   /* program unit: address and length of a program are multiples */
} tern_flash_geometry_t;

typedef struct tern_flash_ops {
    const char *name;
    void (*geometry)(void *ctx, tern_flash_geometry_t *g);
    tern_err_t (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
    /** NOR rule: a program can only clear bits (1 -> 0). */
    tern_err_t (*program)(void *ctx, uint32_t addr, const void *buf, size_t len);
    /** Erase the sector starting at @p addr to 0xFF. */
    tern_err_t (*erase)(void *ctx, uint32_t addr);
} tern_flash_ops_t;

typedef struct tern_flash {
    const tern_flash_ops_t *ops;
    void *ctx;
} tern_flash_t;

/** Geometry of @p f; TERN_ERR_UNSUPPORTED if absent. */
tern_err_t tern_flash_geometry(const tern_flash_t *f, tern_flash_geometry_t *g);

/** Read @p len bytes at @p addr. TERN_ERR_RANGE if outside the flash. */
tern_err_t tern_flash_read(const tern_flash_t *f, uint32_t addr, void *buf, size_t len);

/**
 * Program @p len bytes at @p addr. TERN_ERR_ALIGN unless both are multiples of
 * prog_size, TERN_ERR_RANGE if outside; the port reports TERN_ERR_FLASH_NOR if a
 * bit would have to go from 0 to 1.
 */
tern_err_t tern_flash_program(const tern_flash_t *f, uint32_t addr, const void *buf, size_t len);

/** Erase the sector starting at @p addr. TERN_ERR_ALIGN unless addr is sector-aligned. */
tern_err_t tern_flash_erase(const tern_flash_t *f, uint32_t addr);

/** Largest program unit tern_flash_program_padded() handles. */
#define TERN_FLASH_PAD_MAX 32u

/**
 * Program @p len bytes of any length at @p addr (a multiple of prog_size), the last
 * program unit padded with 0xFF: for records whose length is their own. Errors as
 * tern_flash_program(); TERN_ERR_UNSUPPORTED if prog_size exceeds TERN_FLASH_PAD_MAX.
 */
tern_err_t tern_flash_program_padded(const tern_flash_t *f, uint32_t addr, const void *buf,
                                     size_t len);

/** State of a partition made by tern_flash_partition(); the caller owns it. */
typedef struct tern_flash_part {
    tern_flash_t parent;
    uint32_t offset;
    uint32_t size;
} tern_flash_part_t;

/**
 * Make @p out a flash of @p size bytes starting at @p offset of @p parent
 * (outbox, crash store, OTA slot ...). Both must be sector-aligned and inside
 * the parent; @p part holds the state and must outlive @p out.
 */
tern_err_t tern_flash_partition(const tern_flash_t *parent, uint32_t offset, uint32_t size,
                                tern_flash_part_t *part, tern_flash_t *out);

/** Check a flash port: erase, program, read back and the NOR rule on the sector at @p addr
 * (destroys its content). */
tern_err_t tern_flash_selfcheck(const tern_flash_t *f, uint32_t addr);

/* ----------------------------------------------------------------- gpio -- */

typedef enum tern_gpio_mode {
    TERN_GPIO_INPUT,
    TERN_GPIO_INPUT_PULLUP,
    TERN_GPIO_INPUT_PULLDOWN,
    TERN_GPIO_OUTPUT,
    TERN_GPIO_OUTPUT_OPEN_DRAIN,
} tern_gpio_mode_t;

typedef struct tern_gpio_ops {
    const char *name;
    tern_err_t (*configure)(void *ctx, uint32_t pin, tern_gpio_mode_t mode);
    tern_err_t (*write)(void *ctx, uint32_t pin, bool level);
    tern_err_t (*read)(void *ctx, uint32_t pin, bool *level);
} tern_gpio_ops_t;

typedef struct tern_gpio {
    const tern_gpio_ops_t *ops;
    void *ctx;
} tern_gpio_t;

/** Set the direction and pull of @p pin. */
tern_err_t tern_gpio_configure(const tern_gpio_t *g, uint32_t pin, tern_gpio_mode_t mode);
/** Drive output @p pin high (true) or low. */
tern_err_t tern_gpio_write(const tern_gpio_t *g, uint32_t pin, bool level);
/** Sample @p pin into *level. */
tern_err_t tern_gpio_read(const tern_gpio_t *g, uint32_t pin, bool *level);

/* ------------------------------------------------------------------ i2c -- */

typedef struct tern_i2c_ops {
    const char *name;
    /** Write @p tx (may be empty) then, after a repeated start, read @p rx_len bytes (may be 0). */
    tern_err_t (*transfer)(void *ctx, uint8_t addr7, const uint8_t *tx, size_t tx_len, uint8_t *rx,
                           size_t rx_len);
} tern_i2c_ops_t;

typedef struct tern_i2c {
    const tern_i2c_ops_t *ops;
    void *ctx;
} tern_i2c_t;

/** One I2C transaction with the 7-bit address @p addr7; TERN_ERR_NACK if nobody answers. */
tern_err_t tern_i2c_transfer(const tern_i2c_t *bus, uint8_t addr7, const uint8_t *tx, size_t tx_len,
                             uint8_t *rx, size_t rx_len);

/* ------------------------------------------------------------------ spi -- */

typedef struct tern_spi_ops {
    const char *name;
    /** Full duplex: clock out @p tx (NULL sends 0xFF) while clocking into @p rx (NULL discards). */
    tern_err_t (*transfer)(void *ctx, uint32_t cs, const uint8_t *tx, uint8_t *rx, size_t len);
} tern_spi_ops_t;

typedef struct tern_spi {
    const tern_spi_ops_t *ops;
    void *ctx;
} tern_spi_t;

/** One SPI transaction of @p len bytes with chip select @p cs asserted throughout. */
tern_err_t tern_spi_transfer(const tern_spi_t *bus, uint32_t cs, const uint8_t *tx, uint8_t *rx,
                             size_t len);

/* ----------------------------------------------------------------- uart -- */

typedef struct tern_uart_ops {
    const char *name;
    /** Queue up to @p len bytes; *written gets how many were taken (0 if the FIFO is full). */
    tern_err_t (*write)(void *ctx, const void *buf, size_t len, size_t *written);
    /** Take up to @p cap received bytes; *got gets how many (0 if none). */
    tern_err_t (*read)(void *ctx, void *buf, size_t cap, size_t *got);
} tern_uart_ops_t;

typedef struct tern_uart {
    const tern_uart_ops_t *ops;
    void *ctx;
} tern_uart_t;

/** Non-blocking write: *written (may be fewer than len) says how much was taken. */
tern_err_t tern_uart_write(const tern_uart_t *u, const void *buf, size_t len, size_t *written);
/** Non-blocking read: *got says how much arrived (0 is normal). */
tern_err_t tern_uart_read(const tern_uart_t *u, void *buf, size_t cap, size_t *got);

/* ---------------------------------------------------------------- reset -- */

typedef enum tern_reset_reason {
    TERN_RESET_UNKNOWN = 0,
    TERN_RESET_POWER_ON,
    TERN_RESET_BROWNOUT,
    TERN_RESET_PIN,
    TERN_RESET_WATCHDOG,
    TERN_RESET_SOFTWARE,
    TERN_RESET_FAULT,
} tern_reset_reason_t;

typedef struct tern_reset_ops {
    const char *name;
    /** Why the device last started. */
    tern_reset_reason_t (*reason)(void *ctx);
    /** Restart the device, recording @p why for the next boot's reason(). Does not return on
     * hardware. */
    void (*reboot)(void *ctx, tern_reset_reason_t why);
} tern_reset_ops_t;

typedef struct tern_reset {
    const tern_reset_ops_t *ops;
    void *ctx;
} tern_reset_t;

/** The reason of the last reset; TERN_RESET_UNKNOWN if the port cannot tell. */
tern_reset_reason_t tern_reset_reason(const tern_reset_t *r);
/** Reboot, recording @p why. */
void tern_reset_reboot(const tern_reset_t *r, tern_reset_reason_t why);
/** "power-on", "watchdog", ... for logs. */
const char *tern_reset_reason_str(tern_reset_reason_t why);

/* ------------------------------------------------------------- watchdog -- */

typedef struct tern_watchdog_ops {
    const char *name;
    /** Arm with @p timeout_ms; on most hardware it cannot be stopped again. */
    tern_err_t (*start)(void *ctx, uint32_t timeout_ms);
    /** Restart the countdown. */
    void (*feed)(void *ctx);
} tern_watchdog_ops_t;

typedef struct tern_watchdog {
    const tern_watchdog_ops_t *ops;
    void *ctx;
} tern_watchdog_t;

/** Arm the watchdog with @p timeout_ms. */
tern_err_t tern_watchdog_start(const tern_watchdog_t *w, uint32_t timeout_ms);
/** Feed it; a no-op if absent. */
void tern_watchdog_feed(const tern_watchdog_t *w);

/* ------------------------------------------------------ critical section -- */

typedef struct tern_critical_ops {
    const char *name;
    /** Mask interrupts (or signals); returns the state to hand to exit, so sections nest. */
    uint32_t (*enter)(void *ctx);
    void (*exit)(void *ctx, uint32_t state);
} tern_critical_ops_t;

typedef struct tern_critical {
    const tern_critical_ops_t *ops;
    void *ctx;
} tern_critical_t;

/** Enter a critical section; pass the result to tern_critical_exit(). Nests. */
uint32_t tern_critical_enter(const tern_critical_t *c);
/** Leave the section entered with @p state. */
void tern_critical_exit(const tern_critical_t *c, uint32_t state);

/* ---------------------------------------------------------------- board -- */

/** Everything one device has. Members a board lacks stay zero (ops == NULL). */
typedef struct tern_hal {
    tern_clock_t clock;
    tern_rng_t rng;
    tern_flash_t flash;
    tern_gpio_t gpio;
    tern_i2c_t i2c;
    tern_spi_t spi;
    tern_uart_t uart;
    tern_reset_t reset;
    tern_watchdog_t watchdog;
    tern_critical_t critical;
} tern_hal_t;

/** Called by tern_hal_describe() once per member: its name ("clock") and its port's name, NULL if
 * absent. */
typedef void (*tern_hal_visit_fn)(void *arg, const char *member, const char *port_name);

/** Report every member of @p hal to @p visit, in declaration order; returns how many members there
 * are. */
size_t tern_hal_describe(const tern_hal_t *hal, tern_hal_visit_fn visit, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TERN_HAL_H */
