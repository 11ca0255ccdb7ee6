/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cm_internal.h
 * @brief Registers of the Cortex-M4 and the MPS2 AN386 board, and the calls
 * the port's files make to each other. Not installed.
 */
#ifndef TERN_CM_INTERNAL_H
#define TERN_CM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tern/port/cortex_m.h"

/** A 32-bit memory-mapped register. */
#define CM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block and SysTick (Armv7-M ARM, B3.2 and B3.3). */
#define CM_SYST_CSR  CM_REG(0xE000E010u)
#define CM_SYST_RVR  CM_REG(0xE000E014u)
#define CM_SYST_CVR  CM_REG(0xE000E018u)
#define CM_SCB_AIRCR CM_REG(0xE000ED0Cu)
#define CM_SCB_CCR   CM_REG(0xE000ED14u)
#define CM_SCB_SHPR3 CM_REG(0xE000ED20u)
#define CM_SCB_CFSR  CM_REG(0xE000ED28u)
#define CM_SCB_HFSR  CM_REG(0xE000ED2Cu)
#define CM_SCB_MMFAR CM_REG(0xE000ED34u)
#define CM_SCB_BFAR  CM_REG(0xE000ED38u)
#define CM_SCB_CPACR CM_REG(0xE000ED88u)

#define CM_SYST_CSR_ENABLE      (1u << 0)
#define CM_SYST_CSR_TICKINT     (1u << 1)
#define CM_SYST_CSR_CLKSOURCE   (1u << 2) /* processor clock */
#define CM_AIRCR_VECTKEY        (0x05FAu << 16)
#define CM_AIRCR_PRIGROUP_MASK  (7u << 8)
#define CM_AIRCR_SYSRESETREQ    (1u << 2)
#define CM_CCR_DIV_0_TRP        (1u << 4)
#define CM_CPACR_CP10_CP11_FULL (0xFu << 20)

/* MPS2 FPGA I/O block: free-running counters the tests compare SysTick against. */
#define CM_FPGAIO_CLK100HZ CM_REG(0x40028014u)
#define CM_FPGAIO_COUNTER  CM_REG(0x40028018u)

/** Mask interrupts; returns the previous PRIMASK for cm_irq_restore(). */
static inline uint32_t cm_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

/** Put PRIMASK back to what cm_irq_save() returned. */
static inline void cm_irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" : : "r"(primask) : "memory");
}

/* Exception handlers named in the vector table (startup.c). */
void Reset_Handler(void) __attribute__((noreturn));
void NMI_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

/** The C half of the fault handler: @p frame is the stacked r0..xpsr. */
void cm_fault_capture(uint32_t *frame, uint32_t exc_return);

/** Set up UART0 as the console (before main). */
void cm_console_init(void);

/** Take up to @p cap bytes the console has received, without waiting; returns how many. */
size_t cm_console_read(void *buf, size_t cap);

/** Work out why this boot happened from the .noinit record (before main). */
void cm_reset_latch(void);

/** Record @p why as the reason the next boot reports. */
void cm_reset_record(tern_reset_reason_t why);

/** Restart the board now through AIRCR.SYSRESETREQ. */
void cm_reset_now(void) __attribute__((noreturn));

/* The HAL devices; tern_cm_board_init() puts them in a tern_hal_t (ctx is NULL for all). */
extern const tern_clock_ops_t cm_clock_ops;
extern const tern_rng_ops_t cm_rng_ops;
extern const tern_gpio_ops_t cm_gpio_ops;
extern const tern_uart_ops_t cm_uart_ops;
extern const tern_reset_ops_t cm_reset_ops;
extern const tern_watchdog_ops_t cm_watchdog_ops;
extern const tern_critical_ops_t cm_critical_ops;

/** Start SysTick at 1 kHz (once). */
void cm_clock_start(void);

/** Seed the RNG (once). */
void cm_rng_seed(void);

/** Set up the flash simulator over the .noinit array (once; formats it on a cold boot) and return
 * it. */
tern_err_t cm_flash_init(tern_flash_t *flash);

#endif /* TERN_CM_INTERNAL_H */
