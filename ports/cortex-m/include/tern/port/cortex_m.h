/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cortex_m.h
 * @brief The Cortex-M port: Arm's MPS2 board with the AN386 image (Cortex-M4F),
 * as qemu-system-arm emulates it (`-M mps2-an386`).
 *
 * What the board gives the HAL (see ports/cortex-m/README.md for the details):
 *  - clock: SysTick at 1 kHz from the 25 MHz system clock; wall time unknown until set;
 *  - rng: xorshift64*, seeded from timer jitter. NOT cryptographic;
 *  - flash: 64 KiB of RAM in .noinit driven by tern_norsim (survives warm resets);
 *  - uart: the CMSDK APB UART0 at 0x40004000, also the stdio console;
 *  - reset: reason recorded in .noinit; reboot through SCB AIRCR.SYSRESETREQ;
 *  - watchdog: the CMSDK APB watchdog at 0x40008000;
 *  - critical: PRIMASK save/restore;
 *  - gpio: the four CMSDK AHB GPIO blocks (QEMU does not model them);
 *  - i2c, spi: absent (ops NULL).
 *
 * The startup code runs main() after setting up RAM, the FPU, the console and
 * newlib; main's return value becomes the exit code of qemu (semihosting).
 * Faults are captured into a .noinit record (tern_cm_fault_last()).
 */
#ifndef TERN_PORT_CORTEX_M_H
#define TERN_PORT_CORTEX_M_H

#include <stddef.h>
#include <stdint.h>

#include "tern/hal.h"
#include "tern_norsim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Frequency of the MPS2 system clock that feeds SysTick, the timers and the watchdog. */
#define TERN_CM_SYSCLK_HZ 25000000u

/** Geometry of the flash in RAM: 16 sectors of 4 KiB, programmed in 4-byte units. */
#define TERN_CM_FLASH_SIZE        (64u * 1024u)
#define TERN_CM_FLASH_SECTOR_SIZE 4096u
#define TERN_CM_FLASH_PROG_SIZE   4u

/** GPIO pins: pin n is bit n % 16 of CMSDK GPIO block n / 16 (0x40010000 + 0x1000 * block). */
#define TERN_CM_GPIO_PINS 64u

/** The longest watchdog timeout: 2^32 - 1 ticks of the 25 MHz clock, about 171 s. */
#define TERN_CM_WATCHDOG_MAX_MS 171798u

/** Exit code of qemu when a fault is not recovered (as a POSIX shell reports SIGABRT). */
#define TERN_CM_EXIT_FAULT 134

/** Fault status bits worth testing for (CFSR = UFSR:BFSR:MMFSR, HFSR). */
#define TERN_CM_CFSR_IACCVIOL   (1u << 0)  /* instruction fetch from a no-execute region */
#define TERN_CM_CFSR_DACCVIOL   (1u << 1)  /* data access violation; MMFAR holds the address */
#define TERN_CM_CFSR_MMARVALID  (1u << 7)  /* MMFAR is valid */
#define TERN_CM_CFSR_IBUSERR    (1u << 8)  /* bus error on instruction fetch */
#define TERN_CM_CFSR_PRECISERR  (1u << 9)  /* precise data bus error; BFAR holds the address */
#define TERN_CM_CFSR_BFARVALID  (1u << 15) /* BFAR is valid */
#define TERN_CM_CFSR_UNDEFINSTR (1u << 16) /* undefined instruction */
#define TERN_CM_CFSR_INVSTATE   (1u << 17) /* branch to an address without the Thumb bit */
#define TERN_CM_CFSR_UNALIGNED  (1u << 24) /* unaligned access with CCR.UNALIGN_TRP */
#define TERN_CM_CFSR_DIVBYZERO  (1u << 25) /* integer division by zero (CCR.DIV_0_TRP is on) */
#define TERN_CM_HFSR_FORCED     (1u << 30) /* a configurable fault escalated to HardFault */

/**
 * What the fault handler saw. Lives in .noinit, so after a warm reset the
 * next boot can still report it (crash reports).
 */
typedef struct tern_cm_fault {
    uint32_t magic;     /* TERN_CM_FAULT_MAGIC when the record is valid */
    uint32_t exception; /* IPSR: 3..6 HardFault, MemManage, BusFault, UsageFault; else unhandled */
    uint32_t r0, r1, r2, r3, r12;
    uint32_t lr; /* stacked LR: where the faulting function would have returned */
    uint32_t pc; /* stacked PC: the faulting instruction for a precise fault */
    uint32_t xpsr;
    uint32_t sp; /* address of the stacked frame (the stack pointer at the fault) */
    uint32_t exc_return;
    uint32_t cfsr, hfsr, mmfar, bfar;
    uint32_t crc; /* tern_crc32 of everything above */
} tern_cm_fault_t;

#define TERN_CM_FAULT_MAGIC 0x464C5421u /* "!TLF" */

/**
 * Called in thread mode, in place of the faulting code, with the captured record.
 * It must not return (longjmp() back to a checkpoint, or reboot); if it does, the
 * port ends the program with TERN_CM_EXIT_FAULT.
 */
typedef void (*tern_cm_fault_hook_t)(const tern_cm_fault_t *fault);

/**
 * Fill @p hal with this board's devices (members the board lacks stay zero),
 * starting SysTick and formatting the flash on a cold boot. Safe to call again.
 * TERN_ERR_INVAL if hal is NULL.
 */
tern_err_t tern_cm_board_init(tern_hal_t *hal);

/** End the program: qemu exits with @p code (clamped to 0..255; out of range gives 255). */
void tern_cm_exit(int code) __attribute__((noreturn));

/**
 * Recover from thread-mode faults by resuming at @p hook instead of halting
 * (tests use it to provoke faults on purpose); NULL restores the default:
 * print the record on the console and exit with TERN_CM_EXIT_FAULT.
 */
void tern_cm_fault_set_recovery(tern_cm_fault_hook_t hook);

/** The last captured fault, this boot or a previous warm one; NULL if none. */
const tern_cm_fault_t *tern_cm_fault_last(void);

/** Forget the captured fault (after it was reported). */
void tern_cm_fault_clear(void);

/** Print @p fault on the console, one "key=0x..." group per line. */
void tern_cm_fault_print(const tern_cm_fault_t *fault);

/** Boots since power-on: 1 on a cold boot, counting up across warm resets. */
uint32_t tern_cm_boot_count(void);

/** The simulator behind the flash, to arm power cuts in tests; valid after tern_cm_board_init(). */
tern_norsim_t *tern_cm_flash_sim(void);

/** Blocking write of @p len bytes to the console UART (polling; usable from fault handlers). */
void tern_cm_console_write(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_CORTEX_M_H */
