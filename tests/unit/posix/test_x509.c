/* SPDX-License-Identifier: Apache-2.0 */
/* The POSIX port's X.509 operations for the identity module (posix_x509.h), on the
 * test PKI (gen_pki.sh, made with openssl) and on certificates written here with
 * mbedTLS where the PKI has none of the kind (an intermediate CA, an X.509 v1 root, a
 * long CN): the leaf's facts against openssl's reading and the known dates; chains
 * verified at a given UTC time, never the host's; strict PEM; trust stores that hold
 * a CA or not; and CSRs signed by the file key store, checked by mbedTLS's parser. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "tern/port/posix_keystore.h"
#include "tern/port/posix_x509.h"
#include "tern_proc.h"
#include "tern_testpki.h"

#include "tern_test.h"

#define DAY_MS  (86400 * (int64_t)1000)
#define YEAR_MS (365 * DAY_MS)

static const tern_x509_ops_t *const x = &tern_posix_x509_ops;

/* A file's bytes, without a NUL: PEM as the identity holds it. */
typedef struct blob {
    uint8_t *p;
    size_t len;
} blob_t;

typedef struct fx {
    tern_testpki_t pki;
    char ksdir[PATH_MAX];
    tern_posix_keystore_file_t kf;
    tern_keystore_t ks;
    blob_t ca, other_ca, server, client, expired, notyet, untrusted, selfsigned, rsa1024, sha1;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} fx_t;

static blob_t read_file(const char *path)
{
    blob_t b = { NULL, 0 };
    /* mbedTLS's own file reader: it appends a NUL, counted for PEM, which we drop */
    assert_int_equal(mbedtls_pk_load_file(path, &b.p, &b.len), 0);
    assert_true(b.len > 1 && b.p[b.len - 1] == '\0');
    b.len--;
    assert_null(memchr(b.p, '\0', b.len));
    return b;
}

/* @p a then @p b in one buffer (a chain, a store of two). */
static blob_t cat(blob_t a, blob_t b)
{
    blob_t c = { malloc(a.len + b.len), a.len + b.len };
    assert_non_null(c.p);
    memcpy(c.p, a.p, a.len);
    memcpy(c.p + a.len, b.p, b.len);
    return c;
}

static blob_t text(const char *s)
{
    blob_t b = { malloc(strlen(s) + 1), strlen(s) };
    assert_non_null(b.p);
    memcpy(b.p, s, b.len + 1);
    return b;
}

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof f);
    if (tern_testpki_make(&f.pki) != TERN_OK) {
        return -1;
    }
    const tern_testpki_t *k = &f.pki;
    f.ca = read_file(k->ca.crt);
    f.other_ca = read_file(k->other_ca.crt);
    f.server = read_file(k->server.crt);
    f.client = read_file(k->client.crt);
    f.expired = read_file(k->expired.crt);
    f.notyet = read_file(k->notyet.crt);
    f.untrusted = read_file(k->untrusted.crt);
    f.selfsigned = read_file(k->selfsigned.crt);
    f.rsa1024 = read_file(k->rsa1024.crt);
    f.sha1 = read_file(k->sha1.crt);
    assert_int_equal(tern_tmpdir_make(f.ksdir, sizeof f.ksdir, "x509ks"), TERN_OK);
    assert_int_equal(tern_posix_keystore_file_open(&f.kf, f.ksdir, &f.ks), TERN_OK);
    mbedtls_entropy_init(&f.entropy);
    mbedtls_ctr_drbg_init(&f.drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&f.drbg, mbedtls_entropy_func, &f.entropy, NULL, 0), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    blob_t *all[] = { &f->ca,     &f->other_ca,  &f->server,     &f->client,  &f->expired,
                      &f->notyet, &f->untrusted, &f->selfsigned, &f->rsa1024, &f->sha1 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->p);
    }
    mbedtls_ctr_drbg_free(&f->drbg);
    mbedtls_entropy_free(&f->entropy);
    tern_posix_keystore_file_close(&f->kf);
    tern_tmpdir_remove(f->ksdir);
    tern_testpki_remove(&f->pki);
    return 0;
}

/* The host's UTC time, to the second: the PKI's dates are relative to it. */
static int64_t host_now_ms(void)
{
    return (int64_t)time(NULL) * 1000;
}

