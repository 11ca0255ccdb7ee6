/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix.h
 * @brief The POSIX (Linux host) port: real and virtual clocks, RNGs, a NOR flash
 * in RAM or in a file, in-memory doubles of every peripheral, and a board that
 * bundles one of each into a tern_hal_t.
 *
 * Everything is an instance the caller owns; there is no global state, so one
 * process can run many devices (the fleet simulator runs 100,000). Each thing
 * has an init/open call and a *_hal() call that returns the HAL instance
 * pointing at it; the instance stays valid as long as the state it points to.
 * The doubles also have test-side calls (drive an input, inject UART bytes,
 * read the I2C log ...) so drivers written against tern/hal.h can be tested.
 * Instances are not thread-safe: one device, one thread at a time.
 */
#ifndef TERN_PORT_POSIX_H
#define TERN_PORT_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/hal.h"
#include "tern/ring.h"
#include "tern_norsim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- clock -- */

/** Real clock: CLOCK_MONOTONIC since init, CLOCK_REALTIME for the wall. Fields are private. */
typedef struct tern_posix_clock {
    int64_t origin_ms;      /* CLOCK_MONOTONIC at init */
    uint32_t start_ms;      /* what now_ms() reads at init */
    int64_t wall_offset_ms; /* added to CLOCK_REALTIME by set_wall */
} tern_posix_clock_t;

/**
 * Start @p c so its monotonic time reads @p start_ms now (pick 0xFFFFF000 to cross the 2^32 wrap
 * within seconds).
 */
void tern_posix_clock_init(tern_posix_clock_t *c, uint32_t start_ms);

/** The HAL clock backed by @p c: wall time is always known (the host's), set_wall shifts it. */
tern_clock_t tern_posix_clock_hal(tern_posix_clock_t *c);

/** Virtual clock: time moves only when the test says so. Fields are private. */
typedef struct tern_posix_vclock {
    uint64_t elapsed_ms; /* virtual time since init, never wraps */
    uint32_t start_ms;
    bool wall_known;
    int64_t wall_base_ms; /* wall time minus elapsed_ms, once known */
} tern_posix_vclock_t;

/** Start @p vc at monotonic time @p start_ms with the wall time unknown. */
void tern_posix_vclock_init(tern_posix_vclock_t *vc, uint32_t start_ms);

/** Move virtual time forward by @p ms; the wall time (once set) moves with it. */
void tern_posix_vclock_advance(tern_posix_vclock_t *vc, uint32_t ms);

/**
 * Move virtual time forward until now_ms() reads @p now_ms (taken mod 2^32, so it never goes back).
 */
void tern_posix_vclock_set(tern_posix_vclock_t *vc, tern_ms_t now_ms);

/** Monotonic ms of @p vc, the same value its HAL clock reports. */
tern_ms_t tern_posix_vclock_now(const tern_posix_vclock_t *vc);

/** The HAL clock backed by @p vc: wall unknown until set_wall, then advancing with virtual time. */
tern_clock_t tern_posix_vclock_hal(tern_posix_vclock_t *vc);

/* ------------------------------------------------------------------ rng -- */

/** The OS RNG (getrandom(2)); stateless, fill returns TERN_ERR_IO if the kernel refuses. */
tern_rng_t tern_posix_rng_hal(void);

/** A seeded deterministic RNG (PCG32): the same seed gives the same bytes. Fields are private. */
typedef struct tern_posix_prng {
    uint64_t state;
    uint64_t inc;
} tern_posix_prng_t;

/**
 * Seed @p p; @p seed picks both the start state and the stream, so nearby seeds do not correlate.
 */
void tern_posix_prng_init(tern_posix_prng_t *p, uint64_t seed);

/**
 * The next 32 random bits of @p p (the same sequence the HAL fill hands out, 4 bytes at a time).
 */
uint32_t tern_posix_prng_next(tern_posix_prng_t *p);

/** The HAL RNG backed by @p p. */
tern_rng_t tern_posix_prng_hal(tern_posix_prng_t *p);

/* ---------------------------------------------------------------- flash -- */

