/* SPDX-License-Identifier: Apache-2.0 */
/* Strict validation of the mbedTLS transport against mosquitto, one TLS listener per
 * case: each bad server is refused during the handshake, before any MQTT byte, with its
 * own tern_posix_tls_failure(); validity is judged by the HAL wall clock (set far off,
 * or unknown) and not by the host's time; client authentication signs through a key
 * store; the trust store and client chain may be PEM in memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "tern/port/posix.h"
#include "tern/port/posix_net.h"
#include "tern_broker.h"
#include "tern_test.h"
#include "tern_test_net.h"
#include "tern_testpki.h"

/* The broker's TLS listeners, in config order: one server certificate each. */
enum {
    L_VALID,
    L_MTLS,
    L_EXPIRED,
    L_NOTYET,
    L_UNTRUSTED,
    L_WRONGNAME,
    L_REVOKED,
    L_SELFSIGNED,
    L_RSA1024,
    L_SHA1,
    L_COUNT
};

#define DAY_MS  (86400 * (int64_t)1000)
#define YEAR_MS (365 * DAY_MS)

/* OpenSSL (mosquitto's) will not even load a 1024-bit RSA key or a SHA-1 signature at
 * its default security level: lower it for those two listeners only. */
static const char k_weak_ok[] = "ciphers DEFAULT:@SECLEVEL=0";

typedef struct fixture {
    tern_testpki_t pki;
    tern_broker_t broker;
} fixture_t;

static int group_setup(void **state)
{
    static fixture_t fx;
    tern_test_net_init();
    if (tern_testpki_make(&fx.pki) != TERN_OK) {
        return -1;
    }
    const tern_testpki_t *k = &fx.pki;
    tern_broker_config_t cfg;
    tern_broker_config_default(&cfg);
    cfg.ntls = L_COUNT;
    const struct {
        int listener;
        const tern_testpki_id_t *id;
    } servers[] = {
        { L_VALID, &k->server },        { L_MTLS, &k->server },
        { L_EXPIRED, &k->expired },     { L_NOTYET, &k->notyet },
        { L_UNTRUSTED, &k->untrusted }, { L_WRONGNAME, &k->wrongname },
        { L_REVOKED, &k->revoked },     { L_SELFSIGNED, &k->selfsigned },
        { L_RSA1024, &k->rsa1024 },     { L_SHA1, &k->sha1 },
    };
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        cfg.tls[servers[i].listener] =
            (tern_broker_tls_t){ k->ca.crt, servers[i].id->crt, servers[i].id->key, false };
    }
    cfg.tls[L_MTLS].require_certificate = true;
    cfg.tls_options[L_RSA1024] = k_weak_ok;
    cfg.tls_options[L_SHA1] = k_weak_ok;
    if (tern_broker_start(&fx.broker, &cfg) != TERN_OK) {
        tern_testpki_remove(&fx.pki);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *fx = *state;
    tern_broker_close(&fx->broker);
    tern_testpki_remove(&fx->pki);
    return 0;
}

/* The host's wall time, UTC ms: what the HAL clock is set against. */
static int64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A HAL clock whose wall time is unknown until hal_clock_set(). */
typedef struct hal_clock {
    tern_posix_vclock_t vc;
    tern_clock_t clock;
} hal_clock_t;

static const tern_clock_t *hal_clock_unknown(hal_clock_t *h)
{
    tern_posix_vclock_init(&h->vc, 0);
    h->clock = tern_posix_vclock_hal(&h->vc);
    assert_false(tern_clock_wall(&h->clock).known);
    return &h->clock;
}

static const tern_clock_t *hal_clock_at(hal_clock_t *h, int64_t unix_ms)
{
    hal_clock_unknown(h);
    assert_int_equal(tern_clock_set_wall(&h->clock, unix_ms), TERN_OK);
    assert_true(tern_clock_wall(&h->clock).known);
    return &h->clock;
}

/* The usual client: trusts the test CA, expects "localhost", the host's clock. */
static tern_posix_tls_config_t client_config(const fixture_t *fx)
{
    tern_posix_tls_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ca_file = fx->pki.ca.crt;
    cfg.hostname = "localhost";
    return cfg;
}

typedef tern_test_tls_conn_t conn_t;

/* Connect and handshake with the broker's TLS listener @p listener; returns the result. */
static tern_err_t conn_open(conn_t *c, fixture_t *fx, int listener,
                            const tern_posix_tls_config_t *cfg)
{
    return tern_test_tls_conn_open(c, fx->broker.tls_port[listener], cfg);
}

