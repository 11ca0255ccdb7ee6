/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity life cycle (src/sec/identity.c) on the NOR simulator, over a
 * RAM key store and a stand-in for the port's X.509 work (the real one,
 * mbedTLS, is exercised by powerloss.identity and integration.rotation). A
 * "chain" here is text such as "K=a;B=100;A=400;I=x": the leaf's key a (the
 * RAM store's keys are a, b, c ... in the order made), valid from 100 to 400
 * ms, issued by x; a trust store "T=xy" trusts issuers x and y.
 * Host and Cortex-M4 (static buffers only).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/cbor.h"
#include "tern/hal.h"
#include "tern/identity.h"
#include "tern/wire.h"
#include "tern_norsim.h"
#include "tern_test.h"

enum { SECTOR = 1024, SECTORS = 4, SIZE = SECTOR * SECTORS, PROG = 4, CAP = 1024, KEYS = 8 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static tern_norsim_t g_sim;
static uint8_t g_buf[CAP];
static tern_identity_t g_id;
static tern_identity_config_t g_cfg;
static tern_backoff_t g_retry;
static uint8_t g_out[128];
static size_t g_out_len;

/* ------------------------------------------------------------ RAM key store -- */

static struct {
    char label[TERN_KEYSTORE_LABEL_MAX + 1];
    char key; /* 0: free */
} g_keys[KEYS];
static char g_next_key;

static int key_find(const char *label)
{
    for (int i = 0; i < KEYS; i++) {
        if (g_keys[i].key != 0 && strcmp(g_keys[i].label, label) == 0) {
            return i;
        }
    }
    return -1;
}

static tern_err_t ks_generate(void *ctx, const char *label)
{
    (void)ctx;
    if (key_find(label) >= 0) {
        return TERN_ERR_EXISTS;
    }
    for (int i = 0; i < KEYS; i++) {
        if (g_keys[i].key == 0) {
            strcpy(g_keys[i].label, label);
            g_keys[i].key = g_next_key++;
            return TERN_OK;
        }
    }
    return TERN_ERR_FULL;
}

static tern_err_t ks_public_key(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    (void)ctx;
    int i = key_find(label);
    if (i < 0) {
        return TERN_ERR_NOT_FOUND;
    }
    memset(pub, 0, TERN_KEYSTORE_PUB_LEN);
    pub[0] = 0x04;
    pub[1] = (uint8_t)g_keys[i].key;
    return TERN_OK;
}

static tern_err_t ks_destroy(void *ctx, const char *label)
{
    (void)ctx;
    int i = key_find(label);
    if (i < 0) {
        return TERN_ERR_NOT_FOUND;
    }
    g_keys[i].key = 0;
    return TERN_OK;
}

static const tern_keystore_ops_t k_ks_ops = { "ram", ks_generate, ks_public_key, NULL, ks_destroy };
static const tern_keystore_t g_ks = { &k_ks_ops, NULL };

static char key_of(const char *label)
{
    int i = key_find(label);
    return i < 0 ? 0 : g_keys[i].key;
}

/* --------------------------------------------------------- stand-in X.509 -- */

typedef struct fake_cert {
    char key, issuer;
    long nb, na;
} fake_cert_t;

static bool parse(const uint8_t *p, size_t len, fake_cert_t *c)
{
    char s[64];
    if (p == NULL || len == 0 || len >= sizeof s) {
        return false;
    }
    memcpy(s, p, len);
    s[len] = '\0';
    memset(c, 0, sizeof *c);
    if (s[0] != 'K' || s[1] != '=' || s[2] == 0 || s[3] != ';' || s[4] != 'B' || s[5] != '=') {
        return false;
    }
    c->key = s[2];
    char *q = s + 6;
    for (; *q >= '0' && *q <= '9'; q++) {
        c->nb = c->nb * 10 + (*q - '0');
    }
    if (q[0] != ';' || q[1] != 'A' || q[2] != '=') {
        return false;
    }
    for (q += 3; *q >= '0' && *q <= '9'; q++) {
        c->na = c->na * 10 + (*q - '0');
    }
    if (q[0] != ';' || q[1] != 'I' || q[2] != '=' || q[3] == 0 || q[4] != 0) {
        return false;
    }
    c->issuer = q[3];
    return true;
}

static tern_err_t x_leaf_info(void *ctx, const uint8_t *chain, size_t len, tern_x509_info_t *info)
{
    fake_cert_t c;
    (void)ctx;
    if (!parse(chain, len, &c)) {
        return TERN_ERR_MALFORMED;
    }
    memset(info, 0, sizeof *info);
    info->not_before_ms = c.nb;
    info->not_after_ms = c.na;
    info->pub[0] = 0x04;
    info->pub[1] = (uint8_t)c.key;
    info->pub_p256 = true;
    strcpy(info->cn, "dev-1");
    return TERN_OK;
}

static tern_err_t x_check_trust(void *ctx, const uint8_t *trust, size_t len)
{
    (void)ctx;
    return len >= 3 && trust[0] == 'T' && trust[1] == '=' ? TERN_OK : TERN_ERR_MALFORMED;
}

static tern_err_t x_verify(void *ctx, const uint8_t *chain, size_t len, const uint8_t *trust,
                           size_t tlen, int64_t now)
{
    fake_cert_t c;
    if (!parse(chain, len, &c) || x_check_trust(ctx, trust, tlen) != TERN_OK) {
        return TERN_ERR_MALFORMED;
    }
    if (memchr(trust + 2, c.issuer, tlen - 2) == NULL) {
        return TERN_ERR_CERT;
    }
    return now >= 0 && (now < c.nb || now >= c.na) ? TERN_ERR_CERT : TERN_OK;
}

static int g_csrs;
static tern_err_t x_make_csr(void *ctx, const tern_keystore_t *ks, const char *label,
                             const char *cn, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    (void)ctx;
    tern_err_t err = tern_keystore_public_key(ks, label, pub);
    if (err != TERN_OK) {
        return err;
    }
    size_t n = 4 + strlen(label) + 1 + strlen(cn);
    if (n > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memcpy(out, "CSR ", 4);
    memcpy(out + 4, label, strlen(label));
    out[4 + strlen(label)] = ' ';
    memcpy(out + 5 + strlen(label), cn, strlen(cn));
    *len = n;
    g_csrs++;
    return TERN_OK;
}

static const tern_x509_ops_t k_x509 = { x_leaf_info, x_verify, x_check_trust, x_make_csr };

/* ------------------------------------------------------------------- rng -- */

static tern_err_t rng_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0x5A, len);
    return TERN_OK;
}
static const tern_rng_ops_t k_rng_ops = { "fixed", rng_fill };

