/* SPDX-License-Identifier: Apache-2.0 */
/* The identity module's X.509 work on mbedTLS 2.28 (posix_x509.h).
 *
 * Every operation parses its PEM afresh (x509_common.c, strictly) and frees it before
 * returning: the identity calls these at rotation steps and connections, rarely, and a
 * parsed chain is several KiB of heap not worth keeping. Chains are verified with the
 * TLS client's profile, and validity is judged by the caller's UTC time through a verify
 * callback that puts its verdicts in place of those mbedTLS made by the host's clock,
 * as the TLS client does with the HAL clock.
 */
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "tern/port/posix_x509.h"
#include "tls_keystore.h"
#include "x509_priv.h"

#define CN_MAX 64 /* ub-common-name (X.520) */

/* ------------------------------------------------------------- leaf_info -- */

/* @p val into @p out (@p cap > 0), cut at a UTF-8 character boundary to fit; a control
 * character (a NUL included) becomes '?', so the result is one printable line. */
static void copy_cn(char *out, size_t cap, const mbedtls_x509_buf *val)
{
    size_t n = val->len < cap - 1 ? val->len : cap - 1;
    if (n < val->len) {
        while (n > 0 && (val->p[n] & 0xC0) == 0x80) {
            n--; /* not inside a multi-byte character */
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = val->p[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
}

static void leaf_facts(const mbedtls_x509_crt *leaf, tern_x509_info_t *info)
{
    info->not_before_ms = tern_posix_x509_time_s(&leaf->valid_from) * 1000;
    info->not_after_ms = tern_posix_x509_time_s(&leaf->valid_to) * 1000;
    for (const mbedtls_x509_name *n = &leaf->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            copy_cn(info->cn, sizeof info->cn, &n->val);
            break;
        }
    }
    if (mbedtls_pk_can_do(&leaf->pk, MBEDTLS_PK_ECKEY)) {
        const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(leaf->pk);
        size_t len = 0;
        info->pub_p256 =
            ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 &&
            mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len,
                                           info->pub, sizeof info->pub) == 0 &&
            len == sizeof info->pub;
    }
    if (!info->pub_p256) {
        memset(info->pub, 0, sizeof info->pub);
    }
}

static tern_err_t px_leaf_info(void *ctx, const uint8_t *chain, size_t len, tern_x509_info_t *info)
{
    (void)ctx;
    if (info == NULL) {
        return TERN_ERR_INVAL;
    }
    memset(info, 0, sizeof *info);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    tern_err_t err = tern_posix_x509_parse_pem(&crt, chain, len);
    if (err == TERN_OK) {
        leaf_facts(&crt, info);
    }
    mbedtls_x509_crt_free(&crt);
    return err;
}

/* ---------------------------------------------------------------- verify -- */

/* Once per certificate of the chain: the caller's time judges validity, not the host's. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)depth;
    int64_t now_ms = *(const int64_t *)ctx;
    uint32_t f = *flags & ~(uint32_t)TERN_POSIX_X509_BAD_TIME;
    if (now_ms >= 0) {
        f |= tern_posix_x509_period(tern_posix_x509_ms_to_s(now_ms), &crt->valid_from,
                                    &crt->valid_to, MBEDTLS_X509_BADCERT_EXPIRED,
                                    MBEDTLS_X509_BADCERT_FUTURE);
    }
    *flags = f;
    return 0;
}

static tern_err_t px_verify(void *ctx, const uint8_t *chain, size_t len, const uint8_t *trust,
                            size_t trust_len, int64_t now_ms)
{
    (void)ctx;
    mbedtls_x509_crt crt, anchors;
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&anchors);
    tern_err_t err = tern_posix_x509_parse_pem(&crt, chain, len);
    if (err == TERN_OK) {
        err = tern_posix_x509_parse_pem(&anchors, trust, trust_len);
    }
    if (err == TERN_OK) {
        uint32_t flags = 0;
        int ret = mbedtls_x509_crt_verify_with_profile(
            &crt, &anchors, NULL, &tern_posix_x509_profile, NULL, &flags, verify_cb, &now_ms);
        err = ret == 0 && flags == 0 ? TERN_OK : TERN_ERR_CERT;
    }
    mbedtls_x509_crt_free(&anchors);
    mbedtls_x509_crt_free(&crt);
    return err;
}

/* ----------------------------------------------------------- check_trust -- */

static tern_err_t px_check_trust(void *ctx, const uint8_t *trust, size_t len)
{
    (void)ctx;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    tern_err_t err = tern_posix_x509_parse_pem(&crt, trust, len);
    if (err == TERN_OK) {
        err = TERN_ERR_MALFORMED; /* until a CA turns up */
        for (mbedtls_x509_crt *c = &crt; c != NULL && err != TERN_OK; c = c->next) {
            bool ca = (c->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS) != 0 && c->ca_istrue;
            if (ca || (c->version == 1 && tern_posix_x509_self_signed(c))) {
                err = TERN_OK;
            }
        }
    }
    mbedtls_x509_crt_free(&crt);
    return err;
}

/* -------------------------------------------------------------- make_csr -- */

/* A CN the subject string "CN=<cn>" carries as it is: printable ASCII, nothing RFC 4514
 * would escape (those characters anywhere, a space at either end), at most CN_MAX. */
static bool cn_ok(const char *cn)
{
    size_t n = strnlen(cn, CN_MAX + 1);
    if (n == 0 || n > CN_MAX || cn[0] == ' ' || cn[n - 1] == ' ') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)cn[i];
        if (c < 0x20 || c > 0x7e || strchr(",=+<>#;\"\\", c) != NULL) {
            return false;
        }
    }
    return true;
}

