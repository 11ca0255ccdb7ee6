/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device twin (tern/twin.h, which documents the flash format and the
 * version rules). The reported state lives in the caller's buffer exactly as
 * it is saved: a CBOR sequence of entries (key, version of its last change,
 * value), sorted by key, each value re-encoded deterministically. A change
 * encodes its new entry after the used bytes, then rotates it into place, so
 * it needs no scratch memory and a failure leaves the state as it was.
 * Saving writes the whole state into the slot that does not hold the newest
 * copy, so a cut anywhere leaves that copy intact.
 */
#include "tern/twin.h"

#include <string.h>

#include "tern/cbor.h"
#include "tern/crc.h"
#include "tern/wire.h"

enum {
    HDR = 32,           /* magic, CRC, generation, length, next, acked, applied, reserved */
    CHUNK = 32,         /* the largest program unit */
    MAGIC = 0x314E5754, /* "TWN1" little-endian */
    F_SEALED = 0x10,    /* a report carrying version `next` may have been built */
    F_DIRTY = 0x20,     /* RAM is ahead of flash: save before anything leaves */
    HELLO = 0,
    CHANGES,
    FULL,
};

static const uint8_t k_null = 0xF6;

/* One entry of the state: bytes [at, end), key item [at, kend), value [val, end). */
typedef struct ent {
    size_t at, kend, val, end;
    const char *key;
    size_t klen;
    uint32_t chg;
    bool tomb; /* the value is null: a deletion not yet acknowledged */
} ent_t;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Deterministic order of text keys: shorter first, then bytewise (RFC 8949 4.2.1). */
static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    return al != bl ? (al < bl ? -1 : 1) : memcmp(a, b, al);
}

/* The next item of an entry or a delta, which must be there. */
static tern_err_t item(tern_cbor_dec_t *d, tern_cbor_item_t *it)
{
    tern_err_t err = tern_cbor_dec_next(d, it);
    return err == TERN_ERR_EMPTY ? TERN_ERR_MALFORMED : err;
}

/* Whether @p it is a definite item of type @p type. */
static bool is(const tern_cbor_item_t *it, tern_cbor_type_t type)
{
    return it->type == type && !it->indefinite;
}

/*
 * Write the item whose head @p it was just taken from @p d, and the rest of it, to
 * @p e re-encoded (@p e NULL: only check it). Indefinite lengths are refused: their
 * count is not known up front.
 */
static tern_err_t copy_value(tern_cbor_dec_t *d, tern_cbor_enc_t *e, tern_cbor_item_t *it)
{
    unsigned open = 0;
    for (;;) {
        if (it->indefinite) {
            return TERN_ERR_MALFORMED;
        }
        open += it->type == TERN_CBOR_ARRAY || it->type == TERN_CBOR_MAP;
        open -= it->type == TERN_CBOR_END;
        if (e != NULL) {
            switch (it->type) {
            case TERN_CBOR_UINT:
                (void)tern_cbor_enc_uint(e, it->u);
                break;
            case TERN_CBOR_NEGINT:
                (void)tern_cbor_enc_negative(e, it->u);
                break;
            case TERN_CBOR_BYTES:
                (void)tern_cbor_enc_bytes(e, it->ptr, it->len);
                break;
            case TERN_CBOR_TEXT:
                (void)tern_cbor_enc_text(e, (const char *)it->ptr, it->len);
                break;
            case TERN_CBOR_ARRAY:
                (void)tern_cbor_enc_array(e, it->u);
                break;
            case TERN_CBOR_MAP:
                (void)tern_cbor_enc_map(e, it->u);
                break;
            case TERN_CBOR_TAG:
                (void)tern_cbor_enc_tag(e, it->u);
                break;
            case TERN_CBOR_SIMPLE:
                (void)tern_cbor_enc_simple(e, (uint8_t)it->u);
                break;
            case TERN_CBOR_FLOAT:
                (void)tern_cbor_enc_float(e, it->f);
                break;
            default: /* END: the encoder closes definite containers by their count */
                break;
            }
        }
        if (open == 0 && it->type != TERN_CBOR_TAG) {
            return TERN_OK; /* the encoder's sticky error is checked by its finish */
        }
        tern_err_t err = item(d, it);
        if (err != TERN_OK) {
            return err;
        }
    }
}