/* openssl's reading of @p crt's validity ("notBefore=Jan  1 00:00:00 2020 GMT"), UTC ms. */
static void openssl_dates(const fx_t *f, const char *crt, int64_t *nb, int64_t *na)
{
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/dates.txt", f->pki.dir);
    remove(log);
    char *argv[] = { TERN_OPENSSL_PATH, "x509", "-noout",    "-startdate",
                     "-enddate",        "-in",  (char *)crt, NULL };
    int code = -1;
    assert_int_equal(tern_proc_run(argv, log, 10000, &code), TERN_OK);
    assert_int_equal(code, 0);
    FILE *in = fopen(log, "r");
    assert_non_null(in);
    char line[128];
    int got = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        char *eq = strchr(line, '=');
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        assert_non_null(eq);
        assert_non_null(strptime(eq + 1, "%b %d %H:%M:%S %Y GMT", &tm));
        int64_t ms = (int64_t)timegm(&tm) * 1000;
        if (strncmp(line, "notBefore=", 10) == 0) {
            *nb = ms;
            got |= 1;
        } else if (strncmp(line, "notAfter=", 9) == 0) {
            *na = ms;
            got |= 2;
        }
    }
    fclose(in);
    assert_int_equal(got, 3);
}

/* The uncompressed point of the key in @p key_file. */
static void key_point(const char *key_file, uint8_t out[TERN_KEYSTORE_PUB_LEN])
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_keyfile(&pk, key_file, NULL), 0);
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    size_t len = 0;
    assert_int_equal(mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                    &len, out, TERN_KEYSTORE_PUB_LEN),
                     0);
    assert_int_equal(len, TERN_KEYSTORE_PUB_LEN);
    mbedtls_pk_free(&pk);
}

/* ------------------------------------------- certificates written here -- */

static void new_key(fx_t *f, mbedtls_pk_context *k)
{
    mbedtls_pk_init(k);
    assert_int_equal(mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k),
                                         mbedtls_ctr_drbg_random, &f->drbg),
                     0);
}

/* A certificate for @p key named @p subject, issued by @p issuer_key named @p issuer
 * (the same: self-signed), X.509 @p version (1 or 3; a v3 one says whether it is a CA),
 * valid 2020 to 2049; its PEM without the NUL. */
static blob_t make_cert(fx_t *f, mbedtls_pk_context *key, const char *subject,
                        mbedtls_pk_context *issuer_key, const char *issuer, int version, bool ca)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_mpi_lset(&serial, 4242), 0);
    mbedtls_x509write_crt_set_version(&w, version == 1 ? MBEDTLS_X509_CRT_VERSION_1
                                                       : MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, issuer), 0);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20491231235959"), 0);
    if (version != 1) {
        assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, ca ? 1 : 0, -1), 0);
    }
    unsigned char pem[4096];
    assert_int_equal(
        mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &f->drbg), 0);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return text((const char *)pem);
}

/* ----------------------------------------------------------- leaf_info -- */

