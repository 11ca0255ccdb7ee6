/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file keystore.h
 * @brief Layer 3: a key store holds the device's private keys and uses them,
 * never giving them out. One interface, several backends: a file (PEM/DER,
 * for development; tern/port/posix_keystore.h), a PKCS#11 token (SoftHSM2 in
 * the tests; a secure element, HSM or TPM module in the field), and whatever
 * a port adds.
 *
 * Keys are EC P-256 (secp256r1), named by a label of up to
 * TERN_KEYSTORE_LABEL_MAX characters (several may coexist, e.g. the current
 * identity and the one a certificate rotation is preparing). The operations:
 * generate a key inside the store, read its public key, sign a SHA-256
 * digest, destroy it. There is no operation that exports a private key, and a
 * backend that can mark a key unexportable (PKCS#11: CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false) does.
 *
 * Formats are the ones TLS and X.509 use, so no conversion is needed above:
 * a public key is the uncompressed point (0x04 || X || Y, 65 bytes), a
 * signature is DER (SEQUENCE of two INTEGERs r and s, at most
 * TERN_KEYSTORE_SIG_MAX bytes).
 *
 * Backends may block (a token is a device on a bus); they are called from
 * the device's connection set-up and rotation, never from a poll loop's hot
 * path.
 *
 * The tern_keystore_*() calls check their arguments before the backend sees
 * them: a NULL store or buffer, or a label that is empty or longer than
 * TERN_KEYSTORE_LABEL_MAX, is TERN_ERR_INVAL; a backend may refuse more labels
 * (the file store's become file names), and one without an operation answers
 * TERN_ERR_UNSUPPORTED.
 */
#ifndef TERN_KEYSTORE_H
#define TERN_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_KEYSTORE_LABEL_MAX 32 /* characters of a key label */
#define TERN_KEYSTORE_PUB_LEN   65 /* an uncompressed P-256 point */
#define TERN_KEYSTORE_SIG_MAX   72 /* a DER ECDSA P-256 signature */

/** A backend's operations; ctx is the backend's state. */
typedef struct tern_keystore_ops {
    const char *name; /* "file", "pkcs11" ... */
    /** Generate a new P-256 key named @p label inside the store (TERN_ERR_EXISTS if one is). */
    tern_err_t (*generate)(void *ctx, const char *label);
    /** The public key of @p label into @p pub (TERN_KEYSTORE_PUB_LEN bytes);
     * TERN_ERR_NOT_FOUND if there is none. */
    tern_err_t (*public_key)(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN]);
    /** Sign the SHA-256 digest @p hash with @p label's key: a DER signature in @p sig
     * (@p cap bytes), *sig_len its length. */
    tern_err_t (*sign)(void *ctx, const char *label, const uint8_t hash[32], uint8_t *sig,
                       size_t cap, size_t *sig_len);
    /** Destroy @p label's key (TERN_ERR_NOT_FOUND if there is none). */
    tern_err_t (*destroy)(void *ctx, const char *label);
} tern_keystore_ops_t;

/** A key store: a backend and its state. */
typedef struct tern_keystore {
    const tern_keystore_ops_t *ops;
    void *ctx;
} tern_keystore_t;

/** Generate a P-256 key named @p label inside @p ks; it never leaves it. TERN_ERR_EXISTS if
 * @p label names a key already. */
tern_err_t tern_keystore_generate(const tern_keystore_t *ks, const char *label);
/** The public key of @p label (0x04 || X || Y); TERN_ERR_NOT_FOUND if there is none. */
tern_err_t tern_keystore_public_key(const tern_keystore_t *ks, const char *label,
                                    uint8_t pub[TERN_KEYSTORE_PUB_LEN]);
/** Sign SHA-256 digest @p hash with @p label's key: DER into @p sig (@p cap bytes,
 * TERN_ERR_TOO_SMALL if it does not fit), *sig_len its length (0 on failure). For a longer
 * digest (SHA-384) pass its leftmost 32 bytes: ECDSA on P-256 signs no more of it. */
tern_err_t tern_keystore_sign(const tern_keystore_t *ks, const char *label, const uint8_t hash[32],
                              uint8_t *sig, size_t cap, size_t *sig_len);
/** Destroy @p label's key (TERN_ERR_NOT_FOUND if there is none). */
tern_err_t tern_keystore_destroy(const tern_keystore_t *ks, const char *label);

#ifdef __cplusplus
}
#endif
#endif /* TERN_KEYSTORE_H */