static void conn_close(conn_t *c)
{
    tern_test_tls_conn_close(c);
}

/* The handshake with @p listener succeeds and carries an MQTT CONNECT/CONNACK. */
static void expect_connect(fixture_t *fx, int listener, const tern_posix_tls_config_t *cfg,
                           const char *client_id)
{
    conn_t c;
    assert_int_equal(conn_open(&c, fx, listener, cfg), TERN_OK);
    assert_int_equal(tern_posix_tls_failure(&c.tls), TERN_POSIX_TLS_FAIL_NONE);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), 0);
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, client_id), TERN_OK);
    conn_close(&c);
}

/* The handshake with @p listener fails with @p err, @p failure and exactly @p flags, for
 * good, and the stream never carries a byte (no MQTT CONNECT can leave). */
static void expect_refused(fixture_t *fx, int listener, const tern_posix_tls_config_t *cfg,
                           tern_err_t err, tern_posix_tls_failure_t failure, uint32_t flags)
{
    conn_t c;
    assert_int_equal(conn_open(&c, fx, listener, cfg), err);
    assert_int_equal(tern_posix_tls_failure(&c.tls), failure);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), flags);
    assert_int_equal(tern_posix_tls_poll(&c.tls, tern_test_now_ms()), err); /* final */
    uint8_t connect[64];
    size_t len = tern_test_mqtt_connect(connect, sizeof connect, "tern-strict-never");
    size_t n = 99;
    assert_int_equal(c.tr.ops->send(c.tr.ctx, connect, len, &n), err);
    assert_int_equal(n, 0);
    char why[512];
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, sizeof why), TERN_OK);
    assert_non_null(strstr(why, tern_err_name(err)));
    assert_non_null(strstr(why, tern_posix_tls_failure_str(failure)));
    conn_close(&c);
}

static void expect_cert_refused(fixture_t *fx, int listener, const tern_posix_tls_config_t *cfg,
                                tern_posix_tls_failure_t failure, uint32_t flags)
{
    expect_refused(fx, listener, cfg, TERN_ERR_CERT, failure, flags);
}

/* ------------------------------------------------------------ the matrix -- */

/* A valid chain: handshake and MQTT, by the host's clock, by a HAL clock that agrees,
 * and with the CA's CRL configured (the server is not on it). */
static void test_valid_chain(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_VALID, &cfg), TERN_OK);
    assert_non_null(tern_posix_tls_ciphersuite(&c.tls));
    assert_int_equal(tern_test_mqtt_hello(&c.tr, c.fd, "tern-strict-valid"), TERN_OK);
    /* The session ending later is no handshake failure. */
    static const uint8_t k_disconnect[2] = { 0xE0, 0x00 };
    assert_int_equal(tern_test_send_all(&c.tr, c.fd, k_disconnect, 2, 2000), TERN_OK);
    assert_int_equal(tern_test_recv_until_error(&c.tr, c.fd, 5000), TERN_ERR_CLOSED);
    assert_int_equal(tern_posix_tls_failure(&c.tls), TERN_POSIX_TLS_FAIL_NONE);
    conn_close(&c);

    hal_clock_t h;
    cfg.clock = hal_clock_at(&h, host_now_ms());
    expect_connect(fx, L_VALID, &cfg, "tern-strict-valid-hal");
    cfg.crl_file = fx->pki.crl;
    expect_connect(fx, L_VALID, &cfg, "tern-strict-valid-crl");
}

static void test_expired(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_EXPIRED, &cfg, TERN_POSIX_TLS_FAIL_EXPIRED,
                        MBEDTLS_X509_BADCERT_EXPIRED);
}

static void test_not_yet_valid(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_NOTYET, &cfg, TERN_POSIX_TLS_FAIL_NOT_YET_VALID,
                        MBEDTLS_X509_BADCERT_FUTURE);
}

/* A server certificate from a CA we do not trust; and ours, when we trust another CA. */
static void test_unknown_ca(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_UNTRUSTED, &cfg, TERN_POSIX_TLS_FAIL_UNKNOWN_CA,
                        MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    cfg.ca_file = fx->pki.other_ca.crt;
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_UNKNOWN_CA,
                        MBEDTLS_X509_BADCERT_NOT_TRUSTED);
}

