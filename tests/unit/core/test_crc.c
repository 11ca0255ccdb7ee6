/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "tern/crc.h"
#include "tern_test.h"

static const char k_check[] = "123456789";

/* Reference implementations straight from the definitions: one bit at a time. */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
    }
    return c ^ 0xFFFFFFFFu;
}

static uint16_t ref_crc16(const uint8_t *p, size_t n)
{
    uint16_t c = 0xFFFFu;
    for (size_t i = 0; i < n; i++) {
        for (int k = 7; k >= 0; k--) {
            unsigned bit = ((c >> 15) ^ (p[i] >> k)) & 1u;
            c = (uint16_t)(c << 1);
            if (bit) {
                c ^= 0x1021u;
            }
        }
    }
    return c;
}

static void test_check_values(void **state)
{
    (void)state;
    /* The catalogue check values of CRC-32/ISO-HDLC and CRC-16/IBM-3740. */
    assert_int_equal(tern_crc32(k_check, 9), 0xCBF43926u);
    assert_int_equal(tern_crc16(k_check, 9), 0x29B1u);
    assert_int_equal(tern_crc32("", 0), 0u);
    assert_int_equal(tern_crc16("", 0), 0xFFFFu);
}

static void test_matches_bitwise_reference(void **state)
{
    (void)state;
    uint8_t buf[300];
    uint32_t x = 12345u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t n = 0; n <= sizeof buf; n += 7) {
        assert_int_equal(tern_crc32(buf, n), ref_crc32(buf, n));
        assert_int_equal(tern_crc16(buf, n), ref_crc16(buf, n));
    }
}

static void test_incremental_equals_one_shot(void **state)
{
    (void)state;
    const char *msg = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(msg);
    assert_int_equal(tern_crc32(msg, n), 0x414FA339u);
    for (size_t split = 0; split <= n; split++) {
        uint32_t c32 = tern_crc32_update(tern_crc32_update(0, msg, split), msg + split, n - split);
        uint16_t c16 = tern_crc16_update(tern_crc16_update(TERN_CRC16_INIT, msg, split),
                                         msg + split, n - split);
        assert_int_equal(c32, tern_crc32(msg, n));
        assert_int_equal(c16, tern_crc16(msg, n));
    }
}

static void test_detects_single_bit_flips(void **state)
{
    (void)state;
    uint8_t buf[64];
    memset(buf, 0x5A, sizeof buf);
    uint32_t good32 = tern_crc32(buf, sizeof buf);
    uint16_t good16 = tern_crc16(buf, sizeof buf);
    for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(tern_crc32(buf, sizeof buf), good32);
        assert_int_not_equal(tern_crc16(buf, sizeof buf), good16);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_matches_bitwise_reference),
        cmocka_unit_test(test_incremental_equals_one_shot),
        cmocka_unit_test(test_detects_single_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
