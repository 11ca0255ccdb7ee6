/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persistent outbox: a circular log of sectors holding fixed-size slots,
 * one record per slot. The on-flash format and its reasons are in
 * tern/outbox.h; this file keeps to three rules that make it safe to cut power
 * anywhere:
 *  - a record is programmed header first, so a slot whose first byte is 0xFF
 *    was never touched (the magic's first byte has cleared bits);
 *  - a record dies by clearing its status word, never by rewriting it;
 *  - the head sector (the newest) is never erased, and each sector header
 *    carries the next sequence number at the time it was opened, so the
 *    highest number handed out is always still on flash.
 */
#include "tern/outbox.h"

#include <string.h>

#include "tern/crc.h"

enum {
    SEC_MAGIC = 0x54424F58, /* "XOBT" little-endian */
    REC_MAGIC = 0x7E,       /* the first byte: a landed header byte is never 0xFF */
    TYPE_MSG = 1,
    TYPE_SNAP = 2,
    HDR_SIZE = 12,
    OFF_STATUS = 12,
    OFF_PAYLOAD = 16,
    CHUNK = 32,
};

#define STATUS_LIVE 0xFFFFFFFFu

typedef struct hdr {
    uint8_t raw[HDR_SIZE];
    uint16_t len;
    uint8_t magic, prio, type;
    uint32_t seq, crc, status;
} hdr_t;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

/* Any flash failure leaves RAM and flash possibly apart: only a remount brings them together. */
static tern_err_t fail(tern_outbox_t *ob, tern_err_t err)
{
    if (err != TERN_OK) {
        ob->mounted = false;
    }
    return err;
}

static uint32_t sec_addr(const tern_outbox_t *ob, uint32_t sec)
{
    return sec * ob->sector_size;
}

static uint32_t slot_addr(const tern_outbox_t *ob, uint32_t sec, uint32_t slot)
{
    return sec * ob->sector_size + TERN_OUTBOX_SECTOR_HEADER + slot * ob->slot_size;
}

/* Slots of @p sec that hold something or may: all of them except in the head. */
static uint32_t slots_in(const tern_outbox_t *ob, uint32_t sec)
{
    return sec == ob->head ? ob->wp : ob->slots;
}

static uint32_t live_total(const tern_outbox_t *ob)
{
    return ob->live[0] + ob->live[1] + ob->live[2] + ob->snap_live;
}

static tern_err_t read_hdr(tern_outbox_t *ob, uint32_t addr, hdr_t *h)
{
    uint8_t b[OFF_PAYLOAD];
    tern_err_t err = tern_flash_read(&ob->cfg.flash, addr, b, sizeof b);
    if (err != TERN_OK) {
        return fail(ob, err);
    }
    memcpy(h->raw, b, sizeof h->raw);
    h->magic = b[0];
    h->prio = (uint8_t)(b[1] >> 4);
    h->type = (uint8_t)(b[1] & 0x0Fu);
    h->len = get16(b + 2);
    h->seq = get32(b + 4);
    h->crc = get32(b + 8);
    h->status = get32(b + OFF_STATUS);
    return TERN_OK;
}

static bool hdr_blank(const hdr_t *h)
{
    return h->raw[0] == 0xFF;
}

static bool hdr_sane(const tern_outbox_t *ob, const hdr_t *h)
{
    return h->magic == REC_MAGIC && h->len <= ob->cfg.max_payload &&
           ((h->type == TYPE_MSG && h->prio < TERN_OUTBOX_PRIOS) ||
            (h->type == TYPE_SNAP && h->prio == 0));
}

static bool hdr_live(const tern_outbox_t *ob, const hdr_t *h)
{
    return hdr_sane(ob, h) && h->status == STATUS_LIVE;
}

/* CRC of the record at @p addr (header bytes 0..7 and the payload) against its stored CRC. */
static tern_err_t crc_check(tern_outbox_t *ob, uint32_t addr, const hdr_t *h, bool *ok)
{
    uint32_t crc = tern_crc32_update(0, h->raw, 8);
    uint8_t b[CHUNK];
    for (uint32_t off = 0; off < h->len; off += CHUNK) {
        uint32_t n = h->len - off < CHUNK ? h->len - off : CHUNK;
        tern_err_t err = tern_flash_read(&ob->cfg.flash, addr + OFF_PAYLOAD + off, b, n);
        if (err != TERN_OK) {
            return fail(ob, err);
        }
        crc = tern_crc32_update(crc, b, n);
    }
    *ok = crc == h->crc;
    return TERN_OK;
}

static tern_err_t kill(tern_outbox_t *ob, uint32_t addr)
{
    static const uint8_t zero[4] = { 0, 0, 0, 0 };
    return fail(ob, tern_flash_program(&ob->cfg.flash, addr + OFF_STATUS, zero, sizeof zero));
}

/* Erase @p sec and make it the new head, stamped with the next order and sequence number. */
static tern_err_t open_sector(tern_outbox_t *ob, uint32_t sec)
{
    tern_err_t err = tern_flash_erase(&ob->cfg.flash, sec_addr(ob, sec));
    if (err != TERN_OK) {
        return fail(ob, err);
    }
    uint8_t b[TERN_OUTBOX_SECTOR_HEADER];
    put32(b, SEC_MAGIC);
    put32(b + 4, ob->head_order + 1);
    put32(b + 8, ob->next_seq);
    put32(b + 12, tern_crc32(b, 12));
    err = tern_flash_program(&ob->cfg.flash, sec_addr(ob, sec), b, sizeof b);
    if (err != TERN_OK) {
        return fail(ob, err);
    }
    ob->head = sec;
    ob->head_order++;
    ob->wp = 0;
    ob->used++;
    return TERN_OK;
}

/* The first 8 header bytes: magic, priority and type in one byte, length, sequence.
 * Bytes 8..11 are the CRC-32 of these 8 and the payload. */
static void head_fields(uint8_t *h, uint8_t type, uint8_t prio, uint16_t len, uint32_t seq)
{
    h[0] = REC_MAGIC;
    h[1] = (uint8_t)((prio << 4) | type);
    put16(h + 2, len);
    put32(h + 4, seq);
}

/* Program a new record into the next slot of the head: header, then the payload. */
static tern_err_t write_rec(tern_outbox_t *ob, uint8_t type, uint8_t prio, uint32_t seq,
                            const void *data, size_t len)
{
    uint8_t h[HDR_SIZE];
    head_fields(h, type, prio, (uint16_t)len, seq);
    put32(h + 8, tern_crc32_update(tern_crc32_update(0, h, 8), data, len));
    uint32_t addr = slot_addr(ob, ob->head, ob->wp);
    ob->wp++;
    tern_err_t err = tern_flash_program(&ob->cfg.flash, addr, h, sizeof h);
    size_t whole = len & ~(size_t)3u;
    if (err == TERN_OK && whole > 0) {
        err = tern_flash_program(&ob->cfg.flash, addr + OFF_PAYLOAD, data, whole);
    }
    if (err == TERN_OK && whole < len) {
        uint8_t pad[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
        memcpy(pad, (const uint8_t *)data + whole, len - whole);
        err = tern_flash_program(&ob->cfg.flash, addr + OFF_PAYLOAD + (uint32_t)whole, pad,
                                 sizeof pad);
    }
    return fail(ob, err);
}

/* The look-ahead can no longer vouch for what it remembers. */
static void ahead_drop(tern_outbox_t *ob)
{
    ob->ahead_valid = false;
}

/* Copy the record at @p src byte for byte into the next slot of the head (status left live). */
static tern_err_t copy_rec(tern_outbox_t *ob, uint32_t src, const hdr_t *h)
{
    uint32_t dst = slot_addr(ob, ob->head, ob->wp);
    ob->wp++;
    ahead_drop(ob); /* a record moves */
    tern_err_t err = tern_flash_program(&ob->cfg.flash, dst, h->raw, sizeof h->raw);
    uint32_t total = ((uint32_t)h->len + 3u) & ~3u;
    uint8_t b[CHUNK];
    for (uint32_t off = 0; err == TERN_OK && off < total; off += CHUNK) {
        uint32_t n = total - off < CHUNK ? total - off : CHUNK;
        err = tern_flash_read(&ob->cfg.flash, src + OFF_PAYLOAD + off, b, n);
        if (err == TERN_OK) {
            err = tern_flash_program(&ob->cfg.flash, dst + OFF_PAYLOAD + off, b, n);
        }
    }
    return fail(ob, err);
}

/* Drain order of a message: priority first, then sequence number. */
static uint64_t key_of(uint8_t prio, uint32_t seq)
{
    return ((uint64_t)prio << 32) | seq;
}

typedef struct found {
    bool any;
    uint32_t addr;
    hdr_t h;
} found_t;

/*
 * Scan every written slot for the live record of @p type with the smallest key
 * above @p after (or any key if !has_after); with @p only_prio < 3 restrict to
 * that priority, with @p exact match the sequence number @p seq only.
 */
typedef struct query {
    uint8_t type;
    bool has_after;
    uint64_t after;
    uint8_t only_prio; /* TERN_OUTBOX_PRIOS: any */
    bool exact;
    uint32_t seq;
    bool drain; /* a peek/next: fill the look-ahead as well */
} query_t;

/* ------------------------------------------------------------ look-ahead -- */

#if TERN_OUTBOX_LOOKAHEAD > 0
/* A scan met live message @p h at @p addr: keep it if it is among the smallest keys. */
static void ahead_offer(tern_outbox_t *ob, uint32_t addr, const hdr_t *h)
{
    uint64_t key = key_of(h->prio, h->seq);
    uint8_t n = ob->ahead_n;
    if (n == TERN_OUTBOX_LOOKAHEAD) {
        ob->ahead_all = false; /* at least one record is left out */
        if (key > key_of(ob->ahead[n - 1].prio, ob->ahead[n - 1].seq)) {
            return;
        }
        n--; /* the largest falls out */
    }
    uint8_t i = n;
    while (i > 0 && key < key_of(ob->ahead[i - 1].prio, ob->ahead[i - 1].seq)) {
        ob->ahead[i] = ob->ahead[i - 1];
        i--;
    }
    ob->ahead[i].addr = addr;
    ob->ahead[i].seq = h->seq;
    ob->ahead[i].prio = h->prio;
    ob->ahead_n = (uint8_t)(n + 1);
}

/*
 * Answer a peek/next from the look-ahead: TERN_OK with *f (found or not, f->any),
 * or TERN_ERR_AGAIN when it cannot tell and a scan is needed. Every record that is
 * live now with a key above ahead_lo and not above the last remembered one was
 * remembered: records only die, and an enqueue that could fall inside drops it.
 */
static tern_err_t ahead_lookup(tern_outbox_t *ob, const query_t *q, found_t *f)
{
    if (!ob->ahead_valid || (ob->ahead_has_lo && (!q->has_after || q->after < ob->ahead_lo))) {
        return TERN_ERR_AGAIN;
    }
    for (uint8_t i = 0; i < ob->ahead_n; i++) {
        const tern_outbox_ahead_t *a = &ob->ahead[i];
        if (q->has_after && key_of(a->prio, a->seq) <= q->after) {
            continue;
        }
        hdr_t h;
        tern_err_t err = read_hdr(ob, a->addr, &h);
        if (err != TERN_OK) {
            return err;
        }
        if (hdr_live(ob, &h) && h.type == TYPE_MSG && h.seq == a->seq && h.prio == a->prio) {
            f->any = true;
            f->addr = a->addr;
            f->h = h;
            return TERN_OK;
        }
    }
    f->any = false;
    return ob->ahead_all ? TERN_OK : TERN_ERR_AGAIN;
}

/* Remember where a record handed out lives: its ack (or resend) comes soon. */
static void recent_note(tern_outbox_t *ob, const found_t *f)
{
    tern_outbox_ahead_t *r = &ob->recent[ob->recent_next];
    ob->recent_next = (uint8_t)((ob->recent_next + 1u) % TERN_OUTBOX_LOOKAHEAD);
    r->addr = f->addr;
    r->seq = f->h.seq;
    r->prio = f->h.prio;
}

/* Live message @p seq where a recent hand-out left it (checked on flash: a record that
 * moved or died since is simply not found here). */
static tern_err_t recent_find(tern_outbox_t *ob, uint32_t seq, found_t *f)
{
    f->any = false;
    for (uint8_t i = 0; i < TERN_OUTBOX_LOOKAHEAD; i++) {
        const tern_outbox_ahead_t *r = &ob->recent[i];
        if (r->seq != seq || r->addr == 0) {
            continue;
        }
        hdr_t h;
        tern_err_t err = read_hdr(ob, r->addr, &h);
        if (err != TERN_OK) {
            return err;
        }
        if (hdr_live(ob, &h) && h.type == TYPE_MSG && h.seq == seq) {
            f->any = true;
            f->addr = r->addr;
            f->h = h;
            return TERN_OK;
        }
    }
    return TERN_OK;
}
#else
static void recent_note(tern_outbox_t *ob, const found_t *f)
{
    (void)ob;
    (void)f;
}

static tern_err_t recent_find(tern_outbox_t *ob, uint32_t seq, found_t *f)
{
    (void)ob;
    (void)seq;
    f->any = false;
    return TERN_OK;
}

static void ahead_offer(tern_outbox_t *ob, uint32_t addr, const hdr_t *h)
{
    (void)ob;
    (void)addr;
    (void)h;
}

static tern_err_t ahead_lookup(tern_outbox_t *ob, const query_t *q, found_t *f)
{
    (void)ob;
    (void)q;
    (void)f;
    return TERN_ERR_AGAIN;
}
#endif

static tern_err_t find(tern_outbox_t *ob, const query_t *q, found_t *f)
{
    f->any = false;
    uint64_t best = 0;
    if (q->drain) {
        ob->ahead_valid = false;
        ob->ahead_n = 0;
        ob->ahead_all = true;
    }
    /* Sectors [tail, tail + skip) hold nothing live: records only ever die, and are
     * written at the head alone, which is never skipped. A scan that finds leading
     * sectors without a live record moves skip past them. */
    bool leading = true;
    uint32_t k = ob->skip, sec = (ob->tail + ob->skip) % ob->sectors;
    for (; k < ob->used; k++, sec = (sec + 1) % ob->sectors) {
        uint32_t n = slots_in(ob, sec), live = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t addr = slot_addr(ob, sec, i);
            hdr_t h;
            tern_err_t err = read_hdr(ob, addr, &h);
            if (err != TERN_OK) {
                return err;
            }
            if (!hdr_live(ob, &h)) {
                continue;
            }
            live++;
            if (h.type != q->type) {
                continue;
            }
            if (q->only_prio < TERN_OUTBOX_PRIOS && h.prio != q->only_prio) {
                continue;
            }
            if (q->exact && h.seq != q->seq) {
                continue;
            }
            uint64_t key = key_of(h.prio, h.seq);
            if (q->has_after && key <= q->after) {
                continue;
            }
            if (!f->any || key < best) {
                f->any = true;
                best = key;
                f->addr = addr;
                f->h = h;
            }
            if (q->drain) {
                ahead_offer(ob, addr, &h);
            }
            if (q->exact) {
                return TERN_OK; /* a live sequence number is unique (mount drops copies) */
            }
        }
        if (leading && live == 0 && k + 1 < ob->used) {
            ob->skip = k + 1;
        } else {
            leading = false;
        }
    }
    if (q->drain) {
        ob->ahead_valid = true;
        ob->ahead_has_lo = q->has_after;
        ob->ahead_lo = q->after;
    }
    return TERN_OK;
}

/* Evict the oldest BULK record, else the oldest NORMAL one; TERN_ERR_FULL if neither exists. */
static tern_err_t evict_one(tern_outbox_t *ob)
{
    for (uint8_t p = TERN_OUTBOX_BULK; p >= TERN_OUTBOX_NORMAL; p--) {
        if (ob->live[p] == 0) {
            continue;
        }
        query_t q = { TYPE_MSG, false, 0, p, false, 0, false };
        found_t f;
        tern_err_t err = find(ob, &q, &f);
        if (err != TERN_OK) {
            return err;
        }
        if (!f.any) {
            return fail(ob, TERN_ERR_CORRUPT); /* the counts and the flash disagree */
        }
        /* Reported first: a cut may then leave it in place, but nothing leaves unreported. */
        if (ob->cfg.on_evict != NULL) {
            ob->cfg.on_evict(ob->cfg.user, f.h.seq, (tern_outbox_prio_t)p);
        }
        err = kill(ob, f.addr);
        if (err != TERN_OK) {
            return err;
        }
        ob->live[p]--;
        ob->evictions++;
        return TERN_OK;
    }
    return TERN_ERR_FULL;
}

/* Live records of the tail sector. */
static tern_err_t tail_live(tern_outbox_t *ob, uint32_t *n)
{
    *n = 0;
    for (uint32_t i = 0; i < slots_in(ob, ob->tail); i++) {
        hdr_t h;
        tern_err_t err = read_hdr(ob, slot_addr(ob, ob->tail, i), &h);
        if (err != TERN_OK) {
            return err;
        }
        *n += hdr_live(ob, &h);
    }
    return TERN_OK;
}

/*
 * Copy the tail's live records into the head while it has room, killing each
 * original once its copy is complete; erase the tail once nothing lives in it.
 */
static tern_err_t drain_tail(tern_outbox_t *ob)
{
    tern_err_t err = TERN_OK;
    uint32_t left = 0;
    for (uint32_t i = 0; err == TERN_OK && i < ob->slots; i++) {
        uint32_t addr = slot_addr(ob, ob->tail, i);
        hdr_t h;
        err = read_hdr(ob, addr, &h);
        if (err != TERN_OK || !hdr_live(ob, &h)) {
            continue;
        }
        if (ob->wp >= ob->slots) {
            left++;
            continue;
        }
        err = copy_rec(ob, addr, &h);
        if (err == TERN_OK) {
            err = kill(ob, addr);
        }
    }
    if (err == TERN_OK && left == 0) {
        err = fail(ob, tern_flash_erase(&ob->cfg.flash, sec_addr(ob, ob->tail)));
        if (err == TERN_OK) {
            ob->tail = (ob->tail + 1) % ob->sectors;
            ob->used--;
            ob->skip = ob->skip > 0 ? ob->skip - 1 : 0;
        }
    }
    return err;
}

/*
 * Make a free slot in the head. One sector is kept free: while more are free,
 * open the next one; with one left, compact the oldest sector into it (which
 * frees the oldest); if nothing anywhere is dead, evict. With none free (a cut
 * interrupted a compaction that could not be finished at mount), only an
 * emptied tail gives room back.
 */
static tern_err_t make_room(tern_outbox_t *ob)
{
    for (uint32_t guard = 0; guard < 4 * ob->sectors + 8; guard++) {
        tern_err_t err;
        uint32_t free_sectors = ob->sectors - ob->used;
        if (ob->wp < ob->slots) {
            return TERN_OK;
        }
        if (free_sectors >= 2) {
            err = open_sector(ob, (ob->head + 1) % ob->sectors);
        } else if (free_sectors == 0) {
            uint32_t n = 0;
            err = tail_live(ob, &n);
            if (err == TERN_OK && n > 0) {
                return TERN_ERR_FULL;
            }
            err = err != TERN_OK ? err : drain_tail(ob);
        } else if ((ob->used - 1) * ob->slots + ob->wp == live_total(ob)) {
            err = evict_one(ob); /* nothing dead anywhere: only eviction makes room */
        } else {
            err = open_sector(ob, (ob->head + 1) % ob->sectors);
            err = err != TERN_OK ? err : drain_tail(ob); /* all of it fits in a fresh sector */
        }
        if (err != TERN_OK) {
            return err;
        }
    }
    return fail(ob, TERN_ERR_CORRUPT);
}

/* ------------------------------------------------------------------ mount -- */

typedef struct sec_info {
    bool valid;
    uint32_t order, hwm;
} sec_info_t;

static tern_err_t read_sector_header(tern_outbox_t *ob, uint32_t sec, sec_info_t *si)
{
    uint8_t b[TERN_OUTBOX_SECTOR_HEADER];
    tern_err_t err = tern_flash_read(&ob->cfg.flash, sec_addr(ob, sec), b, sizeof b);
    if (err != TERN_OK) {
        return err;
    }
    si->valid = get32(b) == SEC_MAGIC && get32(b + 12) == tern_crc32(b, 12);
    si->order = get32(b + 4);
    si->hwm = get32(b + 8);
    return TERN_OK;
}

/* Verify every slot of the used sectors: count the live, kill torn or corrupt ones, find wp. */
static tern_err_t scan_sector(tern_outbox_t *ob, uint32_t sec)
{
    uint32_t last = 0; /* one past the last slot that is not blank */
    for (uint32_t i = 0; i < ob->slots; i++) {
        uint32_t addr = slot_addr(ob, sec, i);
        hdr_t h;
        tern_err_t err = read_hdr(ob, addr, &h);
        if (err != TERN_OK) {
            return err;
        }
        if (hdr_blank(&h)) {
            continue;
        }
        last = i + 1;
        bool ok = false;
        if (hdr_sane(ob, &h)) {
            err = crc_check(ob, addr, &h, &ok);
            if (err != TERN_OK) {
                return err;
            }
        }
        if (ok && h.seq >= ob->next_seq) {
            ob->next_seq = h.seq + 1;
        }
        if (ok && h.status == STATUS_LIVE) {
            if (h.type == TYPE_MSG) {
                ob->live[h.prio]++;
            } else {
                ob->snap_live++;
            }
        } else if (!ok && h.status != 0) {
            err = kill(ob, addr);
            if (err != TERN_OK) {
                return err;
            }
        }
    }
    if (sec == ob->head) {
        ob->wp = last;
    }
    return TERN_OK;
}

/* A compaction cut between copying a record and killing its original leaves it in the tail
 * and in the head: kill the tail's copy. */
static tern_err_t drop_duplicates(tern_outbox_t *ob)
{
    if (ob->used < 2) {
        return TERN_OK;
    }
    for (uint32_t i = 0; i < ob->slots; i++) {
        uint32_t addr = slot_addr(ob, ob->tail, i);
        hdr_t h;
        tern_err_t err = read_hdr(ob, addr, &h);
        if (err != TERN_OK) {
            return err;
        }
        if (!hdr_live(ob, &h)) {
            continue;
        }
        for (uint32_t j = 0; j < ob->wp; j++) {
            hdr_t g;
            err = read_hdr(ob, slot_addr(ob, ob->head, j), &g);
            if (err != TERN_OK) {
                return err;
            }
            if (hdr_live(ob, &g) && g.seq == h.seq && g.type == h.type) {
                err = kill(ob, addr);
                if (err != TERN_OK) {
                    return err;
                }
                if (h.type == TYPE_MSG) {
                    ob->live[h.prio]--;
                } else {
                    ob->snap_live--;
                }
                break;
            }
        }
    }
    return TERN_OK;
}

/* Keep only the newest in-flight snapshot. */
static tern_err_t drop_old_snapshots(tern_outbox_t *ob)
{
    while (ob->snap_live > 1) {
        query_t q = { TYPE_SNAP, false, 0, TERN_OUTBOX_PRIOS, false, 0, false };
        found_t f;
        tern_err_t err = find(ob, &q, &f); /* the oldest */
        if (err != TERN_OK) {
            return err;
        }
        if (!f.any) {
            return fail(ob, TERN_ERR_CORRUPT);
        }
        err = kill(ob, f.addr);
        if (err != TERN_OK) {
            return err;
        }
        ob->snap_live--;
    }
    return TERN_OK;
}

tern_err_t tern_outbox_mount(tern_outbox_t *ob, const tern_outbox_config_t *cfg)
{
    if (ob == NULL || cfg == NULL || cfg->max_payload == 0) {
        return TERN_ERR_INVAL;
    }
    memset(ob, 0, sizeof *ob);
    ob->cfg = *cfg;
    tern_flash_geometry_t g;
    tern_err_t err = tern_flash_geometry(&cfg->flash, &g);
    if (err != TERN_OK) {
        return err;
    }
    if (g.prog_size == 0 || 4 % g.prog_size != 0) {
        return TERN_ERR_UNSUPPORTED;
    }
    ob->sector_size = g.sector_size;
    ob->sectors = g.sector_size ? g.size / g.sector_size : 0;
    ob->slot_size = (TERN_OUTBOX_RECORD_OVERHEAD + cfg->max_payload + 3u) & ~3u;
    if (ob->sectors < 3 || g.sector_size < TERN_OUTBOX_SECTOR_HEADER + ob->slot_size) {
        return TERN_ERR_INVAL;
    }
    ob->slots = (g.sector_size - TERN_OUTBOX_SECTOR_HEADER) / ob->slot_size;

    /* The head is the valid sector with the highest order; the used run goes back from it. */
    bool any = false;
    for (uint32_t s = 0; s < ob->sectors; s++) {
        sec_info_t si;
        err = read_sector_header(ob, s, &si);
        if (err != TERN_OK) {
            return err;
        }
        if (si.valid && (!any || (int32_t)(si.order - ob->head_order) > 0)) {
            any = true;
            ob->head = s;
            ob->head_order = si.order;
        }
    }
    ob->next_seq = 1;
    if (!any) {
        ob->head = ob->sectors - 1; /* so the first sector opened is 0 */
        err = open_sector(ob, 0);
        if (err == TERN_OK) {
            ob->tail = 0;
            ob->mounted = true;
        }
        return err;
    }
    ob->used = 1;
    ob->tail = ob->head;
    while (ob->used < ob->sectors) {
        uint32_t prev = (ob->tail + ob->sectors - 1) % ob->sectors;
        sec_info_t si;
        err = read_sector_header(ob, prev, &si);
        if (err != TERN_OK) {
            return err;
        }
        if (!si.valid || si.order != ob->head_order - ob->used) {
            break;
        }
        ob->tail = prev;
        ob->used++;
    }
    for (uint32_t k = 0, s = ob->tail; k < ob->used; k++, s = (s + 1) % ob->sectors) {
        sec_info_t si;
        err = read_sector_header(ob, s, &si);
        if (err == TERN_OK) {
            if (si.hwm > ob->next_seq) {
                ob->next_seq = si.hwm;
            }
            err = scan_sector(ob, s);
        }
        if (err != TERN_OK) {
            return err;
        }
    }
    ob->mounted = true;
    err = drop_duplicates(ob);
    if (err == TERN_OK) {
        err = drop_old_snapshots(ob);
    }
    if (err == TERN_OK && ob->used == ob->sectors) {
        err = drain_tail(ob); /* a cut interrupted a compaction: finish what fits */
    }
    return err;
}

/* ----------------------------------------------------------------- queue -- */

tern_err_t tern_outbox_enqueue(tern_outbox_t *ob, tern_outbox_prio_t prio, const void *data,
                               size_t len, uint32_t *seq)
{
    if (ob == NULL || (unsigned)prio >= TERN_OUTBOX_PRIOS || (data == NULL && len > 0)) {
        return TERN_ERR_INVAL;
    }
    if (!ob->mounted) {
        return TERN_ERR_STATE;
    }
    if (len > ob->cfg.max_payload) {
        return TERN_ERR_RANGE;
    }
    tern_err_t err = make_room(ob);
    if (err != TERN_OK) {
        return err;
    }
    uint32_t s = ob->next_seq++;
#if TERN_OUTBOX_LOOKAHEAD > 0
    if (ob->ahead_valid && (ob->ahead_all || ob->ahead_n == 0 ||
                            key_of((uint8_t)prio, s) < key_of(ob->ahead[ob->ahead_n - 1].prio,
                                                              ob->ahead[ob->ahead_n - 1].seq))) {
        ahead_drop(ob); /* it falls inside what the look-ahead vouches for */
    }
#endif
    err = write_rec(ob, TYPE_MSG, (uint8_t)prio, s, data, len);
    if (err != TERN_OK) {
        return err;
    }
    ob->live[prio]++;
    if (seq != NULL) {
        *seq = s;
    }
    return TERN_OK;
}

/* Describe the found record and copy its payload out, checking its CRC once more. */
static tern_err_t deliver(tern_outbox_t *ob, const found_t *f, tern_outbox_rec_t *rec, void *buf,
                          size_t cap)
{
    if (!f->any) {
        return TERN_ERR_EMPTY;
    }
    if (rec != NULL) {
        rec->seq = f->h.seq;
        rec->len = f->h.len;
        rec->prio = f->h.prio;
    }
    if (buf == NULL) {
        return TERN_OK;
    }
    if (cap < f->h.len) {
        return TERN_ERR_TOO_SMALL;
    }
    tern_err_t err = tern_flash_read(&ob->cfg.flash, f->addr + OFF_PAYLOAD, buf, f->h.len);
    if (err != TERN_OK) {
        return fail(ob, err);
    }
    uint32_t crc = tern_crc32_update(tern_crc32_update(0, f->h.raw, 8), buf, f->h.len);
    return crc == f->h.crc ? TERN_OK : TERN_ERR_CORRUPT;
}

/* find(), answered from what RAM remembers when it can: the look-ahead for peek/next,
 * the recent hand-outs for a read or ack by sequence number. */
static tern_err_t locate(tern_outbox_t *ob, const query_t *q, found_t *f)
{
    tern_err_t err = TERN_ERR_AGAIN;
    if (q->drain) {
        err = ahead_lookup(ob, q, f);
    } else if (q->exact && q->type == TYPE_MSG) {
        err = recent_find(ob, q->seq, f);
        if (err == TERN_OK && !f->any) {
            err = TERN_ERR_AGAIN;
        }
    }
    return err == TERN_ERR_AGAIN ? find(ob, q, f) : err;
}

static tern_err_t lookup(tern_outbox_t *ob, const query_t *q, tern_outbox_rec_t *rec, void *buf,
                         size_t cap)
{
    if (!ob->mounted) {
        return TERN_ERR_STATE;
    }
    found_t f;
    tern_err_t err = locate(ob, q, &f);
    if (err == TERN_OK && f.any) {
        recent_note(ob, &f);
    }
    return err != TERN_OK ? err : deliver(ob, &f, rec, buf, cap);
}

tern_err_t tern_outbox_peek(tern_outbox_t *ob, tern_outbox_rec_t *rec, void *buf, size_t cap)
{
    if (ob == NULL) {
        return TERN_ERR_INVAL;
    }
    query_t q = { TYPE_MSG, false, 0, TERN_OUTBOX_PRIOS, false, 0, true };
    return lookup(ob, &q, rec, buf, cap);
}

tern_err_t tern_outbox_next(tern_outbox_t *ob, const tern_outbox_rec_t *after,
                            tern_outbox_rec_t *rec, void *buf, size_t cap)
{
    if (ob == NULL || after == NULL) {
        return TERN_ERR_INVAL;
    }
    query_t q = {
        TYPE_MSG, true, key_of(after->prio, after->seq), TERN_OUTBOX_PRIOS, false, 0, true
    };
    return lookup(ob, &q, rec, buf, cap);
}

tern_err_t tern_outbox_read(tern_outbox_t *ob, uint32_t seq, tern_outbox_rec_t *rec, void *buf,
                            size_t cap)
{
    if (ob == NULL) {
        return TERN_ERR_INVAL;
    }
    query_t q = { TYPE_MSG, false, 0, TERN_OUTBOX_PRIOS, true, seq, false };
    tern_err_t err = lookup(ob, &q, rec, buf, cap);
    return err == TERN_ERR_EMPTY ? TERN_ERR_NOT_FOUND : err;
}

tern_err_t tern_outbox_ack(tern_outbox_t *ob, uint32_t seq)
{
    if (ob == NULL) {
        return TERN_ERR_INVAL;
    }
    if (!ob->mounted) {
        return TERN_ERR_STATE;
    }
    query_t q = { TYPE_MSG, false, 0, TERN_OUTBOX_PRIOS, true, seq, false };
    found_t f;
    tern_err_t err = locate(ob, &q, &f);
    if (err != TERN_OK) {
        return err;
    }
    if (!f.any) {
        return TERN_ERR_NOT_FOUND;
    }
    err = kill(ob, f.addr);
    if (err == TERN_OK) {
        ob->live[f.h.prio]--;
    }
    return err;
}

uint32_t tern_outbox_count(const tern_outbox_t *ob, tern_outbox_prio_t prio)
{
    return ob != NULL && (unsigned)prio < TERN_OUTBOX_PRIOS ? ob->live[prio] : 0;
}

uint32_t tern_outbox_next_seq(const tern_outbox_t *ob)
{
    return ob != NULL ? ob->next_seq : 0;
}

/* ------------------------------------------------------ in-flight table -- */

tern_err_t tern_outbox_save_inflight(tern_outbox_t *ob, const tern_mqtt_inflight_t *table,
                                     size_t count)
{
    if (ob == NULL || (table == NULL && count > 0)) {
        return TERN_ERR_INVAL;
    }
    if (!ob->mounted) {
        return TERN_ERR_STATE;
    }
    if (count > ob->cfg.max_payload / 12u) {
        return TERN_ERR_RANGE;
    }
    /* Serialized field by field so the record does not depend on the struct's padding. */
    uint8_t b[12];
    tern_err_t err = make_room(ob);
    if (err != TERN_OK) {
        return err;
    }
    uint8_t h[HDR_SIZE];
    uint32_t s = ob->next_seq++;
    size_t len = count * 12u;
    head_fields(h, TYPE_SNAP, 0, (uint16_t)len, s);
    uint32_t crc = tern_crc32_update(0, h, 8);
    for (size_t i = 0; i < count; i++) {
        put32(b, table[i].order);
        put32(b + 4, table[i].token);
        put16(b + 8, table[i].packet_id);
        b[10] = table[i].stage;
        b[11] = table[i].flags;
        crc = tern_crc32_update(crc, b, sizeof b);
    }
    put32(h + 8, crc);
    uint32_t addr = slot_addr(ob, ob->head, ob->wp);
    ob->wp++;
    err = fail(ob, tern_flash_program(&ob->cfg.flash, addr, h, sizeof h));
    for (size_t i = 0; err == TERN_OK && i < count; i++) {
        put32(b, table[i].order);
        put32(b + 4, table[i].token);
        put16(b + 8, table[i].packet_id);
        b[10] = table[i].stage;
        b[11] = table[i].flags;
        err = fail(ob, tern_flash_program(&ob->cfg.flash, addr + OFF_PAYLOAD + (uint32_t)(i * 12u),
                                          b, sizeof b));
    }
    if (err != TERN_OK) {
        return err;
    }
    ob->snap_live++;
    if (ob->snap_known && ob->snap_live > 1 && ob->snap_addr != addr) {
        /* the one it replaces, where it was written (unless a compaction moved it) */
        hdr_t old;
        err = read_hdr(ob, ob->snap_addr, &old);
        if (err == TERN_OK && hdr_live(ob, &old) && old.type == TYPE_SNAP) {
            err = kill(ob, ob->snap_addr);
            ob->snap_live -= err == TERN_OK ? 1u : 0u;
        }
    }
    ob->snap_known = true;
    ob->snap_addr = addr;
    return err != TERN_OK ? err : drop_old_snapshots(ob);
}

tern_err_t tern_outbox_load_inflight(tern_outbox_t *ob, tern_mqtt_inflight_t *table, size_t cap,
                                     size_t *count)
{
    if (ob == NULL || count == NULL || (table == NULL && cap > 0)) {
        return TERN_ERR_INVAL;
    }
    if (!ob->mounted) {
        return TERN_ERR_STATE;
    }
    *count = 0;
    query_t q = { TYPE_SNAP, false, 0, TERN_OUTBOX_PRIOS, false, 0, false };
    found_t f;
    tern_err_t err = find(ob, &q, &f);
    if (err != TERN_OK || !f.any) {
        return err;
    }
    size_t n = f.h.len / 12u;
    if (n > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    uint32_t crc = tern_crc32_update(0, f.h.raw, 8);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[12];
        err = tern_flash_read(&ob->cfg.flash, f.addr + OFF_PAYLOAD + (uint32_t)(i * 12u), b,
                              sizeof b);
        if (err != TERN_OK) {
            return fail(ob, err);
        }
        crc = tern_crc32_update(crc, b, sizeof b);
        table[i].order = get32(b);
        table[i].token = get32(b + 4);
        table[i].packet_id = get16(b + 8);
        table[i].stage = b[10];
        table[i].flags = b[11];
    }
    if (crc != f.h.crc || f.h.len % 12u != 0) {
        return TERN_ERR_CORRUPT;
    }
    *count = n;
    return TERN_OK;
}
