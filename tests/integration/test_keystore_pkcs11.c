/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 key store against SoftHSM2: tokens made by softhsm2-util in a
 * scratch directory, the module loaded by path as a vendor's would be.
 *
 * Beyond the key store contract: the private key cannot leave the token (its
 * attributes, and the token refusing its value to a session of our own), wrong
 * PINs, modules and token labels fail with a message that says which, stores
 * sharing one module, and TLS 1.2 client authentication signed by the token. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* PATH_MAX, setenv */
#endif
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ssl_ciphersuites.h>
#include <p11-kit/pkcs11.h>

#include "tern/port/posix_keystore.h"
#include "tern_proc.h"
#include "tern_test_keystore.h"

#include "tern_test.h"

#define TOKEN     "tern-test"
#define PIN       "1234"
#define OTHER     "tern-other"
#define OTHER_PIN "4321"

static struct {
    char dir[PATH_MAX];
    char conf[PATH_MAX];
} g;

/* @p dir + "/" + @p name into @p out; a path that does not fit fails the test. */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void init_token(const char *label, const char *pin)
{
    char log[PATH_MAX + 16];
    join(log, sizeof log, g.dir, "softhsm2-util.log");
    char *argv[] = {
        TERN_SOFTHSM2_UTIL, "--init-token", "--free", "--label", (char *)label, "--pin",
        (char *)pin,        "--so-pin",     "5678",   NULL
    };
    int code = -1;
    assert_int_equal(tern_proc_run(argv, log, 30000, &code), TERN_OK);
    if (code != 0) {
        fail_msg("%s --init-token --label %s exited %d (see %s)", TERN_SOFTHSM2_UTIL, label, code,
                 log);
    }
}

/* SoftHSM2 reads SOFTHSM2_CONF at C_Initialize (and softhsm2-util at start): point it
 * at a token directory of our own before anything loads the module. */
static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(tern_tmpdir_make(g.dir, sizeof g.dir, "keystore-pkcs11"), TERN_OK);
    char tokens[PATH_MAX + 8];
    join(tokens, sizeof tokens, g.dir, "tokens");
    assert_int_equal(mkdir(tokens, 0700), 0);
    join(g.conf, sizeof g.conf, g.dir, "softhsm2.conf");
    FILE *f = fopen(g.conf, "w");
    assert_non_null(f);
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(setenv("SOFTHSM2_CONF", g.conf, 1), 0);
    init_token(TOKEN, PIN);
    init_token(OTHER, OTHER_PIN);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tern_tmpdir_remove(g.dir);
    return 0;
}

static const tern_posix_keystore_pkcs11_config_t k_cfg = { TERN_SOFTHSM2_MODULE, TOKEN, PIN };

static void open_store(tern_posix_keystore_pkcs11_t *p, tern_keystore_t *ks,
                       const tern_posix_keystore_pkcs11_config_t *cfg)
{
    tern_err_t err = tern_posix_keystore_pkcs11_open(p, cfg, ks);
    if (err != TERN_OK) {
        fail_msg("open: %s: %s", tern_err_name(err), tern_posix_keystore_pkcs11_last_error(p));
    }
    assert_string_equal(ks->ops->name, "pkcs11");
}

/* ---------------------------------------------------------------- tests -- */

static void test_contract(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    open_store(&p, &ks, &k_cfg);
    tern_test_keystore_contract(&ks);
    /* a failure leaves its reason for the logs */
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    assert_int_equal(tern_keystore_public_key(&ks, "absent", pub), TERN_ERR_NOT_FOUND);
    assert_non_null(strstr(tern_posix_keystore_pkcs11_last_error(&p), "absent"));
    tern_posix_keystore_pkcs11_close(&p);
    tern_posix_keystore_pkcs11_close(&p); /* twice is harmless */
}

/* A session of the test's own on the module the store loaded (the same library, so
 * already initialised, and logged in: login is per application and token). */
typedef struct raw {
    void *dl;
    CK_FUNCTION_LIST_PTR fl;
    CK_SESSION_HANDLE session;
} raw_t;

static void raw_open(raw_t *r, const char *token)
{
    r->dl = dlopen(TERN_SOFTHSM2_MODULE, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(r->dl);
    CK_C_GetFunctionList get = NULL;
    void *sym = dlsym(r->dl, "C_GetFunctionList");
    memcpy(&get, &sym, sizeof get);
    assert_non_null(get);
    assert_int_equal(get(&r->fl), CKR_OK);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    assert_int_equal(r->fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    bool found = false;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO info;
        assert_int_equal(r->fl->C_GetTokenInfo(slots[i], &info), CKR_OK);
        if (memcmp(info.label, token, strlen(token)) == 0 && info.label[strlen(token)] == ' ') {
            assert_int_equal(
                r->fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &r->session),
                CKR_OK);
            found = true;
        }
    }
    assert_true(found);
}

