/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd's intake: one MQTT message from a device at a time, checked against
 * the wire contract (tern/wire.h) and stored.
 *
 * Durability. tern's MQTT client acknowledges a QoS 1 message (PUBACK) when
 * the MESSAGE callback returns, and the broker then forgets it. So a message
 * is only as safe as what the store holds by then: everything a message
 * brings is written in one transaction that commits before
 * ternd_ingest_message() returns. When the store fails (the commit, or any
 * write), nothing of the message stays and it must not be acknowledged:
 * ternd_ingest_message() says TERN_WIRE_REJECT_STORE and the MQTT loop ends
 * the connection from inside the callback (tern_mqtt_abort(), which drops the
 * PUBACK the session owed). The broker keeps the message in ternd's session
 * (clean start off, session expiry 3600 s) and sends it again after the
 * reconnect; telemetry is stored once per (device, epoch, seq), so a message
 * whose commit did land before a crash is dropped as a duplicate then.
 *
 * A message that is wrong (bad topic, too big, not CBOR, not the schema) is
 * refused, logged with its reason, and acknowledged anyway: sending it again
 * would not make it right, and an unacknowledged message would block the
 * device's queue at the broker.
 */
#define _POSIX_C_SOURCE 200809L
#include "ingest.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/cbor.h"
#include "tern/senml.h"
#include "tern/tsbatch.h"

void ternd_ingest_init(ternd_ingest_t *in, ternd_store_t *store, ternd_twin_server_t *twin,
                       bool verbose)
{
    memset(in, 0, sizeof *in);
    in->store = store;
    in->twin = twin;
    in->verbose = verbose;
}

void ternd_ingest_free(ternd_ingest_t *in)
{
    free(in->part);
    free(in->text);
    in->part = NULL;
    in->text = NULL;
    in->text_cap = 0;
}

/* ------------------------------------------------------------- helpers -- */

/* The topic, printable, for a log line. */
static void printable(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    if (len >= cap && cap > 4) {
        memcpy(out + cap - 4, "...", 3);
        n = cap - 1;
    }
    out[n] = '\0';
}

typedef struct {
    ternd_ingest_t *in;
    const char *id;    /* NUL-terminated device id ("?" if the topic has none) */
    const char *topic; /* printable */
    int64_t now_ms;
    bool retained; /* delivered from the broker's retained messages */
} msg_ctx_t;

