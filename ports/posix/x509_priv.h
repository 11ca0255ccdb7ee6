/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the POSIX port: the mbedTLS certificate work the TLS client
 * (tls.c) and the X.509 operations of the identity module (x509.c) share, so
 * that both judge a certificate the same way: tern's certificate profile, the
 * reading of X.509 times as UTC, the validity verdict at a given instant, the
 * strict parse of PEM held in memory, and the DRBG seeded from the kernel.
 */
#ifndef TERN_POSIX_X509_PRIV_H
#define TERN_POSIX_X509_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/x509_crt.h>

#include "tern/err.h"

/* The verify flags that judge a certificate's validity period. */
#define TERN_POSIX_X509_BAD_TIME (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

/**
 * tern's certificate profile: SHA-256/384/512 signatures, RSA keys of 2048 bits or more,
 * EC keys on P-256 or P-384. mbedTLS applies it to every certificate of a chain.
 */
extern const mbedtls_x509_crt_profile tern_posix_x509_profile;

/** UTC ms as whole UTC seconds, rounded down (also before 1970). */
int64_t tern_posix_x509_ms_to_s(int64_t ms);

/** An X.509 time (its fields range-checked by mbedTLS's parser) as UTC seconds since 1970,
 * by the proleptic Gregorian calendar: no libc time function, no TZ. */
int64_t tern_posix_x509_time_s(const mbedtls_x509_time *t);

/**
 * The verdict on the period [@p from, @p to] at UTC second @p now_s, to the second as
 * mbedTLS judges: @p past_flag if it is over, @p future_flag if it has not begun, else 0.
 */
uint32_t tern_posix_x509_period(int64_t now_s, const mbedtls_x509_time *from,
                                const mbedtls_x509_time *to, uint32_t past_flag,
                                uint32_t future_flag);

/** True if the two DER names are the same bytes. */
bool tern_posix_x509_same_name(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b);

/** True if @p crt names itself as issuer and its signature verifies with its own key. */
bool tern_posix_x509_self_signed(mbedtls_x509_crt *crt);

/**
 * Parse the PEM certificates of @p pem (@p len bytes, no NUL needed) onto @p chain, in
 * order. Strict, where mbedtls_x509_crt_parse() skips what it cannot read: every
 * CERTIFICATE block must parse, text before a block may not hold another PEM boundary
 * ("-----"), only whitespace may follow the last block, and there must be at least one.
 * TERN_ERR_MALFORMED else (@p chain may then hold part of it: free it), TERN_ERR_IO if
 * memory ran out.
 */
tern_err_t tern_posix_x509_parse_pem(mbedtls_x509_crt *chain, const uint8_t *pem, size_t len);

/** Seed @p drbg (initialised) from getrandom(), personalised by @p pers. 0 or mbedTLS's error. */
int tern_posix_drbg_seed(mbedtls_ctr_drbg_context *drbg, const char *pers);

#endif /* TERN_POSIX_X509_PRIV_H */
