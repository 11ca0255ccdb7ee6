/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the POSIX port: an mbedTLS pk context whose private key stays in a
 * key store (tern/keystore.h). Signing is handed to tern_keystore_sign() through
 * a pk_info_t of our own (mbedtls/pk_internal.h, which Debian installs), so the
 * TLS client authentication signs with a PKCS#11 token's key without the key
 * ever being in the SDK's memory.
 */
#ifndef TERN_POSIX_TLS_KEYSTORE_H
#define TERN_POSIX_TLS_KEYSTORE_H

#include <mbedtls/pk.h>

#include "tern/keystore.h"

/**
 * Make @p pk (initialised, empty) an EC P-256 key whose public half is @p label's in
 * @p ks and whose signatures come from tern_keystore_sign(); @p ks must outlive @p pk
 * (the label is copied), mbedtls_pk_free() undoes it. It signs SHA-256 digests, and
 * SHA-384/512 ones by their leftmost 32 bytes as ECDSA on P-256 does; shorter digests
 * are refused. TERN_ERR_NOT_FOUND if the store has no such key, TERN_ERR_MALFORMED if
 * its public key is not a P-256 point, TERN_ERR_INVAL if @p pk is not empty.
 */
tern_err_t tern_posix_tls_keystore_pk(mbedtls_pk_context *pk, const tern_keystore_t *ks,
                                      const char *label);

/**
 * Why the last signature through @p pk failed (TERN_OK if it did not): the store's own
 * error, which mbedTLS can only pass on as one of its codes. TERN_ERR_INVAL if @p pk was
 * not made by tern_posix_tls_keystore_pk().
 */
tern_err_t tern_posix_tls_keystore_last_err(const mbedtls_pk_context *pk);

#endif /* TERN_POSIX_TLS_KEYSTORE_H */
