/* SPDX-License-Identifier: Apache-2.0 */
/* TLS 1.2 client on mbedTLS 2.28, layered over any tern_transport_t.
 *
 * mbedTLS reaches the lower stream through the two BIO callbacks below, which
 * turn "moved 0 bytes" into WANT_READ / WANT_WRITE, so the library never waits.
 *
 * Writes need care. When mbedtls_ssl_write() answers WANT_WRITE, the library
 * requires the very same call to be repeated later. A tern stream, though,
 * lets its caller move on after 0 bytes were taken. So the bytes of such a
 * write are copied into `pend` and reported taken; every later send, recv or
 * flush first repeats the write from that copy until the library accepts it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "tern/port/posix_net.h"

enum { TLS_HANDSHAKE = 0, TLS_OPEN, TLS_FAILED };

struct tern_posix_tls_state {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    tern_transport_t lower;
    const char **alpn; /* NULL-terminated list pointing into alpn_names */
    char *alpn_names;
    uint8_t *pend; /* plaintext of a write mbedTLS has yet to accept for good */
    size_t pend_len, pend_cap;
    int state;
    tern_err_t err;       /* the failure, once state is TLS_FAILED */
    tern_err_t lower_err; /* what the lower stream reported inside a BIO call */
    tern_err_t write_err; /* a send that failed during the handshake (see bio_send) */
    int mbed_err;
    uint32_t verify_flags;
    uint32_t timeout_ms;
    tern_ms_t deadline;
    bool deadline_set;
    bool out_blocked; /* the lower stream refused the last encrypted bytes */
};

/* ------------------------------------------------------------- the BIO -- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tern_posix_tls_state *s = ctx;
    size_t sent = 0;
    tern_err_t err = s->lower.ops->send(s->lower.ctx, buf, len > INT_MAX ? INT_MAX : len, &sent);
    if (err != TERN_OK && s->state == TLS_HANDSHAKE) {
        /* A server that refuses us (no client certificate, say) sends an alert and
         * hangs up, and our next write fails. Drop the bytes and let the handshake go
         * on to read: the alert, or the end of stream, then says what happened. */
        s->write_err = s->write_err != TERN_OK ? s->write_err : err;
        s->out_blocked = false;
        return (int)(len > INT_MAX ? INT_MAX : len);
    }
    if (err != TERN_OK) {
        s->lower_err = err;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    s->out_blocked = sent == 0 && len != 0;
    return s->out_blocked ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)sent;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tern_posix_tls_state *s = ctx;
    size_t got = 0;
    tern_err_t err = s->lower.ops->recv(s->lower.ctx, buf, len > INT_MAX ? INT_MAX : len, &got);
    if (err == TERN_ERR_CLOSED) {
        s->lower_err = err;
        return 0; /* end of stream, in mbedTLS's terms */
    }
    if (err != TERN_OK) {
        s->lower_err = err;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return got == 0 ? MBEDTLS_ERR_SSL_WANT_READ : (int)got;
}

static bool would_block(int ret)
{
    return ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* Record the failure @p ret of an mbedTLS call; the session is over. */
static tern_err_t tls_fail(struct tern_posix_tls_state *s, int ret, tern_err_t err)
{
    if (s->state == TLS_FAILED) {
        return s->err;
    }
    s->mbed_err = ret;
    if (s->lower_err != TERN_OK) {
        err = s->lower_err; /* the stream underneath broke: say that, not "TLS" */
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        err = TERN_ERR_CERT;
    } else if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        err = TERN_ERR_CLOSED;
    }
    s->state = TLS_FAILED;
    s->err = err;
    return err;
}

/* ----------------------------------------------------------------- setup -- */

static tern_err_t mfl_code(uint16_t len, unsigned char *code)
{
    switch (len) {
    case 0:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_NONE;
        return TERN_OK;
    case 512:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_512;
        return TERN_OK;
    case 1024:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_1024;
        return TERN_OK;
    case 2048:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_2048;
        return TERN_OK;
    case 4096:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_4096;
        return TERN_OK;
    default:
        return TERN_ERR_INVAL;
    }
}

/* mbedTLS's answer to loading a file, as a tern error. */
static tern_err_t load_error(int ret)
{
    if (ret == 0) {
        return TERN_OK;
    }
    if (ret == MBEDTLS_ERR_PK_FILE_IO_ERROR || ret == MBEDTLS_ERR_X509_FILE_IO_ERROR) {
        return TERN_ERR_IO;
    }
    if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) {
        return TERN_ERR_INVAL;
    }
    return TERN_ERR_MALFORMED; /* also ret > 0: some certificates in the file did not parse */
}