static tern_wire_reject_t refuse(msg_ctx_t *m, tern_wire_reject_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tern_wire_reject_t refuse(msg_ctx_t *m, tern_wire_reject_t r, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    m->in->stats.rejected[r]++;
    ternd_log("reject %s: device %s, topic %s: %s", tern_wire_reject_name(r), m->id, m->topic, why);
    return r;
}

static tern_wire_reject_t store_failed(msg_ctx_t *m, const char *what)
{
    char err[256];
    snprintf(err, sizeof err, "%s", ternd_store_error(m->in->store));
    (void)ternd_store_rollback(m->in->store);
    return refuse(m, TERN_WIRE_REJECT_STORE, "%s: %s (not acknowledged: the broker sends it again)",
                  what, err);
}

/* Room for @p n bytes of NUL-terminated copies. */
static bool text_room(ternd_ingest_t *in, size_t n)
{
    if (n <= in->text_cap) {
        return true;
    }
    size_t cap = in->text_cap ? in->text_cap : 256;
    while (cap < n) {
        cap *= 2;
    }
    char *t = realloc(in->text, cap);
    if (t == NULL) {
        return false;
    }
    in->text = t;
    in->text_cap = cap;
    return true;
}

/* A text value that can be a C string: no NUL inside, at most @p max bytes. */
static bool text_ok(const uint8_t *p, size_t len, size_t max)
{
    return len <= max && (len == 0 || memchr(p, 0, len) == NULL);
}

/* memcpy() for views, whose pointer may be NULL when they are empty. */
static void copy_text(char *dst, const char *src, size_t len)
{
    if (len) {
        memcpy(dst, src, len);
    }
}

/* ------------------------------------------------------------ telemetry -- */

/* RFC 8428 section 4.5.3: a time below 2^28 s is relative to now. */
#define SENML_RELATIVE_LIMIT 268435456.0

static tern_wire_reject_t reading_of(msg_ctx_t *m, const tern_senml_rec_t *r, bool senml,
                                     ternd_reading_t *out)
{
    ternd_ingest_t *in = m->in;
    size_t nl = r->base_name.len + r->name.len, ul = r->unit.len;
    size_t sl = r->kind == TERN_SENML_STR ? r->vs.len : 0;
    if (!text_ok((const uint8_t *)r->base_name.ptr, r->base_name.len, SIZE_MAX) ||
        !text_ok((const uint8_t *)r->name.ptr, r->name.len, SIZE_MAX) ||
        !text_ok((const uint8_t *)r->unit.ptr, ul, SIZE_MAX) ||
        (sl && !text_ok((const uint8_t *)r->vs.ptr, sl, SIZE_MAX))) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "a name, unit or string value holds a NUL");
    }
    if (nl == 0) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "a record without a name");
    }
    if (!text_room(in, nl + 1 + ul + 1 + sl + 1)) {
        return refuse(m, TERN_WIRE_REJECT_STORE, "out of memory");
    }
    char *name = in->text, *unit = name + nl + 1, *vs = unit + ul + 1;
    copy_text(name, r->base_name.ptr, r->base_name.len);
    copy_text(name + r->base_name.len, r->name.ptr, r->name.len);
    name[nl] = '\0';
    copy_text(unit, r->unit.ptr, ul);
    unit[ul] = '\0';
    copy_text(vs, r->vs.ptr, sl);
    vs[sl] = '\0';

    double t = r->t;
    if (!isfinite(t)) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "%s: time is not a finite number", name);
    }
    if (senml && t < SENML_RELATIVE_LIMIT) {
        t += (double)m->now_ms / 1000.0;
    }
    memset(out, 0, sizeof *out);
    out->name = name;
    out->unit = unit;
    out->t = t;
    switch (r->kind) {
    case TERN_SENML_NUM:
        if (!isfinite(r->v)) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "%s: value is not a finite number", name);
        }
        out->kind = TERND_V_NUM;
        out->v = r->v;
        break;
    case TERN_SENML_BOOL:
        out->kind = TERND_V_BOOL;
        out->vb = r->vb;
        break;
    case TERN_SENML_STR:
        out->kind = TERND_V_STR;
        out->vs = vs;
        break;
    case TERN_SENML_DATA:
        out->kind = TERND_V_DATA;
        out->vd = r->vd;
        out->vd_len = r->vd_len;
        break;
    case TERN_SENML_NONE:
    default:
        return TERN_WIRE_REJECT_DUPLICATE; /* no value (a sum only): nothing to store, skipped */
    }
    return TERN_WIRE_OK;
}

/* Which batch: 1 a compact batch ([version, bn, bt, series...]), 0 a SenML pack (an array of
 * maps, maybe empty), -1 neither. */
static int batch_kind(const uint8_t *b, size_t len)
{
    if (tern_tsb_is_batch(b, len)) {
        return 1;
    }
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, b, len, 0);
    if (tern_cbor_dec_next(&d, &it) != TERN_OK || it.type != TERN_CBOR_ARRAY ||
        tern_cbor_dec_next(&d, &it) != TERN_OK) {
        return -1;
    }
    return it.type == TERN_CBOR_MAP || it.type == TERN_CBOR_END ? 0 : -1;
}