static void test_leaf_info(void **state)
{
    fx_t *f = *state;
    tern_x509_info_t info;

    /* the dates gen_pki.sh gave the expired certificate: 2020-01-01 to 2020-02-01 */
    assert_int_equal(x->leaf_info(NULL, f->expired.p, f->expired.len, &info), TERN_OK);
    assert_int_equal(info.not_before_ms, 1577836800000);
    assert_int_equal(info.not_after_ms, 1580515200000);
    assert_string_equal(info.cn, "localhost");

    /* the server's, leaf first in a chain with its CA: openssl reads the same dates, and
     * the leaf's key is server.key's */
    blob_t chain = cat(f->server, f->ca);
    assert_int_equal(x->leaf_info(NULL, chain.p, chain.len, &info), TERN_OK);
    int64_t nb = 0, na = 0;
    openssl_dates(f, f->pki.server.crt, &nb, &na);
    assert_int_equal(info.not_before_ms, nb);
    assert_int_equal(info.not_after_ms, na);
    assert_int_equal(info.not_after_ms - info.not_before_ms, 825 * DAY_MS); /* -days 825 */
    assert_string_equal(info.cn, "localhost");
    assert_true(info.pub_p256);
    uint8_t want[TERN_KEYSTORE_PUB_LEN];
    key_point(f->pki.server.key, want);
    assert_memory_equal(info.pub, want, sizeof want);
    free(chain.p);

    /* made a year from now, for a year (to the minute: the PKI was made just now) */
    assert_int_equal(x->leaf_info(NULL, f->notyet.p, f->notyet.len, &info), TERN_OK);
    int64_t now = host_now_ms();
    assert_true(llabs(info.not_before_ms - (now + YEAR_MS)) < 600000);
    assert_int_equal(info.not_after_ms - info.not_before_ms, YEAR_MS);
    openssl_dates(f, f->pki.notyet.crt, &nb, &na);
    assert_int_equal(info.not_before_ms, nb);
    assert_int_equal(info.not_after_ms, na);

    assert_int_equal(x->leaf_info(NULL, f->client.p, f->client.len, &info), TERN_OK);
    assert_string_equal(info.cn, "tern-test-client");

    /* an RSA leaf has no P-256 point */
    assert_int_equal(x->leaf_info(NULL, f->rsa1024.p, f->rsa1024.len, &info), TERN_OK);
    assert_false(info.pub_p256);
    assert_string_equal(info.cn, "localhost");

    /* a CN longer than the field is cut to fit, terminated */
    mbedtls_pk_context k;
    new_key(f, &k);
    char subject[128], cn[100];
    memset(cn, 'a', 80);
    cn[80] = '\0';
    snprintf(subject, sizeof subject, "O=tern, CN=%s", cn);
    blob_t longcn = make_cert(f, &k, subject, &k, subject, 3, false);
    assert_int_equal(x->leaf_info(NULL, longcn.p, longcn.len, &info), TERN_OK);
    assert_int_equal(strlen(info.cn), sizeof info.cn - 1);
    assert_memory_equal(info.cn, cn, sizeof info.cn - 1);
    assert_true(info.pub_p256);
    free(longcn.p);
    mbedtls_pk_free(&k);

    assert_int_equal(x->leaf_info(NULL, f->server.p, f->server.len, NULL), TERN_ERR_INVAL);
}

/* -------------------------------------------------------------- verify -- */

static void test_verify(void **state)
{
    fx_t *f = *state;
    int64_t now = host_now_ms();
    blob_t trust = cat(f->other_ca, f->ca); /* a store of two */

    assert_int_equal(x->verify(NULL, f->server.p, f->server.len, f->ca.p, f->ca.len, now), TERN_OK);
    assert_int_equal(x->verify(NULL, f->server.p, f->server.len, trust.p, trust.len, now), TERN_OK);
    assert_int_equal(x->verify(NULL, f->client.p, f->client.len, f->ca.p, f->ca.len, now), TERN_OK);
    blob_t chain = cat(f->server, f->ca); /* its root sent along: still fine */
    assert_int_equal(x->verify(NULL, chain.p, chain.len, f->ca.p, f->ca.len, now), TERN_OK);
    free(chain.p);

    /* an unknown CA, and a self-signed leaf */
    assert_int_equal(
        x->verify(NULL, f->server.p, f->server.len, f->other_ca.p, f->other_ca.len, now),
        TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, f->untrusted.p, f->untrusted.len, f->ca.p, f->ca.len, now),
                     TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, f->selfsigned.p, f->selfsigned.len, f->ca.p, f->ca.len, now),
                     TERN_ERR_CERT);

    /* validity at the given time, not the host's; a negative time skips it (the expired
     * one cannot pass inside its period in 2020: its CA was made today) */
    assert_int_equal(x->verify(NULL, f->expired.p, f->expired.len, f->ca.p, f->ca.len, now),
                     TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, f->expired.p, f->expired.len, f->ca.p, f->ca.len, -1),
                     TERN_OK);
    assert_int_equal(x->verify(NULL, f->notyet.p, f->notyet.len, f->ca.p, f->ca.len, now),
                     TERN_ERR_CERT);
    assert_int_equal(
        x->verify(NULL, f->notyet.p, f->notyet.len, f->ca.p, f->ca.len, now + 18 * YEAR_MS / 12),
        TERN_OK);
    assert_int_equal(x->verify(NULL, f->notyet.p, f->notyet.len, f->ca.p, f->ca.len, -1), TERN_OK);
    /* the valid server, judged 50 years on and in 2019 */
    assert_int_equal(
        x->verify(NULL, f->server.p, f->server.len, f->ca.p, f->ca.len, now + 50 * YEAR_MS),
        TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, f->server.p, f->server.len, f->ca.p, f->ca.len, 1559347200000),
                     TERN_ERR_CERT);

    /* tern's profile: RSA-1024 and SHA-1 are refused, whatever the time */
    assert_int_equal(x->verify(NULL, f->rsa1024.p, f->rsa1024.len, f->ca.p, f->ca.len, -1),
                     TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, f->sha1.p, f->sha1.len, f->ca.p, f->ca.len, -1),
                     TERN_ERR_CERT);

    /* what does not parse */
    blob_t junk = text("not a certificate\n");
    assert_int_equal(x->verify(NULL, junk.p, junk.len, f->ca.p, f->ca.len, now),
                     TERN_ERR_MALFORMED);
    assert_int_equal(x->verify(NULL, f->server.p, f->server.len, junk.p, junk.len, now),
                     TERN_ERR_MALFORMED);
    assert_int_equal(x->verify(NULL, f->server.p, 0, f->ca.p, f->ca.len, now), TERN_ERR_MALFORMED);
    assert_int_equal(x->verify(NULL, f->server.p, f->server.len, f->ca.p, 0, now),
                     TERN_ERR_MALFORMED);
    assert_int_equal(x->verify(NULL, NULL, 0, f->ca.p, f->ca.len, now), TERN_ERR_MALFORMED);
    free(junk.p);
    free(trust.p);
}

