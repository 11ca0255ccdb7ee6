/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device's identities and trust stores (tern/identity.h, which documents
 * the life cycle). The state is a 64-byte header of counters and a run of
 * tagged items (tag u8, length u16 little-endian, bytes): the chains, the
 * trust stores, the fallback key's label and the quarantine detail. The RAM
 * copy is exactly what is saved; a save writes header and items into the
 * slot that does not hold the newest copy, with a CRC over both and the next
 * generation, so a cut at any write leaves the newest copy whole.
 */
#include "tern/identity.h"

#include <string.h>

#include "tern/crc.h"
#include "tern/wire.h"

enum {
    HDR = 64,
    MAGIC = 0x31444954, /* "TID1" little-endian */
    T_OP = 1,           /* chain of the operational identity (absent: the fallback's) */
    T_NEXT,             /* chain of the identity a rotation prepares */
    T_FB,               /* chain of the fallback identity */
    T_PRIMARY,          /* trust stores */
    T_TENTATIVE,
    T_FB_TRUST,
    T_FB_LABEL, /* the fallback key's label */
    T_DETAIL,   /* the quarantine report's TLS detail */
    T_LAST = T_DETAIL,
    PERMILLE = 667,
    MAX_FAILURES = 3,
};

static const uint8_t k_trust_tag[TERN_TRUST_COUNT] = { T_PRIMARY, T_TENTATIVE, T_FB_TRUST };

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

/* The item @p tag: its bytes and length, or NULL. */
static const uint8_t *item(const tern_identity_t *id, unsigned tag, size_t *len)
{
    const uint8_t *b = id->c.buf;
    for (size_t at = 0; at + 3 <= id->used;) {
        size_t n = (size_t)b[at + 1] | (size_t)b[at + 2] << 8;
        if (b[at] == tag) {
            *len = n;
            return b + at + 3;
        }
        at += 3 + n;
    }
    *len = 0;
    return NULL;
}

static void drop(tern_identity_t *id, unsigned tag)
{
    size_t n;
    const uint8_t *p = item(id, tag, &n);
    if (p != NULL) {
        uint8_t *at = (uint8_t *)p - 3;
        size_t end = (size_t)(p - id->c.buf) + n;
        memmove(at, p + n, id->used - end);
        id->used -= 3 + n;
    }
}

/* Replace item @p tag by @p len bytes at @p src (not inside the buffer). */
static tern_err_t set(tern_identity_t *id, unsigned tag, const void *src, size_t len)
{
    size_t have;
    (void)item(id, tag, &have);
    size_t cap = id->c.cap < id->c.slot_size - HDR ? id->c.cap : id->c.slot_size - HDR;
    if (len > 0xFFFF || id->used - (have ? have + 3 : 0) + 3 + len > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    drop(id, tag);
    uint8_t *at = id->c.buf + id->used;
    at[0] = (uint8_t)tag;
    at[1] = (uint8_t)len;
    at[2] = (uint8_t)(len >> 8);
    memcpy(at + 3, src, len);
    id->used += 3 + len;
    return TERN_OK;
}

/* Item @p from becomes item @p to (which it replaces). */
static void move(tern_identity_t *id, unsigned from, unsigned to)
{
    size_t n;
    if (item(id, from, &n) != NULL) {
        drop(id, to);
        uint8_t *p = (uint8_t *)item(id, from, &n);
        p[-3] = (uint8_t)to;
    }
}

static void header(const tern_identity_t *id, uint8_t h[HDR], uint32_t gen)
{
    memset(h, 0xFF, HDR);
    const uint32_t f[] = { MAGIC,
                           0,
                           gen,
                           (uint32_t)id->used,
                           (uint32_t)id->rot | (uint32_t)id->quarantined << 8 |
                               (uint32_t)id->trust_fails << 16 | (uint32_t)id->next_fails << 24,
                           id->serial,
                           id->op_serial,
                           id->retire_serial,
                           id->trust_version,
                           id->tentative_version,
                           (uint32_t)id->last_err,
                           id->fail_identity,
                           id->op_since,
                           id->next_since };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        put32(h + 4 * i, f[i]);
    }
    put32(h + 4, tern_crc32_update(tern_crc32(h + 8, HDR - 8), id->c.buf, id->used));
}

