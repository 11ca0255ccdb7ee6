/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device example's identity (tern/identity.h) on a Linux host: mTLS with
 * the key in a key store (a directory of PEM keys, or a PKCS#11 token), the
 * certificate chains and trust stores in the device's flash, rotation by CSR
 * with ternd's CA, trust-store updates and the quarantine endpoint.
 *
 * Over the uplink (the main broker): the TLS configuration of both links
 * follows the identity's choice of credentials, refreshed whenever a link goes
 * down; cert/new and trust/new are subscribed; CSRs go out at QoS 0 (the
 * identity resends them on its jittered backoff until a chain comes back).
 *
 * In quarantine the uplink is left alone (its outbox keeps filling, nothing is
 * delivered to the wrong place): a separate MQTT session goes to the quarantine
 * endpoint with the fallback identity and trust store, delivers the report at
 * QoS 1, and waits for a trust update there.
 */
#ifndef TERN_EXAMPLE_SECURE_H
#define TERN_EXAMPLE_SECURE_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/identity.h"
#include "tern/link.h"
#include "tern/mqtt.h"
#include "tern/port/posix_keystore.h"
#include "tern/port/posix_link.h"
#include "tern/port/posix_net.h"
#include "tern/uplink.h"

enum { SECURE_PEM_MAX = 6144 };

typedef struct secure_opts {
    const char *keys;      /* directory of the file key store, or NULL */
    const char *pkcs11;    /* MODULE:TOKEN:PIN of a PKCS#11 key store, or NULL */
    const char *cert_file; /* factory chain (PEM), to provision a blank identity */
    const char *ca_file;   /* factory trust store (PEM), to provision */
    const char *hostname;  /* the brokers' certificate name */
    const char *q_host;    /* quarantine endpoint, or NULL */
    uint16_t q_port;
    uint16_t rotate_permille; /* 0: the identity's default */
} secure_opts_t;

typedef struct secure {
    bool on;
    const char *dev;
    const tern_hal_t *hal;
    secure_opts_t o;
    tern_keystore_t ks;
    tern_posix_keystore_file_t kfile;
    tern_posix_keystore_pkcs11_t kp11;
    tern_identity_t id;
    tern_backoff_t retry;
    tern_identity_creds_t creds;
    tern_posix_tls_config_t tls; /* both links and the quarantine session use it */
    uint8_t ca[SECURE_PEM_MAX], cert[SECURE_PEM_MAX];
    char label[TERN_IDENTITY_LABEL_MAX + 1];
    char t_csr[96], t_cert[96], t_trust[96], t_quar[96];
    tern_link_mgr_t *mgr;
    /* the quarantine session */
    tern_posix_link_t qlink;
    bool q_started, q_up, q_reported, q_leave;
    tern_ms_t q_retry_at;
    tern_backoff_t q_backoff;
    tern_mqtt_t qm;
    uint16_t q_report_pid;
} secure_t;

/**
 * Open the key store, mount the identity on @p flash and, if it is blank, provision it
 * from the factory files (the key "factory" must be in the key store: see
 * secure_make_csr()). Returns 0, or prints why and returns 1.
 */
int secure_open(secure_t *s, const tern_hal_t *hal, tern_flash_t flash, const char *dev,
                const secure_opts_t *o);

/**
 * Factory step: generate the key "factory" in the key store of @p o and write its CSR
 * (DER) to @p path, for the CA (`ternd --ca-sign`). 0 or 1.
 */
int secure_make_csr(const char *dev, const secure_opts_t *o, const char *path);

/** The TLS configuration the links use (kept current by the functions below). */
const tern_posix_tls_config_t *secure_tls(secure_t *s);

/** The link manager to reconnect when the identity asks; after tern_link_init(). */
void secure_bind(secure_t *s, tern_link_mgr_t *mgr);

/** Pass every uplink event here (the session's outcome drives the identity). */
void secure_on_event(secure_t *s, const tern_uplink_event_t *ev);

/** The subscriptions the identity needs on the main session (2), for tern_mqtt_subscribe(). */
size_t secure_subs(secure_t *s, tern_mqtt_sub_t *out);

/** A message on the main session: true if it was the identity's (cert/new, trust/new). */
bool secure_on_message(secure_t *s, const tern_mqtt_publish_t *m);

/** Rotation and reconnection work; call after tern_uplink_poll(). */
tern_err_t secure_poll(secure_t *s, tern_uplink_t *up, tern_ms_t now);

/** True while quarantined: poll secure_quarantine() instead of the uplink. */
bool secure_quarantined(const secure_t *s);

/** Drive the quarantine session at @p now; returns how long the caller may wait. */
uint32_t secure_quarantine(secure_t *s, tern_ms_t now);

/** Close the quarantine session and the key store. */
void secure_close(secure_t *s);

#endif
