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
 *
 * Validation. mbedTLS checks the chain, the hostname, the profile and the CRLs,
 * and judges validity periods by the host's time; the verify callback then
 * replaces every time verdict with one by the configured wall clock (or, with
 * that clock unknown, by the policy in posix_net.h). What failed is classified
 * from the final flags, plus facts only the callback sees: whether the clock
 * policy refused, whether the leaf signed itself, and the leaf's names (mbedTLS
 * keeps no peer certificate after a failed handshake). The profile, the time
 * arithmetic and the strict parse of PEM buffers are shared with the identity's
 * X.509 operations (x509_common.c), so both judge a certificate alike.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "tern/port/posix.h"
#include "tern/port/posix_net.h"
#include "tls_keystore.h"
#include "x509_priv.h"

/* When the build was configured, in UTC seconds: set by ports/posix/CMakeLists.txt. */
#ifndef TERN_POSIX_TLS_BUILD_TIME_S
#define TERN_POSIX_TLS_BUILD_TIME_S 0
#endif

enum { TLS_HANDSHAKE = 0, TLS_OPEN, TLS_FAILED };

struct tern_posix_tls_state {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crl crl;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_ctr_drbg_context drbg;
    tern_transport_t lower;
    tern_posix_clock_t host_clock; /* the clock when the configuration gives none */
    tern_clock_t clock;
    int64_t floor_s;    /* the unknown-clock policy's instant, UTC seconds */
    tern_keystore_t ks; /* the client key's store, if one signs */
    char key_label[TERN_KEYSTORE_LABEL_MAX + 1];
    int *suites;       /* the cipher suites offered when a key store signs, 0-terminated */
    const char **alpn; /* NULL-terminated list pointing into alpn_names */
    char *alpn_names;
    uint8_t *pend; /* plaintext of a write mbedTLS has yet to accept for good */
    size_t pend_len, pend_cap;
    int state;
    tern_err_t err;       /* the failure, once state is TLS_FAILED */
    tern_err_t lower_err; /* what the lower stream reported inside a BIO call */
    tern_err_t write_err; /* a send that failed during the handshake (see bio_send) */
    int mbed_err;
    int alert; /* the fatal alert the server sent, -1 if none */
    uint32_t verify_flags;
    tern_posix_tls_failure_t failure;
    bool have_crl;
    bool have_own_cert;
    bool clock_refused;    /* the unknown-clock policy could not judge a validity period */
    bool leaf_self_signed; /* the untrusted leaf is signed by its own key */
    uint32_t chain_flags;  /* every certificate's verdict, or-ed, as the callback saw them */
    /* The names of the server's leaf when its chain failed verification ("" if not) */
    char peer_subject[160], peer_issuer[160];
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

#define BAD_CRL                                                                                   \
    (MBEDTLS_X509_BADCRL_NOT_TRUSTED | MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE | \
     MBEDTLS_X509_BADCRL_BAD_MD | MBEDTLS_X509_BADCRL_BAD_PK | MBEDTLS_X509_BADCRL_BAD_KEY)
#define BAD_ALGOS \
    (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY)

/* Which check the verify flags say failed, in the order posix_net.h promises. */
static tern_posix_tls_failure_t cert_failure(const struct tern_posix_tls_state *s)
{
    uint32_t f = s->verify_flags;
    if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        return s->leaf_self_signed ? TERN_POSIX_TLS_FAIL_SELF_SIGNED
                                   : TERN_POSIX_TLS_FAIL_UNKNOWN_CA;
    }
    static const struct {
        uint32_t flags;
        tern_posix_tls_failure_t failure;
    } k_order[] = {
        { MBEDTLS_X509_BADCERT_REVOKED, TERN_POSIX_TLS_FAIL_REVOKED },
        { BAD_ALGOS, TERN_POSIX_TLS_FAIL_WEAK },
        { MBEDTLS_X509_BADCERT_CN_MISMATCH, TERN_POSIX_TLS_FAIL_HOSTNAME },
        { MBEDTLS_X509_BADCERT_EXPIRED, TERN_POSIX_TLS_FAIL_EXPIRED },
        { MBEDTLS_X509_BADCERT_FUTURE, TERN_POSIX_TLS_FAIL_NOT_YET_VALID },
        { BAD_CRL, TERN_POSIX_TLS_FAIL_CRL },
    };
    for (size_t i = 0; i < sizeof k_order / sizeof k_order[0]; i++) {
        if (f & k_order[i].flags) {
            return k_order[i].failure;
        }
    }
    if (s->clock_refused && f == MBEDTLS_X509_BADCERT_OTHER) {
        return TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN;
    }
    return TERN_POSIX_TLS_FAIL_CERT_OTHER;
}