/* Leaf first, then the intermediate, to the root in the store: the intermediate is
 * needed, and checked as any other certificate of the chain. */
static void test_verify_intermediate(void **state)
{
    fx_t *f = *state;
    mbedtls_pk_context root_key, mid_key, leaf_key;
    new_key(f, &root_key);
    new_key(f, &mid_key);
    new_key(f, &leaf_key);
    blob_t root = make_cert(f, &root_key, "CN=x509 root", &root_key, "CN=x509 root", 3, true);
    blob_t mid = make_cert(f, &mid_key, "CN=x509 mid", &root_key, "CN=x509 root", 3, true);
    blob_t leaf = make_cert(f, &leaf_key, "CN=x509 leaf", &mid_key, "CN=x509 mid", 3, false);
    blob_t chain = cat(leaf, mid);
    int64_t now = host_now_ms();
    assert_int_equal(x->verify(NULL, chain.p, chain.len, root.p, root.len, now), TERN_OK);
    assert_int_equal(x->verify(NULL, leaf.p, leaf.len, root.p, root.len, now), TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, chain.p, chain.len, f->ca.p, f->ca.len, now), TERN_ERR_CERT);
    /* all of it was valid from 2020 to 2049 */
    assert_int_equal(x->verify(NULL, chain.p, chain.len, root.p, root.len, 1559347200000),
                     TERN_ERR_CERT);
    assert_int_equal(x->verify(NULL, chain.p, chain.len, root.p, root.len, 2524608000000 /*2050*/),
                     TERN_ERR_CERT);
    /* a leaf-only "intermediate" cannot issue */
    blob_t leaf2 = make_cert(f, &leaf_key, "CN=x509 leaf2", &mid_key, "CN=x509 mid", 3, false);
    blob_t bad_mid = make_cert(f, &mid_key, "CN=x509 mid", &root_key, "CN=x509 root", 3, false);
    blob_t bad = cat(leaf2, bad_mid);
    assert_int_equal(x->verify(NULL, bad.p, bad.len, root.p, root.len, now), TERN_ERR_CERT);
    blob_t *all[] = { &root, &mid, &leaf, &chain, &leaf2, &bad_mid, &bad };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->p);
    }
    mbedtls_pk_free(&root_key);
    mbedtls_pk_free(&mid_key);
    mbedtls_pk_free(&leaf_key);
}

/* ------------------------------------------------------------- strict PEM -- */

