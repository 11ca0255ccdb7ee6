/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file identity.h
 * @brief Layer 3: the device's identities and trust stores, kept in flash, and
 * their life cycle: certificate rotation by CSR before expiry, trust-store
 * updates applied tentatively, and the quarantine fallback.
 *
 * What it keeps (in a flash partition of two slots, written alternately with
 * a CRC and a generation, so a power cut during a write leaves the previous
 * state whole):
 * - three identities, each a key label in the key store (tern/keystore.h) and
 *   a certificate chain (PEM, leaf first): the OPERATIONAL one the device
 *   connects with, the NEXT one a rotation is preparing, and the FALLBACK one
 *   (the factory, or "birth", identity: long-lived, never rotated or retired);
 * - three trust stores (PEM trust anchors): the PRIMARY one, a TENTATIVE one
 *   (an update from the fleet not yet proven by a connection), and the
 *   FALLBACK one (provisioned at the factory; what the quarantine endpoint's
 *   certificate chains to).
 *
 * Rotation. Once the operational certificate has passed `rotate_permille` of
 * its lifetime (by the wall clock; the life counted from when the device
 * received it if that is later than its not-before, which a CA backdates a
 * little), or at once while the device still runs on
 * its factory identity (a birth certificate is for bootstrap and fallback,
 * not for everyday use), tern_identity_poll() generates a new key
 * in the key store under a fresh label, and asks the caller to send a CSR
 * signed by it (tern/wire.h: cert/csr). Unanswered requests are sent again
 * after the delays of the caller's tern_backoff_t (jittered). A chain that
 * comes back (cert/new) is accepted only if its leaf holds the new key and it
 * chains to the primary trust store; it becomes the NEXT identity, and
 * tern_identity_poll() asks for a reconnection with it. Only once a
 * connection with it succeeded (tern_identity_result()) does it become the
 * operational identity; the old key is destroyed after that is saved.
 *
 * Power-loss safety. Every step is saved before the step after it starts: the
 * rotation's serial is saved once its request is out (a key a cut leaves
 * before that is replaced on the next try, which takes the same label), a
 * received chain is saved before it is used,
 * and the old key is destroyed only after the switch is saved (a cut leaves it
 * named in the state, and it is destroyed on the next mount). So at any cut
 * the device boots with the operational identity (whose key still exists) and
 * possibly a NEXT one to try.
 *
 * Which identity a connection uses (tern_identity_creds()): NEXT if it holds
 * a chain; else OPERATIONAL; else, or when the operational certificate has
 * expired by a known wall clock and there is no NEXT, FALLBACK (with which the
 * device can still reach the fleet and finish a rotation). A NEXT chain the
 * broker refuses `max_failures` times is dropped, and the rotation starts over.
 *
 * Trust updates. tern_identity_trust_update() stores a new trust store as
 * TENTATIVE; connections use it from then on (tern_identity_poll() asks for a
 * reconnection). A connection that succeeds with it commits it (it becomes the
 * PRIMARY store). A TLS handshake that fails with it `max_failures` times in a
 * row rolls it back: the device is QUARANTINED, connects to the quarantine
 * endpoint with the FALLBACK identity and trust store, and owes the fleet a
 * report (tern_identity_report(): which store, which certificate, the TLS
 * error). A new update received there is tried on the main endpoint again.
 * Only handshake failures count (TERN_ERR_CERT, TERN_ERR_TLS,
 * TERN_ERR_TIME_UNKNOWN); a link that is down proves nothing.
 *
 * The cryptography (parsing certificates, verifying chains, writing CSRs) is
 * the port's, behind tern_x509_ops_t (ports/posix: mbedTLS). No heap, no
 * globals; flash and key-store calls may block (they run at rotation steps).
 */
#ifndef TERN_IDENTITY_H
#define TERN_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/backoff.h"
#include "tern/cbor.h"
#include "tern/err.h"
#include "tern/hal.h"
#include "tern/keystore.h"
#include "tern/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A certificate's facts the identity needs. */
typedef struct tern_x509_info {
    int64_t not_before_ms, not_after_ms;   /* UTC milliseconds */
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];    /* the leaf's key, if it is EC P-256 */
    bool pub_p256;                         /* pub is valid */
    char cn[TERN_KEYSTORE_LABEL_MAX + 33]; /* the leaf's subject CN (cut to fit) */
} tern_x509_info_t;