static void test_wrong_hostname(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_WRONGNAME, &cfg, TERN_POSIX_TLS_FAIL_HOSTNAME,
                        MBEDTLS_X509_BADCERT_CN_MISMATCH);
    cfg.hostname = "other.example";
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_HOSTNAME,
                        MBEDTLS_X509_BADCERT_CN_MISMATCH);
}

/* On the CA's CRL: refused with the CRL, accepted without it (the CRL is what refuses). */
static void test_revoked(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.crl_file = fx->pki.crl;
    expect_cert_refused(fx, L_REVOKED, &cfg, TERN_POSIX_TLS_FAIL_REVOKED,
                        MBEDTLS_X509_BADCERT_REVOKED);
    cfg.crl_file = NULL;
    expect_connect(fx, L_REVOKED, &cfg, "tern-strict-not-checked");
}

/* Self-signed: refused as such; pinned (its certificate as the trust store), accepted. */
static void test_self_signed(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_SELFSIGNED, &cfg, TERN_POSIX_TLS_FAIL_SELF_SIGNED,
                        MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    cfg.ca_file = fx->pki.selfsigned.crt;
    expect_connect(fx, L_SELFSIGNED, &cfg, "tern-strict-pinned");
}

static void test_rsa1024_key(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_RSA1024, &cfg, TERN_POSIX_TLS_FAIL_WEAK,
                        MBEDTLS_X509_BADCERT_BAD_KEY);
}

static void test_sha1_signature(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    expect_cert_refused(fx, L_SHA1, &cfg, TERN_POSIX_TLS_FAIL_WEAK, MBEDTLS_X509_BADCERT_BAD_MD);
}

/* mosquitto with require_certificate asks for one; we have none: its alert is explained. */
static void test_client_certificate_required(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_failure(&c.tls), TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED);
    assert_int_equal(tern_posix_tls_verify_flags(&c.tls), 0); /* the server itself was fine */
    assert_string_equal(tern_posix_tls_failure_str(TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED),
                        "the broker requires a client certificate and none is configured");
    char why[512];
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, sizeof why), TERN_OK);
    assert_non_null(strstr(why, "requires a client certificate and none is configured"));
    conn_close(&c);

    /* An untrusted client certificate is refused by the same alert, but that is not it. */
    cfg.cert_file = fx->pki.other_client.crt;
    cfg.key_file = fx->pki.other_client.key;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_failure(&c.tls), TERN_POSIX_TLS_FAIL_OTHER);
    conn_close(&c);

    cfg.cert_file = fx->pki.client.crt;
    cfg.key_file = fx->pki.client.key;
    expect_connect(fx, L_MTLS, &cfg, "tern-strict-mtls");
}

/* ------------------------------------------------------- the HAL clock -- */

/* The host's time is fine for the valid server; a HAL clock 50 years on says expired,
 * one in 2019 says not yet valid. The other way round, the not-yet-valid server passes
 * by a HAL clock inside its period. But a clock set back before the build (2020) cannot
 * revive the certificate that expired in Feb 2020: time never goes below the floor. */
static void test_hal_clock_counts(void **state)
{
    fixture_t *fx = *state;
    tern_posix_tls_config_t cfg = client_config(fx);
    hal_clock_t h;
    int64_t now = host_now_ms();
    cfg.clock = hal_clock_at(&h, now + 50 * YEAR_MS);
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_EXPIRED,
                        MBEDTLS_X509_BADCERT_EXPIRED);
    cfg.clock = hal_clock_at(&h, 1559347200000); /* 2019-06-01 */
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_NOT_YET_VALID,
                        MBEDTLS_X509_BADCERT_FUTURE);

    cfg.clock = hal_clock_at(&h, now + 18 * YEAR_MS / 12);
    expect_connect(fx, L_NOTYET, &cfg, "tern-strict-hal-future");
    cfg.clock = hal_clock_at(&h, 1579046400000); /* 2020-01-15, inside its period */
    /* Judged at the build time: expired; and its CA, made today, not valid yet. */
    expect_cert_refused(fx, L_EXPIRED, &cfg, TERN_POSIX_TLS_FAIL_EXPIRED,
                        MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);

    /* The CRL's freshness too: issued today for 30 days, stale by a clock 60 days on. */
    cfg.crl_file = fx->pki.crl;
    cfg.clock = hal_clock_at(&h, now + 60 * DAY_MS);
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_CRL, MBEDTLS_X509_BADCRL_EXPIRED);
    cfg.clock = hal_clock_at(&h, now + 10 * DAY_MS);
    expect_connect(fx, L_VALID, &cfg, "tern-strict-crl-fresh");
    /* A stored floor 60 days on outweighs a clock that says today. */
    cfg.time_floor_ms = now + 60 * DAY_MS;
    cfg.clock = hal_clock_at(&h, now);
    expect_cert_refused(fx, L_VALID, &cfg, TERN_POSIX_TLS_FAIL_CRL, MBEDTLS_X509_BADCRL_EXPIRED);
}

