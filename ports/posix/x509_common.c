/* SPDX-License-Identifier: Apache-2.0 */
/* What the TLS client and the X.509 operations share (x509_priv.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>

#include "x509_priv.h"

const mbedtls_x509_crt_profile tern_posix_x509_profile = {
    .allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
                   MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
                   MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    .allowed_pks = MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) |
                   MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) |
                   MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSASSA_PSS),
    .allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
                      MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1),
    .rsa_min_bitlen = 2048,
};

int64_t tern_posix_x509_ms_to_s(int64_t ms)
{
    return ms / 1000 - (ms % 1000 < 0);
}

/* Days from 1970-01-01 to the proleptic Gregorian date @p y-@p m-@p d. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t tern_posix_x509_time_s(const mbedtls_x509_time *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

uint32_t tern_posix_x509_period(int64_t now_s, const mbedtls_x509_time *from,
                                const mbedtls_x509_time *to, uint32_t past_flag,
                                uint32_t future_flag)
{
    uint32_t flags = 0;
    if (now_s > tern_posix_x509_time_s(to)) {
        flags |= past_flag;
    }
    if (now_s < tern_posix_x509_time_s(from)) {
        flags |= future_flag;
    }
    return flags;
}

bool tern_posix_x509_same_name(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

bool tern_posix_x509_self_signed(mbedtls_x509_crt *crt)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crt->sig_md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (!tern_posix_x509_same_name(&crt->issuer_raw, &crt->subject_raw) || md == NULL ||
        mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) != 0) {
        return false;
    }
    return mbedtls_pk_verify_ext(crt->sig_pk, crt->sig_opts, &crt->pk, crt->sig_md, hash,
                                 mbedtls_md_get_size(md), crt->sig.p, crt->sig.len) == 0;
}

static bool only_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            return false;
        }
    }
    return true;
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

/* Parse the blocks of the NUL-terminated copy @p text (@p len bytes before the NUL). */
static tern_err_t parse_blocks(mbedtls_x509_crt *chain, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t count = 0;
    for (;;) {
        mbedtls_pem_context pem;
        size_t used = 0;
        mbedtls_pem_init(&pem);
        int ret = mbedtls_pem_read_buffer(&pem, PEM_BEGIN, PEM_END, (const unsigned char *)p, NULL,
                                          0, &used);
        if (ret == MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT) {
            mbedtls_pem_free(&pem);
            break; /* what is left must be blank (a NUL in the input is not) */
        }
        /* The block was found after any text before it: that text may not hide a block of
         * another kind, or a certificate whose boundary is damaged. */
        const char *begin = strstr(p, PEM_BEGIN);
        if (ret == 0) {
            ret = memmem(p, (size_t)(begin - p), "-----", 5) != NULL
                      ? MBEDTLS_ERR_X509_INVALID_FORMAT
                      : mbedtls_x509_crt_parse_der(chain, pem.buf, pem.buflen);
        }
        mbedtls_pem_free(&pem);
        if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) {
            return TERN_ERR_IO;
        }
        if (ret != 0 || used == 0 || used > (size_t)(end - p)) {
            return TERN_ERR_MALFORMED;
        }
        p += used;
        count++;
    }
    return count > 0 && only_space(p, (size_t)(end - p)) ? TERN_OK : TERN_ERR_MALFORMED;
}

tern_err_t tern_posix_x509_parse_pem(mbedtls_x509_crt *chain, const uint8_t *pem, size_t len)
{
    if (pem == NULL || len == 0) {
        return TERN_ERR_MALFORMED;
    }
    if (len == SIZE_MAX) {
        return TERN_ERR_IO;
    }
    char *text = malloc(len + 1); /* mbedTLS reads PEM as a C string */
    if (text == NULL) {
        return TERN_ERR_IO;
    }
    memcpy(text, pem, len);
    text[len] = '\0';
    tern_err_t err = parse_blocks(chain, text, len);
    free(text);
    return err;
}

/* The DRBG's entropy, straight from the kernel: what mbedTLS's entropy collector would
 * gather on Linux anyway, without its 37 KiB context in every session. */
static int os_entropy(void *unused, unsigned char *buf, size_t len)
{
    (void)unused;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0 && errno != EINTR) {
            return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
        }
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

int tern_posix_drbg_seed(mbedtls_ctr_drbg_context *drbg, const char *pers)
{
    return mbedtls_ctr_drbg_seed(drbg, os_entropy, NULL, (const unsigned char *)pers, strlen(pers));
}
