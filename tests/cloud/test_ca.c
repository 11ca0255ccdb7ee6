/* SPDX-License-Identifier: Apache-2.0 */
/* ternd's certificate authority (cloud/ternd/ca.h) and what answers certificate requests
 * (certs.h) on its store, against throwaway CAs and device keys made here with mbedTLS:
 * a good request's chain verifies against the CA with its CN, validity span, CA:false,
 * keyUsage and clientAuth; refusals each with their reason (CN, altered request,
 * RSA / P-384 key, SHA-1, garbage, invalid id); an RSA CA; the lifetime clamped to the
 * CA's; CA files refused; trust stores checked; and idempotence in the store: the same
 * request serial with the same key gets the same chain, late duplicates are ignored,
 * answers not yet taken by the broker are sent again; a trust store for a whole fleet
 * queued once per device and published in order, paced by the QoS 1 window. */
#define _GNU_SOURCE /* nftw, mkdtemp, getrandom */
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ca.h"
#include "certs.h"
#include "cloud_test.h"
#include "store.h"
#include "tern/cbor.h"
#include "tern/wire.h"
#include "tern_test.h"

static mbedtls_ctr_drbg_context g_drbg;

static int os_random(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n <= 0 && errno != EINTR) {
            return -1;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

/* ------------------------------------------------------------- helpers -- */

static void gen_ec(mbedtls_pk_context *k, mbedtls_ecp_group_id curve)
{
    mbedtls_pk_init(k);
    assert_int_equal(mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(
        mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(*k), mbedtls_ctr_drbg_random, &g_drbg), 0);
}

static void gen_rsa(mbedtls_pk_context *k, unsigned bits)
{
    mbedtls_pk_init(k);
    assert_int_equal(mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    assert_int_equal(
        mbedtls_rsa_gen_key(mbedtls_pk_rsa(*k), mbedtls_ctr_drbg_random, &g_drbg, bits, 65537), 0);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void stamp(time_t t, char out[16])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* A self-signed CA (or, with @p is_ca false, a plain certificate) for @p key, valid from an
 * hour ago for @p days, written as PEM to @p cert_path and its key to @p key_path. */
static void make_ca(mbedtls_pk_context *key, const char *subject, bool is_ca, int days,
                    const char *cert_path, const char *key_path)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    char nb[16], na[16];
    time_t now = time(NULL);
    stamp(now - 3600, nb);
    stamp(now + (time_t)days * 86400, na);
    assert_int_equal(mbedtls_mpi_lset(&serial, 4242), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, key);
    mbedtls_x509write_crt_set_issuer_key(&w, key);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, nb, na), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, is_ca ? 1 : 0, -1), 0);
    assert_int_equal(mbedtls_x509write_crt_set_key_usage(
                         &w, is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                                   : MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
                     0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_key_identifier(&w), 0);
    unsigned char pem[4096];
    assert_int_equal(
        mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &g_drbg), 0);
    write_file(cert_path, pem, strlen((char *)pem));
    if (key_path != NULL) {
        unsigned char kp[8192];
        assert_int_equal(mbedtls_pk_write_key_pem(key, kp, sizeof kp), 0);
        write_file(key_path, kp, strlen((char *)kp));
    }
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
}

/* A PKCS#10 request (DER) for @p key with @p subject, signed with @p md: its length. */
static size_t make_csr(mbedtls_pk_context *key, const char *subject, mbedtls_md_type_t md,
                       uint8_t *out, size_t cap)
{
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_key(&w, key);
    mbedtls_x509write_csr_set_md_alg(&w, md);
    assert_int_equal(mbedtls_x509write_csr_set_subject_name(&w, subject), 0);
    unsigned char buf[4096];
    int n = mbedtls_x509write_csr_der(&w, buf, sizeof buf, mbedtls_ctr_drbg_random, &g_drbg);
    assert_true(n > 0 && (size_t)n <= cap);
    memcpy(out, buf + sizeof buf - n, (size_t)n);
    mbedtls_x509write_csr_free(&w);
    return (size_t)n;
}