/* Decode the entry at @p at of buf[0, end) (flash or RAM; @p flags for mount's checks). */
static tern_err_t ent_at(const uint8_t *buf, size_t end, size_t at, unsigned flags, ent_t *e)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t k, c, v;
    tern_cbor_dec_init(&d, buf + at, end - at, flags | TERN_CBOR_SEQUENCE);
    tern_err_t err = item(&d, &k);
    if (err != TERN_OK) {
        return err;
    }
    e->kend = at + tern_cbor_dec_offset(&d);
    if ((err = item(&d, &c)) != TERN_OK || (err = item(&d, &v)) != TERN_OK ||
        (err = tern_cbor_dec_skip(&d, &v)) != TERN_OK) {
        return err;
    }
    e->at = at;
    e->key = (const char *)k.ptr;
    e->klen = k.len;
    e->chg = (uint32_t)c.u;
    e->val = at + v.offset;
    e->end = at + tern_cbor_dec_offset(&d);
    e->tomb = v.type == TERN_CBOR_SIMPLE && v.u == TERN_CBOR_NULL;
    return k.type != TERN_CBOR_TEXT || k.indefinite || c.type != TERN_CBOR_UINT || c.u > UINT32_MAX
               ? TERN_ERR_MALFORMED
               : TERN_OK;
}

/* The entry of @p key in *e (*found), or where it would go (e->at == e->end). */
static tern_err_t find(const tern_twin_t *t, const char *key, size_t klen, ent_t *e, bool *found)
{
    *found = false;
    for (size_t at = 0; at < t->used; at = e->end) {
        tern_err_t err = ent_at(t->cfg.state_buf, t->used, at, 0, e);
        if (err != TERN_OK) {
            return err;
        }
        int c = key_cmp(key, klen, e->key, e->klen);
        if (c <= 0) {
            *found = c == 0;
            e->end = c == 0 ? e->end : at;
            return TERN_OK;
        }
    }
    e->at = e->end = t->used;
    return TERN_OK;
}

static void reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t c = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = c;
    }
}

/*
 * Encode the entry (@p key, @p v, the CBOR item @p val re-encoded) at buf + t->used;
 * *n its bytes. Not inlined, so its encoder and decoder are off the stack when put()
 * goes on.
 */
static __attribute__((noinline)) tern_err_t encode(const tern_twin_t *t, const char *key,
                                                   size_t klen, uint32_t v, const uint8_t *val,
                                                   size_t vlen, size_t *n)
{
    tern_cbor_enc_t enc;
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_enc_init(&enc, t->cfg.state_buf + t->used, t->cap - t->used, TERN_CBOR_DETERMINISTIC);
    (void)tern_cbor_enc_text(&enc, key, klen);
    (void)tern_cbor_enc_uint(&enc, v);
    tern_cbor_dec_init(&d, val, vlen, 0);
    tern_err_t err = item(&d, &it);
    if (err == TERN_OK && (err = copy_value(&d, &enc, &it)) == TERN_OK) { /* one item only */
        err = tern_cbor_dec_next(&d, &it);
        err = err == TERN_ERR_EMPTY ? tern_cbor_enc_finish(&enc, n)
              : err == TERN_OK      ? TERN_ERR_MALFORMED
                                    : err;
    }
    return err;
}

/*
 * Set reported @p key to the CBOR item @p val (null: a tombstone), in RAM: the new
 * entry is encoded after the used bytes, checked, then rotated into its place.
 */
static tern_err_t put(tern_twin_t *t, const char *key, size_t klen, const uint8_t *val, size_t vlen)
{
    uint8_t *buf = t->cfg.state_buf;
    uint32_t v = t->next + ((t->flags & F_SEALED) != 0); /* a built version is closed */
    size_t n = 0;
    ent_t e;
    bool found;
    tern_err_t err = encode(t, key, klen, v, val, vlen, &n);
    if (err != TERN_OK ||
        (err = ent_at(buf, t->used + n, t->used, 0, &e)) != TERN_OK || /* the key's UTF-8 */
        (err = find(t, key, klen, &e, &found)) != TERN_OK) {
        return err;
    }
    /* drop the old entry [at, end), then rotate the new one from the end to `at` */
    size_t at = e.at, used = t->used - (e.end - at) + n;
    memmove(buf + at, buf + e.end, t->used + n - e.end);
    reverse(buf + at, used - n - at);
    reverse(buf + used - n, n);
    reverse(buf + at, used - at);
    t->used = used;
    t->next = v;
    t->flags = (uint8_t)((t->flags & ~F_SEALED) | TERN_TWIN_WANT_REPORT);
    return TERN_OK;
}

