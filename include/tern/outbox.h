/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file outbox.h
 * @brief Layer 2: a persistent store-and-forward queue in a NOR flash partition.
 *
 * Messages wait in flash until the caller acknowledges them (on PUBACK or
 * PUBCOMP), so a reset or a power cut loses nothing that tern_outbox_enqueue()
 * reported durable. Three priorities: CRITICAL drains first, then NORMAL, then
 * BULK; within a priority, oldest (lowest sequence number) first.
 *
 * On flash (all little-endian). The partition is a circular log of sectors;
 * each used sector starts with a 16-byte header {magic, order, seq high-water
 * mark, CRC-32} and then holds fixed-size slots of `slot_size` bytes (the
 * largest record, rounded up to 4). A record in a slot is a 12-byte header
 * {magic u8 (0x7E), priority << 4 | type u8, length u16, sequence u32, CRC-32
 * of the first 8 bytes and the payload}, a 4-byte status word, and the payload. The status
 * word is 0xFFFFFFFF while the record is live; ack and eviction program it to
 * 0 (NOR may only clear bits, so no erase is needed), and any cleared bit
 * means dead, so a torn ack is simply an ack. Records are written header first;
 * mount verifies every CRC, kills (status 0) any torn or corrupt slot, and
 * never returns one. Sectors are opened in round-robin order (each erase once
 * per turn, so wear stays even); a sector's `order` says which is newest, its
 * high-water mark keeps sequence numbers monotonic after old sectors are
 * erased. One sector is always kept free: when the others are full the oldest
 * sector is compacted (its live records copied forward into the free one, the
 * originals killed one by one, then it is erased); a copy that a cut left
 * twice is removed at the next mount. Every program unit is written once per
 * erase (the status word is a unit of its own), so ECC flash that allows one
 * program per unit works too; the program unit must divide 4.
 *
 * Power loss: tern_outbox_enqueue() and tern_outbox_ack() return TERN_OK only
 * once durable; a call cut short leaves the record either whole or absent (a
 * torn record is never returned). A cut inside a compaction is finished by
 * the next mount; in the rare case it cannot be (a sector of live records was
 * being copied and a torn copy took a slot), the outbox runs with no free
 * sector and enqueue returns TERN_ERR_FULL until acks empty the oldest sector.
 *
 * Full: if no slot can be reclaimed, the oldest BULK record, else the oldest
 * NORMAL record, is evicted (reported through `on_evict`); CRITICAL records
 * are never evicted: the enqueue fails with TERN_ERR_FULL instead.
 *
 * MQTT in-flight table: tern_outbox_save_inflight() stores a snapshot of the
 * session's tern_mqtt_inflight_t array (12 bytes per record, `token` = outbox
 * sequence number) as one record of its own type in the same log; the newest
 * snapshot wins and older ones are killed once it is durable. It must fit in
 * a slot (count * 12 <= max_payload). It takes a sequence number too, so
 * sequence numbers are monotonic but not dense.
 *
 * No heap, no globals: the caller owns tern_outbox_t and every buffer. Every
 * call is bounded by the partition size; peek/next/read/ack scan the slots'
 * headers from the oldest sector that still holds a live record (O(slots of the
 * backlog) reads: when the queue keeps up, one or two sectors), and peek/next
 * remember the next TERN_OUTBOX_LOOKAHEAD records in drain order from each
 * scan, so draining a long backlog scans once per that many records. A flash failure other than a
 * refused argument leaves the outbox needing a remount: later calls return TERN_ERR_STATE.
 */
#ifndef TERN_OUTBOX_H
#define TERN_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"
#include "tern/hal.h"
#include "tern/mqtt.h"
#include "tern/tern_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Priorities; lower value drains first. */
typedef enum tern_outbox_prio {
    TERN_OUTBOX_CRITICAL = 0,
    TERN_OUTBOX_NORMAL = 1,
    TERN_OUTBOX_BULK = 2,
} tern_outbox_prio_t;

#define TERN_OUTBOX_PRIOS 3

/** Bytes of a record header plus status word; slot_size = this + max_payload, rounded up to 4. */
#define TERN_OUTBOX_RECORD_OVERHEAD 16u
/** Bytes of a sector header. */
#define TERN_OUTBOX_SECTOR_HEADER   16u

/** A record as peek/next/read describe it. */
typedef struct tern_outbox_rec {
    uint32_t seq; /* the record's sequence number: the MQTT token, the argument of ack */
    uint16_t len; /* payload bytes */
    uint8_t prio; /* tern_outbox_prio_t */
} tern_outbox_rec_t;

/**
 * Called once per evicted record, just before it is killed on flash: a power cut
 * right after may leave it in place (sent twice at worst), but no record ever
 * disappears without an ack or this report.
 */
typedef void (*tern_outbox_evict_fn)(void *user, uint32_t seq, tern_outbox_prio_t prio);