static void test_strict_pem(void **state)
{
    fx_t *f = *state;
    tern_x509_info_t info;
    static const char *const k_bad[] = {
        "", "garbage",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n", /* not DER */
    };
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        blob_t b = text(k_bad[i]);
        assert_int_equal(x->leaf_info(NULL, b.p, b.len, &info), TERN_ERR_MALFORMED);
        assert_int_equal(x->check_trust(NULL, b.p, b.len), TERN_ERR_MALFORMED);
        free(b.p);
    }
    assert_int_equal(x->leaf_info(NULL, NULL, 0, &info), TERN_ERR_MALFORMED);

    /* a good certificate, then: trailing text; a damaged one (mbedtls_x509_crt_parse
     * would keep the first and say "1 failed"); a cut-off one; a private key */
    blob_t damaged = text("-----BEGIN CERTIFICATE-----\nMIIBzzCCAXWgAwIBAgIU\n"
                          "-----END CERTIFICATE-----\n");
    blob_t cut = { f->ca.p, f->ca.len / 2 };
    blob_t key = text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    blob_t tails[] = { text("trailing words\n"), damaged, cut, key };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        blob_t b = cat(f->server, tails[i]);
        assert_int_equal(x->leaf_info(NULL, b.p, b.len, &info), TERN_ERR_MALFORMED);
        assert_int_equal(x->verify(NULL, b.p, b.len, f->ca.p, f->ca.len, -1), TERN_ERR_MALFORMED);
        free(b.p);
        /* ... and before it, as far as they are not mere text */
        b = cat(tails[i], f->ca);
        assert_int_equal(x->check_trust(NULL, b.p, b.len), i == 0 ? TERN_OK : TERN_ERR_MALFORMED);
        free(b.p);
    }
    free(tails[0].p);
    free(damaged.p);
    free(key.p);

    /* whitespace after the last certificate is fine, and so is CRLF; a NUL is not */
    blob_t sp = cat(f->server, (blob_t){ (uint8_t *)" \r\n\t\n", 5 });
    assert_int_equal(x->leaf_info(NULL, sp.p, sp.len, &info), TERN_OK);
    sp.p[sp.len - 2] = '\0';
    assert_int_equal(x->leaf_info(NULL, sp.p, sp.len, &info), TERN_ERR_MALFORMED);
    free(sp.p);
    blob_t crlf = { malloc(2 * f->server.len), 0 };
    for (size_t i = 0; i < f->server.len; i++) {
        if (f->server.p[i] == '\n') {
            crlf.p[crlf.len++] = '\r';
        }
        crlf.p[crlf.len++] = f->server.p[i];
    }
    assert_int_equal(x->leaf_info(NULL, crlf.p, crlf.len, &info), TERN_OK);
    assert_string_equal(info.cn, "localhost");
    free(crlf.p);
}

/* --------------------------------------------------------- check_trust -- */

static void test_check_trust(void **state)
{
    fx_t *f = *state;
    assert_int_equal(x->check_trust(NULL, f->ca.p, f->ca.len), TERN_OK);
    blob_t two = cat(f->ca, f->other_ca);
    assert_int_equal(x->check_trust(NULL, two.p, two.len), TERN_OK);
    free(two.p);
    blob_t mixed = cat(f->server, f->ca); /* one CA among them is enough */
    assert_int_equal(x->check_trust(NULL, mixed.p, mixed.len), TERN_OK);
    free(mixed.p);
    /* leaves only: no anchor a chain could end at */
    assert_int_equal(x->check_trust(NULL, f->server.p, f->server.len), TERN_ERR_MALFORMED);
    assert_int_equal(x->check_trust(NULL, f->selfsigned.p, f->selfsigned.len),
                     TERN_ERR_MALFORMED); /* signed by itself, but CA:FALSE */
    blob_t leaves = cat(f->server, f->client);
    assert_int_equal(x->check_trust(NULL, leaves.p, leaves.len), TERN_ERR_MALFORMED);
    free(leaves.p);
    assert_int_equal(x->check_trust(NULL, NULL, 0), TERN_ERR_MALFORMED);

    /* an X.509 v1 root (no extensions at all) counts; a v1 leaf it issued does not */
    mbedtls_pk_context root_key, leaf_key;
    new_key(f, &root_key);
    new_key(f, &leaf_key);
    blob_t v1 = make_cert(f, &root_key, "CN=v1 root", &root_key, "CN=v1 root", 1, false);
    blob_t v1leaf = make_cert(f, &leaf_key, "CN=v1 leaf", &root_key, "CN=v1 root", 1, false);
    assert_int_equal(x->check_trust(NULL, v1.p, v1.len), TERN_OK);
    assert_int_equal(x->check_trust(NULL, v1leaf.p, v1leaf.len), TERN_ERR_MALFORMED);
    free(v1.p);
    free(v1leaf.p);
    mbedtls_pk_free(&root_key);
    mbedtls_pk_free(&leaf_key);
}

