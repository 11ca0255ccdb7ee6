/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file wire.h
 * @brief The wire contract between a device and the fleet service (ternd):
 * every topic, payload schema and reason code, defined once for both sides
 * (docs/wire.md explains it with examples).
 *
 * Topics. Every device topic is `tern/<device id>/<kind>`, so a broker ACL
 * of "only under your own id" is one pattern (`tern/%u/#`). A device id is
 * 1..TERN_WIRE_ID_MAX characters of [A-Za-z0-9_.-] (no '/', '+', '#', no
 * leading '$'); tern_wire_id_ok() checks one. Directions:
 *
 *   kind              from    QoS  payload
 *   telemetry         device  1    a telemetry message (below)
 *   presence          device  1    a presence map; retained; the MQTT will says offline
 *   twin/reported     device  1    a twin report (versions and reported changes)
 *   twin/desired      fleet   1    a twin delta (desired changes since a version)
 *   cmd               fleet   1    a command; the answer goes to cmd/resp (or the
 *   cmd/resp          device  1      MQTT 5 response topic the command names)
 *   logs, crash, ota, prov    reserved for the log, crash dump, OTA and
 *                             provisioning services of later versions
 *   cert/csr          device  1    a certificate signing request (rotation, below)
 *   cert/new          fleet   1    the chain ternd's CA issued for it; retained
 *   trust/new         fleet   1    a trust-store update; retained
 *   quarantine        device  1    sent to the quarantine endpoint only: what failed
 *
 * ternd subscribes with MQTT 5 shared subscriptions, `$share/ternd/tern/+/<kind>`
 * for each device-to-fleet kind, so several ternd processes split the traffic.
 *
 * Payloads are CBOR (RFC 8949) with small integer keys, like SenML's labels.
 *
 * Sequence numbers. Every message a device sends through its uplink carries
 * its outbox sequence number (tern/uplink.h), unique and rising per device
 * across reboots for as long as the outbox lives: with MQTT 5 as the user
 * property "seq" (decimal), with MQTT 3.1.1 as the payload's first 4 bytes
 * (big-endian). Device payloads are CBOR arrays or maps, whose first byte is
 * 0x80 or above, and sequence numbers stay below 2^31, so the first byte
 * tells whether the 4 bytes are there (tern_wire_body()); the will, which the
 * broker sends, has none.
 *
 * Telemetry message: a SenML pack (a CBOR array of maps, RFC 8428) or a
 * compact batch (a CBOR array whose first item is its format version,
 * docs/compact-batch.md), with its sequence number. ternd stores each
 * (device, epoch, seq) once, so at-least-once delivery is stored exactly
 * once; epoch is ternd's count of the device's sequence restarts (a presence
 * message whose next seq is below the highest seq seen: the outbox was
 * erased).
 *
 * Presence map: {1: online (bool), 2: firmware version (text), 3: active
 * link (text), 4: region (text), 5: next seq (uint)}; the will is {1: false}.
 *
 * Twin. Desired and reported state are CBOR maps of text keys to any CBOR
 * value, each with a version: ternd numbers desired versions 1, 2, ... per
 * device; the device numbers its reported versions the same way. A report is
 * {1: reported version (uint), 2: desired version applied (uint), 3: changed
 * reported keys (map; null deletes a key), 4: full (bool: 3 is the whole
 * state)}; a report with no 3 just says where the device is (it is sent on
 * every connect). A delta is {1: desired version it brings the device to
 * (uint), 2: the version it starts from (uint), 3: changed desired keys (map;
 * null deletes a key)}. Rules (docs/wire.md): a device applies a delta only
 * if from <= applied < version, so an old delta arriving late never
 * overwrites a newer one; a delta from past what it has (from > applied) is
 * a gap: it reports its versions and ternd answers with the delta from there.
 * ternd stores a report only if its version is above the stored one.
 *
 * Certificates (tern/identity.h). A CSR is {1: the PKCS#10 request (DER,
 * bytes), 2: the request's serial (uint, the device's rotation count)}; its
 * subject CN must be the device id of its topic and its key EC P-256, signed
 * by that key. cert/new is {1: the chain, leaf first, issuing CAs after (PEM,
 * text), 2: the serial of the request it answers}. A trust update is {1: the
 * trust anchors (PEM, text), 2: its version (uint, rising)}. A quarantine
 * report is {1: the store that failed (text: "tentative"), 2: its version,
 * 3: the error (text, tern_err_name()), 4: the TLS check that failed and the
 * certificate (text), 5: handshakes that failed (uint), 6: the identity in use
 * (text)}.
 */
#ifndef TERN_WIRE_H
#define TERN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_WIRE_PREFIX      "tern/"
#define TERN_WIRE_ID_MAX      64 /* characters of a device id */
#define TERN_WIRE_TOPIC_MAX   96 /* bytes of a device topic, NUL included */
/** ternd's share group: `$share/<group>/tern/+/<kind>` */
#define TERN_WIRE_SHARE_GROUP "ternd"

