/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_test_keystore.h
 * @brief Test support: what every key store backend must do (tern/keystore.h),
 * checked against mbedTLS as the independent verifier, and the TLS pk built on
 * a store (ports/posix/tls_keystore.h) used for real signatures and a real TLS
 * 1.2 client authentication. Host tests only; compiled into each test that uses
 * it (it asserts with cmocka).
 */
#ifndef TERN_TEST_KEYSTORE_H
#define TERN_TEST_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "tern/keystore.h"

#ifdef __cplusplus
extern "C" {
#endif

/** SHA-256 of @p text into @p out. */
void tern_test_sha256(const char *text, uint8_t out[32]);

/** 0 if @p sig (DER) is a valid ECDSA signature of @p hash by the P-256 point @p pub. */
int tern_test_ecdsa_verify(const uint8_t pub[TERN_KEYSTORE_PUB_LEN], const uint8_t *hash,
                           size_t hash_len, const uint8_t *sig, size_t sig_len);

/**
 * The key store contract on an empty @p ks: generate, public key, sign and verify,
 * a second key beside the first, duplicate labels refused, destroy then NOT_FOUND,
 * buffers too small, labels at and past the length limit. Leaves the store empty.
 */
void tern_test_keystore_contract(const tern_keystore_t *ks);

/**
 * The TLS pk over @p label's key in @p ks: type ECKEY, can do ECDSA, signs SHA-256
 * (and SHA-384 by truncation) digests that a plain public key verifies, refuses SHA-1.
 */
void tern_test_keystore_tls_pk(const tern_keystore_t *ks, const char *label);

/**
 * A TLS 1.2 handshake in memory between an mbedTLS server that requires a client
 * certificate and an mbedTLS client whose key is @p label's in @p ks (its certificate
 * issued by a CA made here), with @p ciphersuite forced on both; then a record each way.
 */
void tern_test_keystore_tls_handshake(const tern_keystore_t *ks, const char *label,
                                      int ciphersuite);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TEST_KEYSTORE_H */