/* Write the state into the other slot: erase it, then the header and the entries. */
static tern_err_t save(tern_twin_t *t)
{
    uint8_t h[HDR];
    const uint8_t *buf = t->cfg.state_buf;
    const tern_flash_t *f = &t->cfg.flash;
    uint32_t base = (uint32_t)(t->slot ^ 1u) * t->sector;
    size_t used = t->used;
    const uint32_t fields[HDR / 4] = { MAGIC,   0,        t->gen + 1, (uint32_t)used,
                                       t->next, t->acked, t->applied, 0xFFFFFFFFu };
    for (size_t i = 0; i < HDR / 4; i++) {
        put32(h + 4 * i, fields[i]);
    }
    put32(h + 4, tern_crc32_update(tern_crc32(h + 8, HDR - 8), buf, used));
    t->flags |= F_DIRTY;
    tern_err_t err = tern_flash_erase(f, base);
    if (err == TERN_OK && (err = tern_flash_program(f, base, h, HDR)) == TERN_OK) {
        err = tern_flash_program_padded(f, base + HDR, buf, used);
    }
    if (err == TERN_OK) {
        t->slot ^= 1u;
        t->gen++;
        t->flags &= (uint8_t)~F_DIRTY;
    }
    return err;
}

/* Load the copy in slot @p s (header @p h): TERN_ERR_CORRUPT if it is not a valid one. */
static tern_err_t load(tern_twin_t *t, unsigned s, const uint8_t *h)
{
    uint32_t len = get32(h + 12);
    if (get32(h) != MAGIC || len > t->cap) {
        return TERN_ERR_CORRUPT;
    }
    tern_err_t err = tern_flash_read(&t->cfg.flash, s * t->sector + HDR, t->cfg.state_buf, len);
    if (err != TERN_OK) {
        return err;
    }
    t->used = len;
    t->next = get32(h + 16);
    t->acked = get32(h + 20);
    t->applied = get32(h + 24);
    if (tern_crc32_update(tern_crc32(h + 8, HDR - 8), t->cfg.state_buf, len) != get32(h + 4) ||
        t->acked > t->next) {
        return TERN_ERR_CORRUPT;
    }
    ent_t e, prev = { 0 };
    for (size_t at = 0; at < len; at = e.end) {
        if (ent_at(t->cfg.state_buf, len, at, TERN_CBOR_DETERMINISTIC, &e) != TERN_OK ||
            e.chg > t->next || (at > 0 && key_cmp(prev.key, prev.klen, e.key, e.klen) >= 0)) {
            return TERN_ERR_CORRUPT;
        }
        prev = e;
    }
    t->slot = (uint8_t)s;
    t->gen = get32(h + 8);
    return TERN_OK;
}

/*
 * Count the entries a report of @p mode carries (changes not acknowledged, or every
 * key not deleted) into *n and, if @p enc is not NULL, write them as its map's pairs.
 */
static tern_err_t each(const tern_twin_t *t, int mode, tern_cbor_enc_t *enc, size_t *n)
{
    const uint8_t *buf = t->cfg.state_buf;
    ent_t e;
    *n = 0;
    for (size_t at = 0; at < t->used; at = e.end) {
        tern_err_t err = ent_at(buf, t->used, at, 0, &e);
        if (err != TERN_OK) {
            return err;
        }
        if (mode == FULL ? !e.tomb : e.chg > t->acked) {
            ++*n;
            if (enc != NULL) {
                (void)tern_cbor_enc_raw(enc, buf + at, e.kend - at);
                (void)tern_cbor_enc_raw(enc, buf + e.val, e.end - e.val);
            }
        }
    }
    return TERN_OK;
}