static tern_err_t save(tern_identity_t *id)
{
    uint8_t h[HDR];
    const tern_flash_t *f = &id->c.flash;
    uint32_t base = (uint32_t)(id->slot ^ 1u) * id->c.slot_size;
    header(id, h, id->gen + 1);
    tern_err_t err = TERN_OK;
    for (uint32_t s = 0; err == TERN_OK && s < id->c.slot_size; s += id->sector) {
        err = tern_flash_erase(f, base + s);
    }
    if (err == TERN_OK &&
        (err = tern_flash_program_padded(f, base + HDR, id->c.buf, id->used)) == TERN_OK) {
        err = tern_flash_program(f, base, h, HDR); /* the header last: a valid copy is whole */
    }
    if (err == TERN_OK) {
        id->slot ^= 1u;
        id->gen++;
    }
    return err;
}

static tern_err_t load(tern_identity_t *id, unsigned s, const uint8_t *h)
{
    size_t cap = id->c.cap < id->c.slot_size - HDR ? id->c.cap : id->c.slot_size - HDR;
    uint32_t used = get32(h + 12), st = get32(h + 16);
    if (get32(h) != MAGIC || used > cap || (st & 0xFF) > TERN_ROTATION_CERT) {
        return TERN_ERR_CORRUPT;
    }
    tern_err_t err = tern_flash_read(&id->c.flash, s * id->c.slot_size + HDR, id->c.buf, used);
    if (err != TERN_OK) {
        return err;
    }
    if (tern_crc32_update(tern_crc32(h + 8, HDR - 8), id->c.buf, used) != get32(h + 4)) {
        return TERN_ERR_CORRUPT;
    }
    size_t n;
    for (size_t at = 0; at < used; at += 3 + n) { /* the items must tile the buffer */
        n = at + 3 <= used ? (size_t)id->c.buf[at + 1] | (size_t)id->c.buf[at + 2] << 8 : used;
        if (at + 3 + n > used || id->c.buf[at] == 0 || id->c.buf[at] > T_LAST) {
            return TERN_ERR_CORRUPT;
        }
    }
    id->used = used;
    id->rot = (uint8_t)st;
    id->quarantined = (uint8_t)(st >> 8);
    id->trust_fails = (uint8_t)(st >> 16);
    id->next_fails = (uint8_t)(st >> 24);
    id->serial = get32(h + 20);
    id->op_serial = get32(h + 24);
    id->retire_serial = get32(h + 28);
    id->trust_version = get32(h + 32);
    id->tentative_version = get32(h + 36);
    id->last_err = (int32_t)get32(h + 40);
    id->fail_identity = (uint8_t)get32(h + 44);
    id->op_since = get32(h + 48);
    id->next_since = get32(h + 52);
    id->gen = get32(h + 8);
    id->slot = (uint8_t)s;
    size_t fl;
    return item(id, T_FB, &fl) != NULL && item(id, T_FB_LABEL, &fl) != NULL &&
                   item(id, T_PRIMARY, &fl) != NULL && item(id, T_FB_TRUST, &fl) != NULL
               ? TERN_OK
               : TERN_ERR_CORRUPT;
}

/* "op<serial>" into @p out. */
static void op_label(uint32_t serial, char out[TERN_IDENTITY_LABEL_MAX + 1])
{
    char d[10];
    int n = 0;
    do {
        d[n++] = (char)('0' + serial % 10u);
        serial /= 10u;
    } while (serial != 0);
    out[0] = 'o';
    out[1] = 'p';
    for (int i = 0; i < n; i++) {
        out[2 + i] = d[n - 1 - i];
    }
    out[2 + n] = '\0';
}

