/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity (src/sec/identity.c) on arbitrary bytes, both ways they come
 * in: as a flash image (tern_identity_mount()) and as what the fleet sends
 * (a chain on cert/new, a trust store on trust/new) followed by connection
 * outcomes. Any image mounts or is refused; what mounts gives credentials
 * that lie inside the state and survives a remount unchanged. Whatever the
 * messages and outcomes do, the state in RAM is the state a remount finds.
 *
 * The X.509 work is a stand-in (its parsing is tested in unit.posix.x509):
 * a "chain" names its key in its first byte and its life in its second; a
 * trust store trusts the issuers whose bytes it holds; the key store is RAM.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/identity.h"
#include "tern_norsim.h"

enum { SECTOR = 512, SIZE = 4 * SECTOR, CAP = 2 * SECTOR, KEYS = 4 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[4];
static tern_norsim_t g_sim;
static char g_labels[KEYS][TERN_KEYSTORE_LABEL_MAX + 1];

static int find(const char *label)
{
    for (int i = 0; i < KEYS; i++) {
        if (strcmp(g_labels[i], label) == 0) {
            return i;
        }
    }
    return -1;
}

static tern_err_t ks_generate(void *ctx, const char *label)
{
    (void)ctx;
    int i = find(label) >= 0 ? -2 : find("");
    if (i < 0) {
        return i == -2 ? TERN_ERR_EXISTS : TERN_ERR_FULL;
    }
    strcpy(g_labels[i], label);
    return TERN_OK;
}

static tern_err_t ks_public(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    (void)ctx;
    int i = find(label);
    memset(pub, 0, TERN_KEYSTORE_PUB_LEN);
    pub[1] = (uint8_t)(label[strlen(label) - 1]); /* a key is its label's last character */
    return i < 0 ? TERN_ERR_NOT_FOUND : TERN_OK;
}

static tern_err_t ks_destroy(void *ctx, const char *label)
{
    (void)ctx;
    int i = find(label);
    if (i < 0) {
        return TERN_ERR_NOT_FOUND;
    }
    g_labels[i][0] = '\0';
    return TERN_OK;
}

static const tern_keystore_ops_t k_ks_ops = { "ram", ks_generate, ks_public, NULL, ks_destroy };
static const tern_keystore_t g_ks = { &k_ks_ops, NULL };

static tern_err_t x_leaf(void *ctx, const uint8_t *chain, size_t len, tern_x509_info_t *info)
{
    (void)ctx;
    if (chain == NULL || len < 2) {
        return TERN_ERR_MALFORMED;
    }
    memset(info, 0, sizeof *info);
    info->pub[1] = chain[0];
    info->pub_p256 = true;
    info->not_after_ms = (int64_t)chain[1] * 10000;
    return TERN_OK;
}

static tern_err_t x_trust(void *ctx, const uint8_t *trust, size_t len)
{
    (void)ctx;
    return trust != NULL && len > 0 ? TERN_OK : TERN_ERR_MALFORMED;
}

static tern_err_t x_verify(void *ctx, const uint8_t *chain, size_t len, const uint8_t *trust,
                           size_t tlen, int64_t now)
{
    tern_x509_info_t info;
    if (x_leaf(ctx, chain, len, &info) != TERN_OK || x_trust(ctx, trust, tlen) != TERN_OK) {
        return TERN_ERR_MALFORMED;
    }
    return memchr(trust, chain[len - 1], tlen) != NULL && (now < 0 || now < info.not_after_ms)
               ? TERN_OK
               : TERN_ERR_CERT;
}

static tern_err_t x_csr(void *ctx, const tern_keystore_t *ks, const char *label, const char *cn,
                        uint8_t *out, size_t cap, size_t *len)
{
    (void)ctx;
    (void)ks;
    (void)cn;
    size_t n = strlen(label);
    if (n > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memcpy(out, label, n);
    *len = n;
    return TERN_OK;
}

static const tern_x509_ops_t k_x509 = { x_leaf, x_verify, x_trust, x_csr };

static tern_err_t rng_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0x33, len);
    return TERN_OK;
}
static const tern_rng_ops_t k_rng = { "fixed", rng_fill };

static tern_backoff_t g_retry;

static tern_err_t mount(tern_identity_t *id, uint8_t *buf)
{
    tern_identity_config_t c = { .flash = tern_norsim_flash(&g_sim),
                                 .slot_size = 2 * SECTOR,
                                 .buf = buf,
                                 .cap = CAP,
                                 .keystore = &g_ks,
                                 .x509 = &k_x509,
                                 .device_id = "dev-1",
                                 .retry = &g_retry };
    return tern_identity_mount(id, &c);
}

