/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file posix_keystore.h
 * @brief The POSIX port's key stores (tern/keystore.h): a directory of PEM files
 * for development, and any vendor's PKCS#11 module for keys that must never
 * leave their token.
 *
 * Each is opened into a caller-owned struct, which must stay where it is (the
 * tern_keystore_t handed out points at it) until it is closed. Calls may block
 * on the disk or the token; one thread at a time per store.
 */
#ifndef TERN_PORT_POSIX_KEYSTORE_H
#define TERN_PORT_POSIX_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "tern/err.h"
#include "tern/keystore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- file -- */

/**
 * A file key store: in one directory, each key is `<label>.key`, a PEM "EC PRIVATE
 * KEY" (SEC1) readable by its owner only (0600). The private key is in a file, so
 * this is for development and tests; a device in the field uses a token. Labels
 * are limited to [A-Za-z0-9_.-] and may not start with '.', since they become file
 * names. Fields are private.
 */
typedef struct tern_posix_keystore_file {
    struct tern_posix_keystore_file_state *s;
    int last_errno; /* the OS error behind the last TERN_ERR_IO, for logs */
} tern_posix_keystore_file_t;

/**
 * Open the file store in directory @p dir (created 0700 if it does not exist; its parent
 * must) and describe it in @p out. Seeds a CTR-DRBG from the OS entropy for key
 * generation and signing. TERN_ERR_INVAL if @p dir is not a directory, TERN_ERR_IO if it
 * cannot be made or the DRBG not seeded.
 */
tern_err_t tern_posix_keystore_file_open(tern_posix_keystore_file_t *f, const char *dir,
                                         tern_keystore_t *out);

/** The errno behind the last TERN_ERR_IO of @p f (0 if none). */
int tern_posix_keystore_file_errno(const tern_posix_keystore_file_t *f);

/** Close the store; the keys stay on disk. Safe on a closed or zeroed @p f. */
void tern_posix_keystore_file_close(tern_posix_keystore_file_t *f);

/* --------------------------------------------------------------- pkcs11 -- */

/** Where a PKCS#11 store's keys are; the strings are read during open only. */
typedef struct tern_posix_keystore_pkcs11_config {
    const char *module;      /* path of the vendor's PKCS#11 module (a shared object) */
    const char *token_label; /* the token's label (at most 32 characters) */
    const char *user_pin;    /* the normal user's PIN (CKU_USER) */
} tern_posix_keystore_pkcs11_config_t;

/** Room for the message of the last failure, NUL included. */
#define TERN_POSIX_PKCS11_MSG_MAX 192

/**
 * A PKCS#11 key store: one read-write session, logged in as the user, on the token
 * whose label the configuration names. Keys are token objects labelled (CKA_LABEL
 * and CKA_ID) with the key store label; the private half is generated sensitive and
 * unextractable. The last failure stays readable here (even after a failed open).
 * Fields are private.
 */
typedef struct tern_posix_keystore_pkcs11 {
    struct tern_posix_keystore_pkcs11_state *s;
    unsigned long last_rv;                    /* CK_RV of the last failed call */
    char last_msg[TERN_POSIX_PKCS11_MSG_MAX]; /* "C_Login: CKR_PIN_INCORRECT" ... */
} tern_posix_keystore_pkcs11_t;

/**
 * Load @p cfg->module, initialise it (OS locking), find the token labelled
 * @p cfg->token_label, open a session and log in with @p cfg->user_pin; describe the
 * store in @p out. Errors: TERN_ERR_NOT_FOUND (no such module file, or no such token),
 * TERN_ERR_UNSUPPORTED (not a PKCS#11 module), TERN_ERR_INVAL (wrong or unusable PIN, two
 * tokens with the label), TERN_ERR_STATE (PIN locked); details in last_error().
 */
tern_err_t tern_posix_keystore_pkcs11_open(tern_posix_keystore_pkcs11_t *p,
                                           const tern_posix_keystore_pkcs11_config_t *cfg,
                                           tern_keystore_t *out);

/** Close the session; finalise and unload the module if no other store uses it. Safe
 * on a closed or zeroed @p p. */
void tern_posix_keystore_pkcs11_close(tern_posix_keystore_pkcs11_t *p);

/** The CK_RV of the last failed PKCS#11 call (0, CKR_OK, if none or not a token error). */
unsigned long tern_posix_keystore_pkcs11_last_rv(const tern_posix_keystore_pkcs11_t *p);

/** What failed last, for logs: "C_Login: CKR_PIN_INCORRECT (0xa0)"; "" if nothing did. */
const char *tern_posix_keystore_pkcs11_last_error(const tern_posix_keystore_pkcs11_t *p);

/**
 * Read the private key object of @p label's CKA_EXTRACTABLE and CKA_SENSITIVE, to
 * check that the key cannot leave the token. TERN_ERR_NOT_FOUND if there is none.
 */
tern_err_t tern_posix_keystore_pkcs11_key_attrs(tern_posix_keystore_pkcs11_t *p, const char *label,
                                                bool *extractable, bool *sensitive);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PORT_POSIX_KEYSTORE_H */