/* Copy the ALPN list into the session: mbedTLS keeps pointers to it. */
static tern_err_t copy_alpn(struct tern_posix_tls_state *s, const char *const *list)
{
    size_t n = 0, bytes = 0;
    for (; list[n] != NULL; n++) {
        size_t len = strlen(list[n]);
        if (len == 0 || len > 255) {
            return TERN_ERR_INVAL; /* the protocol names an ALPN list can carry */
        }
        bytes += len + 1;
    }
    if (n == 0) {
        return TERN_OK;
    }
    s->alpn = calloc(n + 1, sizeof *s->alpn);
    s->alpn_names = malloc(bytes);
    if (s->alpn == NULL || s->alpn_names == NULL) {
        return TERN_ERR_IO;
    }
    char *p = s->alpn_names;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]) + 1;
        memcpy(p, list[i], len);
        s->alpn[i] = p;
        p += len;
    }
    return mbedtls_ssl_conf_alpn_protocols(&s->conf, s->alpn) == 0 ? TERN_OK : TERN_ERR_TLS;
}

static tern_err_t load_credentials(struct tern_posix_tls_state *s,
                                   const tern_posix_tls_config_t *cfg)
{
    tern_err_t err = load_error(mbedtls_x509_crt_parse_file(&s->ca, cfg->ca_file));
    if (err != TERN_OK || cfg->cert_file == NULL) {
        return err;
    }
    err = load_error(mbedtls_x509_crt_parse_file(&s->cert, cfg->cert_file));
    if (err == TERN_OK) {
        err = load_error(mbedtls_pk_parse_keyfile(&s->key, cfg->key_file, cfg->key_password));
    }
    if (err == TERN_OK && mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key) != 0) {
        err = TERN_ERR_INVAL;
    }
    return err;
}

static tern_err_t tls_setup(struct tern_posix_tls_state *s, const tern_posix_tls_config_t *cfg,
                            unsigned char mfl)
{
    static const unsigned char k_pers[] = "tern posix tls";
    if (mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy, k_pers,
                              sizeof k_pers - 1) != 0 ||
        mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        return TERN_ERR_TLS;
    }
    tern_err_t err = load_credentials(s, cfg);
    if (err != TERN_OK) {
        return err;
    }
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
    if (mfl != MBEDTLS_SSL_MAX_FRAG_LEN_NONE && mbedtls_ssl_conf_max_frag_len(&s->conf, mfl) != 0) {
        return TERN_ERR_INVAL;
    }
    if (cfg->alpn != NULL && (err = copy_alpn(s, cfg->alpn)) != TERN_OK) {
        return err;
    }
    s->pend_cap = MBEDTLS_SSL_OUT_CONTENT_LEN;
    s->pend = malloc(s->pend_cap);
    if (s->pend == NULL) {
        return TERN_ERR_IO;
    }
    if (mbedtls_ssl_setup(&s->ssl, &s->conf) != 0 ||
        mbedtls_ssl_set_hostname(&s->ssl, cfg->hostname) != 0) {
        return TERN_ERR_TLS;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    return TERN_OK;
}

static void tls_free(struct tern_posix_tls_state *s)
{
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_config_free(&s->conf);
    mbedtls_x509_crt_free(&s->ca);
    mbedtls_x509_crt_free(&s->cert);
    mbedtls_pk_free(&s->key);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    if (s->pend != NULL) {
        mbedtls_platform_zeroize(s->pend, s->pend_cap);
        free(s->pend);
    }
    free(s->alpn);
    free(s->alpn_names);
    free(s);
}

tern_err_t tern_posix_tls_open(tern_posix_tls_t *tls, const tern_transport_t *lower,
                               const tern_posix_tls_config_t *cfg)
{
    unsigned char mfl = 0;
    if (tls == NULL) {
        return TERN_ERR_INVAL;
    }
    tls->s = NULL;
    if (lower == NULL || lower->ops == NULL || lower->ops->send == NULL ||
        lower->ops->recv == NULL || cfg == NULL || cfg->ca_file == NULL || cfg->hostname == NULL ||
        cfg->hostname[0] == '\0' || (cfg->cert_file == NULL) != (cfg->key_file == NULL) ||
        mfl_code(cfg->max_fragment_len, &mfl) != TERN_OK) {
        return TERN_ERR_INVAL;
    }
    struct tern_posix_tls_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return TERN_ERR_IO;
    }
    mbedtls_ssl_init(&s->ssl);
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_x509_crt_init(&s->ca);
    mbedtls_x509_crt_init(&s->cert);
    mbedtls_pk_init(&s->key);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    s->lower = *lower;
    s->timeout_ms =
        cfg->handshake_timeout_ms != 0 ? cfg->handshake_timeout_ms : TERN_POSIX_TLS_TIMEOUT_MS;
    tern_err_t err = tls_setup(s, cfg, mfl);
    if (err != TERN_OK) {
        tls_free(s);
        return err;
    }
    tls->s = s;
    return TERN_OK;
}