/* The wall clock unknown: everything is judged at the floor (build time, or the
 * configured floor), and what cannot be judged there is refused as such. */
static void test_clock_unknown(void **state)
{
    fixture_t *fx = *state;
    int64_t build = tern_posix_tls_build_time_ms();
    int64_t now = host_now_ms();
    assert_true(build > 1580515200000); /* after the expired certificate's end, Feb 2020 */
    assert_true(build <= now);

    tern_posix_tls_config_t cfg = client_config(fx);
    hal_clock_t h;
    cfg.clock = hal_clock_unknown(&h);
    /* The server's certificate was made after the build: it cannot be judged. */
    expect_refused(fx, L_VALID, &cfg, TERN_ERR_TIME_UNKNOWN, TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN,
                   MBEDTLS_X509_BADCERT_OTHER);
    /* Expired before the build: expired for certain, clock or not (a replay). Its CA,
     * made after the build, cannot be judged either, but expired is what matters. */
    expect_cert_refused(fx, L_EXPIRED, &cfg, TERN_POSIX_TLS_FAIL_EXPIRED,
                        MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_OTHER);
    /* A real failure wins over the clock's "cannot tell". */
    expect_cert_refused(fx, L_WRONGNAME, &cfg, TERN_POSIX_TLS_FAIL_HOSTNAME,
                        MBEDTLS_X509_BADCERT_CN_MISMATCH | MBEDTLS_X509_BADCERT_OTHER);

    /* With a floor the device stored (now), the chain was valid then: accepted. */
    cfg.time_floor_ms = now;
    expect_connect(fx, L_VALID, &cfg, "tern-strict-floor");
    /* One that begins after the floor still cannot be judged. */
    expect_refused(fx, L_NOTYET, &cfg, TERN_ERR_TIME_UNKNOWN, TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN,
                   MBEDTLS_X509_BADCERT_OTHER);
    /* A floor older than the build counts as the build. */
    cfg.time_floor_ms = 1;
    expect_refused(fx, L_VALID, &cfg, TERN_ERR_TIME_UNKNOWN, TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN,
                   MBEDTLS_X509_BADCERT_OTHER);
}

/* ------------------------------------------------------ key store mTLS -- */

/* A key store for the test: client.key loaded in memory, behind the tern_keystore_t
 * interface, counting its signatures. */
typedef struct test_store {
    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    unsigned signs;
} test_store_t;

static tern_err_t store_public_key(void *ctx, const char *label, uint8_t pub[65])
{
    test_store_t *t = ctx;
    if (strcmp(label, "device") != 0) {
        return TERN_ERR_NOT_FOUND;
    }
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(t->pk);
    size_t len = 0;
    return mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, pub,
                                          TERN_KEYSTORE_PUB_LEN) == 0 &&
                   len == TERN_KEYSTORE_PUB_LEN
               ? TERN_OK
               : TERN_ERR_IO;
}

static tern_err_t store_sign(void *ctx, const char *label, const uint8_t hash[32], uint8_t *sig,
                             size_t cap, size_t *sig_len)
{
    test_store_t *t = ctx;
    if (strcmp(label, "device") != 0) {
        return TERN_ERR_NOT_FOUND;
    }
    uint8_t der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    if (mbedtls_pk_sign(&t->pk, MBEDTLS_MD_SHA256, hash, 32, der, &len, mbedtls_ctr_drbg_random,
                        &t->drbg) != 0) {
        return TERN_ERR_IO;
    }
    if (len > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memcpy(sig, der, len);
    *sig_len = len;
    t->signs++;
    return TERN_OK;
}

static const tern_keystore_ops_t k_store_ops = {
    .name = "test",
    .public_key = store_public_key,
    .sign = store_sign,
};

static void store_open(test_store_t *t, const char *key_file)
{
    memset(t, 0, sizeof *t);
    mbedtls_pk_init(&t->pk);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, NULL, 0),
                     0);
    assert_int_equal(mbedtls_pk_parse_keyfile(&t->pk, key_file, NULL), 0);
}

