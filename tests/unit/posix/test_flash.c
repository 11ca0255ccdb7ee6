/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The POSIX flash: RAM and file backings, persistence across reopen and processes, NOR rules
 * through it.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tern/hal.h"
#include "tern/port/posix.h"

#include "tern_test.h"

enum { SIZE = 4 * 4096, SECTOR = 4096, PROG = 8 };

static char g_path[64];
static uint8_t g_buf[SIZE];

static tern_posix_flash_config_t config(const char *path, void *mem)
{
    tern_posix_flash_config_t cfg = { { SIZE, SECTOR, PROG, 0, 0, 1 }, path, mem };
    return cfg;
}

/* A fresh, empty file name per test; the file exists (empty) as mkstemp leaves it. */
static int make_temp(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/tern-flash-XXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(g_path);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

static int remove_temp(void **state)
{
    (void)state;
    unlink(g_path);
    return 0;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void assert_all(const uint8_t *p, size_t len, uint8_t value)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != value) {
            fail_msg("byte %zu is 0x%02x, want 0x%02x", i, p[i], value);
        }
    }
}

static void test_ram_allocated_is_blank(void **state)
{
    (void)state;
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(NULL, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    assert_string_equal(hal.ops->name, "norsim");
    tern_flash_geometry_t g;
    assert_int_equal(tern_flash_geometry(&hal, &g), TERN_OK);
    assert_int_equal(g.size, SIZE);
    assert_int_equal(g.sector_size, SECTOR);
    assert_int_equal(g.prog_size, PROG);
    assert_int_equal(tern_flash_read(&hal, 0, g_buf, SIZE), TERN_OK);
    assert_all(g_buf, SIZE, 0xFF);
    assert_int_equal(tern_flash_selfcheck(&hal, SECTOR), TERN_OK);
    assert_int_equal(tern_norsim_erase_count(tern_posix_flash_sim(&f), SECTOR), 2);
    tern_posix_flash_close(&f);
    tern_posix_flash_close(&f); /* closing twice is harmless */
}

static void test_ram_caller_buffer_kept(void **state)
{
    (void)state;
    static uint8_t mem[SIZE];
    memset(mem, 0x00, sizeof mem);
    mem[100] = 0x7E;
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(NULL, mem);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_read(&hal, 96, g_buf, 8), TERN_OK);
    assert_int_equal(g_buf[4], 0x7E);
    assert_int_equal(g_buf[3], 0x00);
    assert_int_equal(tern_flash_erase(&hal, 0), TERN_OK);
    assert_all(mem, SECTOR, 0xFF); /* it works on the caller's bytes */
    tern_posix_flash_close(&f);    /* and does not free them (ASan would tell) */
    assert_int_equal(mem[SECTOR], 0x00);
}

static void test_bad_config(void **state)
{
    (void)state;
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    unlink(g_path);
    cfg.sim.sector_size = 3000; /* does not divide the size */
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_ERR_INVAL);
    assert_int_equal(file_size(g_path), -1); /* nothing created for a bad geometry */
    assert_int_equal(tern_posix_flash_open(&f, NULL), TERN_ERR_INVAL);
    cfg = config("/nonexistent-dir/tern/flash.img", NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_ERR_IO);
}

static void test_file_new_is_blank(void **state)
{
    (void)state;
    tern_posix_flash_t f;
    unlink(g_path); /* let open create it */
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    assert_int_equal(file_size(g_path), SIZE);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_read(&hal, 0, g_buf, SIZE), TERN_OK);
    assert_all(g_buf, SIZE, 0xFF);
    tern_posix_flash_close(&f);

    /* The bytes on disk are the image. */
    int fd = open(g_path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, g_buf, SIZE), SIZE);
    close(fd);
    assert_all(g_buf, SIZE, 0xFF);
}

static void test_file_empty_becomes_blank(void **state)
{
    (void)state;
    tern_posix_flash_t f;
    assert_int_equal(file_size(g_path), 0); /* mkstemp's empty file */
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    assert_int_equal(file_size(g_path), SIZE);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_read(&hal, SIZE - 16, g_buf, 16), TERN_OK);
    assert_all(g_buf, 16, 0xFF);
    tern_posix_flash_close(&f);
}