tern_err_t tern_posix_tls_poll(tern_posix_tls_t *tls, tern_ms_t now_ms)
{
    struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    if (s == NULL) {
        return TERN_ERR_STATE;
    }
    if (s->state != TLS_HANDSHAKE) {
        return s->state == TLS_OPEN ? TERN_OK : s->err;
    }
    if (!s->deadline_set) {
        s->deadline = tern_deadline_in(now_ms, s->timeout_ms);
        s->deadline_set = true;
    }
    int ret = mbedtls_ssl_handshake(&s->ssl);
    uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
    if (flags != UINT32_MAX) {
        s->verify_flags = flags; /* UINT32_MAX: no certificate looked at yet */
    }
    if (ret == 0 && s->write_err == TERN_OK) {
        s->state = TLS_OPEN;
        return TERN_OK;
    }
    if (ret == 0) { /* only an abbreviated handshake could get here: our flight never left */
        return tls_fail(s, 0, s->write_err);
    }
    if (!would_block(ret)) {
        return tls_fail(s, ret, TERN_ERR_TLS);
    }
    if (tern_deadline_passed(now_ms, s->deadline)) {
        return tls_fail(s, 0, s->write_err != TERN_OK ? s->write_err : TERN_ERR_TIMEOUT);
    }
    return TERN_ERR_AGAIN;
}

/* ---------------------------------------------------------------- stream -- */

/* Finish what an earlier call left half done: TERN_OK when nothing waits any more. */
static tern_err_t tls_drain(struct tern_posix_tls_state *s)
{
    while (s->pend_len != 0) {
        int ret = mbedtls_ssl_write(&s->ssl, s->pend, s->pend_len);
        if (would_block(ret) || ret == 0) {
            return TERN_ERR_AGAIN;
        }
        if (ret < 0) {
            return tls_fail(s, ret, TERN_ERR_TLS);
        }
        s->pend_len -= (size_t)ret;
        memmove(s->pend, s->pend + ret, s->pend_len);
    }
    if (s->out_blocked) {
        /* Bytes mbedTLS queued on its own (an alert while reading): a write of
         * nothing pushes them out before any new record. */
        int ret = mbedtls_ssl_write(&s->ssl, s->pend, 0);
        if (would_block(ret)) {
            return TERN_ERR_AGAIN;
        }
        if (ret < 0) {
            return tls_fail(s, ret, TERN_ERR_TLS);
        }
    }
    return TERN_OK;
}

static tern_err_t tls_usable(struct tern_posix_tls_state *s, const void *buf, size_t len,
                             size_t *moved)
{
    if (moved == NULL || (buf == NULL && len != 0)) {
        return TERN_ERR_INVAL;
    }
    *moved = 0;
    if (s == NULL) {
        return TERN_ERR_STATE; /* the stream of a session never opened */
    }
    if (s->state != TLS_OPEN) {
        return s->state == TLS_FAILED ? s->err : TERN_ERR_STATE;
    }
    tern_err_t err = tls_drain(s);
    return err == TERN_ERR_AGAIN ? TERN_OK : err;
}

static tern_err_t tls_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    struct tern_posix_tls_state *s = ctx;
    tern_err_t err = tls_usable(s, buf, len, sent);
    if (err != TERN_OK || len == 0 || s->pend_len != 0 || s->out_blocked) {
        return err; /* earlier bytes go first */
    }
    int max = mbedtls_ssl_get_max_out_record_payload(&s->ssl);
    if (max <= 0) {
        return tls_fail(s, max, TERN_ERR_TLS);
    }
    size_t n = len < (size_t)max ? len : (size_t)max;
    n = n < s->pend_cap ? n : s->pend_cap;
    int ret = mbedtls_ssl_write(&s->ssl, buf, n);
    if (would_block(ret)) {
        memcpy(s->pend, buf, n);
        s->pend_len = n;
        *sent = n;
        return TERN_OK;
    }
    if (ret < 0) {
        return tls_fail(s, ret, TERN_ERR_TLS);
    }
    *sent = (size_t)ret;
    return TERN_OK;
}

