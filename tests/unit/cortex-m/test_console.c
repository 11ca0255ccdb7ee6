/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console: stdio and the port's own writer reach UART0, which qemu-run.sh
 * connects to stdout. The test cannot read its own output; CMakeLists.txt
 * matches the markers (in this order) in what qemu printed.
 */
#include <stdio.h>
#include <string.h>

#include "cm_test.h"

static void test_stdio(void **state)
{
    (void)state;
    assert_int_equal(printf("cm.console: printf %d %s 0x%x\n", 42, "ok", 0xBEEFu), 32);
    assert_true(puts("cm.console: puts") >= 0);
    assert_true(fputs("cm.console: stderr\n", stderr) >= 0);
    assert_int_equal(fflush(stdout), 0);
}

static void test_port_writer(void **state)
{
    (void)state;
    static const char msg[] = "cm.console: tern_cm_console_write\n";
    tern_cm_console_write(msg, strlen(msg));
}

static void test_long_line(void **state)
{
    (void)state;
    char line[300];
    memset(line, 'x', sizeof line);
    memcpy(line, "cm.console: long ", 17);
    memcpy(line + sizeof line - 6, " end\n", 6);
    assert_int_equal(fputs(line, stdout) >= 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdio),
        cmocka_unit_test(test_port_writer),
        cmocka_unit_test(test_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