/* Record the failure @p ret of an mbedTLS call; the session is over. */
static tern_err_t tls_fail(struct tern_posix_tls_state *s, int ret, tern_err_t err)
{
    if (s->state == TLS_FAILED) {
        return s->err;
    }
    s->mbed_err = ret;
    bool handshake = s->state == TLS_HANDSHAKE; /* what tern_posix_tls_failure() is about */
    if (handshake) {
        s->failure = TERN_POSIX_TLS_FAIL_OTHER;
    }
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && s->ssl.in_msg != NULL) {
        s->alert = s->ssl.in_msg[1]; /* the alert's description; in_msg still holds it */
    }
    bool cert = ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
                (ret == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE && s->verify_flags != 0);
    if (s->lower_err != TERN_OK) {
        err = s->lower_err; /* the stream underneath broke: say that, not "TLS" */
    } else if (cert) {
        s->failure = cert_failure(s);
        err =
            s->failure == TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN ? TERN_ERR_TIME_UNKNOWN : TERN_ERR_CERT;
    } else if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        err = TERN_ERR_CLOSED;
    }
    /* The server asked for a certificate (CertificateRequest), we had none to send, and
     * it then refused us with an alert or hung up: that is why, whatever the symptom. */
    if (handshake && !cert && s->ssl.client_auth != 0 && !s->have_own_cert &&
        (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || err == TERN_ERR_CLOSED ||
         err == TERN_ERR_IO || s->write_err != TERN_OK)) {
        s->failure = TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED;
    }
    s->state = TLS_FAILED;
    s->err = err;
    return err;
}

/* ------------------------------------------------------------ validation -- */

/* Judge the period [@p from, @p to]: @p past_flag if it is over, @p future_flag if it has
 * not begun, by the wall clock but never earlier than the floor; by the floor if the
 * clock is unknown, where a period that begins after the floor cannot be judged and
 * sets clock_refused. */
static uint32_t judge_period(struct tern_posix_tls_state *s, const mbedtls_x509_time *from,
                             const mbedtls_x509_time *to, uint32_t past_flag, uint32_t future_flag)
{
    tern_walltime_t wall = tern_clock_wall(&s->clock);
    int64_t now = s->floor_s;
    if (wall.known) {
        int64_t wall_s = tern_posix_x509_ms_to_s(wall.unix_ms);
        now = wall_s > now ? wall_s : now; /* a clock set back cannot revive a certificate */
    }
    /* with the clock unknown, "over" holds too: now is past the floor */
    uint32_t flags = tern_posix_x509_period(now, from, to, past_flag, future_flag);
    if (!wall.known && (flags & future_flag) != 0) {
        flags = (flags & ~future_flag) | MBEDTLS_X509_BADCERT_OTHER;
        s->clock_refused = true;
    }
    return flags;
}

/* @p dn as text ("CN=localhost, O=..."), ending in "..." if cut to fit @p cap (> 4). */
static void dn_words(char *out, size_t cap, const mbedtls_x509_name *dn)
{
    if (mbedtls_x509_dn_gets(out, cap, dn) < 0) { /* it zeroes out first, then cuts */
        memcpy(out + cap - 4, "...", 4);
    }
}