/* ---------------------------------------------------------------- set-up -- */

static const char k_factory[] = "K=f;B=0;A=1000000;I=x";
static const char k_trust[] = "T=x";

static tern_err_t mount(void)
{
    return tern_identity_mount(&g_id, &g_cfg);
}

static int setup(void **state)
{
    (void)state;
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, TERN_NORSIM_PROGRAM_ONCE, 0, 3 };
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(&g_sim);
    memset(g_keys, 0, sizeof g_keys);
    g_next_key = 'a';
    g_csrs = 0;
    tern_rng_t rng = { &k_rng_ops, NULL };
    tern_backoff_config_t bc = { TERN_BACKOFF_FULL_JITTER, 1000, 8000, 0, 0 };
    assert_int_equal(tern_backoff_init(&g_retry, &bc, &rng), TERN_OK);
    memset(&g_cfg, 0, sizeof g_cfg);
    g_cfg.flash = tern_norsim_flash(&g_sim);
    g_cfg.slot_size = 2 * SECTOR;
    g_cfg.buf = g_buf;
    g_cfg.cap = CAP;
    g_cfg.keystore = &g_ks;
    g_cfg.x509 = &k_x509;
    g_cfg.device_id = "dev-1";
    g_cfg.retry = &g_retry;
    assert_int_equal(mount(), TERN_ERR_NOT_FOUND);
    /* the factory key: its certificate names key 'f' */
    g_next_key = 'f';
    assert_int_equal(tern_keystore_generate(&g_ks, "factory"), TERN_OK);
    g_next_key = 'a';
    return 0;
}

static void provision(void)
{
    assert_int_equal(tern_identity_provision(&g_id, "factory", (const uint8_t *)k_factory,
                                             strlen(k_factory), (const uint8_t *)k_trust,
                                             strlen(k_trust)),
                     TERN_OK);
}

static tern_identity_action_t poll_at(tern_ms_t now, int64_t wall, bool online)
{
    tern_identity_action_t act = TERN_IDENTITY_ACT_NONE;
    assert_int_equal(
        tern_identity_poll(&g_id, now, wall, online, g_out, sizeof g_out, &g_out_len, &act),
        TERN_OK);
    return act;
}

