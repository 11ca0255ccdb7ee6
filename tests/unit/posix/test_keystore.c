/* SPDX-License-Identifier: Apache-2.0 */
/* The file key store: the key store contract, the files it leaves (PEM, 0600,
 * nothing else), labels that would escape the directory, files that are not its
 * keys, and the TLS pk over it (signatures, and a TLS 1.2 client authentication). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* PATH_MAX, symlink */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "tern/port/posix_keystore.h"
#include "tern_proc.h"
#include "tern_test_keystore.h"

#include "tern_test.h"

typedef struct fx {
    char dir[PATH_MAX];
    tern_posix_keystore_file_t f;
    tern_keystore_t ks;
} fx_t;

static int setup(void **state)
{
    static fx_t x;
    memset(&x, 0, sizeof x);
    assert_int_equal(tern_tmpdir_make(x.dir, sizeof x.dir, "keystore"), TERN_OK);
    assert_int_equal(tern_posix_keystore_file_open(&x.f, x.dir, &x.ks), TERN_OK);
    assert_string_equal(x.ks.ops->name, "file");
    *state = &x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    tern_posix_keystore_file_close(&x->f);
    tern_posix_keystore_file_close(&x->f); /* twice is harmless */
    tern_tmpdir_remove(x->dir);
    return 0;
}

/* @p dir + "/" + @p name into @p out; a path that does not fit fails the test. */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

/* The names in @p dir, sorted by nothing, joined with spaces. */
static void list_dir(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    out[0] = '\0';
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            size_t len = strlen(out);
            int n = snprintf(out + len, cap - len, "%s%s", len != 0 ? " " : "", e->d_name);
            assert_true(n > 0 && (size_t)n < cap - len);
        }
    }
    closedir(d);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    join(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* ---------------------------------------------------------------- tests -- */

static void test_contract(void **state)
{
    fx_t *x = *state;
    tern_test_keystore_contract(&x->ks);
    char names[256];
    list_dir(x->dir, names, sizeof names);
    assert_string_equal(names, ""); /* every key destroyed, no temporary left behind */
}

static void test_key_file(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tern_keystore_generate(&x->ks, "dev"), TERN_OK);
    char names[256], path[PATH_MAX];
    list_dir(x->dir, names, sizeof names);
    assert_string_equal(names, "dev.key");
    join(path, sizeof path, x->dir, "dev.key");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* a plain SEC1 PEM that mbedTLS reads, holding the key the store reports */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_keyfile(&pk, path, NULL), 0);
    assert_int_equal(mbedtls_pk_get_type(&pk), MBEDTLS_PK_ECKEY);
    assert_int_equal(mbedtls_pk_ec(pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);
    uint8_t pub[TERN_KEYSTORE_PUB_LEN], point[TERN_KEYSTORE_PUB_LEN];
    size_t olen = 0;
    assert_int_equal(mbedtls_ecp_point_write_binary(&mbedtls_pk_ec(pk)->grp, &mbedtls_pk_ec(pk)->Q,
                                                    MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, point,
                                                    sizeof point),
                     0);
    mbedtls_pk_free(&pk);
    assert_int_equal(tern_keystore_public_key(&x->ks, "dev", pub), TERN_OK);
    assert_memory_equal(pub, point, sizeof pub);

    /* the key outlives the store: another store on the directory signs with it */
    tern_posix_keystore_file_close(&x->f);
    assert_int_equal(tern_posix_keystore_file_open(&x->f, x->dir, &x->ks), TERN_OK);
    uint8_t hash[32], sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    tern_test_sha256("persisted", hash);
    assert_int_equal(tern_keystore_sign(&x->ks, "dev", hash, sig, sizeof sig, &len), TERN_OK);
    assert_int_equal(tern_test_ecdsa_verify(pub, hash, 32, sig, len), 0);

    /* two stores on one directory: the label is still taken for the second */
    tern_posix_keystore_file_t f2;
    tern_keystore_t ks2;
    assert_int_equal(tern_posix_keystore_file_open(&f2, x->dir, &ks2), TERN_OK);
    assert_int_equal(tern_keystore_generate(&ks2, "dev"), TERN_ERR_EXISTS);
    tern_posix_keystore_file_close(&f2);
    assert_int_equal(tern_keystore_destroy(&x->ks, "dev"), TERN_OK);
}

static void test_labels_that_are_not_file_names(void **state)
{
    fx_t *x = *state;
    static const char *const bad[] = {
        "../escape",  "a/b",       "/abs",  ".hidden",       ".",     "..", "sp ace",
        "semi;colon", "new\nline", "tab\t", "\xc3\xbcmlaut", "star*", "q?",
    };
    uint8_t pub[TERN_KEYSTORE_PUB_LEN], hash[32] = { 0 }, sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tern_keystore_generate(&x->ks, bad[i]), TERN_ERR_INVAL);
        assert_int_equal(tern_keystore_public_key(&x->ks, bad[i], pub), TERN_ERR_INVAL);
        assert_int_equal(tern_keystore_sign(&x->ks, bad[i], hash, sig, sizeof sig, &len),
                         TERN_ERR_INVAL);
        assert_int_equal(tern_keystore_destroy(&x->ks, bad[i]), TERN_ERR_INVAL);
    }
    char names[256];
    list_dir(x->dir, names, sizeof names);
    assert_string_equal(names, "");

    /* the whole alphabet, a dot inside */
    assert_int_equal(tern_keystore_generate(&x->ks, "AZaz09_-.v2"), TERN_OK);
    list_dir(x->dir, names, sizeof names);
    assert_string_equal(names, "AZaz09_-.v2.key");
    assert_int_equal(tern_keystore_destroy(&x->ks, "AZaz09_-.v2"), TERN_OK);
}

