/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd's certificate authority on mbedTLS 2.28 (ca.h).
 *
 * Three things mbedTLS 2.28 leaves to its caller here:
 *   - Parsing a CSR does not verify its signature: check_request() hashes the
 *     CertificationRequestInfo with the request's own hash and verifies the
 *     signature with the key it holds, so a request proves possession of the key.
 *   - There is no writer for extendedKeyUsage (3.x has one): the extension is
 *     written as its DER, SEQUENCE { id-kp-clientAuth }.
 *   - The issuer name is set from a string, which would re-encode the CA's
 *     subject (string types, order of repeated attributes): the issuer is
 *     built from the CA's parsed subject instead, attribute by attribute with
 *     each one's string type, and the certificate written is checked to name
 *     its issuer byte for byte as the CA names itself.
 * The authority key identifier is the CA's own subject key identifier when its
 * certificate has one (whatever method made it), else mbedTLS's SHA-1 of the
 * CA's key, the usual method.
 */
#define _GNU_SOURCE /* getrandom, timegm, gmtime_r */
#include "ca.h"

#include <errno.h>
#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cborjson.h" /* ternd_errf */
#include "tern/wire.h"

#define PEM_CRT_BEGIN "-----BEGIN CERTIFICATE-----\n"
#define PEM_CRT_END   "-----END CERTIFICATE-----\n"
#define LEAF_PEM_MAX  4096 /* an EC P-256 leaf signed by an RSA-4096 CA is about 1.6 KiB */
#define SKEW_S        60   /* not_before this far back: devices whose clocks are a little behind */

struct ternd_ca {
    mbedtls_x509_crt crt; /* the issuing CA first, then whatever else the file holds */
    mbedtls_pk_context key;
    mbedtls_ctr_drbg_context drbg;
    char *pem; /* the certificates of crt, PEM, in order: what follows a leaf in a chain */
    size_t pem_len;
    int64_t from, to; /* the CA's validity, Unix seconds */
    uint8_t ski[64];  /* its subject key identifier, if it has one */
    size_t ski_len;
    char subject[256];
};

static const char *mbed_err(int rc, char *buf, size_t cap)
{
    mbedtls_strerror(rc, buf, cap);
    return buf;
}

const char *ternd_ca_result_name(ternd_ca_result_t r)
{
    switch (r) {
    case TERND_CA_OK:
        return "ok";
    case TERND_CA_PARSE:
        return "parse";
    case TERND_CA_SIGNATURE:
        return "signature";
    case TERND_CA_HASH:
        return "hash";
    case TERND_CA_ID:
        return "id";
    case TERND_CA_CN:
        return "cn";
    case TERND_CA_KEY:
        return "key";
    case TERND_CA_CA_EXPIRED:
        return "ca-validity";
    case TERND_CA_INTERNAL:
        return "internal";
    }
    return "?";
}

void ternd_iso_time(int64_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, cap, "@%lld", (long long)t);
    }
}

static int64_t x509_time(const mbedtls_x509_time *x)
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

/* "YYYYMMDDhhmmss" (UTC), as mbedtls_x509write_crt_set_validity() takes it. */
static int x509_stamp(int64_t t, char out[16])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1950) {
        return -1;
    }
    return strftime(out, 16, "%Y%m%d%H%M%S", &tm) == 14 ? 0 : -1;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* @p n bytes of text, printable, at most 64 of them, for a reason. */
static void shown(char *out, size_t cap, const unsigned char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < 64 && k + 1 < cap; i++) {
        out[k++] = p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' ? (char)p[i] : '?';
    }
    if (n > 64 && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static int os_random(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
        }
        got += (size_t)n;
    }
    return 0;
}

/* ---------------------------------------------------------------- load -- */