/* The key label of @p which into @p out. */
static void label_of(const tern_identity_t *id, tern_identity_which_t which,
                     char out[TERN_IDENTITY_LABEL_MAX + 1])
{
    size_t n;
    uint32_t serial = which == TERN_IDENTITY_NEXT          ? id->serial
                      : which == TERN_IDENTITY_OPERATIONAL ? id->op_serial
                                                           : 0;
    if (serial != 0) {
        op_label(serial, out);
        return;
    }
    const uint8_t *p = item(id, T_FB_LABEL, &n);
    n = n > TERN_IDENTITY_LABEL_MAX ? TERN_IDENTITY_LABEL_MAX : n;
    memcpy(out, p, n);
    out[n] = '\0';
}

const uint8_t *tern_identity_chain(const tern_identity_t *id, tern_identity_which_t which,
                                   size_t *len)
{
    static const uint8_t tags[TERN_IDENTITY_COUNT] = { T_OP, T_NEXT, T_FB };
    if (which == TERN_IDENTITY_OPERATIONAL && id->op_serial == 0) {
        which = TERN_IDENTITY_FALLBACK;
    }
    return (unsigned)which < TERN_IDENTITY_COUNT ? item(id, tags[which], len) : NULL;
}

/* The old operational key is no longer named: destroy it (the state names it until then). */
static tern_err_t retire(tern_identity_t *id)
{
    char label[TERN_IDENTITY_LABEL_MAX + 1];
    if (id->retire_serial == 0) {
        return TERN_OK;
    }
    op_label(id->retire_serial, label);
    tern_err_t err = tern_keystore_destroy(id->c.keystore, label);
    if (err != TERN_OK && err != TERN_ERR_NOT_FOUND) {
        return err;
    }
    id->retire_serial = 0;
    return save(id);
}

tern_err_t tern_identity_mount(tern_identity_t *id, const tern_identity_config_t *cfg)
{
    tern_flash_geometry_t g;
    if (id == NULL || cfg == NULL || cfg->buf == NULL || cfg->keystore == NULL ||
        cfg->x509 == NULL || cfg->device_id == NULL || cfg->retry == NULL) {
        return TERN_ERR_INVAL;
    }
    tern_err_t err = tern_flash_geometry(&cfg->flash, &g);
    if (err != TERN_OK) {
        return err;
    }
    memset(id, 0, sizeof *id);
    id->c = *cfg;
    id->sector = g.sector_size;
    if (id->c.slot_size == 0) {
        id->c.slot_size = g.sector_size;
    }
    if (id->c.slot_size % g.sector_size != 0 || id->c.slot_size <= HDR ||
        id->c.slot_size > g.size / 2) {
        return TERN_ERR_INVAL;
    }
    if (id->c.rotate_permille == 0 || id->c.rotate_permille > 1000) {
        id->c.rotate_permille = PERMILLE;
    }
    if (id->c.max_failures == 0) {
        id->c.max_failures = MAX_FAILURES;
    }
    uint8_t h[2][HDR];
    for (unsigned s = 0; s < 2; s++) {
        if ((err = tern_flash_read(&cfg->flash, s * id->c.slot_size, h[s], HDR)) != TERN_OK) {
            return err;
        }
    }
    unsigned first = (int32_t)(get32(h[1] + 8) - get32(h[0] + 8)) > 0;
    for (unsigned k = 0; k < 2; k++) {
        err = load(id, first ^ k, h[first ^ k]);
        if (err != TERN_ERR_CORRUPT) {
            break;
        }
    }
    if (err == TERN_ERR_CORRUPT) { /* nothing valid: to be provisioned; first save to slot 0 */
        id->used = 0;
        id->slot = 1;
        id->gen = 0;
        id->provisioned = false;
        return TERN_ERR_NOT_FOUND;
    }
    if (err != TERN_OK) {
        return err;
    }
    id->provisioned = true;
    return retire(id); /* a cut may have come between the switch and the old key's end */
}

/* Does @p chain carry the public key of @p label? */
static tern_err_t key_matches(const tern_identity_t *id, const char *label, const uint8_t *chain,
                              size_t len, tern_x509_info_t *info)
{
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    tern_err_t err = id->c.x509->leaf_info(id->c.x509_ctx, chain, len, info);
    if (err == TERN_OK && (err = tern_keystore_public_key(id->c.keystore, label, pub)) == TERN_OK &&
        (!info->pub_p256 || memcmp(pub, info->pub, sizeof pub) != 0)) {
        err = TERN_ERR_CERT;
    }
    return err;
}