static void store_close(test_store_t *t)
{
    mbedtls_pk_free(&t->pk);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
}

/* The client key in a key store: the broker that requires a certificate accepts us, and
 * the handshake's signature came from the store. */
static void test_keystore_client_auth(void **state)
{
    fixture_t *fx = *state;
    test_store_t store;
    store_open(&store, fx->pki.client.key);
    tern_keystore_t ks = { &k_store_ops, &store };
    tern_posix_tls_config_t cfg = client_config(fx);
    cfg.cert_file = fx->pki.client.crt;
    cfg.keystore = &ks;
    cfg.key_label = "device";
    expect_connect(fx, L_MTLS, &cfg, "tern-strict-keystore");
    assert_int_equal(store.signs, 1); /* the CertificateVerify */

    /* No cipher suite with a SHA-384 handshake hash is offered: mosquitto (OpenSSL) would
     * prefer AES-256-GCM-SHA384 otherwise. */
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_OK);
    const char *suite = tern_posix_tls_ciphersuite(&c.tls);
    assert_non_null(suite);
    printf("  key store session cipher suite: %s\n", suite);
    assert_null(strstr(suite, "SHA384"));
    conn_close(&c);
    cfg.keystore = NULL;
    cfg.key_label = NULL;
    cfg.key_file = fx->pki.client.key;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_OK);
    assert_non_null(tern_posix_tls_ciphersuite(&c.tls));
    printf("  key file session cipher suite: %s\n", tern_posix_tls_ciphersuite(&c.tls));
    conn_close(&c);
    store_close(&store);
}

/* A configuration tern_posix_tls_open() must refuse, and how. */
typedef struct open_case {
    tern_posix_tls_config_t cfg;
    tern_err_t want;
} open_case_t;

/* Each of @p n cases refused at open with its error, leaving no session; open never
 * touches the stream, so a TCP connection that never connected does. */
static void expect_open_refused(const open_case_t *cases, size_t n)
{
    tern_posix_tcp_t tcp;
    memset(&tcp, 0, sizeof tcp);
    tern_transport_t lower = tern_posix_tcp_transport(&tcp);
    for (size_t i = 0; i < n; i++) {
        tern_posix_tls_t tls;
        memset(&tls, 0xA5, sizeof tls);
        tern_err_t err = tern_posix_tls_open(&tls, &lower, &cases[i].cfg);
        if (err != cases[i].want) {
            printf("case %zu: %s\n", i, tern_err_name(err));
        }
        assert_int_equal(err, cases[i].want);
        assert_null(tls.s);
    }
}

/* @p path's bytes, without a NUL (as an identity holds PEM); free() it. */
static uint8_t *read_pem(const char *path, size_t *len)
{
    uint8_t *p = NULL;
    /* mbedTLS appends a NUL and counts it for PEM: drop it */
    assert_int_equal(mbedtls_pk_load_file(path, &p, len), 0);
    assert_true(*len > 1 && p[*len - 1] == '\0');
    (*len)--;
    return p;
}

/* The trust store and the client chain in memory instead of files (PEM, no NUL), the
 * key in a key store: the listener that requires a client certificate accepts us, and
 * the buffers are only read at open. An unknown CA is explained with the names of the
 * server's certificate. Mistakes in the buffers are refused at open. */