/* The subjectKeyIdentifier of @p crt into ca->ski, if it has one. */
static void find_ski(ternd_ca_t *ca)
{
    const mbedtls_x509_buf *v3 = &ca->crt.v3_ext;
    if (v3->p == NULL || v3->len == 0) {
        return;
    }
    unsigned char *p = v3->p, *end = v3->p + v3->len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0 ||
        len != (size_t)(end - p)) {
        return;
    }
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0) {
            return;
        }
        unsigned char *ext_end = p + len, *q = p;
        p = ext_end;
        size_t oid_len, v_len;
        if (mbedtls_asn1_get_tag(&q, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0) {
            return;
        }
        mbedtls_x509_buf oid = { MBEDTLS_ASN1_OID, oid_len, q };
        q += oid_len;
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, &oid) != 0) {
            continue;
        }
        int critical = 0;
        (void)mbedtls_asn1_get_bool(&q, ext_end, &critical); /* optional */
        if (mbedtls_asn1_get_tag(&q, ext_end, &v_len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
            mbedtls_asn1_get_tag(&q, q + v_len, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 || len == 0 ||
            len > sizeof ca->ski) {
            return;
        }
        memcpy(ca->ski, q, len);
        ca->ski_len = len;
        return;
    }
}

/* The certificates of @p crt as PEM, in order, in *out (heap). */
static int crt_pem(const mbedtls_x509_crt *crt, char **out, size_t *out_len, char *err, size_t cap)
{
    size_t need = 1;
    for (const mbedtls_x509_crt *c = crt; c != NULL && c->raw.len; c = c->next) {
        need += sizeof PEM_CRT_BEGIN + sizeof PEM_CRT_END + (c->raw.len + 2) / 3 * 4 +
                c->raw.len / 48 + 8;
    }
    char *pem = malloc(need);
    if (pem == NULL) {
        return ternd_errf(err, cap, "out of memory");
    }
    size_t off = 0;
    for (const mbedtls_x509_crt *c = crt; c != NULL && c->raw.len; c = c->next) {
        size_t olen = 0;
        int rc = mbedtls_pem_write_buffer(PEM_CRT_BEGIN, PEM_CRT_END, c->raw.p, c->raw.len,
                                          (unsigned char *)pem + off, need - off, &olen);
        if (rc != 0) {
            char e[128];
            free(pem);
            return ternd_errf(err, cap, "writing a certificate as PEM: %s",
                              mbed_err(rc, e, sizeof e));
        }
        off += olen - 1; /* olen counts the NUL */
    }
    pem[off] = '\0';
    *out = pem;
    *out_len = off;
    return 0;
}

