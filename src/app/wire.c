/* SPDX-License-Identifier: Apache-2.0 */
/* The device <-> fleet wire contract: topics, the telemetry head, reasons (tern/wire.h). */
#include "tern/wire.h"

#include <string.h>

static const char *const k_kinds[TERN_WIRE_KIND_COUNT] = {
    "telemetry", "presence", "twin/reported", "twin/desired", "cmd",      "cmd/resp",  "logs",
    "crash",     "ota",      "prov",          "cert/csr",     "cert/new", "trust/new", "quarantine",
};

const char *tern_wire_kind_name(tern_wire_kind_t kind)
{
    return (unsigned)kind < TERN_WIRE_KIND_COUNT ? k_kinds[kind] : NULL;
}

bool tern_wire_id_ok(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > TERN_WIRE_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

tern_err_t tern_wire_topic(char *buf, size_t cap, const char *id, tern_wire_kind_t kind,
                           size_t *len)
{
    const char *k = tern_wire_kind_name(kind);
    size_t il = id != NULL ? strlen(id) : 0;
    if (k == NULL || !tern_wire_id_ok(id, il) || buf == NULL) {
        return TERN_ERR_INVAL;
    }
    size_t pl = sizeof TERN_WIRE_PREFIX - 1, kl = strlen(k), n = pl + il + 1 + kl;
    if (n + 1 > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memcpy(buf, TERN_WIRE_PREFIX, pl);
    memcpy(buf + pl, id, il);
    buf[pl + il] = '/';
    memcpy(buf + pl + il + 1, k, kl + 1);
    if (len != NULL) {
        *len = n;
    }
    return TERN_OK;
}

tern_err_t tern_wire_topic_parse(const char *topic, size_t len, const char **id, size_t *id_len,
                                 tern_wire_kind_t *kind)
{
    size_t pl = sizeof TERN_WIRE_PREFIX - 1;
    if (topic == NULL || len <= pl || memcmp(topic, TERN_WIRE_PREFIX, pl) != 0) {
        return TERN_ERR_INVAL;
    }
    const char *s = topic + pl, *end = topic + len, *slash = memchr(s, '/', (size_t)(end - s));
    if (slash == NULL || !tern_wire_id_ok(s, (size_t)(slash - s))) {
        return TERN_ERR_INVAL;
    }
    size_t rest = (size_t)(end - slash - 1);
    for (unsigned k = 0; k < TERN_WIRE_KIND_COUNT; k++) {
        if (strlen(k_kinds[k]) == rest && memcmp(slash + 1, k_kinds[k], rest) == 0) {
            *id = s;
            *id_len = (size_t)(slash - s);
            *kind = (tern_wire_kind_t)k;
            return TERN_OK;
        }
    }
    return TERN_ERR_INVAL;
}

const char *tern_wire_reject_name(tern_wire_reject_t r)
{
    static const char *const names[] = { "ok",     "topic",     "oversize", "cbor",
                                         "schema", "duplicate", "stale",    "store" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

tern_err_t tern_wire_body(const uint8_t *payload, size_t len, const char *seq_prop, size_t prop_len,
                          bool *has_seq, uint32_t *seq, const uint8_t **body, size_t *body_len)
{
    *has_seq = false;
    *seq = 0;
    *body = payload;
    *body_len = len;
    if (seq_prop != NULL) {
        uint64_t v = 0;
        if (prop_len == 0 || prop_len > 10) {
            return TERN_ERR_INVAL;
        }
        for (size_t i = 0; i < prop_len; i++) {
            if (seq_prop[i] < '0' || seq_prop[i] > '9') {
                return TERN_ERR_INVAL;
            }
            v = v * 10u + (uint64_t)(seq_prop[i] - '0');
        }
        if (v > UINT32_MAX) {
            return TERN_ERR_INVAL;
        }
        *has_seq = true;
        *seq = (uint32_t)v;
        return TERN_OK;
    }
    if (len == 0 || payload[0] >= 0x80u) {
        return TERN_OK; /* CBOR from the first byte: no number */
    }
    if (len < 4) {
        return TERN_ERR_INVAL;
    }
    *has_seq = true;
    *seq = (uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 | (uint32_t)payload[2] << 8 |
           payload[3];
    *body = payload + 4;
    *body_len = len - 4;
    return TERN_OK;
}