tern_err_t tern_twin_mount(tern_twin_t *t, const tern_twin_config_t *cfg)
{
    tern_flash_geometry_t g;
    if (t == NULL || cfg == NULL || cfg->state_buf == NULL ||
        (cfg->n_handlers > 0 && cfg->handlers == NULL)) {
        return TERN_ERR_INVAL;
    }
    for (size_t i = 0; i < cfg->n_handlers; i++) {
        if (cfg->handlers[i].key == NULL || cfg->handlers[i].fn == NULL) {
            return TERN_ERR_INVAL;
        }
    }
    tern_err_t err = tern_flash_geometry(&cfg->flash, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (g.sector_size <= HDR || g.size / g.sector_size < 2) {
        return TERN_ERR_INVAL;
    }
    if (g.prog_size == 0 || CHUNK % g.prog_size != 0) {
        return TERN_ERR_UNSUPPORTED;
    }
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->sector = g.sector_size;
    t->prog = (uint8_t)g.prog_size;
    t->cap = cfg->state_cap < g.sector_size - HDR ? cfg->state_cap : g.sector_size - HDR;
    uint8_t h[2][HDR];
    for (unsigned s = 0; s < 2; s++) {
        if ((err = tern_flash_read(&cfg->flash, s * g.sector_size, h[s], HDR)) != TERN_OK) {
            return err;
        }
    }
    /* the newer generation first (serial order: it may wrap) */
    unsigned first = (int32_t)(get32(h[1] + 8) - get32(h[0] + 8)) > 0;
    for (unsigned k = 0; k < 2; k++) {
        err = load(t, first ^ k, h[first ^ k]);
        if (err != TERN_ERR_CORRUPT) {
            break;
        }
    }
    if (err == TERN_ERR_CORRUPT) { /* nothing valid: an empty twin; the first save goes to 0 */
        t->used = 0;
        t->next = t->acked = t->applied = t->gen = 0;
        t->slot = 1;
        err = TERN_OK;
    }
    size_t n = 0;
    if (err == TERN_OK && (err = each(t, CHANGES, NULL, &n)) == TERN_OK) {
        /* after a reset the newest version may have left in a report: close it */
        t->flags = (uint8_t)(F_SEALED | (n > 0 ? TERN_TWIN_WANT_REPORT : 0));
    }
    return err;
}

static tern_twin_handler_fn handler_of(const tern_twin_t *t, const char *key, size_t klen)
{
    for (size_t i = 0; i < t->cfg.n_handlers; i++) {
        const char *name = t->cfg.handlers[i].key;
        if (strlen(name) == klen && memcmp(name, key, klen) == 0) {
            return t->cfg.handlers[i].fn;
        }
    }
    return t->cfg.default_handler;
}

/*
 * Check a whole delta before anything changes: v[1] and v[2] its versions, [*s0, *s1)
 * the pairs of its key 3 (a CBOR sequence). The decoder's error, or TERN_ERR_MALFORMED.
 * Not inlined, so its decoder is off the stack while the handlers run.
 */
static __attribute__((noinline)) tern_err_t check_delta(const uint8_t *p, size_t len, uint32_t v[3],
                                                        size_t *s0, size_t *s1)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    unsigned seen = 0;
    tern_cbor_dec_init(&d, p, len, TERN_CBOR_CHECK_DUPLICATES);
    tern_err_t err = item(&d, &it);
    bool ok = err == TERN_OK && is(&it, TERN_CBOR_MAP);
    while (err == TERN_OK && ok && (err = item(&d, &it)) == TERN_OK && it.type != TERN_CBOR_END) {
        uint64_t k = it.u;
        if (!(ok = it.type == TERN_CBOR_UINT) || (err = item(&d, &it)) != TERN_OK) {
            break;
        }
        if (k == TERN_WIRE_D_VERSION || k == TERN_WIRE_D_FROM) {
            ok = it.type == TERN_CBOR_UINT && it.u <= UINT32_MAX;
            v[k] = (uint32_t)it.u;
            seen |= 1u << k;
        } else if (k != TERN_WIRE_D_STATE) {
            err = copy_value(&d, NULL, &it); /* a key of a later schema */
        } else if ((ok = is(&it, TERN_CBOR_MAP))) {
            *s0 = tern_cbor_dec_offset(&d);
            while ((err = item(&d, &it)) == TERN_OK && it.type != TERN_CBOR_END &&
                   (ok = is(&it, TERN_CBOR_TEXT)) && (err = item(&d, &it)) == TERN_OK &&
                   (err = copy_value(&d, NULL, &it)) == TERN_OK) {
            }
            *s1 = tern_cbor_dec_offset(&d);
        }
    }
    if (err == TERN_OK && ok) {
        err = tern_cbor_dec_next(&d, &it); /* nothing may follow */
        err = err == TERN_ERR_EMPTY ? TERN_OK : err;
        ok = seen == 6u && v[TERN_WIRE_D_VERSION] > v[TERN_WIRE_D_FROM];
    }
    return err != TERN_OK ? err : ok ? TERN_OK : TERN_ERR_MALFORMED;
}