/** Where a POSIX flash keeps its bytes and how it is shaped. */
typedef struct tern_posix_flash_config {
    tern_norsim_config_t sim; /* geometry, flags, endurance, seed */
    /* File backing: the image file, created and filled with 0xFF when new or
     * empty, reused (content kept) when it has exactly sim.size bytes. NULL for RAM. */
    const char *path;
    /* RAM backing: sim.size caller-owned bytes used as they are (the caller
     * keeps them across "reboots"), or NULL to allocate a blank (0xFF) image. */
    void *mem;
} tern_posix_flash_config_t;

/** A NOR flash on the norsim, in RAM or mmap'd from a file. Fields are private. */
typedef struct tern_posix_flash {
    tern_norsim_t sim;
    uint8_t *mem;
    uint32_t *erase_counts; /* RAM only: wear is not persisted in the file */
    bool mapped;            /* mem is an mmap of the file */
    bool owns_mem;          /* mem was malloc'd here */
} tern_posix_flash_t;

/**
 * Open @p f as configured by @p cfg (copied). Erase counts start at 0 and live in
 * RAM only. TERN_ERR_INVAL on a bad geometry or an existing file of another
 * size, TERN_ERR_IO if the OS refuses the file or memory. Close with tern_posix_flash_close().
 */
tern_err_t tern_posix_flash_open(tern_posix_flash_t *f, const tern_posix_flash_config_t *cfg);

/**
 * Release what open took (mapping, allocations); a file keeps its content. Safe on a closed or
 * zeroed @p f.
 */
void tern_posix_flash_close(tern_posix_flash_t *f);

/** The HAL flash backed by @p f (the norsim's "norsim" ops). */
tern_flash_t tern_posix_flash_hal(tern_posix_flash_t *f);

/** The simulator under @p f, to cut power, reboot, or read wear and statistics. */
tern_norsim_t *tern_posix_flash_sim(tern_posix_flash_t *f);

/* ----------------------------------------------------------------- gpio -- */

/** Pins a GPIO double can have. */
#define TERN_POSIX_GPIO_MAX_PINS 64u

/** GPIO double: pins start as floating inputs. Fields are private (one bit per pin). */
typedef struct tern_posix_gpio {
    uint32_t npins;
    uint64_t output, open_drain, pull_up, pull_down; /* mode */
    uint64_t out_level;                              /* what the device drives */
    uint64_t ext_driven, ext_level;                  /* what the test drives */
    uint32_t writes;
} tern_posix_gpio_t;

/**
 * Set up @p g with @p npins pins (1..TERN_POSIX_GPIO_MAX_PINS, else TERN_ERR_INVAL), all floating
 * inputs.
 */
tern_err_t tern_posix_gpio_init(tern_posix_gpio_t *g, uint32_t npins);

/**
 * The HAL GPIO backed by @p g: pin >= npins is TERN_ERR_RANGE, writing a non-output TERN_ERR_STATE.
 */
tern_gpio_t tern_posix_gpio_hal(tern_posix_gpio_t *g);

/**
 * Test side: drive @p pin from outside to @p level (it wins over pulls, loses to a push-pull
 * output).
 */
tern_err_t tern_posix_gpio_drive(tern_posix_gpio_t *g, uint32_t pin, bool level);

/** Test side: stop driving @p pin; it floats again (pull-up reads high, else low). */
tern_err_t tern_posix_gpio_release(tern_posix_gpio_t *g, uint32_t pin);

/**
 * Test side: the level on @p pin's wire as anything outside sees it. A push-pull
 * output gives its level; an open-drain output low, or when released the
 * external level (high if nothing drives it: the bus pull-up); an input the
 * external level, else its pull (floating reads low). False for pins out of range.
 */
bool tern_posix_gpio_level(const tern_posix_gpio_t *g, uint32_t pin);

/** Test side: the mode @p pin was last configured to (TERN_GPIO_INPUT if never). */
tern_gpio_mode_t tern_posix_gpio_mode(const tern_posix_gpio_t *g, uint32_t pin);

/** Test side: how many successful writes the device made, to any pin. */
uint32_t tern_posix_gpio_writes(const tern_posix_gpio_t *g);

/* ------------------------------------------------------------------ i2c -- */

/** An I2C register-file device: 256 8-bit registers behind an auto-incrementing pointer. */
typedef struct tern_posix_i2c_dev {
    struct tern_posix_i2c_dev *next; /* private: bus list */
    uint8_t addr7;                   /* private */
    uint8_t ptr;                     /* register pointer (the test may read or set it) */
    uint8_t regs[256];               /* the registers: the test reads and writes them directly */
} tern_posix_i2c_dev_t;