/** The kinds of device topic (the part after `tern/<id>/`). */
typedef enum tern_wire_kind {
    TERN_WIRE_TELEMETRY = 0, /* device -> fleet */
    TERN_WIRE_PRESENCE,      /* device -> fleet, retained, also the will */
    TERN_WIRE_TWIN_REPORTED, /* device -> fleet */
    TERN_WIRE_TWIN_DESIRED,  /* fleet -> device */
    TERN_WIRE_CMD,           /* fleet -> device */
    TERN_WIRE_CMD_RESP,      /* device -> fleet */
    TERN_WIRE_LOGS,          /* reserved */
    TERN_WIRE_CRASH,         /* reserved */
    TERN_WIRE_OTA,           /* reserved */
    TERN_WIRE_PROV,          /* reserved */
    TERN_WIRE_CERT_CSR,      /* device -> fleet: a certificate signing request */
    TERN_WIRE_CERT_NEW,      /* fleet -> device: the certificate chain issued for it; retained */
    TERN_WIRE_TRUST_NEW,     /* fleet -> device: a trust-store update; retained */
    TERN_WIRE_QUARANTINE,    /* device -> quarantine endpoint: why a trust update failed */
    TERN_WIRE_KIND_COUNT
} tern_wire_kind_t;

/** The topic suffix of @p kind ("telemetry", "twin/reported" ...); NULL if out of range. */
const char *tern_wire_kind_name(tern_wire_kind_t kind);

/** Whether @p id (@p len bytes) is a valid device id. */
bool tern_wire_id_ok(const char *id, size_t len);

/**
 * Write `tern/<id>/<kind>` with its NUL into @p buf (@p cap bytes); *len (may
 * be NULL) its length. TERN_ERR_INVAL for a bad id or kind, TERN_ERR_TOO_SMALL.
 */
tern_err_t tern_wire_topic(char *buf, size_t cap, const char *id, tern_wire_kind_t kind,
                           size_t *len);

/**
 * Split a device topic: *id and *id_len the device id (a view into @p topic),
 * *kind its kind. TERN_ERR_INVAL if @p topic (@p len bytes) is no device topic
 * of a known kind with a valid id.
 */
tern_err_t tern_wire_topic_parse(const char *topic, size_t len, const char **id, size_t *id_len,
                                 tern_wire_kind_t *kind);

/* Keys of the presence map. */
#define TERN_WIRE_P_ONLINE 1u
#define TERN_WIRE_P_FW     2u
#define TERN_WIRE_P_LINK   3u
#define TERN_WIRE_P_REGION 4u
#define TERN_WIRE_P_SEQ    5u

/* Keys of a twin report (device -> fleet). */
#define TERN_WIRE_R_VERSION 1u /* reported version */
#define TERN_WIRE_R_APPLIED 2u /* desired version applied */
#define TERN_WIRE_R_STATE   3u /* changed reported keys, or the whole state with R_FULL */
#define TERN_WIRE_R_FULL    4u

/* Keys of a twin delta (fleet -> device). */
#define TERN_WIRE_D_VERSION 1u /* the desired version the delta brings the device to */
#define TERN_WIRE_D_FROM    2u /* the desired version it starts from */
#define TERN_WIRE_D_STATE   3u /* changed desired keys (null deletes) */

/** The largest telemetry message ternd takes (bytes); larger ones are refused. */
#define TERN_WIRE_TELEMETRY_MAX 65536u
/** The largest twin message (bytes) either side takes. */
#define TERN_WIRE_TWIN_MAX      4096u
/** Largest CSR, cert/new, trust/new or quarantine message. */
#define TERN_WIRE_CERT_MAX      8192u
/** CBOR keys of the certificate messages (see above). */
#define TERN_WIRE_C_DATA        1u /* CSR DER, chain PEM, trust PEM, or (quarantine) the store */
#define TERN_WIRE_C_SERIAL      2u /* CSR serial, trust version */
#define TERN_WIRE_Q_ERROR       3u
#define TERN_WIRE_Q_DETAIL      4u
#define TERN_WIRE_Q_FAILS       5u
#define TERN_WIRE_Q_ID          6u

/**
 * Why ternd refused a message (it logs the reason with the device and topic,
 * and goes on with every other message).
 */
typedef enum tern_wire_reject {
    TERN_WIRE_OK = 0,
    TERN_WIRE_REJECT_TOPIC,     /* not `tern/<valid id>/<known kind>`, or the wrong direction */
    TERN_WIRE_REJECT_OVERSIZE,  /* above the kind's maximum */
    TERN_WIRE_REJECT_CBOR,      /* not well-formed, valid CBOR */
    TERN_WIRE_REJECT_SCHEMA,    /* well-formed, but not the kind's schema */
    TERN_WIRE_REJECT_DUPLICATE, /* a telemetry seq already stored (not an error: dropped) */
    TERN_WIRE_REJECT_STALE,     /* a twin report older than the stored one */
    TERN_WIRE_REJECT_STORE,     /* the store failed: the message is not acknowledged */
} tern_wire_reject_t;

/** A short lowercase name of @p r ("topic", "oversize", "cbor" ...). */
const char *tern_wire_reject_name(tern_wire_reject_t r);

/**
 * The body of a device message and its sequence number: @p seq_prop is the
 * value of the MQTT 5 user property "seq" (@p prop_len bytes; NULL if the
 * message has none); without it, a payload whose first byte is below 0x80
 * starts with the 4-byte big-endian number. *has_seq says whether there was
 * one, *seq its value, *body / *body_len the rest (a view into @p payload).
 * TERN_ERR_INVAL for a property that is not a decimal number below 2^32, or
 * a payload too short for its 4 bytes.
 */
tern_err_t tern_wire_body(const uint8_t *payload, size_t len, const char *seq_prop, size_t prop_len,
                          bool *has_seq, uint32_t *seq, const uint8_t **body, size_t *body_len);

#ifdef __cplusplus
}
#endif
#endif /* TERN_WIRE_H */