static tern_wire_reject_t telemetry(msg_ctx_t *m, bool has_seq, uint32_t seq, const uint8_t *p,
                                    size_t len)
{
    ternd_ingest_t *in = m->in;
    ternd_store_t *s = in->store;
    size_t off = 0;

    if (!has_seq) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                      "no sequence number (MQTT 5 user property \"seq\", or 4 bytes in front)");
    }
    tern_err_t e = tern_cbor_validate(p, len, 0, &off);
    if (e != TERN_OK) {
        return refuse(m, TERN_WIRE_REJECT_CBOR, "seq %lu: %s at byte %zu", (unsigned long)seq,
                      tern_strerror(e), off);
    }
    int kind = batch_kind(p, len);
    if (kind < 0) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                      "seq %lu: neither a SenML pack nor a compact batch", (unsigned long)seq);
    }

    if (ternd_store_begin(s) != 0) {
        return store_failed(m, "begin");
    }
    if (ternd_store_seen(s, m->id, m->now_ms) != 0) {
        return store_failed(m, "seen");
    }
    int fresh = ternd_store_message(s, m->id, seq, m->now_ms);
    if (fresh < 0) {
        return store_failed(m, "message");
    }
    if (fresh == 0) {
        if (ternd_store_commit(s) != 0) { /* last_seen */
            return store_failed(m, "commit");
        }
        in->stats.duplicates++;
        if (in->verbose) {
            ternd_log("%s: telemetry seq %lu already stored: duplicate dropped", m->id,
                      (unsigned long)seq);
        }
        return TERN_WIRE_OK;
    }

    static tern_tsb_reader_t tr;
    static tern_senml_reader_t sr;
    tern_senml_rec_t r;
    uint64_t n = 0, skipped = 0;
    if (kind == 1) {
        tern_tsb_read_begin(&tr, p, len);
    } else {
        tern_senml_read_begin(&sr, p, len);
    }
    while ((e = kind == 1 ? tern_tsb_read_next(&tr, &r) : tern_senml_read_next(&sr, &r)) ==
           TERN_OK) {
        ternd_reading_t rd;
        tern_wire_reject_t why = reading_of(m, &r, kind == 0, &rd);
        if (why == TERN_WIRE_REJECT_DUPLICATE) {
            skipped++;
            continue;
        }
        if (why != TERN_WIRE_OK) {
            (void)ternd_store_rollback(s); /* the refusal is logged */
            return why;
        }
        if (ternd_store_reading(s, m->id, seq, &rd) != 0) {
            return store_failed(m, "reading");
        }
        n++;
    }
    if (e != TERN_ERR_EMPTY) {
        (void)ternd_store_rollback(s);
        size_t at = tern_cbor_dec_offset(kind == 1 ? &tr.dec : &sr.dec);
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "seq %lu: %s: %s at byte %zu of the batch",
                      (unsigned long)seq, kind == 1 ? "compact batch" : "SenML", tern_strerror(e),
                      at);
    }
    if (ternd_store_commit(s) != 0) {
        return store_failed(m, "commit");
    }
    in->stats.telemetry++;
    in->stats.readings += n;
    if (in->verbose) {
        ternd_log("%s: telemetry seq %lu: %llu readings stored (%s%s)", m->id, (unsigned long)seq,
                  (unsigned long long)n, kind == 1 ? "compact batch" : "SenML",
                  skipped ? ", records without value skipped" : "");
    }
    return TERN_WIRE_OK;
}

/* ------------------------------------------------------------- presence -- */

/* A map's next key, which must be an unsigned integer. */
static tern_err_t next_key(tern_cbor_dec_t *d, uint64_t *key, bool *end)
{
    tern_cbor_item_t it;
    tern_err_t e = tern_cbor_dec_next(d, &it);
    if (e != TERN_OK) {
        return e;
    }
    *end = it.type == TERN_CBOR_END;
    if (*end) {
        return TERN_OK;
    }
    if (it.type != TERN_CBOR_UINT) {
        return TERN_ERR_MALFORMED;
    }
    *key = it.u;
    return TERN_OK;
}