/** Written bytes a log entry keeps. */
#define TERN_POSIX_I2C_LOG_BYTES 8u

/** One logged transfer; tx holds its first TERN_POSIX_I2C_LOG_BYTES written bytes. */
typedef struct tern_posix_i2c_log_entry {
    uint8_t addr7;
    tern_err_t result;
    uint16_t tx_len, rx_len; /* full lengths (saturated at 65535) */
    uint8_t tx[TERN_POSIX_I2C_LOG_BYTES];
} tern_posix_i2c_log_entry_t;

/** I2C bus double. Fields are private. */
typedef struct tern_posix_i2c {
    tern_posix_i2c_dev_t *devs;
    tern_posix_i2c_log_entry_t *log; /* caller-owned, may be NULL */
    uint32_t log_cap, log_len;
    uint32_t transfers; /* all transfers since init or log_clear, NACKed ones too */
} tern_posix_i2c_t;

/** An empty bus: every address NACKs until a device is attached. No log. */
void tern_posix_i2c_init(tern_posix_i2c_t *bus);

/** The HAL I2C backed by @p bus. */
tern_i2c_t tern_posix_i2c_hal(tern_posix_i2c_t *bus);

/** Set up @p dev at 7-bit @p addr7 with all registers and the pointer 0. The caller owns it. */
void tern_posix_i2c_dev_init(tern_posix_i2c_dev_t *dev, uint8_t addr7);

/**
 * Put @p dev on @p bus (it must outlive its attachment). TERN_ERR_INVAL for addr7 > 0x7F,
 * TERN_ERR_BUSY if the address is taken.
 */
tern_err_t tern_posix_i2c_attach(tern_posix_i2c_t *bus, tern_posix_i2c_dev_t *dev);

/** Take @p dev off @p bus (its address NACKs again); TERN_ERR_NOT_FOUND if it was not attached. */
tern_err_t tern_posix_i2c_detach(tern_posix_i2c_t *bus, tern_posix_i2c_dev_t *dev);

/**
 * Log the next transfers into caller-owned @p entries (@p cap of them; later ones only counted).
 * Clears the log.
 */
void tern_posix_i2c_log_attach(tern_posix_i2c_t *bus, tern_posix_i2c_log_entry_t *entries,
                               uint32_t cap);

/** Forget logged entries and the transfer count. */
void tern_posix_i2c_log_clear(tern_posix_i2c_t *bus);

/** The @p i-th logged transfer (0 = oldest), or NULL past the end of the log. */
const tern_posix_i2c_log_entry_t *tern_posix_i2c_log_get(const tern_posix_i2c_t *bus, uint32_t i);

/** Transfers since init or the last clear, logged or not. */
uint32_t tern_posix_i2c_transfers(const tern_posix_i2c_t *bus);

/* ------------------------------------------------------------------ spi -- */

/** Chip selects a SPI double has (0 .. TERN_POSIX_SPI_MAX_CS-1). */
#define TERN_POSIX_SPI_MAX_CS 4u

/** A SPI device: records what it is sent, answers from a script. Fields are private. */
typedef struct tern_posix_spi_dev {
    tern_ring_t mosi; /* recorded bytes the device received */
    tern_ring_t miso; /* scripted answer bytes */
    uint32_t transfers;
} tern_posix_spi_dev_t;

/** SPI bus double. Fields are private. */
typedef struct tern_posix_spi {
    tern_posix_spi_dev_t *cs[TERN_POSIX_SPI_MAX_CS];
} tern_posix_spi_t;

/** An empty bus: a chip select with no device answers 0xFF and records nothing. */
void tern_posix_spi_init(tern_posix_spi_t *bus);

/** The HAL SPI backed by @p bus: cs >= TERN_POSIX_SPI_MAX_CS is TERN_ERR_RANGE. */
tern_spi_t tern_posix_spi_hal(tern_posix_spi_t *bus);

/**
 * Set up @p dev recording up to @p mosi_cap sent bytes in @p mosi_buf and holding up to
 * @p miso_cap scripted answers in @p miso_buf (caller-owned). TERN_ERR_INVAL if a buffer
 * is NULL or a capacity 0. A transfer that would overflow the record fails with TERN_ERR_FULL.
 */