typedef struct tern_outbox_config {
    tern_flash_t flash;            /* the partition, used whole; at least 3 sectors */
    uint16_t max_payload;          /* largest payload; fixes the slot size */
    tern_outbox_evict_fn on_evict; /* optional */
    void *user;
} tern_outbox_config_t;

/** One remembered record of the look-ahead (private). */
typedef struct tern_outbox_ahead {
    uint32_t addr, seq;
    uint8_t prio;
} tern_outbox_ahead_t;

/** The outbox. Caller-owned; fields are private. */
typedef struct tern_outbox {
    tern_outbox_config_t cfg;
    uint32_t sector_size, sectors, slot_size, slots; /* slots per sector */
    uint32_t head, tail, used; /* sector indexes; used = sectors from tail to head */
    uint32_t wp;               /* next free slot in the head sector */
    uint32_t head_order;
    uint32_t next_seq;
    uint32_t live[TERN_OUTBOX_PRIOS];
    uint32_t snap_live; /* live in-flight snapshots (0 or 1, 2 briefly) */
    uint32_t evictions; /* since mount */
    uint32_t skip;      /* leading sectors known to hold no live record: scans start after */
    /* Look-ahead: the live messages with the smallest keys above `ahead_lo` (none: from the
     * start) as the last scan found them, in drain order; `ahead_all` if that was every one. */
    bool ahead_valid, ahead_all, ahead_has_lo;
    uint8_t ahead_n;
    uint64_t ahead_lo;
    uint8_t recent_next;
    bool snap_known; /* snap_addr is where the newest in-flight snapshot was written */
    uint32_t snap_addr;
#if TERN_OUTBOX_LOOKAHEAD > 0
    tern_outbox_ahead_t ahead[TERN_OUTBOX_LOOKAHEAD];
    tern_outbox_ahead_t recent[TERN_OUTBOX_LOOKAHEAD]; /* the last records handed out, for acks */
#endif
    bool mounted;
} tern_outbox_t;

/**
 * Mount the outbox on cfg->flash: scan it, verify every record, drop torn
 * tails and duplicate copies, and restore the queue (a blank or foreign flash
 * becomes an empty outbox). TERN_ERR_INVAL on a bad geometry or a slot larger
 * than a sector, TERN_ERR_UNSUPPORTED if the program unit is larger than 4.
 */
tern_err_t tern_outbox_mount(tern_outbox_t *ob, const tern_outbox_config_t *cfg);

/**
 * Append @p len bytes of @p data at @p prio; TERN_OK only once the record is
 * fully programmed (durable). *seq (may be NULL) gets its sequence number.
 * May compact a sector or evict BULK/NORMAL records; TERN_ERR_FULL if only
 * CRITICAL records fill it, TERN_ERR_RANGE if len > max_payload.
 */
tern_err_t tern_outbox_enqueue(tern_outbox_t *ob, tern_outbox_prio_t prio, const void *data,
                               size_t len, uint32_t *seq);

/**
 * The oldest live record of the highest priority: its description in *rec and,
 * if @p buf is not NULL, its payload (TERN_ERR_TOO_SMALL if cap is short).
 * TERN_ERR_EMPTY if none.
 */
tern_err_t tern_outbox_peek(tern_outbox_t *ob, tern_outbox_rec_t *rec, void *buf, size_t cap);

/**
 * The live record that follows @p after in drain order (priority, then
 * sequence), to send several before their acks come; as peek otherwise.
 */
tern_err_t tern_outbox_next(tern_outbox_t *ob, const tern_outbox_rec_t *after,
                            tern_outbox_rec_t *rec, void *buf, size_t cap);

/** Read the live record @p seq (to reproduce an MQTT resend); TERN_ERR_NOT_FOUND if gone. */
tern_err_t tern_outbox_read(tern_outbox_t *ob, uint32_t seq, tern_outbox_rec_t *rec, void *buf,
                            size_t cap);

/** Remove record @p seq, durably. TERN_ERR_NOT_FOUND if it is not live. */
tern_err_t tern_outbox_ack(tern_outbox_t *ob, uint32_t seq);

/** Live records of @p prio. */
uint32_t tern_outbox_count(const tern_outbox_t *ob, tern_outbox_prio_t prio);

/** The sequence number the next record will get (always above every number handed out). */
uint32_t tern_outbox_next_seq(const tern_outbox_t *ob);

/**
 * Store a snapshot of the MQTT in-flight table (@p count records) durably,
 * replacing the previous one. TERN_ERR_RANGE if it does not fit in a slot.
 */
tern_err_t tern_outbox_save_inflight(tern_outbox_t *ob, const tern_mqtt_inflight_t *table,
                                     size_t count);

/**
 * Load the newest snapshot into @p table (@p cap records); *count gets how
 * many were stored (0 if none). TERN_ERR_TOO_SMALL if cap is short.
 */
tern_err_t tern_outbox_load_inflight(tern_outbox_t *ob, tern_mqtt_inflight_t *table, size_t cap,
                                     size_t *count);

#ifdef __cplusplus
}
#endif
#endif /* TERN_OUTBOX_H */