/* Check @p p is one valid CBOR map and open it. */
static tern_wire_reject_t open_map(msg_ctx_t *m, tern_cbor_dec_t *d, const uint8_t *p, size_t len,
                                   const char *what)
{
    size_t off = 0;
    tern_cbor_item_t it;
    tern_err_t e = tern_cbor_validate(p, len, TERN_CBOR_CHECK_DUPLICATES, &off);
    if (e == TERN_ERR_CBOR_DUPLICATE_KEY) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "%s: a key given twice (byte %zu)", what, off);
    }
    if (e != TERN_OK) {
        return refuse(m, TERN_WIRE_REJECT_CBOR, "%s at byte %zu", tern_strerror(e), off);
    }
    tern_cbor_dec_init(d, p, len, 0);
    if (tern_cbor_dec_next(d, &it) != TERN_OK || it.type != TERN_CBOR_MAP) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "%s: not a map", what);
    }
    return TERN_WIRE_OK;
}

#define FIELD_MAX 32 /* presence text fields: ternd_device_t's fw, link, region */

static tern_wire_reject_t presence(msg_ctx_t *m, const uint8_t *p, size_t len)
{
    ternd_store_t *s = m->in->store;
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    bool have_online = false, online = false, has_seq = false, end = false;
    uint64_t next_seq = 0, key = 0;
    char text[3][FIELD_MAX + 1];
    bool have_text[3] = { false, false, false };
    static const char *const names[3] = { "firmware", "link", "region" };

    tern_wire_reject_t r = open_map(m, &d, p, len, "presence");
    if (r != TERN_WIRE_OK) {
        return r;
    }
    for (;;) {
        if (next_key(&d, &key, &end) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "presence: a key is not an unsigned integer");
        }
        if (end) {
            break;
        }
        if (tern_cbor_dec_next(&d, &it) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "presence: bad value");
        }
        switch (key) {
        case TERN_WIRE_P_ONLINE:
            if (it.type != TERN_CBOR_SIMPLE ||
                (it.u != TERN_CBOR_TRUE && it.u != TERN_CBOR_FALSE)) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA, "presence: online (1) is not a bool");
            }
            have_online = true;
            online = it.u == TERN_CBOR_TRUE;
            break;
        case TERN_WIRE_P_FW:
        case TERN_WIRE_P_LINK:
        case TERN_WIRE_P_REGION: {
            size_t i = (size_t)(key - TERN_WIRE_P_FW);
            if (it.type != TERN_CBOR_TEXT || it.indefinite || !text_ok(it.ptr, it.len, FIELD_MAX)) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                              "presence: %s (%llu) is not a text of at most %d bytes", names[i],
                              (unsigned long long)key, FIELD_MAX);
            }
            copy_text(text[i], (const char *)it.ptr, it.len);
            text[i][it.len] = '\0';
            have_text[i] = true;
            break;
        }
        case TERN_WIRE_P_SEQ:
            if (it.type != TERN_CBOR_UINT) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                              "presence: next seq (5) is not an unsigned integer");
            }
            has_seq = true;
            next_seq = it.u;
            break;
        default: /* a key of a later version: skipped */
            if (tern_cbor_dec_skip(&d, &it) != TERN_OK) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA, "presence: bad value");
            }
            break;
        }
    }
    if (!have_online) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "presence: online (1) is missing");
    }
    /* A retained presence is the device's last birth (or will) replayed to a new subscription:
     * its next seq is as old as it is, below what ternd stored since, and must not be taken
     * for an erased outbox. Its other fields are the latest the broker has. */
    bool judge_seq = has_seq && !m->retained;
    int rc = ternd_store_begin(s);
    if (rc == 0) {
        rc = ternd_store_presence(s, m->id, online, have_text[0] ? text[0] : NULL,
                                  have_text[1] ? text[1] : NULL, have_text[2] ? text[2] : NULL,
                                  judge_seq, next_seq, m->now_ms);
    }
    if (rc == 0) {
        rc = ternd_store_commit(s);
    }
    if (rc != 0) {
        return store_failed(m, "presence");
    }
    m->in->stats.presence++;
    if (online) {
        char seqs[32] = "";
        if (has_seq) {
            snprintf(seqs, sizeof seqs, ", next seq %llu", (unsigned long long)next_seq);
        }
        ternd_log("%s: online (firmware %s, link %s, region %s%s)%s", m->id,
                  have_text[0] ? text[0] : "?", have_text[1] ? text[1] : "?",
                  have_text[2] ? text[2] : "?", seqs, m->retained ? " (retained)" : "");
    } else {
        ternd_log("%s: offline%s", m->id, m->retained ? " (retained)" : "");
    }
    return TERN_WIRE_OK;
}