static void test_files_that_are_not_keys(void **state)
{
    fx_t *x = *state;
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    static const char junk[] = "-----BEGIN EC PRIVATE KEY-----\nnot base64 at all\n";
    write_file(x->dir, "junk.key", junk, sizeof junk - 1);
    assert_int_equal(tern_keystore_public_key(&x->ks, "junk", pub), TERN_ERR_CORRUPT);
    write_file(x->dir, "empty.key", "", 0);
    assert_int_equal(tern_keystore_public_key(&x->ks, "empty", pub), TERN_ERR_CORRUPT);
    static char big[4096];
    memset(big, 'A', sizeof big);
    write_file(x->dir, "big.key", big, sizeof big);
    assert_int_equal(tern_keystore_public_key(&x->ks, "big", pub), TERN_ERR_CORRUPT);

    /* a real key, but P-384: not one this store makes */
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context pk;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
    assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk),
                                         mbedtls_ctr_drbg_random, &drbg),
                     0);
    unsigned char pem[1024];
    assert_int_equal(mbedtls_pk_write_key_pem(&pk, pem, sizeof pem), 0);
    write_file(x->dir, "p384.key", pem, strlen((const char *)pem));
    assert_int_equal(tern_keystore_public_key(&x->ks, "p384", pub), TERN_ERR_UNSUPPORTED);
    mbedtls_pk_free(&pk);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);

    /* a symlink is not followed */
    assert_int_equal(tern_keystore_generate(&x->ks, "real"), TERN_OK);
    char link_path[PATH_MAX];
    join(link_path, sizeof link_path, x->dir, "link.key");
    assert_int_equal(symlink("real.key", link_path), 0);
    assert_int_equal(tern_keystore_public_key(&x->ks, "link", pub), TERN_ERR_IO);
    assert_int_equal(tern_posix_keystore_file_errno(&x->f), ELOOP);

    /* a key name taken by something else is not overwritten */
    write_file(x->dir, "taken.key", junk, sizeof junk - 1);
    assert_int_equal(tern_keystore_generate(&x->ks, "taken"), TERN_ERR_EXISTS);
    assert_int_equal(tern_keystore_public_key(&x->ks, "taken", pub), TERN_ERR_CORRUPT);
}

static void test_open(void **state)
{
    fx_t *x = *state;
    tern_posix_keystore_file_t f;
    tern_keystore_t ks;
    char path[PATH_MAX];

    /* a missing directory is made, owner only; a missing parent is an error */
    join(path, sizeof path, x->dir, "sub");
    assert_int_equal(tern_posix_keystore_file_open(&f, path, &ks), TERN_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    tern_posix_keystore_file_close(&f);
    join(path, sizeof path, x->dir, "no/such");
    assert_int_equal(tern_posix_keystore_file_open(&f, path, &ks), TERN_ERR_IO);
    assert_int_equal(tern_posix_keystore_file_errno(&f), ENOENT);

    /* not a directory */
    write_file(x->dir, "plain", "x", 1);
    join(path, sizeof path, x->dir, "plain");
    assert_int_equal(tern_posix_keystore_file_open(&f, path, &ks), TERN_ERR_INVAL);

    assert_int_equal(tern_posix_keystore_file_open(NULL, x->dir, &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_file_open(&f, NULL, &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_file_open(&f, "", &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_file_open(&f, x->dir, NULL), TERN_ERR_INVAL);
    tern_posix_keystore_file_close(&f); /* after a failed open: a no-op */
    tern_posix_keystore_file_close(NULL);
}

static void test_tls_pk(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tern_keystore_generate(&x->ks, "tls"), TERN_OK);
    tern_test_keystore_tls_pk(&x->ks, "tls");
    assert_int_equal(tern_keystore_destroy(&x->ks, "tls"), TERN_OK);
}

/* TLS 1.2 client authentication signed by the store: CertificateVerify over SHA-256,
 * and over SHA-384 in a *_SHA384 suite. */
static void test_tls_client_auth(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tern_keystore_generate(&x->ks, "device"), TERN_OK);
    tern_test_keystore_tls_handshake(&x->ks, "device",
                                     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    tern_test_keystore_tls_handshake(&x->ks, "device",
                                     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
    assert_int_equal(tern_keystore_destroy(&x->ks, "device"), TERN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_that_are_not_file_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_that_are_not_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_pk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_auth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