/** The port's X.509 work. Chains and stores are PEM (leaf first); lengths exclude any NUL. */
typedef struct tern_x509_ops {
    /** The leaf's facts: TERN_ERR_MALFORMED if @p chain has no parsable certificate. */
    tern_err_t (*leaf_info)(void *ctx, const uint8_t *chain, size_t len, tern_x509_info_t *info);
    /**
     * Does @p chain lead to an anchor of @p trust, every signature and validity right at
     * UTC @p now_ms (negative: unknown, validity not judged)? TERN_OK, TERN_ERR_CERT, or
     * TERN_ERR_MALFORMED if either does not parse.
     */
    tern_err_t (*verify)(void *ctx, const uint8_t *chain, size_t len, const uint8_t *trust,
                         size_t trust_len, int64_t now_ms);
    /** Is @p trust a parsable store of at least one CA certificate? TERN_OK or TERN_ERR_MALFORMED.
     */
    tern_err_t (*check_trust)(void *ctx, const uint8_t *trust, size_t len);
    /** A PKCS#10 request (DER) for key @p label of @p ks, subject CN=@p cn, signed by it. */
    tern_err_t (*make_csr)(void *ctx, const tern_keystore_t *ks, const char *label, const char *cn,
                           uint8_t *out, size_t cap, size_t *len);
} tern_x509_ops_t;

typedef enum tern_identity_which {
    TERN_IDENTITY_OPERATIONAL = 0,
    TERN_IDENTITY_NEXT,
    TERN_IDENTITY_FALLBACK,
    TERN_IDENTITY_COUNT
} tern_identity_which_t;

typedef enum tern_trust_which {
    TERN_TRUST_PRIMARY = 0,
    TERN_TRUST_TENTATIVE,
    TERN_TRUST_FALLBACK,
    TERN_TRUST_COUNT
} tern_trust_which_t;

/** Where a rotation is. */
typedef enum tern_rotation_state {
    TERN_ROTATION_IDLE = 0, /* none under way */
    TERN_ROTATION_KEY,      /* a new key's label is chosen (the key may not exist yet) */
    TERN_ROTATION_SENT,     /* the key exists and its CSR was sent; waiting for the chain */
    TERN_ROTATION_CERT,     /* the chain came: the NEXT identity, to be proven by a connection */
} tern_rotation_state_t;

/** Largest key label the identity makes ("op" and a serial fit). */
#define TERN_IDENTITY_LABEL_MAX 16

typedef struct tern_identity_config {
    tern_flash_t flash; /* its partition: two slots of slot_size bytes (whole sectors) */
    uint32_t slot_size; /* 0: one sector */
    uint8_t *buf;       /* RAM copy of the stored state: chains and stores */
    size_t cap;         /* bytes of buf; at most slot_size - 64 are used */
    const tern_keystore_t *keystore;
    const tern_x509_ops_t *x509;
    void *x509_ctx;
    const char *device_id;    /* the CN of every CSR */
    tern_backoff_t *retry;    /* CSR resends; set up by the caller (required) */
    uint16_t rotate_permille; /* share of a certificate's lifetime before rotating; 0: 667 */
    uint8_t max_failures;     /* handshakes before giving up a NEXT identity or a TENTATIVE
                                 store; 0: 3 */
} tern_identity_config_t;

/** The credentials of one connection: views into the identity's buffer, valid until the
 * next call that changes it. */
typedef struct tern_identity_creds {
    tern_identity_which_t identity;
    tern_trust_which_t trust_store;
    bool quarantine;                             /* connect to the quarantine endpoint */
    char key_label[TERN_IDENTITY_LABEL_MAX + 1]; /* in the key store */
    const uint8_t *cert, *trust;                 /* PEM, not NUL-terminated */
    size_t cert_len, trust_len;
} tern_identity_creds_t;

/** What tern_identity_poll() wants the caller to do. */
typedef enum tern_identity_action {
    TERN_IDENTITY_ACT_NONE = 0,
    TERN_IDENTITY_ACT_SEND_CSR,  /* publish the CSR it wrote on cert/csr, then call _csr_sent() */
    TERN_IDENTITY_ACT_RECONNECT, /* end the connection; connect again with tern_identity_creds() */
} tern_identity_action_t;

/** The identity. Caller-owned; fields are private. */
typedef struct tern_identity {
    tern_identity_config_t c;
    uint32_t sector; /* erase unit */
    uint32_t gen;    /* generation of the newest saved copy */
    size_t used;     /* bytes of buf in use */
    uint8_t slot;    /* slot of the newest saved copy */
    uint8_t rot;     /* tern_rotation_state_t */
    uint8_t quarantined, trust_fails, next_fails, have_used, fail_identity;
    bool provisioned, retry_set;
    uint32_t serial;                   /* rotations started: the NEXT key's label is "op<serial>" */
    uint32_t op_serial, retire_serial; /* 0: the fallback key / nothing to retire */
    uint32_t trust_version, tentative_version; /* tentative: the newest update seen */
    uint32_t op_since, next_since; /* UTC s each chain arrived (0: unknown, the factory's) */
    int32_t last_err;              /* the quarantine report's error */
    tern_identity_creds_t in_use;  /* what the current connection was made with */
    tern_ms_t retry_at;
} tern_identity_t;