tern_err_t tern_identity_provision(tern_identity_t *id, const char *label, const uint8_t *chain,
                                   size_t chain_len, const uint8_t *trust, size_t trust_len)
{
    tern_x509_info_t info;
    size_t ll = label != NULL ? strlen(label) : 0;
    if (id == NULL || id->c.buf == NULL || ll == 0 || ll > TERN_IDENTITY_LABEL_MAX ||
        (label[0] == 'o' && label[1] == 'p') || chain == NULL || trust == NULL) {
        return TERN_ERR_INVAL; /* "op..." labels are the rotation's */
    }
    tern_err_t err = key_matches(id, label, chain, chain_len, &info);
    if (err == TERN_OK &&
        (err = id->c.x509->check_trust(id->c.x509_ctx, trust, trust_len)) == TERN_OK) {
        err = id->c.x509->verify(id->c.x509_ctx, chain, chain_len, trust, trust_len, -1);
    }
    if (err != TERN_OK) {
        return err;
    }
    uint32_t gen = id->gen, slot = id->slot;
    tern_identity_config_t c = id->c;
    uint32_t sector = id->sector;
    memset(id, 0, sizeof *id);
    id->c = c;
    id->sector = sector;
    id->gen = gen;
    id->slot = (uint8_t)slot;
    if ((err = set(id, T_FB_LABEL, label, ll)) != TERN_OK ||
        (err = set(id, T_FB, chain, chain_len)) != TERN_OK ||
        (err = set(id, T_PRIMARY, trust, trust_len)) != TERN_OK ||
        (err = set(id, T_FB_TRUST, trust, trust_len)) != TERN_OK) {
        return err;
    }
    err = save(id);
    id->provisioned = err == TERN_OK;
    return err;
}

/* The operational chain has ended by the wall clock (known): not worth presenting. */
static bool op_expired(const tern_identity_t *id, int64_t wall_ms)
{
    size_t n;
    tern_x509_info_t info;
    const uint8_t *p = tern_identity_chain(id, TERN_IDENTITY_OPERATIONAL, &n);
    return wall_ms >= 0 && id->op_serial != 0 &&
           id->c.x509->leaf_info(id->c.x509_ctx, p, n, &info) == TERN_OK &&
           info.not_after_ms <= wall_ms;
}

/* What the next connection uses (the file comment of tern/identity.h). */
static void choose(const tern_identity_t *id, int64_t wall_ms, tern_identity_creds_t *c)
{
    size_t n;
    memset(c, 0, sizeof *c);
    bool tentative = item(id, T_TENTATIVE, &n) != NULL;
    if (id->quarantined && !tentative) {
        c->quarantine = true;
        c->identity = TERN_IDENTITY_FALLBACK;
        c->trust_store = TERN_TRUST_FALLBACK;
    } else {
        c->trust_store = tentative ? TERN_TRUST_TENTATIVE : TERN_TRUST_PRIMARY;
        c->identity = id->rot == TERN_ROTATION_CERT ? TERN_IDENTITY_NEXT
                      : op_expired(id, wall_ms)     ? TERN_IDENTITY_FALLBACK
                                                    : TERN_IDENTITY_OPERATIONAL;
    }
    label_of(id, c->identity, c->key_label);
    c->cert = tern_identity_chain(id, c->identity, &c->cert_len);
    c->trust = item(id, k_trust_tag[c->trust_store], &c->trust_len);
}

tern_err_t tern_identity_creds(tern_identity_t *id, int64_t wall_ms, tern_identity_creds_t *c)
{
    if (id == NULL || c == NULL || !id->provisioned) {
        return TERN_ERR_STATE;
    }
    choose(id, wall_ms, c);
    id->in_use = *c;
    id->have_used = 1;
    return TERN_OK;
}

