/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_testpki.h
 * @brief Test support: a throwaway PKI made with the openssl CLI at test time
 * (tests/support/gen_pki.sh): EC P-256 keys, SHA-256 signatures.
 */
#ifndef TERN_TESTPKI_H
#define TERN_TESTPKI_H

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_TESTPKI_PATH 256

/* X(field, file stem): each stem has <stem>.crt and <stem>.key in the PKI's directory. */
#define TERN_TESTPKI_LIST(X)                                                            \
    X(ca, "ca")                     /* root CA "tern test CA" */                        \
    X(server, "server")             /* CN=localhost, SAN localhost 127.0.0.1 ::1 */     \
    X(client, "client")             /* a client certificate (clientAuth) from ca */     \
    X(other_ca, "other-ca")         /* an unrelated root CA */                          \
    X(other_client, "other-client") /* a client certificate from other_ca */            \
    X(wrongname, "wrongname")       /* from ca, for wrong.example only */               \
    X(expired, "expired")           /* from ca for localhost, valid only in Jan 2020 */ \
    X(notyet, "notyet")             /* from ca, valid from a year from now, a year */   \
    X(untrusted, "untrusted")       /* from other_ca for localhost */                   \
    X(selfsigned, "selfsigned")     /* for localhost, signed by itself */               \
    X(rsa1024, "rsa1024")           /* from ca, a 1024-bit RSA key */                   \
    X(sha1, "sha1")                 /* from ca, signed with ECDSA over SHA-1 */         \
    X(revoked, "revoked")           /* from ca, and on ca.crl */

/** Certificate and key paths of one identity. */
typedef struct tern_testpki_id {
    char crt[TERN_TESTPKI_PATH];
    char key[TERN_TESTPKI_PATH];
} tern_testpki_id_t;

/** A generated PKI: its directory, ca's CRL and one identity per TERN_TESTPKI_LIST entry. */
typedef struct tern_testpki {
    char dir[TERN_TESTPKI_PATH];
    char crl[TERN_TESTPKI_PATH + 16]; /* ca.crl: ca's CRL (PEM), listing revoked only */
#define TERN_TESTPKI_FIELD_(field, stem) tern_testpki_id_t field;
    TERN_TESTPKI_LIST(TERN_TESTPKI_FIELD_)
#undef TERN_TESTPKI_FIELD_
} tern_testpki_t;

/**
 * Generate a fresh PKI into a new scratch directory (about 0.2 s). TERN_ERR_IO if
 * openssl or the script failed (its output is printed to stderr).
 */
tern_err_t tern_testpki_make(tern_testpki_t *pki);

/** Delete the PKI's directory. Safe on a zeroed @p pki. */
void tern_testpki_remove(tern_testpki_t *pki);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TESTPKI_H */