/* --------------------------------------------------------------- twin -- */

typedef struct {
    ternd_twin_kv_t *kv;
    size_t n, cap;
} kvs_t;

static tern_wire_reject_t report_state(msg_ctx_t *m, tern_cbor_dec_t *d,
                                       const tern_cbor_item_t *map, kvs_t *out)
{
    tern_cbor_item_t it;
    (void)map;
    for (;;) {
        if (tern_cbor_dec_next(d, &it) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: bad state");
        }
        if (it.type == TERN_CBOR_END) {
            return TERN_WIRE_OK;
        }
        if (it.type != TERN_CBOR_TEXT || it.indefinite || it.len == 0 ||
            !text_ok(it.ptr, it.len, sizeof out->kv->key - 1)) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                          "twin report: a state key is not a text of 1 to %zu bytes",
                          sizeof out->kv->key - 1);
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 16;
            ternd_twin_kv_t *k = realloc(out->kv, cap * sizeof *k);
            if (k == NULL) {
                return refuse(m, TERN_WIRE_REJECT_STORE, "out of memory");
            }
            out->kv = k;
            out->cap = cap;
        }
        ternd_twin_kv_t *kv = &out->kv[out->n];
        memset(kv, 0, sizeof *kv);
        memcpy(kv->key, it.ptr, it.len);
        kv->key[it.len] = '\0';
        if (tern_cbor_dec_next(d, &it) != TERN_OK || tern_cbor_dec_skip(d, &it) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: bad value of '%s'", kv->key);
        }
        if (it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL) {
            kv->deleted = true;
        } else {
            kv->value = d->buf + it.offset;
            kv->len = tern_cbor_dec_offset(d) - it.offset;
        }
        out->n++;
    }
}