static CK_OBJECT_HANDLE raw_find(raw_t *r, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    assert_int_equal(r->fl->C_FindObjectsInit(r->session, tmpl, 2), CKR_OK);
    assert_int_equal(r->fl->C_FindObjects(r->session, h, 2, &n), CKR_OK);
    assert_int_equal(r->fl->C_FindObjectsFinal(r->session), CKR_OK);
    assert_int_equal(n, 1);
    return h[0];
}

static void raw_close(raw_t *r)
{
    assert_int_equal(r->fl->C_CloseSession(r->session), CKR_OK);
    dlclose(r->dl);
}

static void test_private_key_cannot_leave(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    open_store(&p, &ks, &k_cfg);
    assert_int_equal(tern_keystore_generate(&ks, "device"), TERN_OK);
    bool extractable = true, sensitive = false;
    assert_int_equal(tern_posix_keystore_pkcs11_key_attrs(&p, "device", &extractable, &sensitive),
                     TERN_OK);
    assert_false(extractable);
    assert_true(sensitive);
    assert_int_equal(tern_posix_keystore_pkcs11_key_attrs(&p, "absent", &extractable, &sensitive),
                     TERN_ERR_NOT_FOUND);

    /* ask the token for the private value ourselves: refused, length and all */
    raw_t r;
    raw_open(&r, TOKEN);
    CK_OBJECT_HANDLE h = raw_find(&r, CKO_PRIVATE_KEY, "device");
    CK_BYTE value[256];
    CK_ATTRIBUTE a = { CKA_VALUE, value, sizeof value };
    assert_int_equal(r.fl->C_GetAttributeValue(r.session, h, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE len_only = { CKA_VALUE, NULL, 0 };
    assert_int_equal(r.fl->C_GetAttributeValue(r.session, h, &len_only, 1),
                     CKR_ATTRIBUTE_SENSITIVE);
    /* what else generate asked for: a signing token object, private, named by label and id */
    CK_BBOOL token = CK_FALSE, priv = CK_FALSE, sign = CK_FALSE;
    CK_BYTE id[64];
    CK_ATTRIBUTE more[] = {
        { CKA_TOKEN, &token, sizeof token },
        { CKA_PRIVATE, &priv, sizeof priv },
        { CKA_SIGN, &sign, sizeof sign },
        { CKA_ID, id, sizeof id },
    };
    assert_int_equal(r.fl->C_GetAttributeValue(r.session, h, more, 4), CKR_OK);
    assert_true(token && priv && sign);
    assert_int_equal(more[3].ulValueLen, strlen("device"));
    assert_memory_equal(id, "device", strlen("device"));
    /* its public half carries the point, as a DER OCTET STRING */
    CK_OBJECT_HANDLE hp = raw_find(&r, CKO_PUBLIC_KEY, "device");
    CK_BYTE point[80];
    CK_ATTRIBUTE ap = { CKA_EC_POINT, point, sizeof point };
    assert_int_equal(r.fl->C_GetAttributeValue(r.session, hp, &ap, 1), CKR_OK);
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    assert_int_equal(tern_keystore_public_key(&ks, "device", pub), TERN_OK);
    assert_int_equal(ap.ulValueLen, 67);
    assert_int_equal(point[0], 0x04);
    assert_int_equal(point[1], 65);
    assert_memory_equal(point + 2, pub, sizeof pub);
    raw_close(&r);

    assert_int_equal(tern_keystore_destroy(&ks, "device"), TERN_OK);
    tern_posix_keystore_pkcs11_close(&p);
}

static void test_wrong_pin(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks = { NULL, NULL };
    tern_posix_keystore_pkcs11_config_t cfg = k_cfg;
    cfg.user_pin = "0000";
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_pkcs11_last_rv(&p), CKR_PIN_INCORRECT);
    assert_string_equal(tern_posix_keystore_pkcs11_last_error(&p),
                        "C_Login: CKR_PIN_INCORRECT (0xa0)");
    assert_null(ks.ops);
    tern_posix_keystore_pkcs11_close(&p); /* after a failed open: a no-op */
    /* the failed open undid all it did: the right PIN works next */
    open_store(&p, &ks, &k_cfg);
    tern_posix_keystore_pkcs11_close(&p);
}

static void test_wrong_module(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    tern_posix_keystore_pkcs11_config_t cfg = k_cfg;

    cfg.module = "/nonexistent/libvendor-pkcs11.so";
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_NOT_FOUND);
    assert_int_equal(strncmp(tern_posix_keystore_pkcs11_last_error(&p), "dlopen: ", 8), 0);
    assert_non_null(strstr(tern_posix_keystore_pkcs11_last_error(&p), cfg.module));
    assert_int_equal(tern_posix_keystore_pkcs11_last_rv(&p), CKR_OK);

    cfg.module = g.conf; /* a file, but no shared object */
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_UNSUPPORTED);
    assert_int_equal(strncmp(tern_posix_keystore_pkcs11_last_error(&p), "dlopen: ", 8), 0);

    cfg.module = "libc.so.6"; /* a shared object, but no PKCS#11 module */
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_UNSUPPORTED);
    assert_non_null(strstr(tern_posix_keystore_pkcs11_last_error(&p), "C_GetFunctionList"));
}

