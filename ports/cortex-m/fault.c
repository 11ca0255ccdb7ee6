/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault capture: HardFault, MemManage, BusFault and UsageFault (and any
 * exception nobody handles) land here. The record goes to .noinit so a crash
 * survives a warm reset and the next boot can report it.
 */
#include <stdbool.h>
#include <stddef.h>

#include "cm_internal.h"
#include "tern/crc.h"

#define CM_EXC_RETURN_THREAD (1u << 3) /* exception returns to thread mode */
#define CM_XPSR_T            (1u << 24)
#define CM_XPSR_IT_MASK      ((3u << 25) | (0x3Fu << 10)) /* IT/ICI state of the interrupted code */

/* Frame words stacked by the core on exception entry. */
enum {
    CM_FRAME_R0,
    CM_FRAME_R1,
    CM_FRAME_R2,
    CM_FRAME_R3,
    CM_FRAME_R12,
    CM_FRAME_LR,
    CM_FRAME_PC,
    CM_FRAME_XPSR
};

static tern_cm_fault_t s_fault __attribute__((section(".noinit")));
static tern_cm_fault_hook_t s_hook;

/*
 * The stacked frame is on whichever stack the interrupted code used; bit 2
 * of EXC_RETURN says which. Hand it, with EXC_RETURN, to the C half, whose
 * return is then the exception return.
 */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("tst lr, #4\n\t"
                   "ite eq\n\t"
                   "mrseq r0, msp\n\t"
                   "mrsne r0, psp\n\t"
                   "mov r1, lr\n\t"
                   "b cm_fault_capture\n\t");
}

static void cm_fault_hook_returned(void)
{
    static const char msg[] = "tern: fault recovery hook returned\n";
    tern_cm_console_write(msg, sizeof msg - 1);
    tern_cm_exit(TERN_CM_EXIT_FAULT);
}

void cm_fault_capture(uint32_t *frame, uint32_t exc_return)
{
    tern_cm_fault_t *f = &s_fault;
    uint32_t ipsr;

    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    f->magic = TERN_CM_FAULT_MAGIC;
    f->exception = ipsr & 0x1FFu;
    f->r0 = frame[CM_FRAME_R0];
    f->r1 = frame[CM_FRAME_R1];
    f->r2 = frame[CM_FRAME_R2];
    f->r3 = frame[CM_FRAME_R3];
    f->r12 = frame[CM_FRAME_R12];
    f->lr = frame[CM_FRAME_LR];
    f->pc = frame[CM_FRAME_PC];
    f->xpsr = frame[CM_FRAME_XPSR];
    f->sp = (uint32_t)(uintptr_t)frame;
    f->exc_return = exc_return;
    f->cfsr = CM_SCB_CFSR;
    f->hfsr = CM_SCB_HFSR;
    f->mmfar = CM_SCB_MMFAR;
    f->bfar = CM_SCB_BFAR;
    f->crc = tern_crc32(f, offsetof(tern_cm_fault_t, crc));

    /* Only a real fault of thread code can resume elsewhere: resuming in
     * handler mode would leave the interrupted exception active forever. */
    bool is_fault = f->exception >= 3u && f->exception <= 6u;
    if (s_hook != NULL && is_fault && (exc_return & CM_EXC_RETURN_THREAD) != 0u) {
        CM_SCB_CFSR = f->cfsr; /* write-one-to-clear, so the next fault starts clean */
        CM_SCB_HFSR = f->hfsr;
        frame[CM_FRAME_R0] = (uint32_t)(uintptr_t)f;
        frame[CM_FRAME_LR] = (uint32_t)(uintptr_t)cm_fault_hook_returned;
        frame[CM_FRAME_PC] = (uint32_t)(uintptr_t)s_hook & ~1u;
        frame[CM_FRAME_XPSR] = (frame[CM_FRAME_XPSR] & ~CM_XPSR_IT_MASK) | CM_XPSR_T;
        return;
    }

    cm_reset_record(TERN_RESET_FAULT);
    tern_cm_fault_print(f);
    tern_cm_exit(TERN_CM_EXIT_FAULT);
}

void tern_cm_fault_set_recovery(tern_cm_fault_hook_t hook)
{
    s_hook = hook;
}

const tern_cm_fault_t *tern_cm_fault_last(void)
{
    if (s_fault.magic != TERN_CM_FAULT_MAGIC ||
        s_fault.crc != tern_crc32(&s_fault, offsetof(tern_cm_fault_t, crc))) {
        return NULL;
    }
    return &s_fault;
}

void tern_cm_fault_clear(void)
{
    s_fault.magic = 0;
}

/* The printer may run inside the fault handler: no stdio, no heap. */
static char *cm_put_str(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

static char *cm_put_field(char *p, const char *key, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    p = cm_put_str(p, key);
    p = cm_put_str(p, "=0x");
    for (int shift = 28; shift >= 0; shift -= 4) {
        *p++ = hex[(v >> shift) & 0xFu];
    }
    *p++ = ' ';
    return p;
}

static const char *cm_exception_name(uint32_t exception)
{
    switch (exception) {
    case 2:
        return "NMI";
    case 3:
        return "HardFault";
    case 4:
        return "MemManage";
    case 5:
        return "BusFault";
    case 6:
        return "UsageFault";
    default:
        return "unexpected exception";
    }
}

void tern_cm_fault_print(const tern_cm_fault_t *f)
{
    char line[128]; /* the longest line is 87 characters */
    char *p;

    if (f == NULL) {
        return;
    }
    p = cm_put_str(line, "\n*** tern fault: ");
    p = cm_put_str(p, cm_exception_name(f->exception));
    p = cm_put_str(p, " ***\n");
    tern_cm_console_write(line, (size_t)(p - line));

    /* A NULL key ends a line. */
    const struct {
        const char *key;
        uint32_t value;
    } fields[] = {
        { "exception", f->exception },
        { "pc", f->pc },
        { "lr", f->lr },
        { "xpsr", f->xpsr },
        { "sp", f->sp },
        { NULL, 0 },
        { "r0", f->r0 },
        { "r1", f->r1 },
        { "r2", f->r2 },
        { "r3", f->r3 },
        { "r12", f->r12 },
        { NULL, 0 },
        { "cfsr", f->cfsr },
        { "hfsr", f->hfsr },
        { "mmfar", f->mmfar },
        { "bfar", f->bfar },
        { "exc_return", f->exc_return },
        { NULL, 0 },
    };
    p = line;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].key != NULL) {
            p = cm_put_field(p, fields[i].key, fields[i].value);
        } else {
            p[-1] = '\n'; /* replaces the last field's trailing space */
            tern_cm_console_write(line, (size_t)(p - line));
            p = line;
        }
    }
}