static void test_pem_buffers(void **state)
{
    fixture_t *fx = *state;
    test_store_t store;
    store_open(&store, fx->pki.client.key);
    tern_keystore_t ks = { &k_store_ops, &store };
    size_t ca_len = 0, crt_len = 0, other_len = 0;
    uint8_t *ca = read_pem(fx->pki.ca.crt, &ca_len);
    uint8_t *crt = read_pem(fx->pki.client.crt, &crt_len);
    uint8_t *other = read_pem(fx->pki.other_ca.crt, &other_len);
    tern_posix_tls_config_t cfg = { .ca_pem = ca,
                                    .ca_pem_len = ca_len,
                                    .hostname = "localhost",
                                    .cert_pem = crt,
                                    .cert_pem_len = crt_len,
                                    .keystore = &ks,
                                    .key_label = "device" };
    expect_connect(fx, L_MTLS, &cfg, "tern-strict-pem");
    assert_int_equal(store.signs, 1);

    /* copied at open: wiping them before the handshake changes nothing */
    uint8_t *ca_copy = malloc(ca_len), *crt_copy = malloc(crt_len);
    assert_true(ca_copy != NULL && crt_copy != NULL);
    memcpy(ca_copy, ca, ca_len);
    memcpy(crt_copy, crt, crt_len);
    tern_posix_tls_config_t cfg2 = cfg;
    cfg2.ca_pem = ca_copy;
    cfg2.cert_pem = crt_copy;
    tern_posix_tcp_t tcp;
    tern_posix_tls_t tls;
    assert_int_equal(tern_test_tcp_connect(&tcp, "127.0.0.1", fx->broker.tls_port[L_MTLS], NULL),
                     TERN_OK);
    tern_transport_t lower = tern_posix_tcp_transport(&tcp);
    assert_int_equal(tern_posix_tls_open(&tls, &lower, &cfg2), TERN_OK);
    memset(ca_copy, 0, ca_len);
    memset(crt_copy, 0, crt_len);
    free(ca_copy);
    free(crt_copy);
    assert_int_equal(tern_test_tls_handshake(&tls, tern_posix_tcp_fd(&tcp)), TERN_OK);
    tern_posix_tls_close(&tls);
    tern_posix_tcp_close(&tcp);

    /* the wrong CA in memory: refused, and the account names the server's certificate */
    tern_posix_tls_config_t wrong = { .ca_pem = other,
                                      .ca_pem_len = other_len,
                                      .hostname = "localhost" };
    conn_t c;
    assert_int_equal(conn_open(&c, fx, L_VALID, &wrong), TERN_ERR_CERT);
    assert_int_equal(tern_posix_tls_failure(&c.tls), TERN_POSIX_TLS_FAIL_UNKNOWN_CA);
    char why[768];
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, sizeof why), TERN_OK);
    assert_non_null(strstr(why, "server certificate: subject \"CN=localhost\", "
                                "issuer \"CN=tern test CA\""));
    conn_close(&c);
    /* a failure that is not the chain's names no certificate */
    cfg.cert_pem = NULL;
    cfg.cert_pem_len = 0;
    cfg.keystore = NULL;
    cfg.key_label = NULL;
    assert_int_equal(conn_open(&c, fx, L_MTLS, &cfg), TERN_ERR_TLS);
    assert_int_equal(tern_posix_tls_describe(&c.tls, why, sizeof why), TERN_OK);
    assert_null(strstr(why, "server certificate:"));
    conn_close(&c);

    /* mistakes, refused at open */
    uint8_t junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    uint8_t *tail = malloc(crt_len + 6);
    assert_non_null(tail);
    memcpy(tail, crt, crt_len);
    memcpy(tail + crt_len, "junk\n", 6);
    const char *h = "localhost";
    const open_case_t cases[] = {
        /* no trust store, or two */
        { { .hostname = h }, TERN_ERR_INVAL },
        { { .ca_file = fx->pki.ca.crt, .ca_pem = ca, .ca_pem_len = ca_len, .hostname = h },
          TERN_ERR_INVAL },
        { { .ca_pem_len = ca_len, .hostname = h }, TERN_ERR_INVAL },
        /* two client chains */
        { { .ca_pem = ca,
            .ca_pem_len = ca_len,
            .hostname = h,
            .cert_file = fx->pki.client.crt,
            .cert_pem = crt,
            .cert_pem_len = crt_len,
            .keystore = &ks,
            .key_label = "device" },
          TERN_ERR_INVAL },
        /* a chain without its key */
        { { .ca_pem = ca,
            .ca_pem_len = ca_len,
            .hostname = h,
            .cert_pem = crt,
            .cert_pem_len = crt_len },
          TERN_ERR_INVAL },
        /* buffers that do not parse, empty, or with something after the certificate */
        { { .ca_pem = junk, .ca_pem_len = sizeof junk - 1, .hostname = h }, TERN_ERR_MALFORMED },
        { { .ca_pem = ca, .ca_pem_len = 0, .hostname = h }, TERN_ERR_MALFORMED },
        { { .ca_pem = ca,
            .ca_pem_len = ca_len,
            .hostname = h,
            .cert_pem = tail,
            .cert_pem_len = crt_len + 5,
            .keystore = &ks,
            .key_label = "device" },
          TERN_ERR_MALFORMED },
        /* the chain for another key: the other CA's certificate is not the client's */
        { { .ca_pem = ca,
            .ca_pem_len = ca_len,
            .hostname = h,
            .cert_pem = other,
            .cert_pem_len = other_len,
            .keystore = &ks,
            .key_label = "device" },
          TERN_ERR_INVAL },
    };
    expect_open_refused(cases, sizeof cases / sizeof cases[0]);
    free(tail);
    free(other);
    free(crt);
    free(ca);
    store_close(&store);
}

