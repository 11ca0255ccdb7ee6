/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fault nobody recovers from: the port prints the record on the console and
 * qemu exits with TERN_CM_EXIT_FAULT. CMakeLists.txt checks both.
 */
#include <stdio.h>

#include "cm_test.h"

int main(void)
{
    printf("cm.fault_nohook: udf at 0x%08lx\n", (unsigned long)(uintptr_t)cm_udf_site);
    fflush(stdout);
    cm_fault_udf();
    printf("cm.fault_nohook: still running after the fault\n");
    return 0;
}