ternd_ca_t *ternd_ca_load(const char *cert_path, const char *key_path, char *err, size_t cap)
{
    char e[160];
    ternd_ca_t *ca = calloc(1, sizeof *ca);
    if (ca == NULL) {
        ternd_errf(err, cap, "out of memory");
        return NULL;
    }
    mbedtls_x509_crt_init(&ca->crt);
    mbedtls_pk_init(&ca->key);
    mbedtls_ctr_drbg_init(&ca->drbg);
    int rc = mbedtls_x509_crt_parse_file(&ca->crt, cert_path);
    if (rc != 0) {
        if (rc > 0) {
            ternd_errf(err, cap, "%s: %d of its certificates do not parse", cert_path, rc);
        } else {
            ternd_errf(err, cap, "%s: %s", cert_path, mbed_err(rc, e, sizeof e));
        }
        goto fail;
    }
    if (!ca->crt.ca_istrue) {
        ternd_errf(err, cap, "%s is not a CA certificate (no basicConstraints CA:true)", cert_path);
        goto fail;
    }
    if ((ca->crt.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
        mbedtls_x509_crt_check_key_usage(&ca->crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
        ternd_errf(err, cap, "%s: its keyUsage does not allow signing certificates (keyCertSign)",
                   cert_path);
        goto fail;
    }
    for (const mbedtls_x509_name *n = &ca->crt.subject; n != NULL; n = n->next) {
        if (n->next_merged) {
            ternd_errf(err, cap,
                       "%s: its subject has a multi-valued RDN, which ternd cannot write as "
                       "an issuer name",
                       cert_path);
            goto fail;
        }
    }
    rc = mbedtls_pk_parse_keyfile(&ca->key, key_path, NULL);
    if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) {
        ternd_errf(err, cap,
                   "%s: the key is encrypted; ternd takes an unencrypted key file (keep it "
                   "mode 0600)",
                   key_path);
        goto fail;
    }
    if (rc != 0) {
        ternd_errf(err, cap, "%s: %s", key_path, mbed_err(rc, e, sizeof e));
        goto fail;
    }
    if (!mbedtls_pk_can_do(&ca->key, MBEDTLS_PK_ECDSA) &&
        !mbedtls_pk_can_do(&ca->key, MBEDTLS_PK_RSA)) {
        ternd_errf(err, cap, "%s: a %s key; the CA key must be EC or RSA", key_path,
                   mbedtls_pk_get_name(&ca->key));
        goto fail;
    }
    rc = mbedtls_pk_check_pair(&ca->crt.pk, &ca->key);
    if (rc != 0) {
        ternd_errf(err, cap, "%s is not the key of %s (%s)", key_path, cert_path,
                   mbed_err(rc, e, sizeof e));
        goto fail;
    }
    rc = mbedtls_ctr_drbg_seed(&ca->drbg, os_random, NULL, (const unsigned char *)"ternd-ca", 8);
    if (rc != 0) {
        ternd_errf(err, cap, "random source: %s", mbed_err(rc, e, sizeof e));
        goto fail;
    }
    if (crt_pem(&ca->crt, &ca->pem, &ca->pem_len, err, cap) != 0) {
        goto fail;
    }
    ca->from = x509_time(&ca->crt.valid_from);
    ca->to = x509_time(&ca->crt.valid_to);
    find_ski(ca);
    if (mbedtls_x509_dn_gets(ca->subject, sizeof ca->subject, &ca->crt.subject) < 0) {
        snprintf(ca->subject, sizeof ca->subject, "?");
    }
    return ca;
fail:
    ternd_ca_free(ca);
    return NULL;
}

void ternd_ca_free(ternd_ca_t *ca)
{
    if (ca == NULL) {
        return;
    }
    mbedtls_x509_crt_free(&ca->crt);
    mbedtls_pk_free(&ca->key); /* wipes the key */
    mbedtls_ctr_drbg_free(&ca->drbg);
    free(ca->pem);
    free(ca);
}

const char *ternd_ca_subject(const ternd_ca_t *ca)
{
    return ca->subject;
}

/* ------------------------------------------------------------- request -- */

static ternd_ca_result_t refuse(ternd_ca_result_t r, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ternd_ca_result_t refuse(ternd_ca_result_t r, char *why, size_t cap, const char *fmt, ...)
{
    if (why != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* Parse @p buf (DER, or PEM with or without a NUL) into @p csr. */
static int parse_request(mbedtls_x509_csr *csr, const uint8_t *buf, size_t len)
{
    static const char k_pem[] = "-----BEGIN";
    size_t skip = 0;
    while (skip < len &&
           (buf[skip] == ' ' || buf[skip] == '\t' || buf[skip] == '\r' || buf[skip] == '\n')) {
        skip++;
    }
    if (len - skip < sizeof k_pem - 1 || memcmp(buf + skip, k_pem, sizeof k_pem - 1) != 0) {
        return mbedtls_x509_csr_parse_der(csr, buf, len);
    }
    char *text = malloc(len + 1); /* mbedTLS takes PEM with its NUL, counted in the length */
    if (text == NULL) {
        return MBEDTLS_ERR_X509_ALLOC_FAILED;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    int rc = memchr(buf, 0, len) != NULL
                 ? MBEDTLS_ERR_X509_INVALID_FORMAT
                 : mbedtls_x509_csr_parse(csr, (const unsigned char *)text, len + 1);
    free(text);
    return rc;
}

/* Every check of a parsed request (see ca.h); fills @p info. */
static ternd_ca_result_t check_request(mbedtls_x509_csr *csr, const char *id,
                                       ternd_csr_info_t *info, char *why, size_t cap)
{
    char e[160];
    /* 1. Its own signature, over the CertificationRequestInfo. */
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
    if (md == NULL) {
        return refuse(TERND_CA_SIGNATURE, why, cap, "its signature uses an unknown hash");
    }
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    int rc = mbedtls_md(md, csr->cri.p, csr->cri.len, hash);
    if (rc == 0) {
        rc = mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash,
                                   mbedtls_md_get_size(md), csr->sig.p, csr->sig.len);
    }
    if (rc != 0) {
        return refuse(TERND_CA_SIGNATURE, why, cap,
                      "its signature does not verify with its own key (%s): altered, or not "
                      "signed by that key",
                      mbed_err(rc, e, sizeof e));
    }
    if (csr->sig_md != MBEDTLS_MD_SHA256 && csr->sig_md != MBEDTLS_MD_SHA384 &&
        csr->sig_md != MBEDTLS_MD_SHA512) {
        return refuse(TERND_CA_HASH, why, cap, "signed with %s; SHA-256 or longer required",
                      mbedtls_md_get_name(md));
    }
    /* 2. The subject: one CN, the device id. */
    const mbedtls_x509_name *cn = NULL;
    size_t n_cn = 0;
    for (const mbedtls_x509_name *n = &csr->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            cn = n;
            n_cn++;
        }
    }
    if (n_cn != 1) {
        return refuse(TERND_CA_CN, why, cap, "its subject has %s CN",
                      n_cn ? "more than one" : "no");
    }
    char cn_shown[80];
    shown(cn_shown, sizeof cn_shown, cn->val.p, cn->val.len);
    bool cn_text = cn->val.tag == MBEDTLS_ASN1_UTF8_STRING ||
                   cn->val.tag == MBEDTLS_ASN1_PRINTABLE_STRING ||
                   cn->val.tag == MBEDTLS_ASN1_IA5_STRING;
    if (id == NULL) {
        if (!cn_text || !tern_wire_id_ok((const char *)cn->val.p, cn->val.len)) {
            return refuse(TERND_CA_ID, why, cap,
                          "its subject CN \"%s\" is not a device id (1..%d of A-Z a-z 0-9 _ . -)",
                          cn_shown, TERN_WIRE_ID_MAX);
        }
    } else {
        size_t il = strnlen(id, TERN_WIRE_ID_MAX + 1);
        if (!tern_wire_id_ok(id, il)) {
            return refuse(TERND_CA_ID, why, cap,
                          "the device id is not a valid one (1..%d of A-Z a-z 0-9 _ . -)",
                          TERN_WIRE_ID_MAX);
        }
        if (!cn_text || cn->val.len != il || memcmp(cn->val.p, id, il) != 0) {
            return refuse(TERND_CA_CN, why, cap, "its subject CN \"%s\" is not the device id %s",
                          cn_shown, id);
        }
    }
    /* 3. The key: EC P-256. */
    mbedtls_pk_type_t kt = mbedtls_pk_get_type(&csr->pk);
    if (kt != MBEDTLS_PK_ECKEY || mbedtls_pk_ec(csr->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        const mbedtls_ecp_curve_info *ci =
            kt == MBEDTLS_PK_ECKEY || kt == MBEDTLS_PK_ECKEY_DH
                ? mbedtls_ecp_curve_info_from_grp_id(mbedtls_pk_ec(csr->pk)->grp.id)
                : NULL;
        if (ci != NULL) {
            return refuse(TERND_CA_KEY, why, cap, "its key is EC %s, not EC P-256 (secp256r1)",
                          ci->name);
        }
        return refuse(TERND_CA_KEY, why, cap, "its key is %s-%zu, not EC P-256",
                      mbedtls_pk_get_name(&csr->pk), mbedtls_pk_get_bitlen(&csr->pk));
    }
    if (info != NULL) {
        unsigned char der[256];
        int n = mbedtls_pk_write_pubkey_der(&csr->pk, der, sizeof der);
        unsigned char digest[32];
        if (n <= 0 || mbedtls_sha256_ret(der + sizeof der - n, (size_t)n, digest, 0) != 0) {
            return refuse(TERND_CA_INTERNAL, why, cap, "cannot write its public key");
        }
        hex(digest, sizeof digest, info->key_id);
        memcpy(info->cn, cn->val.p, cn->val.len); /* a device id: at most 64 bytes */
        info->cn[cn->val.len] = '\0';
    }
    return TERND_CA_OK;
}

ternd_ca_result_t ternd_ca_check(const uint8_t *csr, size_t len, const char *id,
                                 ternd_csr_info_t *info, char *why, size_t cap)
{
    mbedtls_x509_csr c;
    mbedtls_x509_csr_init(&c);
    int rc = csr != NULL ? parse_request(&c, csr, len) : MBEDTLS_ERR_X509_INVALID_FORMAT;
    ternd_ca_result_t r;
    if (rc != 0) {
        char e[160];
        r = refuse(TERND_CA_PARSE, why, cap, "not a PKCS#10 request (%s)",
                   mbed_err(rc, e, sizeof e));
    } else {
        r = check_request(&c, id, info, why, cap);
    }
    mbedtls_x509_csr_free(&c);
    return r;
}

/* ---------------------------------------------------------------- issue -- */

/* The issuer name: the CA's subject, attribute by attribute with their string types. The
 * writer emits the list from its end, so each attribute goes to its front. */
static int set_issuer(mbedtls_x509write_cert *w, const mbedtls_x509_name *dn)
{
    for (const mbedtls_x509_name *n = dn; n != NULL; n = n->next) {
        if (n->oid.p == NULL) {
            continue; /* an empty name */
        }
        mbedtls_asn1_named_data *d = mbedtls_calloc(1, sizeof *d);
        if (d == NULL) {
            return -1;
        }
        d->next = w->issuer;
        w->issuer = d; /* freed with the list from here on */
        d->oid.p = mbedtls_calloc(1, n->oid.len ? n->oid.len : 1);
        d->val.p = mbedtls_calloc(1, n->val.len ? n->val.len : 1);
        if (d->oid.p == NULL || d->val.p == NULL) {
            return -1;
        }
        memcpy(d->oid.p, n->oid.p, n->oid.len);
        d->oid.len = n->oid.len;
        d->oid.tag = n->oid.tag;
        if (n->val.len) {
            memcpy(d->val.p, n->val.p, n->val.len);
        }
        d->val.len = n->val.len;
        d->val.tag = n->val.tag;
    }
    return 0;
}

/* extendedKeyUsage: SEQUENCE { id-kp-clientAuth } (mbedTLS 2.28 has no writer for it). */
static int set_client_auth(mbedtls_x509write_cert *w)
{
    static const char k_oid[] = MBEDTLS_OID_CLIENT_AUTH;
    unsigned char der[4 + sizeof k_oid];
    size_t ol = sizeof k_oid - 1;
    der[0] = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    der[1] = (unsigned char)(ol + 2);
    der[2] = MBEDTLS_ASN1_OID;
    der[3] = (unsigned char)ol;
    memcpy(der + 4, k_oid, ol);
    return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                               der, ol + 4);
}

/* authorityKeyIdentifier: SEQUENCE { [0] the CA's subject key identifier }. */
static int set_aki(mbedtls_x509write_cert *w, const ternd_ca_t *ca)
{
    if (ca->ski_len == 0) {
        return mbedtls_x509write_crt_set_authority_key_identifier(w);
    }
    unsigned char der[4 + sizeof ca->ski];
    der[0] = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    der[1] = (unsigned char)(ca->ski_len + 2);
    der[2] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0;
    der[3] = (unsigned char)ca->ski_len;
    memcpy(der + 4, ca->ski, ca->ski_len);
    return mbedtls_x509write_crt_set_extension(
        w, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
        MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), 0, der, ca->ski_len + 4);
}

/* The issue time is the caller's (`now`), not necessarily the host's: the self-check judges
 * signatures and names, not the validity period it has just written itself. */
static int ignore_time(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)ctx;
    (void)crt;
    (void)depth;
    *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    return 0;
}

/* Parse the leaf written and verify it against the CA: nothing wrong leaves ternd. */
static ternd_ca_result_t self_check(ternd_ca_t *ca, const char *leaf_pem, size_t len, char *why,
                                    size_t cap)
{
    mbedtls_x509_crt leaf;
    mbedtls_x509_crt_init(&leaf);
    char e[160];
    uint32_t flags = 0;
    ternd_ca_result_t r = TERND_CA_OK;
    int rc = mbedtls_x509_crt_parse(&leaf, (const unsigned char *)leaf_pem, len + 1);
    if (rc != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "the certificate written does not parse: %s",
                   mbed_err(rc, e, sizeof e));
    } else if (leaf.issuer_raw.len != ca->crt.subject_raw.len ||
               memcmp(leaf.issuer_raw.p, ca->crt.subject_raw.p, leaf.issuer_raw.len) != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap,
                   "the certificate written names its issuer differently from the CA's subject");
    } else if ((rc = mbedtls_x509_crt_verify(&leaf, &ca->crt, NULL, NULL, &flags, ignore_time,
                                             NULL)) != 0) {
        char info[256] = "";
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        for (char *p = info; *p; p++) {
            *p = *p == '\n' ? ';' : *p;
        }
        r = refuse(TERND_CA_INTERNAL, why, cap,
                   "the certificate written does not verify against the CA: %s", info);
    }
    mbedtls_x509_crt_free(&leaf);
    return r;
}