static void expect_creds(tern_identity_which_t who, tern_trust_which_t store, bool quarantine,
                         const char *label, int64_t wall)
{
    tern_identity_creds_t c;
    assert_int_equal(tern_identity_creds(&g_id, wall, &c), TERN_OK);
    assert_int_equal(c.identity, who);
    assert_int_equal(c.trust_store, store);
    assert_int_equal(c.quarantine, quarantine);
    assert_string_equal(c.key_label, label);
    assert_non_null(c.cert);
    assert_non_null(c.trust);
}

static void give_cert(uint32_t serial, const char *chain, int64_t wall, tern_err_t want)
{
    assert_int_equal(
        tern_identity_cert_received(&g_id, serial, (const uint8_t *)chain, strlen(chain), wall),
        want);
}

/* ----------------------------------------------------------------- tests -- */

static void test_provision(void **state)
{
    (void)state;
    tern_identity_creds_t c;
    assert_int_equal(tern_identity_creds(&g_id, 5, &c), TERN_ERR_STATE);
    /* a chain for another key, an untrusted chain, a store with no CA, a rotation label */
    const char *other = "K=z;B=0;A=1000000;I=x", *untrusted = "K=f;B=0;A=1000000;I=q";
    assert_int_equal(tern_identity_provision(&g_id, "factory", (const uint8_t *)other,
                                             strlen(other), (const uint8_t *)k_trust, 3),
                     TERN_ERR_CERT);
    assert_int_equal(tern_identity_provision(&g_id, "factory", (const uint8_t *)untrusted,
                                             strlen(untrusted), (const uint8_t *)k_trust, 3),
                     TERN_ERR_CERT);
    assert_int_equal(tern_identity_provision(&g_id, "factory", (const uint8_t *)k_factory,
                                             strlen(k_factory), (const uint8_t *)"xx", 2),
                     TERN_ERR_MALFORMED);
    assert_int_equal(tern_identity_provision(&g_id, "op1", (const uint8_t *)k_factory,
                                             strlen(k_factory), (const uint8_t *)k_trust, 3),
                     TERN_ERR_INVAL);
    assert_int_equal(tern_identity_provision(&g_id, "missing", (const uint8_t *)k_factory,
                                             strlen(k_factory), (const uint8_t *)k_trust, 3),
                     TERN_ERR_NOT_FOUND);
    provision();
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 5);
    /* it survives a remount, byte for byte */
    memset(g_buf, 0, sizeof g_buf);
    assert_int_equal(mount(), TERN_OK);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 5);
    size_t n;
    const uint8_t *p = tern_identity_chain(&g_id, TERN_IDENTITY_FALLBACK, &n);
    assert_int_equal(n, strlen(k_factory));
    assert_memory_equal(p, k_factory, n);
    assert_null(tern_identity_chain(&g_id, TERN_IDENTITY_NEXT, &n));
    assert_int_equal(n, 0);
}

