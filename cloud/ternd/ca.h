/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ca.h
 * @brief ternd's certificate authority (mbedTLS 2.28): device certificates
 * issued from PKCS#10 requests (tern/wire.h: cert/csr), and the check of a
 * trust store an operator hands in.
 *
 * A request is taken only if it parses, its own signature verifies with the
 * key it holds (mbedTLS 2.28 does not check that when it parses one), its
 * hash is SHA-256 or longer, its subject CN is exactly the device id (a valid
 * one, tern_wire_id_ok()) and its key is EC P-256. The certificate issued
 * has a random positive 16-byte serial, the CA's subject as its issuer,
 * validity from 60 s before now to now + the lifetime (never past the CA's
 * own end), subject CN=<id>, basicConstraints CA:false, keyUsage
 * digitalSignature (critical), extendedKeyUsage clientAuth, subject and
 * authority key identifiers, and is signed with SHA-256. Before it is handed
 * out it is parsed back and verified against the CA.
 *
 * Threads: a ternd_ca_t is used by one thread at a time (its DRBG).
 */
#ifndef TERND_CA_H
#define TERND_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The default certificate lifetime: 90 days. */
#define TERND_CA_LIFETIME_DEFAULT (90u * 24u * 3600u)
/** The longest lifetime ternd issues (seconds): 10 years. */
#define TERND_CA_LIFETIME_MAX     (10u * 366u * 24u * 3600u)
/** Hex digits of a key id: SHA-256 of the subject public key (DER SubjectPublicKeyInfo). */
#define TERND_CA_KEY_ID_HEX       64

typedef struct ternd_ca ternd_ca_t;

/** Why a request was refused (each has its own reason text too). */
typedef enum ternd_ca_result {
    TERND_CA_OK = 0,
    TERND_CA_PARSE,      /* not a PKCS#10 request (DER or PEM) */
    TERND_CA_SIGNATURE,  /* its signature does not verify with its own key */
    TERND_CA_HASH,       /* signed with a hash weaker than SHA-256 */
    TERND_CA_ID,         /* the device id is not a valid one */
    TERND_CA_CN,         /* no subject CN, several, or not the device id */
    TERND_CA_KEY,        /* the key is not EC P-256 */
    TERND_CA_CA_EXPIRED, /* the CA certificate is not valid now */
    TERND_CA_INTERNAL,   /* issuing failed (random source, signing, memory, self-check) */
} ternd_ca_result_t;

/** A short name of @p r ("parse", "signature", ...). */
const char *ternd_ca_result_name(ternd_ca_result_t r);

/** What a request says, once checked (ternd_ca_check()). */
typedef struct ternd_csr_info {
    char cn[65];                          /* its subject CN: the device id */
    char key_id[TERND_CA_KEY_ID_HEX + 1]; /* SHA-256 of its public key, lowercase hex */
} ternd_csr_info_t;

/** An issued certificate. */
typedef struct ternd_cert {
    char *chain;      /* PEM, NUL-terminated (heap): the leaf, then the CA certificate */
    size_t chain_len; /* bytes, without the NUL */
    char serial[33];  /* 32 lowercase hex digits */
    int64_t not_before, not_after; /* Unix seconds */
    char key_id[TERND_CA_KEY_ID_HEX + 1];
} ternd_cert_t;

/**
 * Load the CA: its certificate and its private key (PEM or DER files; EC or
 * RSA; an encrypted key is refused). The certificate must be a CA
 * (basicConstraints CA:true), allowed to sign certificates if it has a
 * keyUsage, and the key must be its own. NULL on failure, with the reason in
 * @p err (@p cap bytes).
 */
ternd_ca_t *ternd_ca_load(const char *cert_path, const char *key_path, char *err, size_t cap);

/** Free @p ca (NULL is fine); the key's memory is wiped. */
void ternd_ca_free(ternd_ca_t *ca);

/** The CA's subject, as text ("CN=tern fleet CA"), for the log. */
const char *ternd_ca_subject(const ternd_ca_t *ca);

/**
 * Check a request (@p csr, @p len bytes, DER or PEM) for device @p id (NULL:
 * whatever its CN says, if that is a valid device id). Fills @p info (may be
 * NULL) and returns TERND_CA_OK, or the refusal with its reason in @p why
 * (@p cap bytes).
 */
ternd_ca_result_t ternd_ca_check(const uint8_t *csr, size_t len, const char *id,
                                 ternd_csr_info_t *info, char *why, size_t cap);

/**
 * Check the request as ternd_ca_check() does, then issue its certificate,
 * valid from @p now - 60 s for @p lifetime_s seconds (@p now: Unix seconds).
 * @p out is filled (free it with ternd_cert_free()); on a refusal it is
 * empty and @p why says why.
 */
ternd_ca_result_t ternd_ca_issue(ternd_ca_t *ca, const char *id, const uint8_t *csr, size_t len,
                                 uint32_t lifetime_s, int64_t now, ternd_cert_t *out, char *why,
                                 size_t cap);

/** Free what @p c holds (not @p c). */
void ternd_cert_free(ternd_cert_t *c);

/**
 * Whether @p pem (@p len bytes, need not be NUL-terminated) is a trust
 * store: PEM certificates, at least one, each a CA (basicConstraints
 * CA:true), and no private key. 0 with *count the certificates and, if
 * @p out is not NULL, the store as ternd publishes it in *out (heap,
 * NUL-terminated, *out_len bytes): the certificates alone, each written
 * again as PEM, in order (text around them dropped). -1 with the reason in
 * @p why.
 */
int ternd_ca_trust_check(const char *pem, size_t len, size_t *count, char **out, size_t *out_len,
                         char *why, size_t cap);

/** @p t (Unix seconds) as ISO 8601 UTC ("2025-06-01T12:00:00Z") in @p buf (21 bytes at least). */
void ternd_iso_time(int64_t t, char *buf, size_t cap);

#endif /* TERND_CA_H */