tern_err_t tern_posix_spi_dev_init(tern_posix_spi_dev_t *dev, void *mosi_buf, size_t mosi_cap,
                                   void *miso_buf, size_t miso_cap);

/**
 * Put @p dev on chip select @p cs of @p bus (replacing any); NULL detaches. TERN_ERR_RANGE for a
 * bad cs.
 */
tern_err_t tern_posix_spi_attach(tern_posix_spi_t *bus, uint32_t cs, tern_posix_spi_dev_t *dev);

/**
 * Test side: queue @p len MISO answer bytes; TERN_ERR_FULL (nothing queued) if they do not fit.
 * Empty script answers 0xFF.
 */
tern_err_t tern_posix_spi_dev_script(tern_posix_spi_dev_t *dev, const void *data, size_t len);

/** Test side: move up to @p cap recorded MOSI bytes into @p out, oldest first; returns how many. */
size_t tern_posix_spi_dev_take(tern_posix_spi_dev_t *dev, void *out, size_t cap);

/** Test side: transfers addressed to @p dev since its init. */
uint32_t tern_posix_spi_dev_transfers(const tern_posix_spi_dev_t *dev);

/* ----------------------------------------------------------------- uart -- */

/** UART double: a TX ring the test drains and an RX ring the test fills. Fields are private. */
typedef struct tern_posix_uart {
    tern_ring_t tx;
    tern_ring_t rx;
    struct tern_posix_uart *peer; /* wired back to back: our TX lands in its RX */
} tern_posix_uart_t;

/**
 * Set up @p u over caller-owned rings (the capacities are the FIFO depths the device sees).
 * TERN_ERR_INVAL if a buffer is NULL or a capacity 0.
 */
tern_err_t tern_posix_uart_init(tern_posix_uart_t *u, void *tx_buf, size_t tx_cap, void *rx_buf,
                                size_t rx_cap);

/**
 * The HAL UART backed by @p u: writes take what fits (in the peer's RX when wired), reads take what
 * arrived.
 */
tern_uart_t tern_posix_uart_hal(tern_posix_uart_t *u);

/** Test side: deliver up to @p len bytes to the device's RX; returns how many fitted. */
size_t tern_posix_uart_inject(tern_posix_uart_t *u, const void *data, size_t len);

/** Test side: take up to @p cap bytes the device transmitted; returns how many. */
size_t tern_posix_uart_drain(tern_posix_uart_t *u, void *out, size_t cap);

/**
 * Wire @p a and @p b back to back (each one's TX feeds the other's RX). TERN_ERR_STATE if either is
 * wired already, TERN_ERR_INVAL if a == b.
 */
tern_err_t tern_posix_uart_pair(tern_posix_uart_t *a, tern_posix_uart_t *b);

/** Cut the wire between @p u and its peer (a no-op if not wired). */
void tern_posix_uart_unpair(tern_posix_uart_t *u);

/* ---------------------------------------------------------------- reset -- */

/** Reset double: remembers the reboot the device asked for. Fields are private. */
typedef struct tern_posix_reset {
    tern_reset_reason_t reason;    /* what this boot reports */
    tern_reset_reason_t requested; /* what the last reboot() asked for */
    bool pending;                  /* reboot() called since the last boot */
    uint32_t reboots;
} tern_posix_reset_t;

/** Start @p r as if the device just booted for @p reason. */
void tern_posix_reset_init(tern_posix_reset_t *r, tern_reset_reason_t reason);

/**
 * The HAL reset backed by @p r: reboot() returns (the host cannot reset), recording the request.
 */
tern_reset_t tern_posix_reset_hal(tern_posix_reset_t *r);

/**
 * Test or simulator side: the device boots again; it reports the requested reason, or power-on if
 * none. Returns the reason.
 */
tern_reset_reason_t tern_posix_reset_boot(tern_posix_reset_t *r);

/**
 * True if reboot() was called since the last boot; *why (may be NULL) gets the requested reason.
 */
bool tern_posix_reset_pending(const tern_posix_reset_t *r, tern_reset_reason_t *why);

/** How many times reboot() was called since init. */
uint32_t tern_posix_reset_count(const tern_posix_reset_t *r);

/* ------------------------------------------------------------- watchdog -- */

/** Watchdog double timed by a HAL clock. Fields are private. */
typedef struct tern_posix_watchdog {
    tern_clock_t clock;
    uint32_t timeout_ms;
    tern_ms_t last_feed;
    bool started;
} tern_posix_watchdog_t;