/* ------------------------------------------------------------ make_csr -- */

static void test_make_csr(void **state)
{
    fx_t *f = *state;
    assert_int_equal(tern_keystore_generate(&f->ks, "op1"), TERN_OK);
    uint8_t out[600];
    size_t len = 0;
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", "tern-dev-0001", out, sizeof out, &len),
                     TERN_OK);
    assert_true(len > 100 && len < sizeof out);
    assert_int_equal(out[0], 0x30); /* the DER begins the buffer */

    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    assert_int_equal(mbedtls_x509_csr_parse_der(&csr, out, len), 0);
    char dn[128];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &csr.subject) > 0);
    assert_string_equal(dn, "CN=tern-dev-0001");
    assert_int_equal(csr.sig_md, MBEDTLS_MD_SHA256);
    /* its key is the store's key */
    uint8_t want[TERN_KEYSTORE_PUB_LEN], have[TERN_KEYSTORE_PUB_LEN];
    assert_int_equal(tern_keystore_public_key(&f->ks, "op1", want), TERN_OK);
    assert_true(mbedtls_pk_can_do(&csr.pk, MBEDTLS_PK_ECKEY));
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(csr.pk);
    size_t plen = 0;
    assert_int_equal(mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                    &plen, have, sizeof have),
                     0);
    assert_memory_equal(have, want, sizeof want);
    /* and it signed the request */
    uint8_t hash[32];
    assert_int_equal(mbedtls_sha256_ret(csr.cri.p, csr.cri.len, hash, 0), 0);
    assert_int_equal(
        mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, sizeof hash, csr.sig.p, csr.sig.len),
        0);
    hash[0] ^= 1;
    assert_int_not_equal(
        mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, sizeof hash, csr.sig.p, csr.sig.len),
        0);
    mbedtls_x509_csr_free(&csr);

    /* the longest CN fits 600 bytes */
    char cn64[65];
    memset(cn64, 'd', 64);
    cn64[64] = '\0';
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", cn64, out, sizeof out, &len), TERN_OK);

    /* too small, by one byte and by much */
    size_t need = len;
    len = 99;
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", cn64, out, need - 1, &len),
                     TERN_ERR_TOO_SMALL);
    assert_int_equal(len, 0);
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", "tern-dev-0001", out, 16, &len),
                     TERN_ERR_TOO_SMALL);

    /* CNs the subject string would have to escape, or that are not one; one too long */
    static const char *const k_bad_cn[] = {
        "",    "a,b",  "a=b",  "a+b",   "a<b",    "a>b",       "#a",
        "a;b", "a\"b", "a\\b", " lead", "trail ", "new\nline", "\xc3\xbc",
    };
    for (size_t i = 0; i < sizeof k_bad_cn / sizeof k_bad_cn[0]; i++) {
        assert_int_equal(x->make_csr(NULL, &f->ks, "op1", k_bad_cn[i], out, sizeof out, &len),
                         TERN_ERR_INVAL);
    }
    char cn65[66];
    memset(cn65, 'd', 65);
    cn65[65] = '\0';
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", cn65, out, sizeof out, &len), TERN_ERR_INVAL);
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", NULL, out, sizeof out, &len), TERN_ERR_INVAL);
    assert_int_equal(x->make_csr(NULL, NULL, "op1", "cn", out, sizeof out, &len), TERN_ERR_INVAL);
    assert_int_equal(x->make_csr(NULL, &f->ks, "op1", "cn", NULL, sizeof out, &len),
                     TERN_ERR_INVAL);

    /* no such key: the store says so */
    assert_int_equal(x->make_csr(NULL, &f->ks, "op2", "cn", out, sizeof out, &len),
                     TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_keystore_destroy(&f->ks, "op1"), TERN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_info),           cmocka_unit_test(test_verify),
        cmocka_unit_test(test_verify_intermediate), cmocka_unit_test(test_strict_pem),
        cmocka_unit_test(test_check_trust),         cmocka_unit_test(test_make_csr),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