static tern_wire_reject_t twin_reported(msg_ctx_t *m, const uint8_t *p, size_t len)
{
    ternd_ingest_t *in = m->in;
    ternd_store_t *s = in->store;
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    bool have_version = false, have_applied = false, full = false, have_state = false, end = false;
    uint64_t version = 0, applied = 0, key = 0;
    kvs_t kvs = { NULL, 0, 0 };
    tern_wire_reject_t r;

    if ((r = open_map(m, &d, p, len, "twin report")) != TERN_WIRE_OK) {
        return r;
    }
    for (;;) {
        if (next_key(&d, &key, &end) != TERN_OK) {
            r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: a key is not an unsigned integer");
            goto out;
        }
        if (end) {
            break;
        }
        if (tern_cbor_dec_next(&d, &it) != TERN_OK) {
            r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: bad value");
            goto out;
        }
        switch (key) {
        case TERN_WIRE_R_VERSION:
        case TERN_WIRE_R_APPLIED:
            if (it.type != TERN_CBOR_UINT) {
                r = refuse(
                    m, TERN_WIRE_REJECT_SCHEMA, "twin report: %s (%llu) is not an unsigned integer",
                    key == TERN_WIRE_R_VERSION ? "version" : "applied", (unsigned long long)key);
                goto out;
            }
            if (key == TERN_WIRE_R_VERSION) {
                have_version = true;
                version = it.u;
            } else {
                have_applied = true;
                applied = it.u;
            }
            break;
        case TERN_WIRE_R_STATE:
            if (it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL) {
                break; /* as if absent */
            }
            if (it.type != TERN_CBOR_MAP) {
                r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: state (3) is not a map");
                goto out;
            }
            have_state = true;
            if ((r = report_state(m, &d, &it, &kvs)) != TERN_WIRE_OK) {
                goto out;
            }
            break;
        case TERN_WIRE_R_FULL:
            if (it.type != TERN_CBOR_SIMPLE ||
                (it.u != TERN_CBOR_TRUE && it.u != TERN_CBOR_FALSE)) {
                r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: full (4) is not a bool");
                goto out;
            }
            full = it.u == TERN_CBOR_TRUE;
            break;
        default:
            if (tern_cbor_dec_skip(&d, &it) != TERN_OK) {
                r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: bad value");
                goto out;
            }
            break;
        }
    }
    if (!have_version || !have_applied) {
        r = refuse(m, TERN_WIRE_REJECT_SCHEMA, "twin report: %s is missing",
                   !have_version ? "version (1)" : "applied (2)");
        goto out;
    }
    full = full && have_state; /* without a state the report only says where the device is */

    int stored = ternd_store_begin(s);
    if (stored == 0 && ternd_store_seen(s, m->id, m->now_ms) != 0) {
        stored = -1;
    }
    if (stored == 0) {
        stored = ternd_store_twin_report(s, m->id, version, applied, full, kvs.kv, kvs.n);
    }
    if (stored < 0 || ternd_store_commit(s) != 0) {
        r = store_failed(m, "twin report");
        goto out;
    }
    in->stats.reports++;
    if (stored == 0 && have_state) {
        in->stats.stale++;
        in->stats.rejected[TERN_WIRE_REJECT_STALE]++;
        ternd_log("reject %s: device %s, topic %s: reported version %llu is not above the "
                  "stored one (applied %llu noted)",
                  tern_wire_reject_name(TERN_WIRE_REJECT_STALE), m->id, m->topic,
                  (unsigned long long)version, (unsigned long long)applied);
    } else if (have_state) {
        ternd_log("%s: twin report: reported version %llu%s (%zu keys), applied desired %llu",
                  m->id, (unsigned long long)version, full ? " (full state)" : "", kvs.n,
                  (unsigned long long)applied);
    } else if (in->verbose) {
        ternd_log("%s: twin versions: reported %llu, applied desired %llu", m->id,
                  (unsigned long long)version, (unsigned long long)applied);
    }
    /* Always answered, stale or not: it says which desired version the device has now. */
    if (in->twin != NULL) {
        ternd_twin_server_report(in->twin, m->id, applied);
    }
    r = TERN_WIRE_OK;
out:
    free(kvs.kv);
    return r;
}

/* --------------------------------------------------------- certificates -- */

/* {1: the PKCS#10 request (DER, bytes), 2: its serial (uint)}: answered by certs.c. */
static tern_wire_reject_t cert_csr(msg_ctx_t *m, const uint8_t *p, size_t len)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    const uint8_t *der = NULL;
    size_t der_len = 0;
    bool have_der = false, have_serial = false, end = false;
    uint64_t serial = 0, key = 0;
    if (m->in->certs == NULL) {
        return refuse(m, TERN_WIRE_REJECT_TOPIC, "this ternd has no CA (--ca-cert, --ca-key)");
    }
    tern_wire_reject_t r = open_map(m, &d, p, len, "certificate request");
    if (r != TERN_WIRE_OK) {
        return r;
    }
    for (;;) {
        if (next_key(&d, &key, &end) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                          "certificate request: a key is not an unsigned integer");
        }
        if (end) {
            break;
        }
        if (tern_cbor_dec_next(&d, &it) != TERN_OK) {
            return refuse(m, TERN_WIRE_REJECT_SCHEMA, "certificate request: bad value");
        }
        switch (key) {
        case TERN_WIRE_C_DATA:
            if (it.type != TERN_CBOR_BYTES || it.indefinite || it.len == 0) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                              "certificate request: the request (1) is not a byte string");
            }
            der = it.ptr;
            der_len = it.len;
            have_der = true;
            break;
        case TERN_WIRE_C_SERIAL:
            if (it.type != TERN_CBOR_UINT) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                              "certificate request: the serial (2) is not an unsigned integer");
            }
            serial = it.u;
            have_serial = true;
            break;
        default: /* a key of a later version: skipped */
            if (tern_cbor_dec_skip(&d, &it) != TERN_OK) {
                return refuse(m, TERN_WIRE_REJECT_SCHEMA, "certificate request: bad value");
            }
            break;
        }
    }
    if (!have_der || !have_serial) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "certificate request: %s is missing",
                      !have_der ? "the request (1)" : "the serial (2)");
    }
    if (serial > (uint64_t)INT64_MAX) {
        return refuse(m, TERN_WIRE_REJECT_SCHEMA,
                      "certificate request: serial %llu is above 2^63-1",
                      (unsigned long long)serial);
    }
    char why[512];
    int rc =
        ternd_certs_request(m->in->certs, m->id, der, der_len, serial, m->now_ms, why, sizeof why);
    switch (rc) {
    case 0:
        m->in->stats.csr++;
        return TERN_WIRE_OK;
    case 1:
        return refuse(m, TERN_WIRE_REJECT_SCHEMA, "certificate request %llu refused: %s",
                      (unsigned long long)serial, why);
    case 2:
        return refuse(m, TERN_WIRE_REJECT_STALE, "certificate request %llu: %s",
                      (unsigned long long)serial, why);
    default:
        return refuse(m, TERN_WIRE_REJECT_STORE,
                      "certificate request %llu: %s (not acknowledged: the broker sends it again)",
                      (unsigned long long)serial, why);
    }
}