/* Write the request for @p pk into the end of @p out, as mbedTLS does; its length or
 * mbedTLS's error. */
static int write_csr(mbedtls_pk_context *pk, const char *cn, uint8_t *out, size_t cap)
{
    char subject[sizeof "CN=" + CN_MAX];
    memcpy(subject, "CN=", 3);
    memcpy(subject + 3, cn, strlen(cn) + 1); /* length checked by cn_ok() */
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509write_csr w;
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&w, pk);
    int ret = tern_posix_drbg_seed(&drbg, "tern posix csr");
    if (ret == 0) {
        ret = mbedtls_x509write_csr_set_subject_name(&w, subject);
    }
    if (ret == 0) {
        ret = mbedtls_x509write_csr_der(&w, out, cap, mbedtls_ctr_drbg_random, &drbg);
    }
    mbedtls_x509write_csr_free(&w);
    mbedtls_ctr_drbg_free(&drbg);
    return ret;
}

static tern_err_t px_make_csr(void *ctx, const tern_keystore_t *ks, const char *label,
                              const char *cn, uint8_t *out, size_t cap, size_t *len)
{
    (void)ctx;
    if (len != NULL) {
        *len = 0;
    }
    if (ks == NULL || label == NULL || cn == NULL || out == NULL || len == NULL || !cn_ok(cn)) {
        return TERN_ERR_INVAL;
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    tern_err_t err = tern_posix_tls_keystore_pk(&pk, ks, label);
    if (err == TERN_OK) {
        int ret = write_csr(&pk, cn, out, cap);
        if (ret > 0) {
            memmove(out, out + cap - (size_t)ret, (size_t)ret); /* mbedTLS writes backwards */
            *len = (size_t)ret;
        } else if ((err = tern_posix_tls_keystore_last_err(&pk)) == TERN_OK) {
            err = ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL ? TERN_ERR_TOO_SMALL : TERN_ERR_IO;
        }
    }
    mbedtls_pk_free(&pk);
    return err;
}

const tern_x509_ops_t tern_posix_x509_ops = {
    .leaf_info = px_leaf_info,
    .verify = px_verify,
    .check_trust = px_check_trust,
    .make_csr = px_make_csr,
};