typedef struct fixture {
    char dir[256];
    char ca_crt[300], ca_key[300];
    mbedtls_pk_context ca_pk;  /* EC P-256 */
    mbedtls_pk_context dev_pk; /* EC P-256 */
    ternd_ca_t *ca;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL || cloud_test_tmpdir(f->dir, sizeof f->dir, "ca") == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->ca_crt, sizeof f->ca_crt, "%s/ca.crt", f->dir);
    snprintf(f->ca_key, sizeof f->ca_key, "%s/ca.key", f->dir);
    gen_ec(&f->ca_pk, MBEDTLS_ECP_DP_SECP256R1);
    gen_ec(&f->dev_pk, MBEDTLS_ECP_DP_SECP256R1);
    make_ca(&f->ca_pk, "C=DE,O=tern fleet,CN=tern test CA", true, 365, f->ca_crt, f->ca_key);
    char err[256];
    f->ca = ternd_ca_load(f->ca_crt, f->ca_key, err, sizeof err);
    if (f->ca == NULL) {
        fprintf(stderr, "CA: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ternd_ca_free(f->ca);
    mbedtls_pk_free(&f->ca_pk);
    mbedtls_pk_free(&f->dev_pk);
    cloud_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* The chain's certificates parsed into @p crt: how many. */
static size_t parse_chain(const ternd_cert_t *c, mbedtls_x509_crt *crt)
{
    mbedtls_x509_crt_init(crt);
    assert_int_equal(c->chain[c->chain_len], '\0');
    assert_int_equal(mbedtls_x509_crt_parse(crt, (const unsigned char *)c->chain, c->chain_len + 1),
                     0);
    size_t n = 0;
    for (const mbedtls_x509_crt *p = crt; p != NULL && p->raw.len; p = p->next) {
        n++;
    }
    return n;
}

static int64_t crt_time(const mbedtls_x509_time *x)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = x->year - 1900;
    tm.tm_mon = x->mon - 1;
    tm.tm_mday = x->day;
    tm.tm_hour = x->hour;
    tm.tm_min = x->min;
    tm.tm_sec = x->sec;
    return (int64_t)timegm(&tm);
}

/* The leaf of @p c: verifies against the CA in @p ca_path, names @p cn, a client
 * certificate for the device key @p dev, valid for @p lifetime from 60 s before @p now. */
static void check_leaf(const ternd_cert_t *c, const char *ca_path, const char *cn,
                       mbedtls_pk_context *dev, int64_t now, int64_t lifetime)
{
    mbedtls_x509_crt chain, trust;
    assert_int_equal(parse_chain(c, &chain), 2);
    mbedtls_x509_crt_init(&trust);
    assert_int_equal(mbedtls_x509_crt_parse_file(&trust, ca_path), 0);
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&chain, &trust, NULL, NULL, &flags, NULL, NULL), 0);
    assert_int_equal(flags, 0);
    /* the second certificate is the CA's, byte for byte */
    assert_int_equal(chain.next->raw.len, trust.raw.len);
    assert_memory_equal(chain.next->raw.p, trust.raw.p, trust.raw.len);
    /* the issuer is the CA's subject, byte for byte */
    assert_int_equal(chain.issuer_raw.len, trust.subject_raw.len);
    assert_memory_equal(chain.issuer_raw.p, trust.subject_raw.p, trust.subject_raw.len);
    /* subject CN=<id> and nothing else */
    char dn[128];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &chain.subject) > 0);
    char want[96];
    snprintf(want, sizeof want, "CN=%s", cn);
    assert_string_equal(dn, want);
    /* validity: from 60 s before now, for the lifetime */
    int64_t nb = crt_time(&chain.valid_from), na = crt_time(&chain.valid_to);
    assert_true(nb <= now - 60 + 1 && nb >= now - 60 - 5);
    assert_true(na - nb >= lifetime + 60 - 5 && na - nb <= lifetime + 60 + 5);
    assert_int_equal(c->not_before, nb);
    assert_int_equal(c->not_after, na);
    /* CA:false, digitalSignature, clientAuth, key identifiers */
    assert_true(chain.ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS);
    assert_int_equal(chain.ca_istrue, 0);
    assert_true(chain.ext_types & MBEDTLS_X509_EXT_KEY_USAGE);
    assert_int_equal(chain.key_usage, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    assert_true(chain.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE);
    assert_int_equal(
        mbedtls_x509_crt_check_extended_key_usage(&chain, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
        0);
    assert_int_not_equal(
        mbedtls_x509_crt_check_extended_key_usage(&chain, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
        0);
    assert_int_equal(chain.sig_md, MBEDTLS_MD_SHA256);
    assert_int_equal(chain.version, 3);
    /* a positive 16-byte serial, as the hex says */
    assert_int_equal(chain.serial.len, 16);
    assert_true(chain.serial.p[0] < 0x80 && chain.serial.p[0] >= 0x40);
    char hex[40];
    for (size_t i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", chain.serial.p[i]);
    }
    assert_string_equal(hex, c->serial);
    /* the device's key */
    unsigned char a[256], b[256];
    int la = mbedtls_pk_write_pubkey_der(&chain.pk, a, sizeof a);
    int lb = mbedtls_pk_write_pubkey_der(dev, b, sizeof b);
    assert_true(la > 0 && la == lb);
    assert_memory_equal(a + sizeof a - la, b + sizeof b - lb, (size_t)la);
    mbedtls_x509_crt_free(&chain);
    mbedtls_x509_crt_free(&trust);
}

/* --------------------------------------------------------------- issue -- */

static void test_good_request(void **state)
{
    fixture_t *f = *state;
    uint8_t csr[2048];
    size_t n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    char why[256] = "";
    ternd_csr_info_t info;
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", &info, why, sizeof why), TERND_CA_OK);
    assert_string_equal(info.cn, "dev-1");
    assert_int_equal(strlen(info.key_id), 64);

    int64_t now = (int64_t)time(NULL);
    ternd_cert_t c;
    assert_int_equal(ternd_ca_issue(f->ca, "dev-1", csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_OK);
    check_leaf(&c, f->ca_crt, "dev-1", &f->dev_pk, now, 3600);
    assert_string_equal(c.key_id, info.key_id);

    /* the default lifetime, 90 days; and a new serial every time */
    ternd_cert_t d;
    assert_int_equal(
        ternd_ca_issue(f->ca, "dev-1", csr, n, TERND_CA_LIFETIME_DEFAULT, now, &d, why, sizeof why),
        TERND_CA_OK);
    check_leaf(&d, f->ca_crt, "dev-1", &f->dev_pk, now, 90 * 86400);
    assert_string_not_equal(c.serial, d.serial);
    ternd_cert_free(&d);
    ternd_cert_free(&c);

    /* PEM works as well as DER (what openssl req writes by default) */
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_key(&w, &f->dev_pk);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_x509write_csr_set_subject_name(&w, "CN=dev-1"), 0);
    unsigned char pem[2048];
    assert_int_equal(
        mbedtls_x509write_csr_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &g_drbg), 0);
    mbedtls_x509write_csr_free(&w);
    assert_int_equal(
        ternd_ca_issue(f->ca, NULL, pem, strlen((char *)pem), 600, now, &c, why, sizeof why),
        TERND_CA_OK); /* the id from its CN */
    check_leaf(&c, f->ca_crt, "dev-1", &f->dev_pk, now, 600);
    ternd_cert_free(&c);
}

static void test_refusals(void **state)
{
    fixture_t *f = *state;
    uint8_t csr[4096];
    char why[256];
    ternd_cert_t c;
    int64_t now = (int64_t)time(NULL);

    /* the CN of another device */
    size_t n = make_csr(&f->dev_pk, "CN=dev-2", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_issue(f->ca, "dev-1", csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_CN);
    assert_non_null(strstr(why, "\"dev-2\" is not the device id dev-1"));
    assert_null(c.chain);
    /* a subject without a CN, and one with two */
    n = make_csr(&f->dev_pk, "O=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", NULL, why, sizeof why), TERND_CA_CN);
    assert_non_null(strstr(why, "no CN"));
    /* an id that is not one, given or taken from the CN */
    n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_check(csr, n, "dev/1", NULL, why, sizeof why), TERND_CA_ID);
    n = make_csr(&f->dev_pk, "CN=dev 1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_issue(f->ca, NULL, csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_ID);
    assert_non_null(strstr(why, "\"dev 1\" is not a device id"));

    /* altered: one byte of the CN inside the CertificationRequestInfo ("dev-1" -> "dev-0") */
    n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    uint8_t *at = memmem(csr, n, "dev-1", 5);
    assert_non_null(at);
    at[4] ^= 0x01;
    assert_int_equal(ternd_ca_issue(f->ca, "dev-0", csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_SIGNATURE);
    assert_non_null(strstr(why, "signature does not verify"));
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", NULL, why, sizeof why), TERND_CA_SIGNATURE);
    /* or the signature itself (its last byte: inside the BIT STRING) */
    n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    csr[n - 1] ^= 0x40;
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", NULL, why, sizeof why), TERND_CA_SIGNATURE);

    /* keys: RSA, EC P-384 */
    mbedtls_pk_context rsa, p384;
    gen_rsa(&rsa, 1024);
    n = make_csr(&rsa, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_issue(f->ca, "dev-1", csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_KEY);
    assert_non_null(strstr(why, "RSA-1024, not EC P-256"));
    gen_ec(&p384, MBEDTLS_ECP_DP_SECP384R1);
    n = make_csr(&p384, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", NULL, why, sizeof why), TERND_CA_KEY);
    assert_non_null(strstr(why, "secp384r1"));
    mbedtls_pk_free(&rsa);
    mbedtls_pk_free(&p384);

    /* SHA-1 */
    n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA1, csr, sizeof csr);
    assert_int_equal(ternd_ca_check(csr, n, "dev-1", NULL, why, sizeof why), TERND_CA_HASH);

    /* garbage, nothing, a request cut short, PEM junk */
    static const uint8_t junk[] = { 0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef };
    assert_int_equal(
        ternd_ca_issue(f->ca, "dev-1", junk, sizeof junk, 3600, now, &c, why, sizeof why),
        TERND_CA_PARSE);
    assert_non_null(strstr(why, "not a PKCS#10 request"));
    assert_int_equal(ternd_ca_check(junk, 0, "dev-1", NULL, why, sizeof why), TERND_CA_PARSE);
    assert_int_equal(ternd_ca_check(NULL, 0, "dev-1", NULL, why, sizeof why), TERND_CA_PARSE);
    n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_ca_check(csr, n - 1, "dev-1", NULL, why, sizeof why), TERND_CA_PARSE);
    static const char pem_junk[] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                   "-----END CERTIFICATE REQUEST-----\n";
    assert_int_equal(ternd_ca_check((const uint8_t *)pem_junk, sizeof pem_junk - 1, "dev-1", NULL,
                                    why, sizeof why),
                     TERND_CA_PARSE);
    /* each refusal has its own name */
    assert_string_equal(ternd_ca_result_name(TERND_CA_SIGNATURE), "signature");
    assert_string_not_equal(ternd_ca_result_name(TERND_CA_CN), ternd_ca_result_name(TERND_CA_ID));
}

/* An RSA CA, and a lifetime past the CA's own end: cut to it. */
static void test_rsa_ca_and_clamp(void **state)
{
    fixture_t *f = *state;
    char crt[300], key[300], why[256];
    snprintf(crt, sizeof crt, "%s/rsa-ca.crt", f->dir);
    snprintf(key, sizeof key, "%s/rsa-ca.key", f->dir);
    mbedtls_pk_context rsa;
    gen_rsa(&rsa, 2048);
    make_ca(&rsa, "CN=tern RSA CA", true, 2, crt, key);
    ternd_ca_t *ca = ternd_ca_load(crt, key, why, sizeof why);
    assert_non_null(ca);
    assert_string_equal(ternd_ca_subject(ca), "CN=tern RSA CA");
    uint8_t csr[1024];
    size_t n = make_csr(&f->dev_pk, "CN=dev-9", MBEDTLS_MD_SHA256, csr, sizeof csr);
    int64_t now = (int64_t)time(NULL);
    ternd_cert_t c;
    assert_int_equal(ternd_ca_issue(ca, "dev-9", csr, n, 3600, now, &c, why, sizeof why),
                     TERND_CA_OK);
    check_leaf(&c, crt, "dev-9", &f->dev_pk, now, 3600);
    ternd_cert_free(&c);
    /* 90 days asked, the CA ends in 2: the certificate ends with it */
    assert_int_equal(
        ternd_ca_issue(ca, "dev-9", csr, n, TERND_CA_LIFETIME_DEFAULT, now, &c, why, sizeof why),
        TERND_CA_OK);
    mbedtls_x509_crt chain;
    assert_int_equal(parse_chain(&c, &chain), 2);
    assert_int_equal(crt_time(&chain.valid_to), crt_time(&chain.next->valid_to));
    mbedtls_x509_crt_free(&chain);
    ternd_cert_free(&c);
    /* a CA that has expired by the time given */
    assert_int_equal(
        ternd_ca_issue(ca, "dev-9", csr, n, 3600, now + 3 * 86400, &c, why, sizeof why),
        TERND_CA_CA_EXPIRED);
    assert_non_null(strstr(why, "expired"));
    ternd_ca_free(ca);
    mbedtls_pk_free(&rsa);
}

static void test_ca_load_refusals(void **state)
{
    fixture_t *f = *state;
    char crt[300], key[300], err[512];
    snprintf(crt, sizeof crt, "%s/leaf.crt", f->dir);
    snprintf(key, sizeof key, "%s/leaf.key", f->dir);
    make_ca(&f->dev_pk, "CN=not a CA", false, 30, crt, key);
    assert_null(ternd_ca_load(crt, key, err, sizeof err));
    assert_non_null(strstr(err, "not a CA certificate"));
    /* the key of another certificate */
    assert_null(ternd_ca_load(f->ca_crt, key, err, sizeof err));
    assert_non_null(strstr(err, "is not the key of"));
    /* files that are not there, or not what they should be */
    assert_null(ternd_ca_load("/nonexistent/ca.crt", f->ca_key, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.crt"));
    assert_null(ternd_ca_load(f->ca_crt, f->ca_crt, err, sizeof err));
    assert_null(ternd_ca_load(f->ca_key, f->ca_key, err, sizeof err));
}

/* ---------------------------------------------------------------- trust -- */

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 16384);
    *len = fread(buf, 1, 16383, fp);
    fclose(fp);
    return buf;
}

static void test_trust_check(void **state)
{
    fixture_t *f = *state;
    size_t len, n, out_len;
    char *out, why[256];
    char *ca = slurp(f->ca_crt, &len);
    assert_int_equal(ternd_ca_trust_check(ca, len, &n, &out, &out_len, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out_len, strlen(out));
    assert_string_equal(out, ca); /* mbedTLS wrote it: the same text */
    free(out);

    /* two anchors, with text around them (as `openssl x509 -text` leaves): the text goes */
    char *two = calloc(1, 2 * len + 64);
    snprintf(two, 2 * len + 64, "subject=tern test CA\n%s\n# again\n%s", ca, ca);
    assert_int_equal(ternd_ca_trust_check(two, strlen(two), &n, &out, &out_len, why, sizeof why),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(out_len, 2 * len);
    assert_null(strstr(out, "subject="));
    free(out);
    free(two);

    /* refused: no certificate, garbage, a non-CA certificate, a private key among them */
    assert_int_equal(ternd_ca_trust_check("hello", 5, &n, NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "no PEM certificate"));
    static const char bad[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(ternd_ca_trust_check(bad, sizeof bad - 1, &n, NULL, NULL, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "parse"));
    char leaf_crt[300];
    snprintf(leaf_crt, sizeof leaf_crt, "%s/plain.crt", f->dir);
    make_ca(&f->dev_pk, "CN=plain", false, 30, leaf_crt, NULL);
    size_t ll;
    char *leaf = slurp(leaf_crt, &ll);
    assert_int_equal(ternd_ca_trust_check(leaf, ll, &n, NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a CA certificate"));
    size_t kl;
    char *key = slurp(f->ca_key, &kl);
    char *mix = calloc(1, len + kl + 1);
    memcpy(mix, ca, len);
    memcpy(mix + len, key, kl);
    assert_int_equal(ternd_ca_trust_check(mix, len + kl, &n, NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "private key"));
    assert_int_equal(ternd_ca_trust_check(ca, 0, &n, NULL, NULL, why, sizeof why), -1);
    free(mix);
    free(key);
    free(leaf);
    free(ca);
}

/* ------------------------------------------------- store, idempotence -- */

typedef struct pub {
    char topic[TERN_WIRE_TOPIC_MAX];
    uint8_t msg[TERN_WIRE_CERT_MAX];
    size_t len;
    uint32_t token;
    int answer; /* what publish says */
    int count;
} pub_t;

static int fake_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                        uint32_t *token)
{
    pub_t *p = ctx;
    if (p->answer != 0) {
        return p->answer;
    }
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    memcpy(p->msg, payload, len);
    p->len = len;
    *token = ++p->token;
    p->count++;
    return 0;
}

/* The last message published: {1: text, 2: uint}. */
static void last_message(const pub_t *p, char *text, size_t cap, uint64_t *number)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, p->msg, p->len, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_MAP);
    assert_int_equal(it.u, 2);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.u, TERN_WIRE_C_DATA);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_TEXT);
    assert_true(it.len < cap);
    memcpy(text, it.ptr, it.len);
    text[it.len] = '\0';
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.u, TERN_WIRE_C_SERIAL);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_UINT);
    *number = it.u;
}