static void test_rotation(void **state)
{
    (void)state;
    provision();
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_ERR_STATE); /* no creds */
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 0);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    /* on the factory identity: an operational one is due at once, but only online */
    assert_int_equal(poll_at(0, 10, false), TERN_IDENTITY_ACT_NONE);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_IDLE);
    assert_int_equal(poll_at(0, 10, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_serial(&g_id), 1);
    assert_int_equal(key_of("op1"), 'a');
    assert_int_equal(g_out_len, strlen("CSR op1 dev-1"));
    assert_memory_equal(g_out, "CSR op1 dev-1", g_out_len);
    assert_int_equal(tern_identity_csr_sent(&g_id, 10), TERN_OK);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_SENT);
    /* not asked again before the backoff delay (full jitter of 1000 ms: at most 1000) */
    assert_int_equal(poll_at(10, 667000, true), TERN_IDENTITY_ACT_NONE);
    assert_int_equal(poll_at(1010, 667000, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_csr_sent(&g_id, 1010), TERN_OK);
    assert_int_equal(key_of("op1"), 'a'); /* the same key again */
    /* answers that do not fit are refused */
    give_cert(2, "K=a;B=600000;A=2000000;I=x", 667000, TERN_ERR_STATE); /* another request */
    give_cert(1, "K=f;B=600000;A=2000000;I=x", 667000, TERN_ERR_CERT);  /* not the new key */
    give_cert(1, "K=a;B=600000;A=2000000;I=q", 667000, TERN_ERR_CERT);  /* untrusted */
    give_cert(1, "K=a;B=700000;A=2000000;I=x", 667000, TERN_ERR_CERT);  /* not yet valid */
    give_cert(1, "garbage", 667000, TERN_ERR_CERT);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_SENT);
    give_cert(1, "K=a;B=600000;A=2000000;I=x", 667000, TERN_OK);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_CERT);
    give_cert(1, "K=a;B=600000;A=2000000;I=x", 667000, TERN_ERR_STATE); /* retained again */
    /* connected with the old one: reconnect with the new */
    assert_int_equal(poll_at(2000, 667000, true), TERN_IDENTITY_ACT_RECONNECT);
    expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op1", 667000);
    /* a link failure proves nothing */
    assert_int_equal(tern_identity_result(&g_id, TERN_ERR_CONNECT, NULL), TERN_OK);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_CERT);
    expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op1", 667000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_IDLE);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "op1", 667000);
    assert_int_equal(key_of("factory"), 'f'); /* the fallback key is never retired */
    assert_int_equal(poll_at(3000, 667000, true), TERN_IDENTITY_ACT_NONE);
    assert_int_equal(tern_identity_result(&g_id, TERN_ERR_CLOSED, NULL), TERN_OK); /* it ends */
    assert_int_equal(poll_at(3000, 667000, true), TERN_IDENTITY_ACT_NONE);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "op1", 667000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);

    /* op1 (600000..2000000) is not due before 2/3 of its life, nor with the clock unknown */
    assert_int_equal(poll_at(4000, 1533000, true), TERN_IDENTITY_ACT_NONE);
    assert_int_equal(poll_at(4000, -1, true), TERN_IDENTITY_ACT_NONE);
    /* the second rotation retires op1 once op2 is proven */
    assert_int_equal(poll_at(4000, 1600000, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_csr_sent(&g_id, 4000), TERN_OK);
    give_cert(2, "K=b;B=1500000;A=3000000;I=x", 1600000, TERN_OK);
    assert_int_equal(poll_at(4100, 1600000, true), TERN_IDENTITY_ACT_RECONNECT);
    expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op2", 1600000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(key_of("op1"), 0);
    assert_int_equal(key_of("op2"), 'b');
    memset(g_buf, 0, sizeof g_buf);
    assert_int_equal(mount(), TERN_OK);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "op2", 1600000);
    /* expired with no next: the fallback identity reaches the fleet */
    expect_creds(TERN_IDENTITY_FALLBACK, TERN_TRUST_PRIMARY, false, "factory", 3000000);
}

/* A certificate backdated far before the device received it: its share of life counts from
 * the receipt, or every new certificate of a short life would be due at once. */
static void test_rotation_counts_from_receipt(void **state)
{
    (void)state;
    provision();
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 900000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(poll_at(0, 900000, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_csr_sent(&g_id, 0), TERN_OK);
    give_cert(1, "K=a;B=0;A=1000000;I=x", 900000, TERN_OK); /* valid from 0, received at 900 s */
    assert_int_equal(poll_at(10, 900000, true), TERN_IDENTITY_ACT_RECONNECT);
    expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op1", 900000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    /* by not-before it is long due (90 % of its life gone); by receipt, at 900 + 66.7 s */
    assert_int_equal(poll_at(20, 950000, true), TERN_IDENTITY_ACT_NONE);
    memset(g_buf, 0, sizeof g_buf);
    assert_int_equal(mount(), TERN_OK); /* the receipt time is kept in flash */
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "op1", 950000);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(poll_at(30, 966000, true), TERN_IDENTITY_ACT_NONE);
    assert_int_equal(poll_at(40, 967000, true), TERN_IDENTITY_ACT_SEND_CSR);
}