ternd_ca_result_t ternd_ca_issue(ternd_ca_t *ca, const char *id, const uint8_t *csr, size_t len,
                                 uint32_t lifetime_s, int64_t now, ternd_cert_t *out, char *why,
                                 size_t cap)
{
    memset(out, 0, sizeof *out);
    mbedtls_x509_csr c;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509_csr_init(&c);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    char e[160];
    char *leaf = NULL;
    ternd_csr_info_t info;
    ternd_ca_result_t r;
    int rc = csr != NULL ? parse_request(&c, csr, len) : MBEDTLS_ERR_X509_INVALID_FORMAT;
    if (rc != 0) {
        r = refuse(TERND_CA_PARSE, why, cap, "not a PKCS#10 request (%s)",
                   mbed_err(rc, e, sizeof e));
        goto out;
    }
    if ((r = check_request(&c, id, &info, why, cap)) != TERND_CA_OK) {
        goto out;
    }
    if (now < ca->from || now >= ca->to) {
        char t[32];
        ternd_iso_time(now < ca->from ? ca->from : ca->to, t, sizeof t);
        r = refuse(TERND_CA_CA_EXPIRED, why, cap, "the CA certificate is %s %s",
                   now < ca->from ? "not valid before" : "expired since", t);
        goto out;
    }
    if (lifetime_s == 0 || lifetime_s > TERND_CA_LIFETIME_MAX) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "lifetime %lu s is not 1..%lu",
                   (unsigned long)lifetime_s, (unsigned long)TERND_CA_LIFETIME_MAX);
        goto out;
    }
    int64_t nb = now - SKEW_S, na = now + (int64_t)lifetime_s;
    na = na > ca->to ? ca->to : na; /* never past the CA's own end: useless after it */
    char s_nb[16], s_na[16];
    uint8_t sn[16];
    if (x509_stamp(nb, s_nb) != 0 || x509_stamp(na, s_na) != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "validity out of range");
        goto out;
    }
    if (os_random(NULL, sn, sizeof sn) != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "no random serial: %s", strerror(errno));
        goto out;
    }
    sn[0] = (uint8_t)((sn[0] & 0x7F) | 0x40); /* positive, and 16 bytes long */
    const char *cn = id != NULL ? id : info.cn;
    char subject[8 + TERN_WIRE_ID_MAX];
    snprintf(subject, sizeof subject, "CN=%s", cn); /* [A-Za-z0-9_.-]: nothing to escape */

    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &c.pk);
    mbedtls_x509write_crt_set_issuer_key(&w, &ca->key);
    if ((rc = mbedtls_mpi_read_binary(&serial, sn, sizeof sn)) != 0 ||
        (rc = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
        (rc = mbedtls_x509write_crt_set_validity(&w, s_nb, s_na)) != 0 ||
        (rc = mbedtls_x509write_crt_set_subject_name(&w, subject)) != 0 ||
        (rc = set_issuer(&w, &ca->crt.subject)) != 0 ||
        (rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) != 0 ||
        (rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0 ||
        (rc = set_client_auth(&w)) != 0 ||
        (rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0 ||
        (rc = set_aki(&w, ca)) != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "building the certificate: %s",
                   rc == -1 ? "out of memory" : mbed_err(rc, e, sizeof e));
        goto out;
    }
    leaf = malloc(LEAF_PEM_MAX);
    if (leaf == NULL) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "out of memory");
        goto out;
    }
    rc = mbedtls_x509write_crt_pem(&w, (unsigned char *)leaf, LEAF_PEM_MAX, mbedtls_ctr_drbg_random,
                                   &ca->drbg);
    if (rc != 0) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "signing the certificate: %s",
                   mbed_err(rc, e, sizeof e));
        goto out;
    }
    size_t leaf_len = strlen(leaf);
    if ((r = self_check(ca, leaf, leaf_len, why, cap)) != TERND_CA_OK) {
        goto out;
    }
    out->chain = malloc(leaf_len + ca->pem_len + 1);
    if (out->chain == NULL) {
        r = refuse(TERND_CA_INTERNAL, why, cap, "out of memory");
        goto out;
    }
    memcpy(out->chain, leaf, leaf_len);
    memcpy(out->chain + leaf_len, ca->pem, ca->pem_len);
    out->chain_len = leaf_len + ca->pem_len;
    out->chain[out->chain_len] = '\0';
    hex(sn, sizeof sn, out->serial);
    out->not_before = nb;
    out->not_after = na;
    memcpy(out->key_id, info.key_id, sizeof out->key_id);
    r = TERND_CA_OK;
