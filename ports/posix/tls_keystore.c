/* SPDX-License-Identifier: Apache-2.0 */
/* An mbedTLS pk context whose private key stays in a tern key store.
 *
 * Why this route. mbedTLS 2.28 offers two documented ways to sign with a key it
 * does not hold, and neither fits Debian's build:
 *  - PSA opaque keys (mbedtls_pk_setup_opaque() over a PSA driver or key id)
 *    exist only with MBEDTLS_USE_PSA_CRYPTO, which Debian's libmbedtls is built
 *    without; and a PSA secure-element driver would still have to be written.
 *  - mbedtls_pk_setup_rsa_alt() hands signing to a callback, but for RSA keys
 *    only: the context it makes is of type RSA_ALT, so TLS would offer an RSA
 *    signature for our EC key.
 * What remains is the table every pk backend is: mbedtls_pk_info_t, whose layout
 * Debian installs in mbedtls/pk_internal.h (it matches the library because the
 * installed config.h is the one it was built with). So this file defines an
 * info of its own, of type MBEDTLS_PK_ECKEY (TLS then signs with ECDSA and says
 * so in CertificateVerify), whose sign_func calls tern_keystore_sign(), and sets
 * pk->pk_info and pk->pk_ctx by hand, as mbedtls_pk_setup() would. It is an
 * internal interface: a move to mbedTLS 3.x (where the struct is private) means
 * PSA opaque keys instead, which 3.x builds have.
 *
 * The context starts with an mbedtls_ecp_keypair holding the public point (and
 * a zero private scalar), because mbedtls_pk_ec() casts pk_ctx to one for any
 * ECKEY context: writing the public key (a CSR, a certificate) works, verifying
 * works, and nothing that reads the key through it finds a secret.
 *
 * Hashes. The key store signs 32-byte digests. The TLS 1.2 client signs its
 * CertificateVerify with the hash of the cipher suite's PRF, SHA-384 for the
 * *_SHA384 suites and SHA-256 otherwise, whatever mbedtls_ssl_conf_sig_hashes()
 * says (that list only shapes the signature_algorithms extension). ECDSA on
 * P-256 signs the leftmost 256 bits of any longer digest (SEC 1, 4.1.3 step 5),
 * so a SHA-384 or SHA-512 digest is signed by handing its first 32 bytes to the
 * store: the signature is the one a local key would make. Digests shorter than
 * 256 bits (SHA-1, SHA-224, MD5) are refused.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/pk_internal.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>

#include "tls_keystore.h"

#define DIGEST_LEN 32 /* what the key store signs */

_Static_assert(TERN_KEYSTORE_SIG_MAX <= MBEDTLS_PK_SIGNATURE_MAX_SIZE,
               "mbedtls_pk_sign's buffer holds any key store signature");

typedef struct ks_pk {
    mbedtls_ecp_keypair ec; /* first: mbedtls_pk_ec() casts pk_ctx to this */
    const tern_keystore_t *ks;
    char label[TERN_KEYSTORE_LABEL_MAX + 1];
    tern_err_t last_err; /* why the last signature failed, for logs */
} ks_pk_t;

static size_t ks_get_bitlen(const void *ctx)
{
    return ((const ks_pk_t *)ctx)->ec.grp.pbits;
}

static int ks_can_do(mbedtls_pk_type_t type)
{
    return type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA;
}

static int ks_verify(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash,
                     size_t hash_len, const unsigned char *sig, size_t sig_len)
{
    (void)md_alg; /* ECDSA takes the digest as it is, as mbedTLS's own ECKEY does */
    ks_pk_t *k = ctx;
    int ret = mbedtls_ecdsa_read_signature(&k->ec, hash, hash_len, sig, sig_len);
    return ret == MBEDTLS_ERR_ECP_SIG_LEN_MISMATCH ? MBEDTLS_ERR_PK_SIG_LEN_MISMATCH : ret;
}