/* mbedTLS's verify callback, once per certificate from the anchor down to the leaf
 * (depth 0): put the wall clock's verdicts in place of the host time's. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct tern_posix_tls_state *s = ctx;
    uint32_t f = *flags & ~(uint32_t)(TERN_POSIX_X509_BAD_TIME | MBEDTLS_X509_BADCRL_EXPIRED |
                                      MBEDTLS_X509_BADCRL_FUTURE);
    f |= judge_period(s, &crt->valid_from, &crt->valid_to, MBEDTLS_X509_BADCERT_EXPIRED,
                      MBEDTLS_X509_BADCERT_FUTURE);
    /* mbedTLS checks a certificate against the CRLs of its issuer, except a trust
     * anchor: the self-issued top of the chain. */
    if (s->have_crl && !tern_posix_x509_same_name(&crt->issuer_raw, &crt->subject_raw)) {
        for (const mbedtls_x509_crl *crl = &s->crl; crl != NULL; crl = crl->next) {
            if (crl->version != 0 &&
                tern_posix_x509_same_name(&crl->issuer_raw, &crt->issuer_raw)) {
                f |= judge_period(s, &crl->this_update, &crl->next_update,
                                  MBEDTLS_X509_BADCRL_EXPIRED, MBEDTLS_X509_BADCRL_FUTURE);
            }
        }
    }
    s->chain_flags |= f;
    if (depth == 0) {
        s->leaf_self_signed =
            (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0 && tern_posix_x509_self_signed(crt);
        if (s->chain_flags != 0) {
            /* mbedTLS keeps no peer certificate after a failed handshake: note it now */
            dn_words(s->peer_subject, sizeof s->peer_subject, &crt->subject);
            dn_words(s->peer_issuer, sizeof s->peer_issuer, &crt->issuer);
        }
    }
    *flags = f;
    return 0;
}

/* Hashes we accept for the server's handshake signature (signature_algorithms): SHA-2
 * from 256 up; only SHA-256 when a key store signs, so that the handshake uses the one
 * hash the store can sign. */
static const int k_sig_hashes[] = { MBEDTLS_MD_SHA512, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA256,
                                    MBEDTLS_MD_NONE };
static const int k_sig_hashes_keystore[] = { MBEDTLS_MD_SHA256, MBEDTLS_MD_NONE };

int64_t tern_posix_tls_build_time_ms(void)
{
    return (int64_t)TERN_POSIX_TLS_BUILD_TIME_S * 1000;
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

/* True if the EC certificate key @p pub is the key store's key of @p s. */
static bool keystore_matches(const struct tern_posix_tls_state *s, mbedtls_pk_context *pub)
{
    uint8_t want[TERN_KEYSTORE_PUB_LEN], have[TERN_KEYSTORE_PUB_LEN];
    size_t len = 0;
    if (!mbedtls_pk_can_do(pub, MBEDTLS_PK_ECKEY) ||
        tern_keystore_public_key(&s->ks, s->key_label, want) != TERN_OK) {
        return false;
    }
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pub);
    return ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 &&
           mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, have,
                                          sizeof have) == 0 &&
           len == sizeof have && memcmp(want, have, len) == 0;
}

/* The client key: from key_file, or a handle on the key store's key. Checks the
 * certificate is for it, which mbedTLS would leave to the server to find out. */
static tern_err_t load_client_key(struct tern_posix_tls_state *s,
                                  const tern_posix_tls_config_t *cfg)
{
    if (cfg->keystore == NULL) {
        tern_err_t err =
            load_error(mbedtls_pk_parse_keyfile(&s->key, cfg->key_file, cfg->key_password));
        if (err == TERN_OK && mbedtls_pk_check_pair(&s->cert.pk, &s->key) != 0) {
            err = TERN_ERR_INVAL;
        }
        return err;
    }
    s->ks = *cfg->keystore;
    memcpy(s->key_label, cfg->key_label, strlen(cfg->key_label) + 1); /* length checked */
    tern_err_t err = tern_posix_tls_keystore_pk(&s->key, &s->ks, s->key_label);
    if (err == TERN_OK && !keystore_matches(s, &s->cert.pk)) {
        err = TERN_ERR_INVAL;
    }
    return err;
}

/* Offer only the default cipher suites whose handshake hash is SHA-256: mbedTLS 2.28
 * signs the client's CertificateVerify with the suite's hash, SHA-384 for *_SHA384. */
static tern_err_t sha256_suites(struct tern_posix_tls_state *s)
{
    const int *all = mbedtls_ssl_list_ciphersuites();
    size_t n = 0, k = 0;
    while (all[n] != 0) {
        n++;
    }
    s->suites = calloc(n + 1, sizeof *s->suites);
    if (s->suites == NULL) {
        return TERN_ERR_IO;
    }
    for (size_t i = 0; i < n; i++) {
        const mbedtls_ssl_ciphersuite_t *info = mbedtls_ssl_ciphersuite_from_id(all[i]);
        if (info != NULL && info->mac != MBEDTLS_MD_SHA384) {
            s->suites[k++] = all[i];
        }
    }
    if (k == 0) {
        return TERN_ERR_TLS;
    }
    mbedtls_ssl_conf_ciphersuites(&s->conf, s->suites);
    mbedtls_ssl_conf_sig_hashes(&s->conf, k_sig_hashes_keystore);
    return TERN_OK;
}