tern_err_t tern_identity_result(tern_identity_t *id, tern_err_t err, const char *detail)
{
    if (id == NULL || !id->have_used) {
        return TERN_ERR_STATE;
    }
    tern_identity_creds_t *u = &id->in_use;
    bool changed = false;
    if (err == TERN_OK) { /* the connection stays in use: what it uses is now committed */
        if (u->identity == TERN_IDENTITY_NEXT && id->rot == TERN_ROTATION_CERT) {
            id->retire_serial = id->op_serial;
            id->op_serial = id->serial;
            id->op_since = id->next_since;
            move(id, T_NEXT, T_OP);
            id->rot = TERN_ROTATION_IDLE;
            id->next_fails = 0;
            tern_backoff_reset(id->c.retry);
            u->identity = TERN_IDENTITY_OPERATIONAL;
            changed = true;
        }
        if (u->trust_store == TERN_TRUST_TENTATIVE) {
            move(id, T_TENTATIVE, T_PRIMARY);
            drop(id, T_DETAIL);
            id->trust_version = id->tentative_version;
            id->quarantined = 0;
            id->trust_fails = 0;
            u->trust_store = TERN_TRUST_PRIMARY;
            changed = true;
        }
        tern_err_t e = changed ? save(id) : TERN_OK;
        return e == TERN_OK ? retire(id) : e;
    }
    id->have_used = 0; /* that connection is over */
    if (err != TERN_ERR_CERT && err != TERN_ERR_TLS && err != TERN_ERR_TIME_UNKNOWN) {
        return TERN_OK; /* the link, not the credentials */
    }
    if (u->trust_store == TERN_TRUST_TENTATIVE) {
        size_t n;
        changed = true;
        id->trust_fails++;
        id->last_err = err;
        id->fail_identity = (uint8_t)u->identity;
        tern_err_t e = detail != NULL ? set(id, T_DETAIL, detail, strlen(detail)) : TERN_OK;
        if (e == TERN_ERR_TOO_SMALL) {
            drop(id, T_DETAIL);
        }
        if (id->trust_fails >= id->c.max_failures && item(id, T_TENTATIVE, &n) != NULL) {
            drop(id, T_TENTATIVE); /* roll back, and tell the fleet from quarantine */
            id->quarantined = 1;
        }
    } else if (u->identity == TERN_IDENTITY_NEXT && err == TERN_ERR_TLS &&
               id->rot == TERN_ROTATION_CERT) {
        changed = true;
        if (++id->next_fails >= id->c.max_failures) { /* the broker will not have it */
            drop(id, T_NEXT);
            id->rot = TERN_ROTATION_IDLE;
            id->next_fails = 0;
            id->retire_serial = id->serial;
        }
    }
    if (!changed) {
        return TERN_OK;
    }
    tern_err_t e = save(id);
    return e == TERN_OK ? retire(id) : e;
}

/* Has the operational certificate lived its share? The factory's is for bootstrap and
 * fallback only: a device on it asks for an operational one at once. The life counted is
 * the one the device held it for: from its not-before, or from when the device received it
 * if that came later (a CA backdates not-before for clocks a little behind; with a short
 * certificate and a small share that alone would make every new certificate due at once). */
static bool rotation_due(const tern_identity_t *id, int64_t wall_ms)
{
    size_t n;
    tern_x509_info_t info;
    const uint8_t *p = tern_identity_chain(id, TERN_IDENTITY_OPERATIONAL, &n);
    if (id->op_serial == 0) {
        return true;
    }
    if (wall_ms < 0 || id->c.x509->leaf_info(id->c.x509_ctx, p, n, &info) != TERN_OK) {
        return false;
    }
    int64_t from = info.not_before_ms, since = (int64_t)id->op_since * 1000;
    from = since > from ? since : from;
    if (info.not_after_ms <= from) {
        return true;
    }
    return wall_ms >= from + (info.not_after_ms - from) / 1000 * id->c.rotate_permille;
}

