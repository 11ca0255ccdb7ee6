/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file err.h
 * @brief The one error type of tern: @ref tern_err_t and tern_strerror().
 *
 * Every fallible call returns a tern_err_t: TERN_OK (0) on success, a negative
 * value on failure. The list is an X-macro so the enum and its strings cannot
 * drift apart.
 */
#ifndef TERN_ERR_H
#define TERN_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Values are stable: they may be logged and stored. */
#define TERN_ERR_LIST(X)                                                                       \
    X(TERN_OK, 0, "ok")                                                                        \
    X(TERN_ERR_INVAL, -1, "invalid argument")                                                  \
    X(TERN_ERR_TOO_SMALL, -2, "buffer too small")                                              \
    X(TERN_ERR_RANGE, -3, "out of range")                                                      \
    X(TERN_ERR_ALIGN, -4, "misaligned address or length")                                      \
    X(TERN_ERR_IO, -5, "I/O error")                                                            \
    X(TERN_ERR_TIMEOUT, -6, "timed out")                                                       \
    X(TERN_ERR_AGAIN, -7, "would block, try again")                                            \
    X(TERN_ERR_BUSY, -8, "busy")                                                               \
    X(TERN_ERR_FULL, -9, "full")                                                               \
    X(TERN_ERR_EMPTY, -10, "empty")                                                            \
    X(TERN_ERR_NOT_FOUND, -11, "not found")                                                    \
    X(TERN_ERR_STATE, -12, "call not valid in this state")                                     \
    X(TERN_ERR_UNSUPPORTED, -13, "not supported")                                              \
    X(TERN_ERR_CORRUPT, -14, "stored data corrupt")                                            \
    X(TERN_ERR_MALFORMED, -15, "malformed input")                                              \
    X(TERN_ERR_POWER_LOST, -16, "power lost")                                                  \
    X(TERN_ERR_FLASH_NOR, -17, "flash program would set a cleared bit")                        \
    X(TERN_ERR_WORN_OUT, -18, "flash sector worn out")                                         \
    X(TERN_ERR_NACK, -19, "peripheral did not acknowledge")                                    \
    X(TERN_ERR_TIME_UNKNOWN, -20, "wall-clock time unknown")                                   \
    X(TERN_ERR_CLOSED, -21, "connection closed by peer")                                       \
    X(TERN_ERR_CONNECT, -22, "connection refused or unreachable")                              \
    X(TERN_ERR_RESOLVE, -23, "host name not resolved")                                         \
    X(TERN_ERR_TLS, -24, "TLS handshake or record failure")                                    \
    X(TERN_ERR_CERT, -25, "peer certificate not trusted")                                      \
    X(TERN_ERR_PROTOCOL, -26, "protocol violation by peer")                                    \
    X(TERN_ERR_LINK_CHANGED, -27, "the link under the connection changed")                     \
    X(TERN_ERR_EXISTS, -28, "already exists")                                                  \
    /* MQTT codec (tern/mqtt_codec.h): what is wrong with a packet */                          \
    X(TERN_ERR_MQTT_BAD_VARINT, -100, "MQTT: variable byte integer longer than 4 bytes")       \
    X(TERN_ERR_MQTT_BAD_TYPE, -101, "MQTT: reserved or unknown packet type")                   \
    X(TERN_ERR_MQTT_BAD_FLAGS, -102, "MQTT: reserved flag bits set wrong")                     \
    X(TERN_ERR_MQTT_SHORT, -103, "MQTT: field runs past the end of the packet")                \
    X(TERN_ERR_MQTT_TRAILING, -104, "MQTT: bytes left after the last field")                   \
    X(TERN_ERR_MQTT_BAD_UTF8, -105, "MQTT: invalid UTF-8 string")                              \
    X(TERN_ERR_MQTT_BAD_QOS, -106, "MQTT: QoS 3 is not a QoS")                                 \
    X(TERN_ERR_MQTT_BAD_PACKET_ID, -107, "MQTT: packet identifier 0")                          \
    X(TERN_ERR_MQTT_BAD_PROPERTY, -108, "MQTT: unknown property identifier")                   \
    X(TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, -109, "MQTT: property not allowed in this packet")   \
    X(TERN_ERR_MQTT_DUP_PROPERTY, -110, "MQTT: property given twice")                          \
    X(TERN_ERR_MQTT_BAD_PROPERTY_VALUE, -111, "MQTT: property value out of range")             \
    X(TERN_ERR_MQTT_BAD_TOPIC, -112, "MQTT: bad topic name")                                   \
    X(TERN_ERR_MQTT_BAD_FILTER, -113, "MQTT: bad topic filter")                                \
    X(TERN_ERR_MQTT_BAD_REASON, -114, "MQTT: reason code not valid in this packet")            \
    X(TERN_ERR_MQTT_BAD_PROTOCOL, -115, "MQTT: protocol name is not MQTT")                     \
    X(TERN_ERR_MQTT_EMPTY_LIST, -116, "MQTT: no topic filters or reason codes")                \
    X(TERN_ERR_MQTT_TOO_LONG, -117, "MQTT: string, list or packet too long")                   \
    /* CBOR (tern/cbor.h): what is wrong with an item */                                       \
    X(TERN_ERR_CBOR_TRUNCATED, -200, "CBOR: input ends inside an item")                        \
    X(TERN_ERR_CBOR_RESERVED, -201, "CBOR: reserved additional information (28-30)")           \
    X(TERN_ERR_CBOR_BAD_INDEFINITE, -202, "CBOR: indefinite length not allowed here")          \
    X(TERN_ERR_CBOR_BAD_CHUNK, -203, "CBOR: indefinite string chunk of the wrong type")        \
    X(TERN_ERR_CBOR_UNEXPECTED_BREAK, -204, "CBOR: break outside an indefinite container")     \
    X(TERN_ERR_CBOR_BAD_SIMPLE, -205, "CBOR: two-byte simple value below 32")                  \
    X(TERN_ERR_CBOR_BAD_UTF8, -206, "CBOR: text string is not valid UTF-8")                    \
    X(TERN_ERR_CBOR_TOO_DEEP, -207, "CBOR: nested deeper than TERN_CBOR_MAX_DEPTH")            \
    X(TERN_ERR_CBOR_ODD_MAP, -208, "CBOR: map key without a value")                            \
    X(TERN_ERR_CBOR_DUPLICATE_KEY, -209, "CBOR: map key given twice")                          \
    X(TERN_ERR_CBOR_NOT_DETERMINISTIC, -210, "CBOR: not deterministically encoded")            \
    X(TERN_ERR_CBOR_TRAILING, -211, "CBOR: bytes after the item")                              \
    X(TERN_ERR_CBOR_TOO_LONG, -212, "CBOR: length beyond what this machine can address")       \
    /* MQTT 5 failure reason codes: value -(256 + code), message "MQTT: " + the spec's name */ \
    X(TERN_ERR_MQTT_UNSPECIFIED, -(256 + 0x80), "MQTT: unspecified error")                     \
    X(TERN_ERR_MQTT_MALFORMED_PACKET, -(256 + 0x81), "MQTT: malformed packet")                 \
    X(TERN_ERR_MQTT_PROTOCOL_ERROR, -(256 + 0x82), "MQTT: protocol error")                     \
    X(TERN_ERR_MQTT_IMPL_ERROR, -(256 + 0x83), "MQTT: implementation specific error")          \
    X(TERN_ERR_MQTT_UNSUPPORTED_VERSION, -(256 + 0x84), "MQTT: unsupported protocol version")  \
    X(TERN_ERR_MQTT_CLIENT_ID_INVALID, -(256 + 0x85), "MQTT: client identifier not valid")     \
    X(TERN_ERR_MQTT_BAD_CREDENTIALS, -(256 + 0x86), "MQTT: bad user name or password")         \
    X(TERN_ERR_MQTT_NOT_AUTHORIZED, -(256 + 0x87), "MQTT: not authorized")                     \
    X(TERN_ERR_MQTT_SERVER_UNAVAILABLE, -(256 + 0x88), "MQTT: server unavailable")             \
    X(TERN_ERR_MQTT_SERVER_BUSY, -(256 + 0x89), "MQTT: server busy")                           \
    X(TERN_ERR_MQTT_BANNED, -(256 + 0x8A), "MQTT: banned")                                     \
    X(TERN_ERR_MQTT_SERVER_SHUTTING_DOWN, -(256 + 0x8B), "MQTT: server shutting down")         \
    X(TERN_ERR_MQTT_BAD_AUTH_METHOD, -(256 + 0x8C), "MQTT: bad authentication method")         \
    X(TERN_ERR_MQTT_KEEP_ALIVE_TIMEOUT, -(256 + 0x8D), "MQTT: keep alive timeout")             \
    X(TERN_ERR_MQTT_SESSION_TAKEN_OVER, -(256 + 0x8E), "MQTT: session taken over")             \
    X(TERN_ERR_MQTT_TOPIC_FILTER_INVALID, -(256 + 0x8F), "MQTT: topic filter invalid")         \
    X(TERN_ERR_MQTT_TOPIC_NAME_INVALID, -(256 + 0x90), "MQTT: topic name invalid")             \
    X(TERN_ERR_MQTT_PACKET_ID_IN_USE, -(256 + 0x91), "MQTT: packet identifier in use")         \
    X(TERN_ERR_MQTT_PACKET_ID_NOT_FOUND, -(256 + 0x92), "MQTT: packet identifier not found")   \
    X(TERN_ERR_MQTT_RECEIVE_MAX_EXCEEDED, -(256 + 0x93), "MQTT: receive maximum exceeded")     \
    X(TERN_ERR_MQTT_TOPIC_ALIAS_INVALID, -(256 + 0x94), "MQTT: topic alias invalid")           \
    X(TERN_ERR_MQTT_PACKET_TOO_LARGE, -(256 + 0x95), "MQTT: packet too large")                 \
    X(TERN_ERR_MQTT_RATE_TOO_HIGH, -(256 + 0x96), "MQTT: message rate too high")               \
    X(TERN_ERR_MQTT_QUOTA_EXCEEDED, -(256 + 0x97), "MQTT: quota exceeded")                     \
    X(TERN_ERR_MQTT_ADMIN_ACTION, -(256 + 0x98), "MQTT: administrative action")                \
    X(TERN_ERR_MQTT_PAYLOAD_FORMAT_INVALID, -(256 + 0x99), "MQTT: payload format invalid")     \
    X(TERN_ERR_MQTT_RETAIN_NOT_SUPPORTED, -(256 + 0x9A), "MQTT: retain not supported")         \
    X(TERN_ERR_MQTT_QOS_NOT_SUPPORTED, -(256 + 0x9B), "MQTT: QoS not supported")               \
    X(TERN_ERR_MQTT_USE_ANOTHER_SERVER, -(256 + 0x9C), "MQTT: use another server")             \
    X(TERN_ERR_MQTT_SERVER_MOVED, -(256 + 0x9D), "MQTT: server moved")                         \
    X(TERN_ERR_MQTT_SHARED_SUB_NOT_SUPPORTED, -(256 + 0x9E),                                   \
      "MQTT: shared subscriptions not supported")                                              \
    X(TERN_ERR_MQTT_CONNECTION_RATE_EXCEEDED, -(256 + 0x9F), "MQTT: connection rate exceeded") \
    X(TERN_ERR_MQTT_MAX_CONNECT_TIME, -(256 + 0xA0), "MQTT: maximum connect time")             \
    X(TERN_ERR_MQTT_SUB_ID_NOT_SUPPORTED, -(256 + 0xA1),                                       \
      "MQTT: subscription identifiers not supported")                                          \
    X(TERN_ERR_MQTT_WILDCARD_SUB_NOT_SUPPORTED, -(256 + 0xA2),                                 \
      "MQTT: wildcard subscriptions not supported")

/** One enum for every failure in the SDK: 0 is success, negatives are errors. */
typedef enum tern_err {
#define TERN_ERR_ENUM_(name, value, msg) name = (value),
    TERN_ERR_LIST(TERN_ERR_ENUM_)
#undef TERN_ERR_ENUM_
} tern_err_t;

/** A static, human-readable message for @p err; "unknown error" for values not in the list. */
const char *tern_strerror(int err);

/** The enumerator's name ("TERN_ERR_IO") for logs; "TERN_ERR_UNKNOWN" if not in the list. */
const char *tern_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* TERN_ERR_H */