static tern_err_t load_credentials(struct tern_posix_tls_state *s,
                                   const tern_posix_tls_config_t *cfg)
{
    tern_err_t err = cfg->ca_pem != NULL
                         ? tern_posix_x509_parse_pem(&s->ca, cfg->ca_pem, cfg->ca_pem_len)
                         : load_error(mbedtls_x509_crt_parse_file(&s->ca, cfg->ca_file));
    if (err == TERN_OK && cfg->crl_file != NULL) {
        err = load_error(mbedtls_x509_crl_parse_file(&s->crl, cfg->crl_file));
        s->have_crl = err == TERN_OK;
    }
    if (err != TERN_OK || (cfg->cert_file == NULL && cfg->cert_pem == NULL)) {
        return err;
    }
    err = cfg->cert_pem != NULL
              ? tern_posix_x509_parse_pem(&s->cert, cfg->cert_pem, cfg->cert_pem_len)
              : load_error(mbedtls_x509_crt_parse_file(&s->cert, cfg->cert_file));
    if (err == TERN_OK) {
        err = load_client_key(s, cfg);
    }
    if (err == TERN_OK && cfg->keystore != NULL) {
        err = sha256_suites(s);
    }
    if (err == TERN_OK && mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key) != 0) {
        err = TERN_ERR_INVAL;
    }
    s->have_own_cert = err == TERN_OK;
    return err;
}

static tern_err_t tls_setup(struct tern_posix_tls_state *s, const tern_posix_tls_config_t *cfg,
                            unsigned char mfl)
{
    if (tern_posix_drbg_seed(&s->drbg, "tern posix tls") != 0 ||
        mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        return TERN_ERR_TLS;
    }
    mbedtls_ssl_conf_sig_hashes(&s->conf, k_sig_hashes);
    tern_err_t err = load_credentials(s, cfg);
    if (err != TERN_OK) {
        return err;
    }
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, s->have_crl ? &s->crl : NULL);
    mbedtls_ssl_conf_cert_profile(&s->conf, &tern_posix_x509_profile);
    mbedtls_ssl_conf_verify(&s->conf, verify_cb, s);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
    if (mfl != MBEDTLS_SSL_MAX_FRAG_LEN_NONE && mbedtls_ssl_conf_max_frag_len(&s->conf, mfl) != 0) {
        return TERN_ERR_INVAL;
    }
    if (cfg->alpn != NULL && (err = copy_alpn(s, cfg->alpn)) != TERN_OK) {
        return err;
    }
    s->pend_cap = MBEDTLS_SSL_OUT_CONTENT_LEN; /* allocated when a write first waits */
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
    mbedtls_x509_crl_free(&s->crl);
    mbedtls_x509_crt_free(&s->cert);
    mbedtls_pk_free(&s->key);
    mbedtls_ctr_drbg_free(&s->drbg);
    if (s->pend != NULL) {
        mbedtls_platform_zeroize(s->pend, s->pend_cap);
        free(s->pend);
    }
    free(s->suites);
    free(s->alpn);
    free(s->alpn_names);
    free(s);
}

/* Exactly one trust store, a file or a buffer; no length without its buffer. */
static bool trust_ok(const tern_posix_tls_config_t *cfg)
{
    return (cfg->ca_file == NULL) != (cfg->ca_pem == NULL) &&
           (cfg->ca_pem != NULL || cfg->ca_pem_len == 0) &&
           (cfg->cert_pem != NULL || cfg->cert_pem_len == 0);
}