static tern_wire_reject_t cmd_resp(msg_ctx_t *m, size_t len)
{
    ternd_store_t *s = m->in->store;
    int rc = ternd_store_begin(s);
    if (rc == 0) {
        rc = ternd_store_seen(s, m->id, m->now_ms);
    }
    if (rc == 0) {
        rc = ternd_store_commit(s);
    }
    if (rc != 0) {
        return store_failed(m, "seen");
    }
    m->in->stats.cmd_resp++;
    ternd_log("%s: command response (%zu bytes)", m->id, len);
    return TERN_WIRE_OK;
}

/* --------------------------------------------------------------- entry -- */

/* The largest body of each device-to-fleet kind; 0: not one ternd takes. */
static size_t kind_max(tern_wire_kind_t kind)
{
    switch (kind) {
    case TERN_WIRE_TELEMETRY:
    case TERN_WIRE_CMD_RESP:
        return TERN_WIRE_TELEMETRY_MAX;
    case TERN_WIRE_PRESENCE:
    case TERN_WIRE_TWIN_REPORTED:
        return TERN_WIRE_TWIN_MAX;
    case TERN_WIRE_CERT_CSR:
        return TERN_WIRE_CERT_MAX;
    default:
        return 0;
    }
}

/* The id of a topic that tern_wire_topic_parse() refused, if it has a plausible one (for the
 * log). */
static void guess_id(char *id, size_t cap, const char *topic, size_t len)
{
    size_t pl = sizeof TERN_WIRE_PREFIX - 1;
    if (len > pl && memcmp(topic, TERN_WIRE_PREFIX, pl) == 0) {
        const char *slash = memchr(topic + pl, '/', len - pl);
        size_t n = slash ? (size_t)(slash - topic - pl) : len - pl;
        printable(id, cap, topic + pl, n);
    }
}