static tern_err_t tls_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    struct tern_posix_tls_state *s = ctx;
    tern_err_t err = tls_usable(s, buf, cap, got);
    if (err != TERN_OK || cap == 0) {
        return err;
    }
    int ret = mbedtls_ssl_read(&s->ssl, buf, cap > INT_MAX ? INT_MAX : cap);
    if (ret > 0) {
        *got = (size_t)ret;
        return TERN_OK;
    }
    if (would_block(ret)) {
        return TERN_OK;
    }
    return tls_fail(s, ret, ret == 0 ? TERN_ERR_CLOSED : TERN_ERR_TLS);
}

static const tern_transport_ops_t k_tls_ops = {
    .name = "posix-mbedtls",
    .send = tls_send,
    .recv = tls_recv,
};

tern_transport_t tern_posix_tls_transport(tern_posix_tls_t *tls)
{
    tern_transport_t tr = { &k_tls_ops, tls->s };
    return tr;
}

tern_err_t tern_posix_tls_flush(tern_posix_tls_t *tls)
{
    struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    if (s == NULL || s->state == TLS_HANDSHAKE) {
        return TERN_ERR_STATE;
    }
    return s->state == TLS_FAILED ? s->err : tls_drain(s);
}

bool tern_posix_tls_want_write(const tern_posix_tls_t *tls)
{
    const struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    return s != NULL && s->state != TLS_FAILED && (s->pend_len != 0 || s->out_blocked);
}

bool tern_posix_tls_has_buffered(const tern_posix_tls_t *tls)
{
    const struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    return s != NULL && s->state == TLS_OPEN &&
           (mbedtls_ssl_get_bytes_avail(&s->ssl) != 0 || mbedtls_ssl_check_pending(&s->ssl) != 0);
}

uint32_t tern_posix_tls_verify_flags(const tern_posix_tls_t *tls)
{
    return tls != NULL && tls->s != NULL ? tls->s->verify_flags : 0;
}

int tern_posix_tls_mbedtls_error(const tern_posix_tls_t *tls)
{
    return tls != NULL && tls->s != NULL ? tls->s->mbed_err : 0;
}

const char *tern_posix_tls_alpn(const tern_posix_tls_t *tls)
{
    const struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    return s != NULL && s->state == TLS_OPEN ? mbedtls_ssl_get_alpn_protocol(&s->ssl) : NULL;
}

/* The verify flags in words, one sentence after another on one line. */
static void verify_words(uint32_t flags, char *out, size_t cap)
{
    out[0] = '\0';
    if (flags == 0 || mbedtls_x509_crt_verify_info(out, cap, "", flags) < 0) {
        return;
    }
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\n') {
            *p = p[1] != '\0' ? ';' : '\0';
        }
    }
}

tern_err_t tern_posix_tls_describe(const tern_posix_tls_t *tls, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0) {
        return TERN_ERR_INVAL;
    }
    const struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    if (s == NULL) {
        return snprintf(buf, cap, "no session") < (int)cap ? TERN_OK : TERN_ERR_TOO_SMALL;
    }
    char what[160] = "";
    char flags[512];
    if (s->mbed_err != 0) {
        mbedtls_strerror(s->mbed_err, what, sizeof what);
    }
    verify_words(s->verify_flags, flags, sizeof flags);
    int n = snprintf(buf, cap, "%s: mbedtls -0x%04x (%s)%s%s",
                     s->state == TLS_FAILED ? tern_err_name(s->err) : "TERN_OK",
                     (unsigned)-s->mbed_err, what, flags[0] != '\0' ? "; verify:" : "", flags);
    return n >= 0 && (size_t)n < cap ? TERN_OK : TERN_ERR_TOO_SMALL;
}

void tern_posix_tls_close(tern_posix_tls_t *tls)
{
    if (tls == NULL || tls->s == NULL) {
        return;
    }
    struct tern_posix_tls_state *s = tls->s;
    if (s->state == TLS_OPEN) {
        (void)tls_drain(s);
        (void)mbedtls_ssl_close_notify(&s->ssl); /* best effort: never waits */
    }
    tls_free(s);
    tls->s = NULL;
}