/* The CSR of the NEXT key (made now if the cut came before it was) into @p out. */
static tern_err_t csr(tern_identity_t *id, uint8_t *out, size_t cap, size_t *out_len)
{
    char label[TERN_IDENTITY_LABEL_MAX + 1];
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    op_label(id->serial, label);
    tern_err_t err = tern_keystore_public_key(id->c.keystore, label, pub);
    if (err == TERN_ERR_NOT_FOUND) {
        err = tern_keystore_generate(id->c.keystore, label);
    }
    return err != TERN_OK ? err
                          : id->c.x509->make_csr(id->c.x509_ctx, id->c.keystore, label,
                                                 id->c.device_id, out, cap, out_len);
}

tern_err_t tern_identity_poll(tern_identity_t *id, tern_ms_t now, int64_t wall_ms, bool online,
                              uint8_t *out, size_t cap, size_t *out_len,
                              tern_identity_action_t *act)
{
    if (id == NULL || act == NULL || out_len == NULL || (out == NULL && cap > 0)) {
        return TERN_ERR_INVAL;
    }
    *act = TERN_IDENTITY_ACT_NONE;
    *out_len = 0;
    if (!id->provisioned) {
        return TERN_ERR_STATE;
    }
    if (!online) {
        return TERN_OK;
    }
    if (id->have_used) {
        tern_identity_creds_t c;
        choose(id, wall_ms, &c);
        if (c.identity != id->in_use.identity || c.trust_store != id->in_use.trust_store ||
            c.quarantine != id->in_use.quarantine) {
            *act = TERN_IDENTITY_ACT_RECONNECT;
            return TERN_OK;
        }
    }
    if (id->quarantined) {
        return TERN_OK; /* no rotation until the fleet can be reached */
    }
    tern_err_t err = TERN_OK;
    if (id->rot == TERN_ROTATION_IDLE && rotation_due(id, wall_ms)) {
        char label[TERN_IDENTITY_LABEL_MAX + 1];
        id->serial++;
        id->rot = TERN_ROTATION_KEY;
        op_label(id->serial, label);
        /* Saved only once the request is out (tern_identity_csr_sent()): a cut before that
         * leaves the old serial in flash, so the next try takes the same label and replaces
         * the key the cut left behind. */
        err = tern_keystore_destroy(id->c.keystore, label);
        if (err != TERN_OK && err != TERN_ERR_NOT_FOUND) {
            return err;
        }
        if ((err = tern_keystore_generate(id->c.keystore, label)) != TERN_OK) {
            return err;
        }
        id->retry_set = false;
    }
    bool send =
        id->rot == TERN_ROTATION_KEY ||
        (id->rot == TERN_ROTATION_SENT && (!id->retry_set || (int32_t)(now - id->retry_at) >= 0));
    if (send && id->rot == TERN_ROTATION_SENT && !id->retry_set) {
        /* after a reset: wait a first delay before asking again */
        uint32_t d = 0;
        if ((err = tern_backoff_next(id->c.retry, &d)) != TERN_OK) {
            return err;
        }
        id->retry_set = true;
        id->retry_at = now + d;
        return TERN_OK;
    }
    if (send) {
        if ((err = csr(id, out, cap, out_len)) == TERN_OK) {
            *act = TERN_IDENTITY_ACT_SEND_CSR;
        }
    }
    return err;
}

tern_err_t tern_identity_csr_sent(tern_identity_t *id, tern_ms_t now)
{
    uint32_t d = 0;
    if (id == NULL || (id->rot != TERN_ROTATION_KEY && id->rot != TERN_ROTATION_SENT)) {
        return TERN_ERR_STATE;
    }
    tern_err_t err = tern_backoff_next(id->c.retry, &d);
    if (err == TERN_ERR_TIMEOUT) { /* attempts ran out: start the schedule over */
        tern_backoff_reset(id->c.retry);
        err = tern_backoff_next(id->c.retry, &d);
    }
    if (err != TERN_OK) {
        return err;
    }
    id->retry_set = true;
    id->retry_at = now + d;
    if (id->rot == TERN_ROTATION_KEY) {
        id->rot = TERN_ROTATION_SENT;
        return save(id);
    }
    return TERN_OK;
}