static void test_next_refused(void **state)
{
    (void)state;
    provision();
    assert_int_equal(poll_at(0, 700000, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_csr_sent(&g_id, 0), TERN_OK);
    give_cert(1, "K=a;B=600000;A=2000000;I=x", 700000, TERN_OK);
    for (int i = 0; i < 3; i++) {
        expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op1", 700000);
        /* the broker's alert (our certificate refused); a CERT error is the server's */
        assert_int_equal(
            tern_identity_result(&g_id, i == 0 ? TERN_ERR_CERT : TERN_ERR_TLS, "refused"), TERN_OK);
    }
    expect_creds(TERN_IDENTITY_NEXT, TERN_TRUST_PRIMARY, false, "op1", 700000);
    assert_int_equal(tern_identity_result(&g_id, TERN_ERR_TLS, NULL), TERN_OK);
    /* given up: back on the old identity, the new key gone, a fresh rotation */
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 700000);
    assert_int_equal(tern_identity_rotation(&g_id), TERN_ROTATION_IDLE);
    assert_int_equal(key_of("op1"), 0);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(poll_at(10, 700000, true), TERN_IDENTITY_ACT_SEND_CSR);
    assert_int_equal(tern_identity_serial(&g_id), 2);
}

static void test_trust_update_quarantine(void **state)
{
    (void)state;
    provision();
    const char *wrong = "T=q", *right = "T=xy";
    assert_int_equal(tern_identity_trust_update(&g_id, 1, (const uint8_t *)"nope", 4),
                     TERN_ERR_MALFORMED);
    assert_int_equal(tern_identity_trust_update(&g_id, 0, (const uint8_t *)wrong, 3),
                     TERN_ERR_STATE);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 10);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_int_equal(tern_identity_trust_update(&g_id, 2, (const uint8_t *)wrong, 3), TERN_OK);
    assert_int_equal(poll_at(0, 10, true), TERN_IDENTITY_ACT_RECONNECT);
    assert_int_equal(tern_identity_trust_update(&g_id, 2, (const uint8_t *)wrong, 3),
                     TERN_ERR_STATE); /* retained again */
    for (int i = 0; i < 3; i++) {
        expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_TENTATIVE, false, "factory", 10);
        assert_false(tern_identity_quarantined(&g_id));
        assert_int_equal(tern_identity_result(&g_id, i == 1 ? TERN_ERR_TIMEOUT : TERN_ERR_CERT,
                                              "unknown CA: CN=broker by CN=Test Root"),
                         TERN_OK);
    }
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_TENTATIVE, false, "factory", 10);
    assert_int_equal(tern_identity_result(&g_id, TERN_ERR_CERT, "unknown CA: CN=broker"), TERN_OK);
    assert_true(tern_identity_quarantined(&g_id));
    memset(g_buf, 0, sizeof g_buf);
    assert_int_equal(mount(), TERN_OK); /* it holds across a reset */
    assert_true(tern_identity_quarantined(&g_id));
    expect_creds(TERN_IDENTITY_FALLBACK, TERN_TRUST_FALLBACK, true, "factory", 10);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_true(tern_identity_quarantined(&g_id));
    /* no rotation while quarantined */
    assert_int_equal(poll_at(0, 900000, true), TERN_IDENTITY_ACT_NONE);

    /* the report: the store, its version, the error, the detail, the count, the identity */
    uint8_t r[160];
    tern_cbor_enc_t enc;
    tern_cbor_enc_init(&enc, r, sizeof r, 0);
    assert_int_equal(tern_identity_report(&g_id, &enc), TERN_OK);
    tern_cbor_dec_t dec;
    tern_cbor_item_t it;
    size_t rlen = 0;
    assert_int_equal(tern_cbor_enc_finish(&enc, &rlen), TERN_OK);
    tern_cbor_dec_init(&dec, r, rlen, 0);
    assert_int_equal(tern_cbor_dec_next(&dec, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_MAP);
    assert_int_equal(it.u, 6);
    const char *want_text[7] = { NULL, "tentative",  NULL, "TERN_ERR_CERT", "unknown CA: CN=broker",
                                 NULL, "operational" };
    for (unsigned k = 1; k <= 6; k++) {
        assert_int_equal(tern_cbor_dec_next(&dec, &it), TERN_OK);
        assert_int_equal(it.u, k);
        assert_int_equal(tern_cbor_dec_next(&dec, &it), TERN_OK);
        if (want_text[k] != NULL) {
            assert_int_equal(it.type, TERN_CBOR_TEXT);
            assert_int_equal(it.len, strlen(want_text[k]));
            assert_memory_equal(it.ptr, want_text[k], it.len);
        } else {
            assert_int_equal(it.u, k == 2 ? 2 : 3); /* the version; three failures */
        }
    }

    /* a correct update, received in quarantine, is tried on the main endpoint */
    assert_int_equal(tern_identity_trust_update(&g_id, 2, (const uint8_t *)right, 4),
                     TERN_ERR_STATE); /* the failed version is not taken again */
    assert_int_equal(tern_identity_trust_update(&g_id, 3, (const uint8_t *)right, 4), TERN_OK);
    assert_int_equal(poll_at(0, 10, true), TERN_IDENTITY_ACT_RECONNECT);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_TENTATIVE, false, "factory", 10);
    assert_int_equal(tern_identity_result(&g_id, TERN_OK, NULL), TERN_OK);
    assert_false(tern_identity_quarantined(&g_id));
    assert_int_equal(tern_identity_trust_version(&g_id), 3);
    tern_cbor_enc_init(&enc, r, sizeof r, 0);
    assert_int_equal(tern_identity_report(&g_id, &enc), TERN_ERR_STATE);
    memset(g_buf, 0, sizeof g_buf);
    assert_int_equal(mount(), TERN_OK);
    tern_identity_creds_t c;
    assert_int_equal(tern_identity_creds(&g_id, 10, &c), TERN_OK);
    assert_int_equal(c.trust_store, TERN_TRUST_PRIMARY);
    assert_int_equal(c.trust_len, 4);
    assert_memory_equal(c.trust, right, 4);
}