static int ks_sign(void *ctx, mbedtls_md_type_t md_alg, const unsigned char *hash, size_t hash_len,
                   unsigned char *sig, size_t *sig_len,
                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    (void)f_rng; /* the store has its own randomness */
    (void)p_rng;
    ks_pk_t *k = ctx;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(md_alg);
    bool ok_md =
        md_alg == MBEDTLS_MD_SHA256 || md_alg == MBEDTLS_MD_SHA384 || md_alg == MBEDTLS_MD_SHA512;
    *sig_len = 0;
    if (!ok_md || md == NULL || hash_len != mbedtls_md_get_size(md) || hash_len < DIGEST_LEN) {
        k->last_err = TERN_ERR_UNSUPPORTED;
        return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;
    }
    /* The leftmost 256 bits: all of a SHA-256 digest, what ECDSA on P-256 uses of a longer one. */
    tern_err_t err = tern_keystore_sign(k->ks, k->label, hash, sig, TERN_KEYSTORE_SIG_MAX, sig_len);
    k->last_err = err;
    switch (err) {
    case TERN_OK:
        return 0;
    case TERN_ERR_NOT_FOUND:
        return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT; /* the key has gone from the store */
    case TERN_ERR_INVAL:
        return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    default:
        return MBEDTLS_ERR_PLATFORM_HW_ACCEL_FAILED; /* the store (a token, a device) failed */
    }
}

/* Both halves are ours (mbedtls_pk_check_pair() asks for equal infos): the same point? */
static int ks_check_pair(const void *pub, const void *prv)
{
    const ks_pk_t *a = pub, *b = prv;
    if (a->ec.grp.id != b->ec.grp.id || mbedtls_ecp_point_cmp(&a->ec.Q, &b->ec.Q) != 0) {
        return MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
    }
    return 0;
}

static void *ks_alloc(void)
{
    ks_pk_t *k = calloc(1, sizeof *k);
    if (k != NULL) {
        mbedtls_ecp_keypair_init(&k->ec);
    }
    return k;
}

static void ks_free(void *ctx)
{
    ks_pk_t *k = ctx;
    mbedtls_ecp_keypair_free(&k->ec);
    mbedtls_platform_zeroize(k, sizeof *k);
    free(k);
}

static void ks_debug(const void *ctx, mbedtls_pk_debug_item *items)
{
    items->type = MBEDTLS_PK_DEBUG_ECP;
    items->name = "eckey.Q";
    items->value = (void *)&((const ks_pk_t *)ctx)->ec.Q; /* read only, as mbedTLS's own do */
}

static const mbedtls_pk_info_t k_keystore_pk_info = {
    .type = MBEDTLS_PK_ECKEY,
    .name = "EC (tern key store)",
    .get_bitlen = ks_get_bitlen,
    .can_do = ks_can_do,
    .verify_func = ks_verify,
    .sign_func = ks_sign,
    .decrypt_func = NULL, /* ECDSA keys neither encrypt nor decrypt */
    .encrypt_func = NULL,
    .check_pair_func = ks_check_pair,
    .ctx_alloc_func = ks_alloc,
    .ctx_free_func = ks_free,
    .debug_func = ks_debug,
};

tern_err_t tern_posix_tls_keystore_pk(mbedtls_pk_context *pk, const tern_keystore_t *ks,
                                      const char *label)
{
    if (pk == NULL || pk->pk_info != NULL || ks == NULL || label == NULL ||
        strlen(label) > TERN_KEYSTORE_LABEL_MAX) {
        return TERN_ERR_INVAL;
    }
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    tern_err_t err = tern_keystore_public_key(ks, label, pub);
    if (err != TERN_OK) {
        return err;
    }
    ks_pk_t *k = ks_alloc();
    if (k == NULL) {
        return TERN_ERR_IO;
    }
    /* What the store says is checked like any input: a point on the curve. */
    if (mbedtls_ecp_group_load(&k->ec.grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_ecp_point_read_binary(&k->ec.grp, &k->ec.Q, pub, sizeof pub) != 0 ||
        mbedtls_ecp_check_pubkey(&k->ec.grp, &k->ec.Q) != 0) {
        ks_free(k);
        return TERN_ERR_MALFORMED;
    }
    k->ks = ks;
    memcpy(k->label, label, strlen(label) + 1);
    k->last_err = TERN_OK;
    pk->pk_info = &k_keystore_pk_info;
    pk->pk_ctx = k;
    return TERN_OK;
}

tern_err_t tern_posix_tls_keystore_last_err(const mbedtls_pk_context *pk)
{
    if (pk == NULL || pk->pk_info != &k_keystore_pk_info) {
        return TERN_ERR_INVAL;
    }
    return ((const ks_pk_t *)pk->pk_ctx)->last_err;
}