tern_err_t tern_identity_cert_received(tern_identity_t *id, uint32_t serial, const uint8_t *chain,
                                       size_t len, int64_t wall_ms)
{
    char label[TERN_IDENTITY_LABEL_MAX + 1];
    tern_x509_info_t info;
    size_t tl;
    if (id == NULL || chain == NULL) {
        return TERN_ERR_INVAL;
    }
    if ((id->rot != TERN_ROTATION_KEY && id->rot != TERN_ROTATION_SENT) || serial != id->serial) {
        return TERN_ERR_STATE;
    }
    op_label(id->serial, label);
    const uint8_t *trust = item(id, T_PRIMARY, &tl);
    tern_err_t err = key_matches(id, label, chain, len, &info);
    if (err == TERN_OK) {
        err = id->c.x509->verify(id->c.x509_ctx, chain, len, trust, tl, wall_ms);
    }
    if (err == TERN_ERR_MALFORMED || err == TERN_ERR_NOT_FOUND) {
        err = TERN_ERR_CERT;
    }
    if (err != TERN_OK || (err = set(id, T_NEXT, chain, len)) != TERN_OK) {
        return err;
    }
    id->rot = TERN_ROTATION_CERT;
    id->next_fails = 0;
    id->next_since = wall_ms >= 0 ? (uint32_t)(wall_ms / 1000) : 0;
    return save(id);
}

tern_err_t tern_identity_trust_update(tern_identity_t *id, uint32_t version, const uint8_t *trust,
                                      size_t len)
{
    if (id == NULL || trust == NULL) {
        return TERN_ERR_INVAL;
    }
    if (!id->provisioned || version <= id->trust_version || version <= id->tentative_version) {
        return TERN_ERR_STATE;
    }
    tern_err_t err = id->c.x509->check_trust(id->c.x509_ctx, trust, len);
    if (err != TERN_OK || (err = set(id, T_TENTATIVE, trust, len)) != TERN_OK) {
        return err;
    }
    id->tentative_version = version;
    id->trust_fails = 0;
    return save(id);
}

tern_rotation_state_t tern_identity_rotation(const tern_identity_t *id)
{
    return (tern_rotation_state_t)id->rot;
}

bool tern_identity_quarantined(const tern_identity_t *id)
{
    return id->quarantined != 0;
}

uint32_t tern_identity_serial(const tern_identity_t *id)
{
    return id->rot != TERN_ROTATION_IDLE ? id->serial : 0;
}

uint32_t tern_identity_trust_version(const tern_identity_t *id)
{
    return id->trust_version;
}

const char *tern_identity_name(tern_identity_which_t which)
{
    static const char *const n[TERN_IDENTITY_COUNT] = { "operational", "next", "fallback" };
    return (unsigned)which < TERN_IDENTITY_COUNT ? n[which] : "?";
}

const char *tern_trust_name(tern_trust_which_t which)
{
    static const char *const n[TERN_TRUST_COUNT] = { "primary", "tentative", "fallback" };
    return (unsigned)which < TERN_TRUST_COUNT ? n[which] : "?";
}

tern_err_t tern_identity_report(const tern_identity_t *id, tern_cbor_enc_t *enc)
{
    size_t dl;
    if (id == NULL || enc == NULL) {
        return TERN_ERR_INVAL;
    }
    if (!id->quarantined) {
        return TERN_ERR_STATE;
    }
    const uint8_t *detail = item(id, T_DETAIL, &dl);
    (void)tern_cbor_enc_map(enc, 6);
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_C_DATA);
    (void)tern_cbor_enc_str(enc, tern_trust_name(TERN_TRUST_TENTATIVE));
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_C_SERIAL);
    (void)tern_cbor_enc_uint(enc, id->tentative_version);
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_Q_ERROR);
    (void)tern_cbor_enc_str(enc, tern_err_name(id->last_err));
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_Q_DETAIL);
    (void)tern_cbor_enc_text(enc, (const char *)detail, dl);
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_Q_FAILS);
    (void)tern_cbor_enc_uint(enc, id->trust_fails);
    (void)tern_cbor_enc_uint(enc, TERN_WIRE_Q_ID);
    return tern_cbor_enc_str(enc, tern_identity_name((tern_identity_which_t)id->fail_identity));
}