tern_err_t tern_twin_on_delta(tern_twin_t *t, const uint8_t *payload, size_t len,
                              tern_twin_outcome_t *outcome)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    uint32_t v[3] = { 0, 0, 0 }; /* by key: -, version, from */
    size_t s0 = 0, s1 = 0;       /* the pairs of key 3 */
    if (t == NULL || (payload == NULL && len > 0)) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = check_delta(payload, len, v, &s0, &s1);
    if (err != TERN_OK) {
        return err;
    }
    tern_twin_outcome_t oc = v[TERN_WIRE_D_VERSION] <= t->applied ? TERN_TWIN_STALE
                             : v[TERN_WIRE_D_FROM] > t->applied   ? TERN_TWIN_GAP
                                                                  : TERN_TWIN_APPLIED;
    if (outcome != NULL) {
        *outcome = oc;
    }
    if (oc == TERN_TWIN_GAP) {
        t->flags |= TERN_TWIN_WANT_HELLO;
    }
    if (oc != TERN_TWIN_APPLIED) {
        return TERN_OK;
    }
    /* Apply: each key to its handler; what it accepts becomes reported state. */
    tern_err_t res = TERN_OK;
    const uint8_t *pairs = payload + s0;
    tern_cbor_dec_init(&d, pairs, s1 - s0, TERN_CBOR_SEQUENCE);
    while (tern_cbor_dec_next(&d, &it) == TERN_OK) {
        const char *key = (const char *)it.ptr;
        size_t klen = it.len;
        if (item(&d, &it) != TERN_OK || tern_cbor_dec_skip(&d, &it) != TERN_OK) {
            break; /* cannot happen: checked above */
        }
        const uint8_t *val = pairs + it.offset;
        size_t vlen = tern_cbor_dec_offset(&d) - it.offset;
        bool del = it.type == TERN_CBOR_SIMPLE && it.u == TERN_CBOR_NULL;
        tern_twin_handler_fn fn = handler_of(t, key, klen);
        if (fn != NULL &&
            fn(t->cfg.ctx, key, klen, del ? NULL : val, del ? 0 : vlen, del) == TERN_OK) {
            err = put(t, key, klen, val, vlen);
            res = res != TERN_OK ? res : err;
        }
    }
    t->applied = v[TERN_WIRE_D_VERSION];
    t->flags |= TERN_TWIN_WANT_HELLO;
    err = save(t);
    return err != TERN_OK ? err : res;
}

tern_err_t tern_twin_report_set(tern_twin_t *t, const char *key, const uint8_t *value, size_t len)
{
    if (t == NULL || key == NULL || value == NULL) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = put(t, key, strlen(key), value, len);
    return err != TERN_OK ? err : save(t);
}

tern_err_t tern_twin_report_delete(tern_twin_t *t, const char *key)
{
    return tern_twin_report_set(t, key, &k_null, 1);
}

tern_err_t tern_twin_report_get(const tern_twin_t *t, const char *key, const uint8_t **value,
                                size_t *len)
{
    ent_t e;
    bool found;
    if (t == NULL || key == NULL || value == NULL || len == NULL) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = find(t, key, strlen(key), &e, &found);
    if (err == TERN_OK && (!found || e.tomb)) {
        err = TERN_ERR_NOT_FOUND;
    }
    *value = err == TERN_OK ? t->cfg.state_buf + e.val : NULL;
    *len = err == TERN_OK ? e.end - e.val : 0;
    return err;
}