static void test_wrong_token_and_config(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    tern_posix_keystore_pkcs11_config_t cfg = k_cfg;
    cfg.token_label = "no-such-token";
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_NOT_FOUND);
    assert_non_null(strstr(tern_posix_keystore_pkcs11_last_error(&p), "\"no-such-token\""));
    cfg.token_label = "tern"; /* a prefix of a label is not the label */
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_NOT_FOUND);
    cfg.token_label = "a label of thirty-three characters";
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_INVAL);
    cfg = k_cfg;
    cfg.user_pin = NULL;
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &cfg, &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, NULL, &ks), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_pkcs11_open(&p, &k_cfg, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_posix_keystore_pkcs11_open(NULL, &k_cfg, &ks), TERN_ERR_INVAL);
}

/* Two stores on one module at once (one closing does not finalise it under the other),
 * two tokens kept apart, and keys that outlive every store. */
static void test_stores_share_a_module(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t a, b, other;
    tern_keystore_t ka, kb, ko;
    tern_posix_keystore_pkcs11_config_t ocfg = { TERN_SOFTHSM2_MODULE, OTHER, OTHER_PIN };
    open_store(&a, &ka, &k_cfg);
    open_store(&b, &kb, &k_cfg);
    open_store(&other, &ko, &ocfg);
    uint8_t pa[TERN_KEYSTORE_PUB_LEN], pb[TERN_KEYSTORE_PUB_LEN], hash[32];
    uint8_t sig[TERN_KEYSTORE_SIG_MAX];
    size_t len = 0;
    assert_int_equal(tern_keystore_generate(&ka, "shared"), TERN_OK);
    assert_int_equal(tern_keystore_public_key(&kb, "shared", pb), TERN_OK);
    assert_int_equal(tern_keystore_public_key(&ka, "shared", pa), TERN_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    assert_int_equal(tern_keystore_public_key(&ko, "shared", pb), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_generate(&kb, "shared"), TERN_ERR_EXISTS);

    tern_posix_keystore_pkcs11_close(&a);
    tern_test_sha256("still here", hash);
    assert_int_equal(tern_keystore_sign(&kb, "shared", hash, sig, sizeof sig, &len), TERN_OK);
    assert_int_equal(tern_test_ecdsa_verify(pa, hash, 32, sig, len), 0);
    tern_posix_keystore_pkcs11_close(&b);
    tern_posix_keystore_pkcs11_close(&other);

    /* every store closed (the module finalised and unloaded): the key is on the token */
    open_store(&a, &ka, &k_cfg);
    assert_int_equal(tern_keystore_public_key(&ka, "shared", pb), TERN_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    assert_int_equal(tern_keystore_destroy(&ka, "shared"), TERN_OK);
    tern_posix_keystore_pkcs11_close(&a);
}

static void test_tls_pk(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    open_store(&p, &ks, &k_cfg);
    assert_int_equal(tern_keystore_generate(&ks, "tls"), TERN_OK);
    tern_test_keystore_tls_pk(&ks, "tls");
    assert_int_equal(tern_keystore_destroy(&ks, "tls"), TERN_OK);
    tern_posix_keystore_pkcs11_close(&p);
}

/* TLS 1.2 client authentication signed on the token, SHA-256 and SHA-384 suites. */
static void test_tls_client_auth(void **state)
{
    (void)state;
    tern_posix_keystore_pkcs11_t p;
    tern_keystore_t ks;
    open_store(&p, &ks, &k_cfg);
    assert_int_equal(tern_keystore_generate(&ks, "device"), TERN_OK);
    tern_test_keystore_tls_handshake(&ks, "device",
                                     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    tern_test_keystore_tls_handshake(&ks, "device",
                                     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
    assert_int_equal(tern_keystore_destroy(&ks, "device"), TERN_OK);
    tern_posix_keystore_pkcs11_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_private_key_cannot_leave),
        cmocka_unit_test(test_wrong_pin),
        cmocka_unit_test(test_wrong_module),
        cmocka_unit_test(test_wrong_token_and_config),
        cmocka_unit_test(test_stores_share_a_module),
        cmocka_unit_test(test_tls_pk),
        cmocka_unit_test(test_tls_client_auth),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