static void test_damaged_copies(void **state)
{
    (void)state;
    provision();
    assert_int_equal(tern_identity_trust_update(&g_id, 5, (const uint8_t *)"T=xz", 4), TERN_OK);
    /* the newest copy (slot 1) damaged: the one before it (no update) is used */
    uint8_t b = 0;
    assert_int_equal(tern_flash_read(&g_cfg.flash, 2 * SECTOR + 70, &b, 1), TERN_OK);
    g_mem[2 * SECTOR + 70] ^= 0x01;
    assert_int_equal(mount(), TERN_OK);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 10);
    /* both damaged: nothing provisioned, and nothing read past the buffer */
    g_mem[70] ^= 0x01;
    assert_int_equal(mount(), TERN_ERR_NOT_FOUND);
    /* a copy whose length field is past the buffer */
    setup(NULL);
    provision();
    g_mem[12] = 0xFF;
    g_mem[13] = 0xFF;
    assert_int_equal(mount(), TERN_ERR_NOT_FOUND);
}

static void test_arguments(void **state)
{
    (void)state;
    tern_identity_config_t c = g_cfg;
    c.retry = NULL;
    assert_int_equal(tern_identity_mount(&g_id, &c), TERN_ERR_INVAL);
    c = g_cfg;
    c.slot_size = SECTOR + 1;
    assert_int_equal(tern_identity_mount(&g_id, &c), TERN_ERR_INVAL);
    c.slot_size = 4 * SECTOR; /* two slots would not fit */
    assert_int_equal(tern_identity_mount(&g_id, &c), TERN_ERR_INVAL);
    assert_int_equal(tern_identity_mount(NULL, &g_cfg), TERN_ERR_INVAL);
    assert_int_equal(mount(), TERN_ERR_NOT_FOUND);
    tern_identity_action_t act;
    assert_int_equal(tern_identity_poll(&g_id, 0, 0, true, g_out, sizeof g_out, &g_out_len, &act),
                     TERN_ERR_STATE);
    assert_int_equal(tern_identity_csr_sent(&g_id, 0), TERN_ERR_STATE);
    /* a chain larger than the buffer */
    provision();
    static char big[CAP];
    memset(big, 'T', sizeof big);
    big[1] = '=';
    assert_int_equal(tern_identity_trust_update(&g_id, 9, (const uint8_t *)big, sizeof big),
                     TERN_ERR_TOO_SMALL);
    expect_creds(TERN_IDENTITY_OPERATIONAL, TERN_TRUST_PRIMARY, false, "factory", 10);
    assert_string_equal(tern_identity_name(TERN_IDENTITY_NEXT), "next");
    assert_string_equal(tern_trust_name(TERN_TRUST_FALLBACK), "fallback");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_provision, setup),
        cmocka_unit_test_setup(test_rotation, setup),
        cmocka_unit_test_setup(test_rotation_counts_from_receipt, setup),
        cmocka_unit_test_setup(test_next_refused, setup),
        cmocka_unit_test_setup(test_trust_update_quarantine, setup),
        cmocka_unit_test_setup(test_damaged_copies, setup),
        cmocka_unit_test_setup(test_arguments, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