static tern_err_t build(tern_twin_t *t, int mode, uint8_t *buf, size_t cap, size_t *len,
                        uint32_t *version)
{
    size_t n = 0;
    if (t == NULL || buf == NULL || len == NULL) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = (t->flags & F_DIRTY) ? save(t) : TERN_OK; /* nothing leaves unsaved */
    if (err == TERN_OK) {
        err = each(t, mode, NULL, &n);
    }
    if (err != TERN_OK) {
        return err;
    }
    mode = mode == CHANGES && n == 0 ? HELLO : mode;
    /* a full report after a built one needs a version of its own */
    uint32_t v = mode == HELLO ? t->acked : t->next + (mode == FULL && (t->flags & F_SEALED));
    tern_cbor_enc_t enc;
    tern_cbor_enc_init(&enc, buf, cap, 0); /* the entries are deterministic and in order */
    (void)tern_cbor_enc_map(&enc, 2u + (mode != HELLO) + (mode == FULL));
    (void)tern_cbor_enc_uint(&enc, TERN_WIRE_R_VERSION);
    (void)tern_cbor_enc_uint(&enc, v);
    (void)tern_cbor_enc_uint(&enc, TERN_WIRE_R_APPLIED);
    (void)tern_cbor_enc_uint(&enc, t->applied);
    if (mode != HELLO) {
        (void)tern_cbor_enc_uint(&enc, TERN_WIRE_R_STATE);
        (void)tern_cbor_enc_map(&enc, n);
        err = each(t, mode, &enc, &n);
    }
    if (mode == FULL) {
        (void)tern_cbor_enc_uint(&enc, TERN_WIRE_R_FULL);
        (void)tern_cbor_enc_bool(&enc, true);
    }
    if (err != TERN_OK || (err = tern_cbor_enc_finish(&enc, len)) != TERN_OK) {
        return err;
    }
    if (mode != HELLO && v != t->next) {
        t->next = v;
        if ((err = save(t)) != TERN_OK) {
            t->next = v - 1u;
            return err;
        }
    }
    if (mode != HELLO) {
        t->flags = (uint8_t)((t->flags | F_SEALED) & ~TERN_TWIN_WANT_REPORT);
    }
    t->flags &= (uint8_t)~TERN_TWIN_WANT_HELLO;
    if (version != NULL) {
        *version = v;
    }
    return TERN_OK;
}

tern_err_t tern_twin_build_report(tern_twin_t *t, uint8_t *buf, size_t cap, size_t *len, bool full,
                                  uint32_t *version)
{
    return build(t, full ? FULL : CHANGES, buf, cap, len, version);
}

tern_err_t tern_twin_build_hello(tern_twin_t *t, uint8_t *buf, size_t cap, size_t *len)
{
    return build(t, HELLO, buf, cap, len, NULL);
}

tern_err_t tern_twin_report_sent(tern_twin_t *t, uint32_t version)
{
    if (t == NULL || version > t->next - ((t->flags & F_SEALED) == 0)) {
        return TERN_ERR_RANGE; /* no report of that version was built */
    }
    if (version <= t->acked) {
        return TERN_OK;
    }
    t->acked = version;
    uint8_t *buf = t->cfg.state_buf;
    ent_t e;
    for (size_t at = 0; at < t->used;) { /* deletions ternd now has are done with */
        tern_err_t err = ent_at(buf, t->used, at, 0, &e);
        if (err != TERN_OK) {
            return err;
        }
        if (e.tomb && e.chg <= version) {
            memmove(buf + at, buf + e.end, t->used - e.end);
            t->used -= e.end - at;
        } else {
            at = e.end;
        }
    }
    return save(t);
}

unsigned tern_twin_wants(const tern_twin_t *t)
{
    size_t n = 0;
    (void)each(t, CHANGES, NULL, &n);
    return (t->flags & (TERN_TWIN_WANT_HELLO | TERN_TWIN_WANT_REPORT)) |
           (n > 0 ? TERN_TWIN_UNACKED : 0u);
}

uint32_t tern_twin_applied(const tern_twin_t *t)
{
    return t->applied;
}