/**
 * Load the newest valid copy from flash (TERN_ERR_NOT_FOUND: nothing provisioned yet;
 * the identity is usable for tern_identity_provision() only) and finish what a cut
 * interrupted (destroy a key that was being retired). TERN_ERR_INVAL for missing parts.
 */
tern_err_t tern_identity_mount(tern_identity_t *id, const tern_identity_config_t *cfg);

/**
 * Factory provisioning: the fallback identity (a key @p label already in the key store and
 * its @p chain), which is also the first operational one, and the trust store @p trust,
 * which becomes the primary and the fallback store. Checks the chain's key is the key's
 * and that it chains to @p trust (TERN_ERR_CERT); saves. Replaces any earlier state.
 */
tern_err_t tern_identity_provision(tern_identity_t *id, const char *label, const uint8_t *chain,
                                   size_t chain_len, const uint8_t *trust, size_t trust_len);

/**
 * Which identity and trust store the next connection uses (see the file comment), at
 * UTC @p wall_ms (negative: the wall clock is unknown). Remembers the choice for
 * tern_identity_result().
 */
tern_err_t tern_identity_creds(tern_identity_t *id, int64_t wall_ms, tern_identity_creds_t *c);

/**
 * How the connection made with the last tern_identity_creds() went: TERN_OK once the
 * MQTT session is up (commits a NEXT identity or a TENTATIVE store), or its error.
 * @p detail (may be NULL) says what the TLS layer saw, for the quarantine report.
 * Saves when it changes the state.
 */
tern_err_t tern_identity_result(tern_identity_t *id, tern_err_t err, const char *detail);

/**
 * The work due at monotonic time @p now and UTC @p wall_ms (negative: unknown): start a
 * rotation when due (only while @p online, with a known clock), resend an unanswered
 * CSR, ask for a reconnection when the credentials to use changed. For SEND_CSR the
 * request is in @p out (@p cap bytes, 600 suffice), *out_len its length. Errors are the
 * flash's, the key store's or the port's.
 */
tern_err_t tern_identity_poll(tern_identity_t *id, tern_ms_t now, int64_t wall_ms, bool online,
                              uint8_t *out, size_t cap, size_t *out_len,
                              tern_identity_action_t *act);

/** The CSR of the last SEND_CSR was handed to the session at @p now: wait for the chain. */
tern_err_t tern_identity_csr_sent(tern_identity_t *id, tern_ms_t now);

/**
 * A chain arrived on cert/new for request @p serial. TERN_ERR_STATE if no rotation waits
 * for one or it answers another request (a retained one from before: ignore it),
 * TERN_ERR_CERT if its key is not the new key or it does not chain to the primary store
 * at @p wall_ms, TERN_ERR_TOO_SMALL if it does not fit; saved as the NEXT identity else.
 */
tern_err_t tern_identity_cert_received(tern_identity_t *id, uint32_t serial, const uint8_t *chain,
                                       size_t len, int64_t wall_ms);

/**
 * A trust store arrived on trust/new with @p version. TERN_ERR_STATE if the version is not
 * above the stores' (a retained one already applied), TERN_ERR_MALFORMED if it holds no
 * CA; else it is saved as the TENTATIVE store.
 */
tern_err_t tern_identity_trust_update(tern_identity_t *id, uint32_t version, const uint8_t *trust,
                                      size_t len);

/** Where the rotation is. */
tern_rotation_state_t tern_identity_rotation(const tern_identity_t *id);

/** True while quarantined. */
bool tern_identity_quarantined(const tern_identity_t *id);

/** The serial of the pending rotation's request ("op<serial>" is its key), 0 if none. */
uint32_t tern_identity_serial(const tern_identity_t *id);

/** The chain of @p which (PEM), or NULL with *len 0 if there is none. */
const uint8_t *tern_identity_chain(const tern_identity_t *id, tern_identity_which_t which,
                                   size_t *len);

/** The version of the primary trust store (0: the factory's). */
uint32_t tern_identity_trust_version(const tern_identity_t *id);

/** Write the quarantine report (tern/wire.h) as one CBOR map into @p enc. TERN_ERR_STATE
 * when not quarantined. */
tern_err_t tern_identity_report(const tern_identity_t *id, tern_cbor_enc_t *enc);

/** "operational", "next", "fallback"; "primary", "tentative", "fallback". */
const char *tern_identity_name(tern_identity_which_t which);
const char *tern_trust_name(tern_trust_which_t which);

#ifdef __cplusplus
}
#endif
#endif /* TERN_IDENTITY_H */