/* What a remount must find again. */
static bool same(const tern_identity_t *a, const uint8_t *ba, const tern_identity_t *b,
                 const uint8_t *bb)
{
    return a->used == b->used && memcmp(ba, bb, a->used) == 0 && a->rot == b->rot &&
           a->serial == b->serial && a->op_serial == b->op_serial &&
           a->quarantined == b->quarantined && a->trust_fails == b->trust_fails &&
           a->next_fails == b->next_fails && a->trust_version == b->trust_version &&
           a->tentative_version == b->tentative_version && a->op_since == b->op_since;
}

/* Credentials lie inside the state buffer. */
static void creds_inside(tern_identity_t *id, const uint8_t *buf)
{
    tern_identity_creds_t c;
    CHECK(tern_identity_creds(id, 5000, &c) == TERN_OK);
    CHECK(c.cert != NULL && c.trust != NULL);
    CHECK(c.cert >= buf && c.cert + c.cert_len <= buf + id->used);
    CHECK(c.trust >= buf && c.trust + c.trust_len <= buf + id->used);
    CHECK(strlen(c.key_label) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP], buf2[CAP];
    tern_norsim_config_t cfg = { SIZE, SECTOR, 4, TERN_NORSIM_PROGRAM_ONCE, 0, 1 };
    CHECK(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts) == TERN_OK);
    tern_rng_t rng = { &k_rng, NULL };
    tern_backoff_config_t bc = { TERN_BACKOFF_FULL_JITTER, 100, 1000, 0, 0 };
    CHECK(tern_backoff_init(&g_retry, &bc, &rng) == TERN_OK);
    memset(g_labels, 0, sizeof g_labels);
    tern_identity_t id, id2;

    /* 1. The bytes as a flash image. */
    tern_norsim_format(&g_sim);
    memcpy(g_mem, data, size < SIZE ? size : SIZE);
    tern_err_t e = mount(&id, buf);
    if (e == TERN_OK) {
        creds_inside(&id, buf);
        CHECK(mount(&id2, buf2) == TERN_OK && same(&id, buf, &id2, buf2));
    }

    /* 2. A provisioned identity, then the bytes as a script of messages and outcomes:
     * each op a byte (its kind) and a length byte, then that many bytes. */
    tern_norsim_format(&g_sim);
    memset(g_labels, 0, sizeof g_labels);
    CHECK(mount(&id, buf) == TERN_ERR_NOT_FOUND);
    CHECK(ks_generate(NULL, "factoryf") == TERN_OK);
    static const uint8_t chain[] = { 'f', 200, 'x' }, trust[] = { 'x' };
    CHECK(tern_identity_provision(&id, "factoryf", chain, sizeof chain, trust, 1) == TERN_OK);
    tern_ms_t now = 0;
    for (size_t at = 0; at + 2 <= size;) {
        uint8_t op = data[at], n = data[at + 1];
        const uint8_t *p = data + at + 2;
        size_t len = n <= size - at - 2 ? n : size - at - 2;
        at += 2 + len;
        uint8_t out[64];
        size_t out_len = 0;
        tern_identity_action_t act;
        tern_identity_creds_t c;
        switch (op % 6) {
        case 0:
            (void)tern_identity_cert_received(&id, len ? p[0] % 4 : 0, p, len, 1000);
            break;
        case 1:
            (void)tern_identity_trust_update(&id, len ? p[0] : 0, p, len);
            break;
        case 2:
            if (tern_identity_creds(&id, 1000, &c) == TERN_OK) {
                static const tern_err_t outcomes[] = { TERN_OK, TERN_ERR_CERT, TERN_ERR_TLS,
                                                       TERN_ERR_CLOSED };
                char detail[32];
                size_t dl = len < sizeof detail - 1 ? len : sizeof detail - 1;
                memcpy(detail, p, dl);
                detail[dl] = '\0';
                (void)tern_identity_result(&id, outcomes[(len ? p[0] : 0) % 4], detail);
            }
            break;
        case 3:
            now += 500;
            if (tern_identity_poll(&id, now, 1000 + (int64_t)now, true, out, sizeof out, &out_len,
                                   &act) == TERN_OK &&
                act == TERN_IDENTITY_ACT_SEND_CSR) {
                (void)tern_identity_csr_sent(&id, now);
            }
            break;
        case 4: { /* a report always builds into enough room when quarantined */
            uint8_t r[256];
            tern_cbor_enc_t enc;
            tern_cbor_enc_init(&enc, r, sizeof r, 0);
            e = tern_identity_report(&id, &enc);
            CHECK(e == TERN_OK ? tern_identity_quarantined(&id)
                               : e == TERN_ERR_STATE || e == TERN_ERR_TOO_SMALL);
            break;
        }
        default: /* a reset */
            CHECK(mount(&id, buf) == TERN_OK);
            break;
        }
        creds_inside(&id, buf);
        /* a rotation's new serial is saved with its request (tern_identity_csr_sent()):
         * until then RAM is ahead of flash on purpose */
        if (id.rot != TERN_ROTATION_KEY) {
            CHECK(mount(&id2, buf2) == TERN_OK && same(&id, buf, &id2, buf2));
        }
    }
    return 0;
}