/** Set up @p w, not started, timed by @p clock (copied; its state must outlive @p w). */
void tern_posix_watchdog_init(tern_posix_watchdog_t *w, const tern_clock_t *clock);

/** The HAL watchdog backed by @p w: start() may be called again to change the timeout. */
tern_watchdog_t tern_posix_watchdog_hal(tern_posix_watchdog_t *w);

/** True if started and @p w was not fed within its timeout (by its clock, now). */
bool tern_posix_watchdog_expired(const tern_posix_watchdog_t *w);

/* ------------------------------------------------------ critical section -- */

/**
 * Critical section that blocks every blockable signal of the calling thread. Fields are private.
 */
typedef struct tern_posix_critical {
    uint64_t saved; /* signals 1..64 blocked before the outermost enter */
    uint32_t depth;
} tern_posix_critical_t;

/** Set up @p c, outside any section. */
void tern_posix_critical_init(tern_posix_critical_t *c);

/**
 * The HAL critical section backed by @p c: enter returns the nesting depth before it, exit restores
 * the mask at depth 0.
 */
tern_critical_t tern_posix_critical_hal(tern_posix_critical_t *c);

/** Current nesting depth (0 outside any section). */
uint32_t tern_posix_critical_depth(const tern_posix_critical_t *c);

/* ---------------------------------------------------------------- board -- */

typedef enum tern_posix_clock_kind {
    TERN_POSIX_CLOCK_REAL,     /* tern_posix_clock_t */
    TERN_POSIX_CLOCK_VIRTUAL,  /* tern_posix_vclock_t of the board's own */
    TERN_POSIX_CLOCK_EXTERNAL, /* the config's clock, e.g. one virtual clock shared by a fleet */
} tern_posix_clock_kind_t;

/** How to build a board; tern_posix_board_config_default() gives a working one. */
typedef struct tern_posix_board_config {
    tern_posix_clock_kind_t clock;
    uint32_t clock_start_ms;     /* REAL and VIRTUAL */
    tern_clock_t external_clock; /* EXTERNAL: copied, its state must outlive the board */
    bool rng_seeded;             /* true: deterministic PCG32 from rng_seed; false: getrandom */
    uint64_t rng_seed;
    tern_posix_flash_config_t flash; /* flash.sim.size 0: the board has no flash */
    uint32_t gpio_pins;              /* 0: no GPIO */
    size_t uart_tx_cap, uart_rx_cap; /* both 0: no UART */
    tern_reset_reason_t reset_reason;
} tern_posix_board_config_t;

/**
 * A whole device of doubles. The members are public so a test can drive them;
 * hal points into the struct, so a board must not be moved or copied once open.
 */
typedef struct tern_posix_board {
    union {
        tern_posix_clock_t real;
        tern_posix_vclock_t virt;
    } clock;
    tern_posix_prng_t prng;
    tern_posix_flash_t flash;
    tern_posix_gpio_t gpio;
    tern_posix_i2c_t i2c;
    tern_posix_spi_t spi;
    tern_posix_uart_t uart;
    uint8_t *uart_mem; /* private: the rings' storage */
    tern_posix_reset_t reset;
    tern_posix_watchdog_t watchdog;
    tern_posix_critical_t critical;
    tern_hal_t hal;
} tern_posix_board_t;

/**
 * Fill @p cfg with a usable default: real clock, getrandom, 64 KiB RAM flash of 4 KiB sectors, 16
 * pins, 256-byte UART FIFOs, power-on.
 */
void tern_posix_board_config_default(tern_posix_board_config_t *cfg);

/**
 * Build every double of @p b as @p cfg says and point b->hal at them. I2C and SPI start
 * with no devices (attach them to b->i2c / b->spi). Errors as tern_posix_flash_open();
 * on error nothing stays allocated. Close with tern_posix_board_close().
 */
tern_err_t tern_posix_board_open(tern_posix_board_t *b, const tern_posix_board_config_t *cfg);

/** Release what open took; the flash file, if any, keeps its content. */
void tern_posix_board_close(tern_posix_board_t *b);

/** The HAL of @p b, valid until close. */
const tern_hal_t *tern_posix_board_hal(const tern_posix_board_t *b);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_H */