/* The client key comes from exactly one place, and with one certificate chain. */
static bool client_key_ok(const tern_posix_tls_config_t *cfg)
{
    if (cfg->cert_file != NULL && cfg->cert_pem != NULL) {
        return false;
    }
    bool cert = cfg->cert_file != NULL || cfg->cert_pem != NULL;
    if (cfg->keystore == NULL) {
        return cfg->key_label == NULL && cert == (cfg->key_file != NULL);
    }
    size_t len = cfg->key_label != NULL ? strnlen(cfg->key_label, TERN_KEYSTORE_LABEL_MAX + 1) : 0;
    return cert && cfg->key_file == NULL && len > 0 && len <= TERN_KEYSTORE_LABEL_MAX;
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
        lower->ops->recv == NULL || cfg == NULL || !trust_ok(cfg) || cfg->hostname == NULL ||
        cfg->hostname[0] == '\0' || !client_key_ok(cfg) ||
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
    mbedtls_x509_crl_init(&s->crl);
    mbedtls_x509_crt_init(&s->cert);
    mbedtls_pk_init(&s->key);
    mbedtls_ctr_drbg_init(&s->drbg);
    s->lower = *lower;
    if (cfg->clock != NULL) {
        s->clock = *cfg->clock;
    } else {
        tern_posix_clock_init(&s->host_clock, 0);
        s->clock = tern_posix_clock_hal(&s->host_clock);
    }
    int64_t floor_ms = tern_posix_tls_build_time_ms();
    floor_ms = cfg->time_floor_ms > floor_ms ? cfg->time_floor_ms : floor_ms;
    s->floor_s = floor_ms / 1000;
    s->alert = -1;
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
        if (s->pend == NULL && (s->pend = malloc(s->pend_cap)) == NULL) {
            return tls_fail(s, 0, TERN_ERR_IO); /* mbedTLS holds part of a record: no way on */
        }
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

tern_posix_tls_failure_t tern_posix_tls_failure(const tern_posix_tls_t *tls)
{
    return tls != NULL && tls->s != NULL ? tls->s->failure : TERN_POSIX_TLS_FAIL_NONE;
}

const char *tern_posix_tls_failure_str(tern_posix_tls_failure_t f)
{
    switch (f) {
    case TERN_POSIX_TLS_FAIL_NONE:
        return "no failure";
    case TERN_POSIX_TLS_FAIL_UNKNOWN_CA:
        return "the server's certificate is not from a trusted CA";
    case TERN_POSIX_TLS_FAIL_SELF_SIGNED:
        return "the server's certificate is self-signed and not trusted";
    case TERN_POSIX_TLS_FAIL_REVOKED:
        return "a certificate of the server's chain is revoked";
    case TERN_POSIX_TLS_FAIL_WEAK:
        return "a key or signature algorithm of the server's chain is too weak";
    case TERN_POSIX_TLS_FAIL_HOSTNAME:
        return "the server's certificate is not for the configured hostname";
    case TERN_POSIX_TLS_FAIL_EXPIRED:
        return "a certificate of the server's chain has expired";
    case TERN_POSIX_TLS_FAIL_NOT_YET_VALID:
        return "a certificate of the server's chain is not valid yet";
    case TERN_POSIX_TLS_FAIL_CRL:
        return "the CRL is stale, not yet valid or not signed by its CA";
    case TERN_POSIX_TLS_FAIL_CLOCK_UNKNOWN:
        return "the wall clock is unknown and the certificate is newer than what the device "
               "can vouch for: set the clock";
    case TERN_POSIX_TLS_FAIL_CERT_OTHER:
        return "the server's certificate failed verification";
    case TERN_POSIX_TLS_FAIL_CLIENT_CERT_REQUIRED:
        return "the broker requires a client certificate and none is configured";
    case TERN_POSIX_TLS_FAIL_OTHER:
        return "the handshake failed";
    }
    return "unknown failure";
}

const char *tern_posix_tls_ciphersuite(const tern_posix_tls_t *tls)
{
    const struct tern_posix_tls_state *s = tls != NULL ? tls->s : NULL;
    return s != NULL && s->state == TLS_OPEN ? mbedtls_ssl_get_ciphersuite(&s->ssl) : NULL;
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
    char alert[32] = "";
    if (s->mbed_err != 0) {
        mbedtls_strerror(s->mbed_err, what, sizeof what);
    }
    if (s->alert >= 0) {
        snprintf(alert, sizeof alert, "; server alert %d", s->alert);
    }
    verify_words(s->verify_flags, flags, sizeof flags);
    int n = snprintf(buf, cap, "%s: %s: mbedtls -0x%04x (%s)%s%s%s",
                     s->state == TLS_FAILED ? tern_err_name(s->err) : "TERN_OK",
                     tern_posix_tls_failure_str(s->failure), (unsigned)-s->mbed_err, what, alert,
                     flags[0] != '\0' ? "; verify:" : "", flags);
    if (n >= 0 && (size_t)n < cap && s->peer_subject[0] != '\0') {
        int more = snprintf(buf + n, cap - (size_t)n,
                            "; server certificate: subject \"%s\", issuer \"%s\"", s->peer_subject,
                            s->peer_issuer);
        n = more >= 0 ? n + more : more;
    }
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