/* Key store and CRL configuration mistakes are refused at open. */
static void test_bad_configuration(void **state)
{
    fixture_t *fx = *state;
    test_store_t store;
    store_open(&store, fx->pki.client.key);
    tern_keystore_t ks = { &k_store_ops, &store };
    const char *ca = fx->pki.ca.crt, *crt = fx->pki.client.crt, *host = "localhost";
    const char *key = fx->pki.client.key;
    const open_case_t cases[] = {
        /* both a key file and a key store */
        { { .ca_file = ca,
            .hostname = host,
            .cert_file = crt,
            .key_file = key,
            .keystore = &ks,
            .key_label = "device" },
          TERN_ERR_INVAL },
        /* a key store without a certificate, or without a label */
        { { .ca_file = ca, .hostname = host, .keystore = &ks, .key_label = "device" },
          TERN_ERR_INVAL },
        { { .ca_file = ca, .hostname = host, .cert_file = crt, .keystore = &ks }, TERN_ERR_INVAL },
        { { .ca_file = ca, .hostname = host, .cert_file = crt, .keystore = &ks, .key_label = "" },
          TERN_ERR_INVAL },
        { { .ca_file = ca,
            .hostname = host,
            .cert_file = crt,
            .keystore = &ks,
            .key_label = "a-label-longer-than-thirty-two-chars" },
          TERN_ERR_INVAL },
        /* a label without a key store */
        { { .ca_file = ca, .hostname = host, .cert_file = crt, .key_file = key, .key_label = "x" },
          TERN_ERR_INVAL },
        /* no such key in the store */
        { { .ca_file = ca,
            .hostname = host,
            .cert_file = crt,
            .keystore = &ks,
            .key_label = "nope" },
          TERN_ERR_NOT_FOUND },
        /* a certificate for another key, from the store and from a file */
        { { .ca_file = ca,
            .hostname = host,
            .cert_file = fx->pki.other_client.crt,
            .keystore = &ks,
            .key_label = "device" },
          TERN_ERR_INVAL },
        { { .ca_file = ca, .hostname = host, .cert_file = crt, .key_file = fx->pki.server.key },
          TERN_ERR_INVAL },
        /* a CRL that is not there, or not a CRL */
        { { .ca_file = ca, .hostname = host, .crl_file = "/nonexistent/ca.crl" }, TERN_ERR_IO },
        { { .ca_file = ca, .hostname = host, .crl_file = ca }, TERN_ERR_MALFORMED },
    };
    expect_open_refused(cases, sizeof cases / sizeof cases[0]);
    assert_int_equal(store.signs, 0); /* nothing is signed at open */

    /* Before a handshake, and for a session never opened: no failure to report. */
    tern_posix_tls_t none = { NULL };
    assert_int_equal(tern_posix_tls_failure(&none), TERN_POSIX_TLS_FAIL_NONE);
    assert_int_equal(tern_posix_tls_failure(NULL), TERN_POSIX_TLS_FAIL_NONE);
    for (int f = TERN_POSIX_TLS_FAIL_NONE; f <= TERN_POSIX_TLS_FAIL_OTHER; f++) {
        const char *s = tern_posix_tls_failure_str((tern_posix_tls_failure_t)f);
        assert_true(strlen(s) > 0);
        for (int g = TERN_POSIX_TLS_FAIL_NONE; g < f; g++) {
            assert_string_not_equal(s, tern_posix_tls_failure_str((tern_posix_tls_failure_t)g));
        }
    }
    store_close(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_chain),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_yet_valid),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_wrong_hostname),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_self_signed),
        cmocka_unit_test(test_rsa1024_key),
        cmocka_unit_test(test_sha1_signature),
        cmocka_unit_test(test_client_certificate_required),
        cmocka_unit_test(test_hal_clock_counts),
        cmocka_unit_test(test_clock_unknown),
        cmocka_unit_test(test_keystore_client_auth),
        cmocka_unit_test(test_pem_buffers),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