/* A publisher with a QoS 1 window of room publishes; the topics in order. */
typedef struct window_pub {
    int room;
    uint32_t token;
    size_t n;
    char topic[4096][48];
} window_pub_t;

static int window_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                          uint32_t *token)
{
    (void)payload;
    (void)len;
    window_pub_t *w = ctx;
    if (w->room == 0) {
        return 1;
    }
    w->room--;
    assert_true(w->n < 4096);
    snprintf(w->topic[w->n++], sizeof w->topic[0], "%s", topic);
    *token = ++w->token;
    return 0;
}

static void count_pending(void *ctx, const char *device, ternd_pub_kind_t kind)
{
    (void)device;
    (void)kind;
    (*(int *)ctx)++;
}

static void test_store_idempotence(void **state)
{
    fixture_t *f = *state;
    char db[300], err[256], why[512];
    snprintf(db, sizeof db, "%s/ternd.db", f->dir);
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    pub_t pub;
    memset(&pub, 0, sizeof pub);
    ternd_certs_t c;
    assert_int_equal(ternd_certs_init(&c, s, f->ca, 3600, fake_publish, &pub, false), 0);
    int64_t now_ms = (int64_t)time(NULL) * 1000;

    uint8_t csr1[1024], csr2[1024];
    size_t n1 = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr1, sizeof csr1);
    /* request 1: issued, stored, published retained on tern/dev-1/cert/new */
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr1, n1, 1, now_ms, why, sizeof why), 0);
    assert_int_equal(c.stats.issued, 1);
    assert_int_equal(ternd_certs_drain(&c), 0);
    assert_int_equal(pub.count, 1);
    assert_string_equal(pub.topic, "tern/dev-1/cert/new");
    static char first[TERN_WIRE_CERT_MAX], text[TERN_WIRE_CERT_MAX];
    uint64_t number = 0;
    last_message(&pub, first, sizeof first, &number);
    assert_int_equal(number, 1);
    ternd_cert_row_t row;
    assert_int_equal(ternd_store_cert_latest(s, "dev-1", &row), 1);
    assert_string_equal(row.chain, first);
    assert_int_equal(row.request, 1);
    assert_false(row.published);
    ternd_cert_t as_issued = { .chain = (char *)first, .chain_len = strlen(first) };
    memcpy(as_issued.serial, row.serial, sizeof as_issued.serial);
    as_issued.not_before = row.not_before;
    as_issued.not_after = row.not_after;
    check_leaf(&as_issued, f->ca_crt, "dev-1", &f->dev_pk, now_ms / 1000, 3600);
    char serial1[65];
    snprintf(serial1, sizeof serial1, "%s", row.serial);
    /* the broker's PUBACK marks it published: nothing pending */
    assert_true(ternd_certs_published(&c, pub.token, true));
    assert_false(ternd_certs_published(&c, 9999, true)); /* not ours */
    int pending = 0;
    assert_int_equal(ternd_store_pending(s, count_pending, &pending), 0);
    assert_int_equal(pending, 0);

    /* the same request again (the device missed the answer): the same chain, no new one */
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr1, n1, 1, now_ms + 5000, why, sizeof why),
                     0);
    assert_int_equal(c.stats.issued, 1);
    assert_int_equal(c.stats.again, 1);
    assert_int_equal(ternd_certs_drain(&c), 0);
    assert_int_equal(pub.count, 2);
    last_message(&pub, text, sizeof text, &number);
    assert_string_equal(text, first);
    assert_int_equal(number, 1);
    /* a request signed anew by the same key (another signature, same key): same answer */
    n1 = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr1, sizeof csr1);
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr1, n1, 1, now_ms, why, sizeof why), 0);
    assert_int_equal(c.stats.issued, 1);
    assert_int_equal(ternd_certs_drain(&c), 0);
    last_message(&pub, text, sizeof text, &number);
    assert_string_equal(text, first);

    /* the same serial with a new key (a device that started over): a new certificate */
    mbedtls_pk_context k2;
    gen_ec(&k2, MBEDTLS_ECP_DP_SECP256R1);
    size_t n2 = make_csr(&k2, "CN=dev-1", MBEDTLS_MD_SHA256, csr2, sizeof csr2);
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr2, n2, 1, now_ms, why, sizeof why), 0);
    assert_int_equal(c.stats.issued, 2);
    assert_int_equal(ternd_certs_drain(&c), 0);
    last_message(&pub, text, sizeof text, &number);
    assert_string_not_equal(text, first);
    assert_int_equal(ternd_store_cert_latest(s, "dev-1", &row), 1);
    assert_string_not_equal(row.serial, serial1);
    /* the first key's request again now: a late duplicate, ignored (the retained answer
     * stays the newer one) */
    int before = pub.count;
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr1, n1, 1, now_ms, why, sizeof why), 2);
    assert_non_null(strstr(why, "late duplicate"));
    /* so is any request older than the latest answered */
    n2 = make_csr(&k2, "CN=dev-1", MBEDTLS_MD_SHA256, csr2, sizeof csr2);
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr2, n2, 2, now_ms, why, sizeof why), 0);
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr2, n2, 1, now_ms, why, sizeof why), 2);
    assert_non_null(strstr(why, "older than request 2"));
    assert_int_equal(ternd_certs_drain(&c), 0);
    assert_int_equal(pub.count, before + 1); /* request 2's answer only */
    last_message(&pub, text, sizeof text, &number);
    assert_int_equal(number, 2);
    /* refusals store nothing */
    uint8_t bad[1024];
    size_t nb = make_csr(&k2, "CN=dev-2", MBEDTLS_MD_SHA256, bad, sizeof bad);
    assert_int_equal(ternd_certs_request(&c, "dev-1", bad, nb, 3, now_ms, why, sizeof why), 1);
    assert_non_null(strstr(why, "not the device id"));
    assert_int_equal(ternd_store_cert_latest(s, "dev-1", &row), 1);
    assert_int_equal(row.request, 2);

    /* not taken by the broker (never acknowledged): queued again on the next connect */
    pending = 0;
    assert_int_equal(ternd_store_pending(s, count_pending, &pending), 0);
    assert_int_equal(pending, 1);
    pub.answer = 1; /* not connected: the job waits */
    assert_int_equal(ternd_certs_resume(&c), 0);
    assert_int_equal(ternd_certs_drain(&c), 1);
    pub.answer = 0;
    assert_int_equal(ternd_certs_drain(&c), 0);
    assert_true(ternd_certs_published(&c, pub.token, true));
    pending = 0;
    assert_int_equal(ternd_store_pending(s, count_pending, &pending), 0);
    assert_int_equal(pending, 0);

    /* a key never seen, numbered below the last answer: a device whose identity state was
     * reset (a factory reset) counts from 1 again, and is answered */
    mbedtls_pk_context k3;
    gen_ec(&k3, MBEDTLS_ECP_DP_SECP256R1);
    size_t n3 = make_csr(&k3, "CN=dev-1", MBEDTLS_MD_SHA256, csr2, sizeof csr2);
    unsigned issued = c.stats.issued;
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr2, n3, 1, now_ms, why, sizeof why), 0);
    assert_int_equal(c.stats.issued, issued + 1);
    assert_int_equal(ternd_certs_drain(&c), 0);
    last_message(&pub, text, sizeof text, &number);
    assert_int_equal(number, 1);
    assert_true(ternd_certs_published(&c, pub.token, true));
    mbedtls_pk_free(&k3);

    /* trust stores: versions 1, 2 per device, published retained on trust/new */
    size_t len;
    char *pem = slurp(f->ca_crt, &len);
    uint64_t v = 0;
    assert_int_equal(ternd_store_trust_put(s, "dev-1", pem, len, now_ms, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(ternd_store_trust_put(s, "dev-1", pem, len, now_ms, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(ternd_store_trust_put(s, "dev-7", pem, len, now_ms, &v), 0);
    assert_int_equal(v, 1);
    ternd_certs_trust_changed(&c, "dev-1");
    ternd_certs_trust_changed(&c, "dev-1"); /* one job per device */
    assert_int_equal(ternd_certs_drain(&c), 0);
    assert_string_equal(pub.topic, "tern/dev-1/trust/new");
    last_message(&pub, text, sizeof text, &number);
    assert_int_equal(number, 2);
    assert_string_equal(text, pem);
    assert_true(ternd_certs_published(&c, pub.token, true));
    ternd_trust_row_t tr;
    assert_int_equal(ternd_store_trust_latest(s, "dev-1", &tr), 1);
    assert_int_equal(tr.version, 2);
    assert_true(tr.published);
    pending = 0; /* dev-7's was never sent */
    assert_int_equal(ternd_store_pending(s, count_pending, &pending), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(ternd_store_trust_latest(s, "nobody", &tr), 0);
    assert_int_equal(ternd_store_cert_latest(s, "nobody", &row), 0);

    /* all of it kept across a reopen; and a version 1 file gains the new tables */
    ternd_certs_free(&c);
    ternd_store_close(s);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ternd_store_cert_latest(s, "dev-1", &row), 1);
    assert_int_equal(row.request, 1); /* the newest issued: the reset device's */
    ternd_store_close(s);
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "DROP TABLE certs; DROP TABLE trust; PRAGMA user_version = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ternd_store_cert_latest(s, "dev-1", &row), 0);
    assert_int_equal(ternd_store_trust_put(s, "dev-1", pem, len, now_ms, &v), 0);
    assert_int_equal(v, 1);
    ternd_store_close(s);
    free(pem);
    mbedtls_pk_free(&k2);
}

/* Without a CA every request is refused, with the reason. */
static void test_no_ca(void **state)
{
    fixture_t *f = *state;
    char db[300], err[256], why[256];
    snprintf(db, sizeof db, "%s/noca.db", f->dir);
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    pub_t pub;
    memset(&pub, 0, sizeof pub);
    ternd_certs_t c;
    assert_int_equal(ternd_certs_init(&c, s, NULL, 0, fake_publish, &pub, false), 0);
    assert_int_equal(c.lifetime_s, TERND_CA_LIFETIME_DEFAULT);
    uint8_t csr[1024];
    size_t n = make_csr(&f->dev_pk, "CN=dev-1", MBEDTLS_MD_SHA256, csr, sizeof csr);
    assert_int_equal(ternd_certs_request(&c, "dev-1", csr, n, 1, 0, why, sizeof why), 1);
    assert_non_null(strstr(why, "no CA"));
    ternd_certs_free(&c);
    ternd_store_close(s);
}

/* A trust store for a whole fleet: every device's queued once however often it is asked for
 * (the API, then a connect's resume), published in order, paced by the window, all taken. */
static void test_trust_rollout(void **state)
{
    fixture_t *f = *state;
    enum { N = 3000 };
    char db[300], err[256];
    snprintf(db, sizeof db, "%s/ternd.db", f->dir);
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    assert_non_null(s);
    static window_pub_t w;
    memset(&w, 0, sizeof w);
    ternd_certs_t c;
    assert_int_equal(ternd_certs_init(&c, s, NULL, 0, window_publish, &w, false), 0);
    size_t len;
    char *pem = slurp(f->ca_crt, &len);
    assert_int_equal(ternd_store_begin(s), 0);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%04d", i);
        uint64_t v;
        assert_int_equal(ternd_store_trust_put(s, id, pem, len, 1000, &v), 0);
    }
    assert_int_equal(ternd_store_commit(s), 0);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof id, "d%04d", i);
            ternd_certs_trust_changed(&c, id);
        }
    }
    assert_int_equal(ternd_certs_resume(&c), 0); /* all pending: queued already */
    assert_int_equal(c.queue.n, N);
    int rounds = 0;
    uint32_t acked = 0;
    for (long left = 1; left > 0; rounds++) {
        w.room = 64;
        left = ternd_certs_drain(&c);
        assert_true(left >= 0);
        while (acked < w.token) { /* the PUBACKs of this round */
            assert_true(ternd_certs_published(&c, ++acked, true));
        }
        assert_true(rounds < N);
    }
    assert_int_equal(rounds, (N + 63) / 64);
    assert_int_equal(w.n, N);
    for (int i = 0; i < N; i++) {
        char topic[48];
        snprintf(topic, sizeof topic, "tern/d%04d/trust/new", i);
        assert_string_equal(w.topic[i], topic);
    }
    assert_int_equal(c.stats.published, N);
    int pending = 0;
    assert_int_equal(ternd_store_pending(s, count_pending, &pending), 0);
    assert_int_equal(pending, 0);
    free(pem);
    ternd_certs_free(&c);
    ternd_store_close(s);
}

int main(void)
{
    mbedtls_ctr_drbg_init(&g_drbg);
    if (mbedtls_ctr_drbg_seed(&g_drbg, os_random, NULL, NULL, 0) != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_ca_and_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_load_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_idempotence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_rollout, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mbedtls_ctr_drbg_free(&g_drbg);
    return rc;
}