out:
    free(leaf);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_x509_csr_free(&c);
    return r;
}

void ternd_cert_free(ternd_cert_t *c)
{
    if (c != NULL) {
        free(c->chain);
        memset(c, 0, sizeof *c);
    }
}

/* ---------------------------------------------------------------- trust -- */

int ternd_ca_trust_check(const char *pem, size_t len, size_t *count, char **out, size_t *out_len,
                         char *why, size_t cap)
{
    static const char k_begin[] = "-----BEGIN CERTIFICATE-----";
    if (count != NULL) {
        *count = 0;
    }
    if (out != NULL) {
        *out = NULL;
        *out_len = 0;
    }
    if (pem == NULL || len == 0) {
        return ternd_errf(why, cap, "empty");
    }
    if (memchr(pem, 0, len) != NULL) {
        return ternd_errf(why, cap, "not PEM text (it holds a NUL byte)");
    }
    char *text = malloc(len + 1);
    if (text == NULL) {
        return ternd_errf(why, cap, "out of memory");
    }
    memcpy(text, pem, len);
    text[len] = '\0';
    int rc = -1;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (strstr(text, "PRIVATE KEY") != NULL) {
        ternd_errf(why, cap, "it holds a private key: a trust store is certificates only");
        goto out;
    }
    if (strstr(text, k_begin) == NULL) {
        ternd_errf(why, cap, "no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
        goto out;
    }
    int pr = mbedtls_x509_crt_parse(&crt, (const unsigned char *)text, len + 1);
    if (pr != 0) {
        char e[160];
        if (pr > 0) {
            ternd_errf(why, cap, "%d of its certificates do not parse", pr);
        } else {
            ternd_errf(why, cap, "its certificates do not parse: %s", mbed_err(pr, e, sizeof e));
        }
        goto out;
    }
    size_t n = 0;
    for (const mbedtls_x509_crt *c = &crt; c != NULL && c->raw.len; c = c->next) {
        n++;
        if (!c->ca_istrue) {
            char dn[200];
            if (mbedtls_x509_dn_gets(dn, sizeof dn, &c->subject) < 0) {
                snprintf(dn, sizeof dn, "?");
            }
            ternd_errf(why, cap,
                       "certificate %zu (%s) is not a CA certificate (basicConstraints "
                       "CA:true)",
                       n, dn);
            goto out;
        }
    }
    if (n == 0) {
        ternd_errf(why, cap, "no certificate in it");
        goto out;
    }
    if (out != NULL && crt_pem(&crt, out, out_len, why, cap) != 0) {
        goto out;
    }
    if (count != NULL) {
        *count = n;
    }
    rc = 0;
out:
    mbedtls_x509_crt_free(&crt);
    free(text);
    return rc;
}
