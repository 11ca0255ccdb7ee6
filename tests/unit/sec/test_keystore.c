/* SPDX-License-Identifier: Apache-2.0 */
/* The key store front door (src/sec/keystore.c) over a recording backend: what
 * it refuses never reaches the backend, and what the backend says comes back. */
#include <string.h>

#include "tern/keystore.h"

#include "tern_test.h"

typedef struct fake {
    int calls;
    const char *label;
    tern_err_t answer;
    size_t sig_len; /* what sign reports */
} fake_t;

static tern_err_t fake_generate(void *ctx, const char *label)
{
    fake_t *f = ctx;
    f->calls++;
    f->label = label;
    return f->answer;
}

static tern_err_t fake_public_key(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    fake_t *f = ctx;
    f->calls++;
    f->label = label;
    pub[0] = 0x04;
    return f->answer;
}

static tern_err_t fake_sign(void *ctx, const char *label, const uint8_t hash[32], uint8_t *sig,
                            size_t cap, size_t *sig_len)
{
    fake_t *f = ctx;
    (void)hash;
    f->calls++;
    f->label = label;
    if (f->sig_len > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memset(sig, 0x30, f->sig_len);
    *sig_len = f->sig_len;
    return f->answer;
}

static tern_err_t fake_destroy(void *ctx, const char *label)
{
    fake_t *f = ctx;
    f->calls++;
    f->label = label;
    return f->answer;
}

static const tern_keystore_ops_t k_fake_ops = { "fake", fake_generate, fake_public_key, fake_sign,
                                                fake_destroy };
static const tern_keystore_ops_t k_empty_ops = { "empty", NULL, NULL, NULL, NULL };

static void test_good_calls_reach_the_backend(void **state)
{
    (void)state;
    fake_t f = { 0, NULL, TERN_OK, 70 };
    tern_keystore_t ks = { &k_fake_ops, &f };
    uint8_t pub[TERN_KEYSTORE_PUB_LEN] = { 0 }, hash[32] = { 0 }, sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    assert_int_equal(tern_keystore_generate(&ks, "dev"), TERN_OK);
    assert_string_equal(f.label, "dev");
    assert_int_equal(tern_keystore_public_key(&ks, "dev", pub), TERN_OK);
    assert_int_equal(pub[0], 0x04);
    assert_int_equal(tern_keystore_sign(&ks, "dev", hash, sig, sizeof sig, &len), TERN_OK);
    assert_int_equal(len, 70);
    assert_int_equal(tern_keystore_destroy(&ks, "dev"), TERN_OK);
    assert_int_equal(f.calls, 4);

    /* the backend's answers come back as they are */
    f.answer = TERN_ERR_EXISTS;
    assert_int_equal(tern_keystore_generate(&ks, "dev"), TERN_ERR_EXISTS);
    f.answer = TERN_ERR_NOT_FOUND;
    assert_int_equal(tern_keystore_public_key(&ks, "dev", pub), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_destroy(&ks, "dev"), TERN_ERR_NOT_FOUND);
    f.answer = TERN_OK;
    assert_int_equal(tern_keystore_sign(&ks, "dev", hash, sig, 8, &len), TERN_ERR_TOO_SMALL);
    assert_int_equal(len, 0);
    assert_int_equal(f.calls, 8);
}

static void test_labels(void **state)
{
    (void)state;
    fake_t f = { 0, NULL, TERN_OK, 8 };
    tern_keystore_t ks = { &k_fake_ops, &f };
    char at_max[TERN_KEYSTORE_LABEL_MAX + 1], over[TERN_KEYSTORE_LABEL_MAX + 2];
    memset(at_max, 'a', TERN_KEYSTORE_LABEL_MAX);
    at_max[TERN_KEYSTORE_LABEL_MAX] = '\0';
    memset(over, 'a', TERN_KEYSTORE_LABEL_MAX + 1);
    over[TERN_KEYSTORE_LABEL_MAX + 1] = '\0';
    assert_int_equal(tern_keystore_generate(&ks, at_max), TERN_OK);
    assert_int_equal(f.calls, 1);

    /* A label with no NUL within the limit: refused after reading at most one character
     * past it (this array has exactly that many, so a further read trips the sanitizer). */
    char unterminated[TERN_KEYSTORE_LABEL_MAX + 1];
    memset(unterminated, 'u', sizeof unterminated);
    const char *bad[] = { NULL, "", over, unterminated };
    uint8_t pub[TERN_KEYSTORE_PUB_LEN], hash[32] = { 0 }, sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 5;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tern_keystore_generate(&ks, bad[i]), TERN_ERR_INVAL);
        assert_int_equal(tern_keystore_public_key(&ks, bad[i], pub), TERN_ERR_INVAL);
        assert_int_equal(tern_keystore_sign(&ks, bad[i], hash, sig, sizeof sig, &len),
                         TERN_ERR_INVAL);
        assert_int_equal(len, 0);
        assert_int_equal(tern_keystore_destroy(&ks, bad[i]), TERN_ERR_INVAL);
    }
    assert_int_equal(f.calls, 1);
}

static void test_null_store_and_buffers(void **state)
{
    (void)state;
    fake_t f = { 0, NULL, TERN_OK, 8 };
    tern_keystore_t ks = { &k_fake_ops, &f }, no_ops = { NULL, &f };
    uint8_t pub[TERN_KEYSTORE_PUB_LEN], hash[32] = { 0 }, sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 5;
    assert_int_equal(tern_keystore_generate(NULL, "k"), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_generate(&no_ops, "k"), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_public_key(NULL, "k", pub), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_public_key(&ks, "k", NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(NULL, "k", hash, sig, sizeof sig, &len), TERN_ERR_INVAL);
    assert_int_equal(len, 0);
    assert_int_equal(tern_keystore_sign(&ks, "k", NULL, sig, sizeof sig, &len), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(&ks, "k", hash, NULL, sizeof sig, &len), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_sign(&ks, "k", hash, sig, sizeof sig, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_keystore_destroy(NULL, "k"), TERN_ERR_INVAL);
    assert_int_equal(f.calls, 0);
}

static void test_missing_operations(void **state)
{
    (void)state;
    tern_keystore_t ks = { &k_empty_ops, NULL };
    uint8_t pub[TERN_KEYSTORE_PUB_LEN], hash[32] = { 0 }, sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    assert_int_equal(tern_keystore_generate(&ks, "k"), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_keystore_public_key(&ks, "k", pub), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_keystore_sign(&ks, "k", hash, sig, sizeof sig, &len),
                     TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_keystore_destroy(&ks, "k"), TERN_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_calls_reach_the_backend),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_null_store_and_buffers),
        cmocka_unit_test(test_missing_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
