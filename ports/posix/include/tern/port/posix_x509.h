/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_x509.h
 * @brief The POSIX port's X.509 work for the identity module (tern/identity.h):
 * tern_x509_ops_t on mbedTLS 2.28.
 *
 * Set tern_identity_config_t.x509 to &tern_posix_x509_ops; x509_ctx is unused
 * (NULL will do). The operations keep no state between calls: each one copies
 * and parses its PEM on the heap and frees it before returning.
 *
 * - PEM is read strictly, the same way as the TLS client's ca_pem and cert_pem
 *   (posix_net.h): every certificate must parse, only whitespace may follow the
 *   last one, and there must be one; TERN_ERR_MALFORMED otherwise.
 * - leaf_info: the first certificate's validity as UTC ms (by the calendar, no
 *   time zone involved), its subject CN (cut at a character boundary to fit;
 *   control characters become '?'; "" if it has none), and its key as an
 *   uncompressed point when it is EC on P-256.
 * - verify: the chain (leaf first, then intermediates) against the anchors of
 *   the trust store, with the TLS client's certificate profile (SHA-256/384/512
 *   signatures, RSA of 2048 bits or more, EC P-256/P-384), every certificate's
 *   validity judged at the given UTC ms (to the second, as TLS does) and never
 *   by the host's clock; a negative time skips the validity check. No host
 *   name is checked, and no CRL.
 * - check_trust: TERN_OK if at least one certificate is a CA: basicConstraints
 *   CA true, or an X.509 v1 certificate that signed itself (an old-style root).
 * - make_csr: PKCS#10, subject "CN=<cn>", signed with ECDSA over SHA-256 by the
 *   key store's key (the private key never leaves the store). The CN is 1 to 64
 *   printable ASCII characters, none of ,=+<>#;"\ and no space at either end
 *   (what the subject syntax would have to escape): TERN_ERR_INVAL else. The DER is written at the
 * start of @p out; TERN_ERR_TOO_SMALL if it does not fit (600 bytes always do), the key store's
 *   error if it cannot sign (TERN_ERR_NOT_FOUND: no such key).
 *
 * Besides the codes tern/identity.h names, any operation may return TERN_ERR_IO
 * when memory runs out (make_csr also when mbedTLS fails otherwise), and
 * TERN_ERR_INVAL for a NULL result pointer, key store, label or CN. A NULL or empty
 * PEM buffer is TERN_ERR_MALFORMED.
 */
#ifndef TERN_PORT_POSIX_X509_H
#define TERN_PORT_POSIX_X509_H

#include "tern/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The operations; stateless, so one table serves every identity (ctx may be NULL). */
extern const tern_x509_ops_t tern_posix_x509_ops;

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_X509_H */