tern_wire_reject_t ternd_ingest_message(ternd_ingest_t *in, const char *topic, size_t topic_len,
                                        const char *seq_prop, size_t seq_len, bool retained,
                                        const uint8_t *payload, size_t len, int64_t now_ms)
{
    char shown[TERN_WIRE_TOPIC_MAX + 4], id[TERN_WIRE_ID_MAX + 1] = "?";
    const char *idp = NULL;
    size_t id_len = 0, body_len = 0;
    const uint8_t *body = NULL;
    tern_wire_kind_t kind = TERN_WIRE_KIND_COUNT;
    bool has_seq = false;
    uint32_t seq = 0;
    printable(shown, sizeof shown, topic, topic_len);
    msg_ctx_t m = { in, id, shown, now_ms, retained };
    in->stats.messages++;

    if (tern_wire_topic_parse(topic, topic_len, &idp, &id_len, &kind) != TERN_OK) {
        guess_id(id, sizeof id, topic, topic_len);
        return refuse(&m, TERN_WIRE_REJECT_TOPIC, "not tern/<device id>/<kind>");
    }
    memcpy(id, idp, id_len);
    id[id_len] = '\0';
    size_t max = kind_max(kind);
    if (max == 0) {
        return refuse(&m, TERN_WIRE_REJECT_TOPIC, "%s is not a device-to-fleet kind ternd takes",
                      tern_wire_kind_name(kind));
    }
    if (len > max + 4) { /* the body is at most 4 bytes shorter: refused before it is read */
        return refuse(&m, TERN_WIRE_REJECT_OVERSIZE, "%zu bytes (at most %zu)", len, max);
    }
    if (tern_wire_body(payload, len, seq_prop, seq_len, &has_seq, &seq, &body, &body_len) !=
        TERN_OK) {
        return refuse(&m, TERN_WIRE_REJECT_SCHEMA,
                      seq_prop ? "the user property \"seq\" is not a decimal number below 2^32"
                               : "too short for its 4-byte sequence number");
    }
    if (body_len > max) {
        return refuse(&m, TERN_WIRE_REJECT_OVERSIZE, "%zu bytes (at most %zu)", body_len, max);
    }
    switch (kind) {
    case TERN_WIRE_TELEMETRY:
        return telemetry(&m, has_seq, seq, body, body_len);
    case TERN_WIRE_PRESENCE:
        return presence(&m, body, body_len);
    case TERN_WIRE_TWIN_REPORTED:
        return twin_reported(&m, body, body_len);
    case TERN_WIRE_CERT_CSR:
        return cert_csr(&m, body, body_len);
    default:
        return cmd_resp(&m, body_len);
    }
}

tern_wire_reject_t ternd_ingest_chunk(ternd_ingest_t *in, const char *topic, size_t topic_len,
                                      const char *seq_prop, size_t seq_len, bool retained,
                                      const uint8_t *chunk, size_t chunk_len, size_t offset,
                                      size_t total, int64_t now_ms)
{
    if (offset == 0 && chunk_len >= total) {
        return ternd_ingest_message(in, topic, topic_len, seq_prop, seq_len, retained, chunk, total,
                                    now_ms);
    }
    if (offset == 0) { /* the first piece of a streamed message */
        in->part_len = 0;
        in->part_total = total;
        in->part_skip = total > TERN_WIRE_TELEMETRY_MAX + 4;
        if (!in->part_skip && in->part == NULL) {
            in->part = malloc(TERN_WIRE_TELEMETRY_MAX + 4);
            in->part_skip = in->part == NULL;
        }
    }
    if (offset != in->part_len || total != in->part_total || chunk_len > total - offset) {
        in->part_skip = true; /* not the piece that follows: cannot happen with one session */
    }
    if (!in->part_skip && chunk_len) {
        memcpy(in->part + in->part_len, chunk, chunk_len); /* total fits, checked above */
    }
    in->part_len = offset + chunk_len;
    if (in->part_len < total) {
        return TERN_WIRE_OK;
    }
    if (!in->part_skip) {
        return ternd_ingest_message(in, topic, topic_len, seq_prop, seq_len, retained, in->part,
                                    total, now_ms);
    }
    char shown[TERN_WIRE_TOPIC_MAX + 4], id[TERN_WIRE_ID_MAX + 1] = "?";
    printable(shown, sizeof shown, topic, topic_len);
    guess_id(id, sizeof id, topic, topic_len);
    msg_ctx_t m = { in, id, shown, now_ms, retained };
    in->stats.messages++;
    if (total <= TERN_WIRE_TELEMETRY_MAX + 4) { /* out of memory, or pieces out of order */
        return refuse(&m, TERN_WIRE_REJECT_STORE,
                      "could not assemble its %zu bytes (not acknowledged)", total);
    }
    return refuse(&m, TERN_WIRE_REJECT_OVERSIZE, "%zu bytes (at most %u)", total,
                  (unsigned)TERN_WIRE_TELEMETRY_MAX);
}