static void test_file_persists_across_reopen(void **state)
{
    (void)state;
    static const uint8_t data[16] = "persist me 0123";
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_program(&hal, SECTOR + 64, data, sizeof data), TERN_OK);
    assert_int_equal(tern_flash_erase(&hal, 2 * SECTOR), TERN_OK);
    tern_posix_flash_close(&f);

    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_read(&hal, SECTOR + 64, g_buf, sizeof data), TERN_OK);
    assert_memory_equal(g_buf, data, sizeof data);
    /* Wear lives in RAM only: a reopened image starts counting afresh. */
    assert_int_equal(tern_norsim_erase_count(tern_posix_flash_sim(&f), 2 * SECTOR), 0);
    /* NOR rules hold on the reopened image: the programmed bytes cannot go back to 1. */
    memset(g_buf, 0xFF, sizeof data);
    assert_int_equal(tern_flash_program(&hal, SECTOR + 64, g_buf, sizeof data), TERN_ERR_FLASH_NOR);
    assert_int_equal(tern_flash_read(&hal, SECTOR + 64, g_buf, sizeof data), TERN_OK);
    assert_memory_equal(g_buf, data, sizeof data);
    tern_posix_flash_close(&f);
}

static void test_file_shared_across_processes(void **state)
{
    (void)state;
    static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    tern_flash_t hal = tern_posix_flash_hal(&f);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /*
         * Another process (another device boot) opens the image, programs, and dies without
         * closing.
         */
        tern_posix_flash_t cf;
        int ok = tern_posix_flash_open(&cf, &cfg) == TERN_OK;
        tern_flash_t ch = tern_posix_flash_hal(&cf);
        ok = ok && tern_flash_program(&ch, 3 * SECTOR, data, sizeof data) == TERN_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* Visible through this process's own mapping at once, and after a reopen. */
    assert_int_equal(tern_flash_read(&hal, 3 * SECTOR, g_buf, sizeof data), TERN_OK);
    assert_memory_equal(g_buf, data, sizeof data);
    tern_posix_flash_close(&f);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    hal = tern_posix_flash_hal(&f);
    assert_int_equal(tern_flash_read(&hal, 3 * SECTOR, g_buf, sizeof data), TERN_OK);
    assert_memory_equal(g_buf, data, sizeof data);
    tern_posix_flash_close(&f);
}

static void test_file_wrong_size_refused(void **state)
{
    (void)state;
    int fd = open(g_path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_ERR_INVAL);
    assert_int_equal(file_size(g_path), 3); /* left as it was */
}

static void test_file_power_cut_persists(void **state)
{
    (void)state;
    uint8_t data[32];
    memset(data, 0x00, sizeof data);
    tern_posix_flash_t f;
    tern_posix_flash_config_t cfg = config(g_path, NULL);
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    tern_flash_t hal = tern_posix_flash_hal(&f);
    tern_norsim_t *sim = tern_posix_flash_sim(&f);
    assert_int_equal(tern_flash_program(&hal, 0, data, 8), TERN_OK);
    assert_int_equal(tern_flash_program(&hal, 3, data, 8), TERN_ERR_ALIGN);
    tern_norsim_cut_after(sim, 1, 16);
    assert_int_equal(tern_flash_program(&hal, 64, data, sizeof data), TERN_ERR_POWER_LOST);
    assert_int_equal(tern_flash_read(&hal, 0, g_buf, 8), TERN_ERR_POWER_LOST);
    tern_posix_flash_close(&f);

    /* The next boot finds exactly what landed before the cut. */
    assert_int_equal(tern_posix_flash_open(&f, &cfg), TERN_OK);
    hal = tern_posix_flash_hal(&f);
    assert_false(tern_norsim_power_lost(tern_posix_flash_sim(&f)));
    assert_int_equal(tern_flash_read(&hal, 64, g_buf, sizeof data), TERN_OK);
    assert_all(g_buf, 16, 0x00);
    assert_all(g_buf + 17, sizeof data - 17, 0xFF);
    tern_posix_flash_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ram_allocated_is_blank),
        cmocka_unit_test(test_ram_caller_buffer_kept),
        cmocka_unit_test_setup_teardown(test_bad_config, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_new_is_blank, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_empty_becomes_blank, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_persists_across_reopen, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_shared_across_processes, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_wrong_size_refused, make_temp, remove_temp),
        cmocka_unit_test_setup_teardown(test_file_power_cut_persists, make_temp, remove_temp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
