/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd's SQLite store (store.h): one connection, every statement prepared
 * once at open and reused, so ingest pays for stepping and nothing else.
 *
 * Schema (version 2, in PRAGMA user_version; a version 1 file gains the
 * tables of version 2 when it is opened):
 *   devices(id, first_seen_ms, last_seen_ms, online, fw, link, region, epoch,
 *           max_seq, messages, readings)           the registry
 *   messages(device, epoch, seq, received_ms)      one row per stored telemetry
 *                                                  message: the dedupe key
 *   readings(device, epoch, seq, name, unit, t, kind, v, vb, vs, vd)
 *                                                  indexed on (device, t)
 *   twin_meta(device, desired_version, reported_version, applied_version)
 *   twin_desired(device, key, value, version, deleted)  deleted keys stay as
 *                                                  tombstones (value NULL)
 *   twin_reported(device, key, value, version)
 *   certs(id, device, request, key_id, serial, not_before, not_after,
 *         issued_ms, chain, published)       one row per certificate issued,
 *                                                  unique per (device, request,
 *                                                  key_id): the idempotence key
 *   trust(device, version, pem, created_ms, published)
 *                                                  one row per trust store
 *
 * published is 1 once the broker acknowledged the row on its topic (cert/new,
 * trust/new), or a newer row of the device replaced it: the rows with 0 are
 * what ternd publishes again when it connects.
 *
 * A device created by an operator's twin change before it ever connected has
 * first_seen_ms and last_seen_ms 0 ("never seen"); its first presence or
 * message sets them.
 *
 * SQLite integers are signed 64-bit: sequence numbers and versions above
 * INT64_MAX are refused (-1) rather than wrapped. Text fields of the registry
 * longer than ternd_device_t holds (fw, link, region: 32 bytes) are refused
 * too, never cut.
 *
 * Callbacks run while the query is open: they must not call the store.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen, strdup, clock_gettime */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "tern/wire.h"

#define SCHEMA_VERSION 2

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS devices("
    " id TEXT PRIMARY KEY NOT NULL,"
    " first_seen_ms INTEGER NOT NULL DEFAULT 0,"
    " last_seen_ms INTEGER NOT NULL DEFAULT 0,"
    " online INTEGER NOT NULL DEFAULT 0,"
    " fw TEXT NOT NULL DEFAULT '',"
    " link TEXT NOT NULL DEFAULT '',"
    " region TEXT NOT NULL DEFAULT '',"
    " epoch INTEGER NOT NULL DEFAULT 0,"
    " max_seq INTEGER NOT NULL DEFAULT 0,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " readings INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages("
    " device TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(device, epoch, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS readings("
    " device TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " name TEXT NOT NULL, unit TEXT NOT NULL DEFAULT '', t REAL NOT NULL,"
    " kind INTEGER NOT NULL, v REAL, vb INTEGER, vs TEXT, vd BLOB"
    ");"
    "CREATE INDEX IF NOT EXISTS readings_device_t ON readings(device, t);"
    "CREATE TABLE IF NOT EXISTS twin_meta("
    " device TEXT PRIMARY KEY NOT NULL,"
    " desired_version INTEGER NOT NULL DEFAULT 0,"
    " reported_version INTEGER NOT NULL DEFAULT 0,"
    " applied_version INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS twin_desired("
    " device TEXT NOT NULL, key TEXT NOT NULL, value BLOB, version INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(device, key)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS twin_reported("
    " device TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL,"
    " PRIMARY KEY(device, key)"
    ") WITHOUT ROWID;"
    /* version 2 */
    "CREATE TABLE IF NOT EXISTS certs("
    " id INTEGER PRIMARY KEY,"
    " device TEXT NOT NULL, request INTEGER NOT NULL, key_id TEXT NOT NULL,"
    " serial TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
    " issued_ms INTEGER NOT NULL, chain TEXT NOT NULL,"
    " published INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(device, request, key_id)"
    ");"
    "CREATE TABLE IF NOT EXISTS trust("
    " device TEXT NOT NULL, version INTEGER NOT NULL, pem TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, published INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(device, version)"
    ") WITHOUT ROWID;";

#define CERT_COLS \
    "device, request, key_id, serial, not_before, not_after, issued_ms, chain, published"

#define DEVICE_COLS                                                                         \
    "id, first_seen_ms, last_seen_ms, online, fw, link, region, epoch, max_seq, messages, " \
    "readings"

/* Every statement, prepared at open. */
#define STATEMENTS(X)                                                                            \
    X(ST_BEGIN, "BEGIN IMMEDIATE")                                                               \
    X(ST_COMMIT, "COMMIT")                                                                       \
    X(ST_ROLLBACK, "ROLLBACK")                                                                   \
    X(ST_SAVEPOINT, "SAVEPOINT ternd_op")                                                        \
    X(ST_RELEASE, "RELEASE ternd_op")                                                            \
    X(ST_ROLLBACK_TO, "ROLLBACK TO ternd_op")                                                    \
    X(ST_DEV_ENSURE, "INSERT INTO devices(id, first_seen_ms, last_seen_ms) VALUES(?1, ?2, ?2)"   \
                     " ON CONFLICT(id) DO NOTHING")                                              \
    X(ST_SEEN, "INSERT INTO devices(id, first_seen_ms, last_seen_ms) VALUES(?1, ?2, ?2)"         \
               " ON CONFLICT(id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"            \
               " first_seen_ms = CASE WHEN first_seen_ms = 0 THEN excluded.first_seen_ms"        \
               " ELSE first_seen_ms END")                                                        \
    X(ST_PRESENCE,                                                                               \
      "INSERT INTO devices(id, first_seen_ms, last_seen_ms, online, fw, link, region)"           \
      " VALUES(?1, ?2, ?2, ?3, COALESCE(?4, ''), COALESCE(?5, ''), COALESCE(?6, ''))"            \
      " ON CONFLICT(id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"                     \
      " first_seen_ms = CASE WHEN first_seen_ms = 0 THEN excluded.first_seen_ms"                 \
      " ELSE first_seen_ms END,"                                                                 \
      " online = excluded.online, fw = COALESCE(?4, fw), link = COALESCE(?5, link),"             \
      " region = COALESCE(?6, region),"                                                          \
      " epoch = CASE WHEN ?7 AND ?8 < max_seq THEN epoch + 1 ELSE epoch END,"                    \
      " max_seq = CASE WHEN ?7 AND ?8 < max_seq THEN 0 ELSE max_seq END")                        \
    X(ST_MSG_INSERT, "INSERT OR IGNORE INTO messages(device, epoch, seq, received_ms)"           \
                     " SELECT id, epoch, ?2, ?3 FROM devices WHERE id = ?1")                     \
    X(ST_MSG_COUNT, "UPDATE devices SET max_seq = MAX(max_seq, ?2), messages = messages + 1"     \
                    " WHERE id = ?1")                                                            \
    X(ST_READING,                                                                                \
      "INSERT INTO readings(device, epoch, seq, name, unit, t, kind, v, vb, vs, vd)"             \
      " SELECT id, epoch, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM devices WHERE id = ?1")       \
    X(ST_READING_COUNT, "UPDATE devices SET readings = readings + ?2 WHERE id = ?1")             \
    X(ST_DEVICE, "SELECT " DEVICE_COLS " FROM devices WHERE id = ?1")                            \
    X(ST_DEVICES, "SELECT " DEVICE_COLS " FROM devices ORDER BY id")                             \
    X(ST_READINGS, "SELECT seq, name, unit, t, kind, v, vb, vs, vd FROM readings"                \
                   " WHERE device = ?1 AND t >= ?2 AND (?3 IS NULL OR name = ?3)"                \
                   " ORDER BY t, rowid LIMIT ?4")                                                \
    X(ST_META_ENSURE, "INSERT INTO twin_meta(device) VALUES(?1) ON CONFLICT(device) DO NOTHING") \
    X(ST_META_BUMP, "UPDATE twin_meta SET desired_version = desired_version + 1"                 \
                    " WHERE device = ?1 RETURNING desired_version")                              \
    X(ST_DESIRED_PUT, "INSERT INTO twin_desired(device, key, value, version, deleted)"           \
                      " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(device, key) DO UPDATE SET"       \
                      " value = excluded.value, version = excluded.version,"                     \
                      " deleted = excluded.deleted")                                             \
    X(ST_VERSIONS, "SELECT desired_version, reported_version, applied_version FROM twin_meta"    \
                   " WHERE device = ?1")                                                         \
    X(ST_DESIRED_GET, "SELECT key, value, version, deleted FROM twin_desired"                    \
                      " WHERE device = ?1 AND version > ?2 AND (?2 > 0 OR deleted = 0)"          \
                      " ORDER BY key")                                                           \
    X(ST_REPORTED_GET, "SELECT key, value, version FROM twin_reported WHERE device = ?1"         \
                       " ORDER BY key")                                                          \
    X(ST_APPLIED, "UPDATE twin_meta SET applied_version = MAX(applied_version, ?2)"              \
                  " WHERE device = ?1")                                                          \
    X(ST_REPORTED_CLEAR, "DELETE FROM twin_reported WHERE device = ?1")                          \
    X(ST_REPORTED_PUT, "INSERT INTO twin_reported(device, key, value, version)"                  \
                       " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(device, key) DO UPDATE SET"          \
                       " value = excluded.value, version = excluded.version")                    \
    X(ST_REPORTED_DEL, "DELETE FROM twin_reported WHERE device = ?1 AND key = ?2")               \
    X(ST_REPORTED_VERSION, "UPDATE twin_meta SET reported_version = ?2 WHERE device = ?1")       \
    X(ST_TWIN_RESTART, "UPDATE twin_meta SET reported_version = 0, applied_version = ?2"         \
                       " WHERE device = ?1")                                                     \
    X(ST_CERT_SUPERSEDE, "UPDATE certs SET published = 1 WHERE device = ?1 AND published = 0")   \
    X(ST_CERT_PUT, "INSERT OR REPLACE INTO certs(" CERT_COLS ")"                                 \
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)")                                 \
    X(ST_CERT_LATEST, "SELECT " CERT_COLS " FROM certs WHERE device = ?1"                        \
                      " ORDER BY id DESC LIMIT 1")                                               \
    X(ST_CERT_FIND, "SELECT " CERT_COLS " FROM certs"                                            \
                    " WHERE device = ?1 AND request = ?2 AND key_id = ?3")                       \
    X(ST_CERT_PUBLISHED, "UPDATE certs SET published = 1 WHERE device = ?1 AND serial = ?2")     \
    X(ST_TRUST_SUPERSEDE, "UPDATE trust SET published = 1 WHERE device = ?1 AND published = 0")  \
    X(ST_TRUST_PUT, "INSERT INTO trust(device, version, pem, created_ms)"                        \
                    " SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3 FROM trust"               \
                    " WHERE device = ?1 RETURNING version")                                      \
    X(ST_TRUST_LATEST, "SELECT version, pem, created_ms, published FROM trust WHERE device = ?1" \
                       " ORDER BY version DESC LIMIT 1")                                         \
    X(ST_TRUST_PUBLISHED, "UPDATE trust SET published = 1 WHERE device = ?1 AND version <= ?2")  \
    X(ST_PENDING, "SELECT DISTINCT device, 0 FROM certs WHERE published = 0"                     \
                  " UNION SELECT DISTINCT device, 1 FROM trust WHERE published = 0"              \
                  " ORDER BY 1, 2")                                                              \
    X(ST_FLEET_META_ENSURE, "INSERT INTO twin_meta(device) SELECT id FROM devices WHERE true"    \
                            " ON CONFLICT(device) DO NOTHING")                                   \
    X(ST_FLEET_BUMP, "UPDATE twin_meta SET desired_version = desired_version + 1"                \
                     " WHERE EXISTS (SELECT 1 FROM devices WHERE id = twin_meta.device)")        \
    X(ST_FLEET_DESIRED_PUT, "INSERT INTO twin_desired(device, key, value, version, deleted)"     \
                            " SELECT m.device, ?1, ?2, m.desired_version, ?3 FROM twin_meta m"   \
                            " WHERE EXISTS (SELECT 1 FROM devices WHERE id = m.device)"          \
                            " ON CONFLICT(device, key) DO UPDATE SET value = excluded.value,"    \
                            " version = excluded.version, deleted = excluded.deleted")           \
    X(ST_FLEET_VERSIONS, "SELECT COUNT(*), COALESCE(MIN(m.desired_version), 0),"                 \
                         " COALESCE(MAX(m.desired_version), 0)"                                  \
                         " FROM devices d JOIN twin_meta m ON m.device = d.id")                  \
    X(ST_FLEET_FIRST, "SELECT id FROM devices ORDER BY id LIMIT 1")                              \
    X(ST_TWIN_BEHIND, "SELECT d.id, m.desired_version, m.applied_version"                        \
                      " FROM devices d JOIN twin_meta m ON m.device = d.id"                      \
                      " WHERE d.id > ?1 AND d.online <> 0"                                       \
                      " AND m.applied_version < m.desired_version ORDER BY d.id LIMIT ?2")       \
    X(ST_FLEET_STATS,                                                                            \
      "SELECT COUNT(*), COALESCE(SUM(d.online <> 0), 0), COALESCE(SUM(d.messages), 0),"          \
      " COALESCE(SUM(d.readings), 0), COALESCE(MAX(m.desired_version), 0),"                      \
      " COALESCE(SUM(COALESCE(m.applied_version, 0) = COALESCE(m.desired_version, 0)), 0)"       \
      " FROM devices d LEFT JOIN twin_meta m ON m.device = d.id")

#define ST_ENUM(name, sql) name,
enum { STATEMENTS(ST_ENUM) ST_COUNT };
#define ST_SQL(name, sql) sql,
static const char *const k_sql[ST_COUNT] = { STATEMENTS(ST_SQL) };

/* A twin value copied out of SQLite, kept until the next call on the store. */
typedef struct blob {
    struct blob *next;
    uint8_t data[];
} blob_t;

typedef struct sq_store {
    ternd_store_t base; /* first: a ternd_store_t * is a sq_store_t * */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    blob_t *blobs;
    /* Readings stored in the open transaction and not yet added to their device's
     * count: one UPDATE per batch instead of one per reading (a third of the time
     * ingest spends here). Added before anything else runs, dropped on rollback. */
    char pend_id[TERN_WIRE_ID_MAX + 1];
    uint64_t pend_n;
    char err[512];
} sq_store_t;

static sq_store_t *sq(ternd_store_t *s)
{
    return (sq_store_t *)s;
}

static int fail(sq_store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(sq_store_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_db(sq_store_t *s, const char *what)
{
    return fail(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Free the values handed out by the previous call. */
static void blobs_free(sq_store_t *s)
{
    while (s->blobs != NULL) {
        blob_t *b = s->blobs;
        s->blobs = b->next;
        free(b);
    }
}

static int run(sq_store_t *s, sqlite3_stmt *st, const char *what);
static sqlite3_stmt *stmt(sq_store_t *s, int i);

/* Add the pending readings to their device's count. */
static int flush_counts(sq_store_t *s)
{
    if (s->pend_n == 0) {
        return 0;
    }
    uint64_t n = s->pend_n;
    s->pend_n = 0;
    if (sqlite3_get_autocommit(s->db)) {
        return 0; /* their transaction ended without a commit (SQLite rolled it back) */
    }
    sqlite3_stmt *st = stmt(s, ST_READING_COUNT);
    sqlite3_bind_text(st, 1, s->pend_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    return run(s, st, "count readings");
}

/* The start of every operation but reading(): the previous call's values expire, the
 * readings counts are brought up to date. */
static int op_start(sq_store_t *s)
{
    blobs_free(s);
    return flush_counts(s);
}

static const uint8_t *blob_keep(sq_store_t *s, const void *p, size_t len)
{
    blob_t *b = malloc(sizeof *b + (len ? len : 1));
    if (b == NULL) {
        return NULL;
    }
    if (len) {
        memcpy(b->data, p, len);
    }
    b->next = s->blobs;
    s->blobs = b;
    return b->data;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The statement @p i, reset and with its bindings cleared, ready to bind. */
static sqlite3_stmt *stmt(sq_store_t *s, int i)
{
    sqlite3_stmt *st = s->st[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Step a statement that returns no rows (or one we ignore) to the end. */
static int run(sq_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, what);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int check_id(sq_store_t *s, const char *id)
{
    if (id == NULL || !tern_wire_id_ok(id, strnlen(id, TERN_WIRE_ID_MAX + 1))) {
        return fail(s, "invalid device id");
    }
    return 0;
}

/* op_start(), and @p id a device id. */
static int op_start_for(sq_store_t *s, const char *id)
{
    return op_start(s) != 0 || check_id(s, id) ? -1 : 0;
}

static int check_u63(sq_store_t *s, uint64_t v, const char *what)
{
    if (v > (uint64_t)INT64_MAX) {
        return fail(s, "%s %" PRIu64 " is above 2^63-1, which the store cannot hold", what, v);
    }
    return 0;
}

static int check_field(sq_store_t *s, const char *v, size_t cap, const char *what)
{
    if (v != NULL && strnlen(v, cap) >= cap) {
        return fail(s, "%s longer than %zu bytes", what, cap - 1);
    }
    return 0;
}

/* ------------------------------------------------------- transactions -- */

static int sq_begin(ternd_store_t *base)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    return run(s, stmt(s, ST_BEGIN), "begin");
}

static int sq_commit(ternd_store_t *base)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    return run(s, stmt(s, ST_COMMIT), "commit");
}

static int sq_rollback(ternd_store_t *base)
{
    sq_store_t *s = sq(base);
    blobs_free(s);
    s->pend_n = 0; /* their readings go with the transaction */
    if (sqlite3_get_autocommit(s->db)) {
        return 0; /* nothing open (SQLite may have rolled back on its own after an error) */
    }
    return run(s, stmt(s, ST_ROLLBACK), "rollback");
}

/* An operation of several statements: a savepoint nests in the caller's transaction if any. */
static int sp_begin(sq_store_t *s)
{
    return run(s, stmt(s, ST_SAVEPOINT), "savepoint");
}

static int sp_end(sq_store_t *s, int rc)
{
    if (rc >= 0) {
        if (run(s, stmt(s, ST_RELEASE), "release") == 0) {
            return rc;
        }
    }
    /* keep the first failure's message: the rollback's own can only be less useful */
    char keep[sizeof s->err];
    memcpy(keep, s->err, sizeof keep);
    sqlite3_stmt *st = stmt(s, ST_ROLLBACK_TO);
    (void)sqlite3_step(st);
    sqlite3_reset(st);
    st = stmt(s, ST_RELEASE);
    (void)sqlite3_step(st);
    sqlite3_reset(st);
    memcpy(s->err, keep, sizeof keep);
    return -1;
}

/* ----------------------------------------------------------- registry -- */

static int ensure_device(sq_store_t *s, const char *id, int64_t now)
{
    sqlite3_stmt *st = stmt(s, ST_DEV_ENSURE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return run(s, st, "create device");
}

static int sq_presence(ternd_store_t *base, const char *id, bool online, const char *fw,
                       const char *link, const char *region, bool has_seq, uint64_t next_seq,
                       int64_t now)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    ternd_device_t d;
    if (check_id(s, id) || check_field(s, fw, sizeof d.fw, "fw") ||
        check_field(s, link, sizeof d.link, "link") ||
        check_field(s, region, sizeof d.region, "region")) {
        return -1;
    }
    if (has_seq && check_u63(s, next_seq, "seq")) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_PRESENCE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, online ? 1 : 0);
    if (fw != NULL) {
        sqlite3_bind_text(st, 4, fw, -1, SQLITE_STATIC);
    }
    if (link != NULL) {
        sqlite3_bind_text(st, 5, link, -1, SQLITE_STATIC);
    }
    if (region != NULL) {
        sqlite3_bind_text(st, 6, region, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 7, has_seq ? 1 : 0);
    sqlite3_bind_int64(st, 8, has_seq ? (sqlite3_int64)next_seq : 0);
    return run(s, st, "presence");
}

static int sq_seen(ternd_store_t *base, const char *id, int64_t now)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_SEEN);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return run(s, st, "seen");
}

/* 1 inserted, 0 not (a duplicate, or no such device), -1 failed. */
static int msg_insert(sq_store_t *s, const char *id, uint64_t seq, int64_t now)
{
    sqlite3_stmt *st = stmt(s, ST_MSG_INSERT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 3, now);
    if (run(s, st, "message") != 0) {
        return -1;
    }
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static int sq_message(ternd_store_t *base, const char *id, uint64_t seq, int64_t now)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    if (check_id(s, id) || check_u63(s, seq, "seq")) {
        return -1;
    }
    /* The usual case (a known device, a new seq) takes one statement here; only a 0
     * needs telling a duplicate from a device not created yet. */
    int rc = msg_insert(s, id, seq, now);
    if (rc == 0) {
        sqlite3_stmt *st = stmt(s, ST_DEV_ENSURE);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        if (run(s, st, "create device") != 0) {
            return -1;
        }
        if (sqlite3_changes(s->db) > 0) {
            rc = msg_insert(s, id, seq, now);
        }
    }
    if (rc != 1) {
        return rc;
    }
    sqlite3_stmt *st = stmt(s, ST_MSG_COUNT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    return run(s, st, "count message") == 0 ? 1 : -1;
}

static int sq_reading(ternd_store_t *base, const char *id, uint64_t seq, const ternd_reading_t *r)
{
    sq_store_t *s = sq(base);
    blobs_free(s);
    if (check_id(s, id) || check_u63(s, seq, "seq")) {
        return -1;
    }
    if (r == NULL || r->name == NULL) {
        return fail(s, "reading without a name");
    }
    sqlite3_stmt *st = stmt(s, ST_READING);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->unit != NULL ? r->unit : "", -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, r->t);
    sqlite3_bind_int(st, 6, (int)r->kind);
    switch (r->kind) {
    case TERND_V_NUM:
        sqlite3_bind_double(st, 7, r->v);
        break;
    case TERND_V_BOOL:
        sqlite3_bind_int(st, 8, r->vb ? 1 : 0);
        break;
    case TERND_V_STR:
        if (r->vs == NULL) {
            return fail(s, "string reading without a value");
        }
        sqlite3_bind_text(st, 9, r->vs, -1, SQLITE_STATIC);
        break;
    case TERND_V_DATA:
        if (r->vd == NULL && r->vd_len > 0) {
            return fail(s, "data reading without a value");
        }
        if (r->vd_len > INT_MAX) {
            return fail(s, "data reading of %zu bytes is too large", r->vd_len);
        }
        /* never a NULL pointer: an empty value is an empty blob, not SQL NULL */
        sqlite3_bind_blob(st, 10, r->vd != NULL ? (const void *)r->vd : "", (int)r->vd_len,
                          SQLITE_STATIC);
        break;
    default:
        return fail(s, "unknown reading kind %d", (int)r->kind);
    }
    if (run(s, st, "reading") != 0) {
        return -1;
    }
    if (sqlite3_changes(s->db) == 0) {
        return fail(s, "reading of unknown device %s (store its message first)", id);
    }
    if (sqlite3_get_autocommit(s->db)) { /* no transaction: counted at once */
        st = stmt(s, ST_READING_COUNT);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, 1);
        return run(s, st, "count reading");
    }
    if (s->pend_n > 0 && strcmp(s->pend_id, id) != 0 && flush_counts(s) != 0) {
        return -1;
    }
    if (s->pend_n == 0) {
        memcpy(s->pend_id, id, strlen(id) + 1); /* checked: at most TERN_WIRE_ID_MAX */
    }
    s->pend_n++;
    return 0;
}

static int copy_text(sq_store_t *s, sqlite3_stmt *st, int col, char *out, size_t cap,
                     const char *what)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (n >= cap) {
        return fail(s, "stored %s longer than %zu bytes", what, cap - 1);
    }
    if (n > 0) {
        memcpy(out, t, n);
    }
    out[n] = '\0';
    return 0;
}

/* A row of a query into @p out, for one_row(): 0, or -1 failed (the reason in s->err). */
typedef int (*row_fn)(sq_store_t *s, sqlite3_stmt *st, void *out);

/* Step @p st, a query of one row at most, and read its row with @p row: 1, 0 none, -1
 * failed. @p st is reset. */
static int one_row(sq_store_t *s, sqlite3_stmt *st, row_fn row, void *out, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        fail_db(s, what);
        sqlite3_reset(st);
        return -1;
    }
    rc = row(s, st, out) == 0 ? 1 : -1;
    sqlite3_reset(st);
    return rc;
}

/* one_row() of statement @p which, its one parameter the device id @p id. */
static int row_of(ternd_store_t *base, int which, const char *id, row_fn row, void *out,
                  const char *what)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, which);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return one_row(s, st, row, out, what);
}

static int row_device(sq_store_t *s, sqlite3_stmt *st, void *out)
{
    ternd_device_t *d = out;
    memset(d, 0, sizeof *d);
    if (copy_text(s, st, 0, d->id, sizeof d->id, "id") ||
        copy_text(s, st, 4, d->fw, sizeof d->fw, "fw") ||
        copy_text(s, st, 5, d->link, sizeof d->link, "link") ||
        copy_text(s, st, 6, d->region, sizeof d->region, "region")) {
        return -1;
    }
    d->first_seen_ms = sqlite3_column_int64(st, 1);
    d->last_seen_ms = sqlite3_column_int64(st, 2);
    d->online = sqlite3_column_int(st, 3) != 0;
    d->epoch = (uint32_t)sqlite3_column_int64(st, 7);
    d->max_seq = (uint64_t)sqlite3_column_int64(st, 8);
    d->messages = (uint64_t)sqlite3_column_int64(st, 9);
    d->readings = (uint64_t)sqlite3_column_int64(st, 10);
    return 0;
}

static int sq_device(ternd_store_t *base, const char *id, ternd_device_t *out)
{
    return row_of(base, ST_DEVICE, id, row_device, out, "device");
}

static int sq_devices(ternd_store_t *base, ternd_device_fn fn, void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_DEVICES);
    int rc;
    ternd_device_t d;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row_device(s, st, &d) != 0) {
            sqlite3_reset(st);
            return -1;
        }
        fn(ctx, &d);
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, "devices");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_readings(ternd_store_t *base, const char *id, double since, const char *name,
                       size_t limit, ternd_reading_fn fn, void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_READINGS);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, isnan(since) ? -1e308 : since); /* NaN: from the start */
    if (name != NULL) {
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 4, limit == 0 || limit > (size_t)INT64_MAX ? -1 : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ternd_reading_t r;
        memset(&r, 0, sizeof r);
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
        r.name = (const char *)sqlite3_column_text(st, 1);
        r.unit = (const char *)sqlite3_column_text(st, 2);
        r.t = sqlite3_column_double(st, 3);
        int kind = sqlite3_column_int(st, 4);
        switch (kind) {
        case TERND_V_NUM:
            r.kind = TERND_V_NUM;
            r.v = sqlite3_column_double(st, 5);
            break;
        case TERND_V_BOOL:
            r.kind = TERND_V_BOOL;
            r.vb = sqlite3_column_int(st, 6) != 0;
            break;
        case TERND_V_STR:
            r.kind = TERND_V_STR;
            r.vs = (const char *)sqlite3_column_text(st, 7);
            break;
        case TERND_V_DATA:
            r.kind = TERND_V_DATA;
            r.vd = sqlite3_column_blob(st, 8);
            r.vd_len = (size_t)sqlite3_column_bytes(st, 8);
            break;
        default:
            fail(s, "stored reading of unknown kind %d", kind);
            sqlite3_reset(st);
            return -1;
        }
        if (r.name == NULL || r.unit == NULL || (r.kind == TERND_V_STR && r.vs == NULL)) {
            fail(s, "stored reading with a missing field (out of memory?)");
            sqlite3_reset(st);
            return -1;
        }
        if (r.vd == NULL) {
            r.vd = (const uint8_t *)"";
        }
        fn(ctx, id, seq, &r);
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, "readings");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* --------------------------------------------------------------- twin -- */

static int check_kv(sq_store_t *s, const ternd_twin_kv_t *kv)
{
    size_t kl = strnlen(kv->key, sizeof kv->key);
    if (kl >= sizeof kv->key) {
        return fail(s, "twin key longer than %zu bytes", sizeof kv->key - 1);
    }
    if (!kv->deleted && (kv->value == NULL || kv->len == 0)) {
        return fail(s, "twin key %s without a value", kv->key);
    }
    if (!kv->deleted && kv->len > INT_MAX) {
        return fail(s, "twin key %s: value too large", kv->key);
    }
    return 0;
}

/* @p n keys to change, each checked. */
static int check_kvs(sq_store_t *s, const ternd_twin_kv_t *kv, size_t n)
{
    if (n > 0 && kv == NULL) {
        return fail(s, "no keys");
    }
    for (size_t i = 0; i < n; i++) {
        if (check_kv(s, &kv[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int ensure_meta(sq_store_t *s, const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_META_ENSURE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return run(s, st, "create twin");
}

static int set_desired(sq_store_t *s, const char *id, const ternd_twin_kv_t *kv, size_t n,
                       uint64_t *version)
{
    if (ensure_device(s, id, 0) != 0 || ensure_meta(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_META_BUMP);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_db(s, "desired version");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    if (run(s, st, "desired version") != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        st = stmt(s, ST_DESIRED_PUT);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kv[i].key, -1, SQLITE_STATIC);
        if (!kv[i].deleted) {
            sqlite3_bind_blob(st, 3, kv[i].value, (int)kv[i].len, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 4, v);
        sqlite3_bind_int(st, 5, kv[i].deleted ? 1 : 0);
        if (run(s, st, "desired key") != 0) {
            return -1;
        }
    }
    if (version != NULL) {
        *version = (uint64_t)v;
    }
    return 0;
}

static int sq_twin_set_desired(ternd_store_t *base, const char *id, const ternd_twin_kv_t *kv,
                               size_t n, uint64_t *version)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    if (check_id(s, id) || check_kvs(s, kv, n) != 0 || sp_begin(s) != 0) {
        return -1;
    }
    return sp_end(s, set_desired(s, id, kv, n, version));
}

/* ---------------------------------------------------------- the fleet -- */

/* The CBOR head of a text string of @p n bytes. */
static size_t text_head(size_t n)
{
    return n < 24 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* A transaction of the operation's own (BEGIN IMMEDIATE: the write lock is taken before the
 * first read, so what it reads stays true until it writes, and a writer in the way is
 * waited for), or a savepoint inside the caller's. *own says which, for tx_end(). */
static int tx_begin(sq_store_t *s, bool *own)
{
    *own = sqlite3_get_autocommit(s->db) != 0;
    return *own ? run(s, stmt(s, ST_BEGIN), "begin") : sp_begin(s);
}

static int tx_end(sq_store_t *s, bool own, int rc)
{
    if (!own) {
        return sp_end(s, rc);
    }
    if (rc >= 0 && run(s, stmt(s, ST_COMMIT), "commit") == 0) {
        return rc;
    }
    char keep[sizeof s->err];
    memcpy(keep, s->err, sizeof keep);
    sqlite3_stmt *st = stmt(s, ST_ROLLBACK);
    (void)sqlite3_step(st);
    sqlite3_reset(st);
    memcpy(s->err, keep, sizeof keep);
    return -1;
}

/* The size of every device's desired state after setting @p kv, in bytes of its entries as
 * CBOR: the largest one into out->largest and out->largest_bytes. One aggregate over the
 * desired keys the change leaves as they are (its own statement: the changed keys are its
 * parameters), plus what the change adds, which is the same for every device. */
static int fleet_largest(sq_store_t *s, const ternd_twin_kv_t *kv, size_t n,
                         ternd_fleet_change_t *out)
{
    static const char head[] = "SELECT device, SUM(CASE WHEN length(CAST(key AS BLOB)) < 24 THEN 1"
                               " WHEN length(CAST(key AS BLOB)) < 256 THEN 2"
                               " WHEN length(CAST(key AS BLOB)) < 65536 THEN 3 ELSE 5 END"
                               " + length(CAST(key AS BLOB)) + length(value)) AS bytes"
                               " FROM twin_desired WHERE deleted = 0";
    static const char tail[] = " GROUP BY device ORDER BY bytes DESC, device LIMIT 1";
    size_t add = 0;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(kv[i].key);
        add += kv[i].deleted ? 0 : text_head(kl) + kl + kv[i].len;
    }
    if (n > (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1)) {
        return fail(s, "%zu keys in one fleet change: at most %d", n,
                    sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1));
    }
    size_t cap = sizeof head + sizeof tail + 32 + n * 8;
    char *sql = malloc(cap);
    if (sql == NULL) {
        return fail(s, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t i = 0; i < n; i++) {
        len +=
            (size_t)snprintf(sql + len, cap - len, "%s?%zu", i ? ", " : " AND key NOT IN (", i + 1);
    }
    snprintf(sql + len, cap - len, "%s%s", n ? ")" : "", tail);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        return fail_db(s, "desired state sizes");
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, (int)i + 1, kv[i].key, -1, SQLITE_STATIC);
    }
    uint64_t kept = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        kept = (uint64_t)sqlite3_column_int64(st, 1);
        rc = copy_text(s, st, 0, out->largest, sizeof out->largest, "device") == 0 ? SQLITE_DONE
                                                                                   : SQLITE_ERROR;
    } else if (rc != SQLITE_DONE) {
        fail_db(s, "desired state sizes");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return -1;
    }
    out->largest_bytes = add + (size_t)kept;
    if (out->largest[0] == '\0') { /* no device keeps a key: they all end up the same size */
        st = stmt(s, ST_FLEET_FIRST);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW &&
            copy_text(s, st, 0, out->largest, sizeof out->largest, "device") != 0) {
            sqlite3_reset(st);
            return -1;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            fail_db(s, "first device");
            sqlite3_reset(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    return 0;
}

static int set_desired_all(sq_store_t *s, const ternd_twin_kv_t *kv, size_t n, size_t max_state,
                           ternd_fleet_change_t *out)
{
    if (fleet_largest(s, kv, n, out) != 0) {
        return -1;
    }
    if (max_state > 0 && out->largest[0] != '\0' && out->largest_bytes > max_state) {
        return 1; /* refused before anything was written */
    }
    /* set-wise: a few statements for the whole registry, whatever its size */
    if (run(s, stmt(s, ST_FLEET_META_ENSURE), "create twins") != 0 ||
        run(s, stmt(s, ST_FLEET_BUMP), "desired versions") != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(s, ST_FLEET_DESIRED_PUT);
        sqlite3_bind_text(st, 1, kv[i].key, -1, SQLITE_STATIC);
        if (!kv[i].deleted) {
            sqlite3_bind_blob(st, 2, kv[i].value, (int)kv[i].len, SQLITE_STATIC);
        }
        sqlite3_bind_int(st, 3, kv[i].deleted ? 1 : 0);
        if (run(s, st, "desired key") != 0) {
            return -1;
        }
    }
    sqlite3_stmt *st = stmt(s, ST_FLEET_VERSIONS);
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_db(s, "fleet versions");
        sqlite3_reset(st);
        return -1;
    }
    out->devices = (uint64_t)sqlite3_column_int64(st, 0);
    out->version_min = (uint64_t)sqlite3_column_int64(st, 1);
    out->version_max = (uint64_t)sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    return 0;
}

static int sq_twin_set_desired_all(ternd_store_t *base, const ternd_twin_kv_t *kv, size_t n,
                                   size_t max_state, ternd_fleet_change_t *out)
{
    sq_store_t *s = sq(base);
    ternd_fleet_change_t dummy;
    out = out != NULL ? out : &dummy;
    memset(out, 0, sizeof *out);
    bool own;
    if (op_start(s) != 0 || check_kvs(s, kv, n) != 0 || tx_begin(s, &own) != 0) {
        return -1;
    }
    return tx_end(s, own, set_desired_all(s, kv, n, max_state, out));
}

static int sq_twin_behind(ternd_store_t *base, const char *after, size_t limit, ternd_behind_fn fn,
                          void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_TWIN_BEHIND);
    sqlite3_bind_text(st, 1, after != NULL ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit == 0 || limit > (size_t)INT64_MAX ? -1 : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ternd_twin_behind_t b;
        memset(&b, 0, sizeof b);
        if (copy_text(s, st, 0, b.id, sizeof b.id, "device") != 0) {
            sqlite3_reset(st);
            return -1;
        }
        b.desired = (uint64_t)sqlite3_column_int64(st, 1);
        b.applied = (uint64_t)sqlite3_column_int64(st, 2);
        fn(ctx, &b);
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, "twins behind");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int row_stats(sq_store_t *s, sqlite3_stmt *st, void *out)
{
    (void)s;
    ternd_fleet_stats_t *f = out;
    f->devices = (uint64_t)sqlite3_column_int64(st, 0);
    f->online = (uint64_t)sqlite3_column_int64(st, 1);
    f->messages = (uint64_t)sqlite3_column_int64(st, 2);
    f->readings = (uint64_t)sqlite3_column_int64(st, 3);
    f->desired_version_max = (uint64_t)sqlite3_column_int64(st, 4);
    f->in_sync = (uint64_t)sqlite3_column_int64(st, 5);
    return 0;
}

static int sq_fleet_stats(ternd_store_t *base, ternd_fleet_stats_t *out)
{
    sq_store_t *s = sq(base);
    memset(out, 0, sizeof *out);
    if (op_start(s) != 0) {
        return -1;
    }
    return one_row(s, stmt(s, ST_FLEET_STATS), row_stats, out, "fleet stats") < 0 ? -1 : 0;
}

/* The desired, reported and applied versions: into uint64_t[3]. */
static int row_versions(sq_store_t *s, sqlite3_stmt *st, void *out)
{
    (void)s;
    uint64_t *v = out;
    for (int i = 0; i < 3; i++) {
        v[i] = (uint64_t)sqlite3_column_int64(st, i);
    }
    return 0;
}

static int sq_twin_versions(ternd_store_t *base, const char *id, uint64_t *desired,
                            uint64_t *reported, uint64_t *applied)
{
    uint64_t v[3] = { 0, 0, 0 }; /* no row: all 0 */
    if (row_of(base, ST_VERSIONS, id, row_versions, v, "twin versions") < 0) {
        return -1;
    }
    if (desired != NULL) {
        *desired = v[0];
    }
    if (reported != NULL) {
        *reported = v[1];
    }
    if (applied != NULL) {
        *applied = v[2];
    }
    return 0;
}

/* Hand each row of a twin query (key, value, version[, deleted]) to @p fn. */
static int twin_rows(sq_store_t *s, sqlite3_stmt *st, bool with_deleted, ternd_twin_kv_fn fn,
                     void *ctx, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ternd_twin_kv_t kv;
        memset(&kv, 0, sizeof kv);
        if (copy_text(s, st, 0, kv.key, sizeof kv.key, "twin key") != 0) {
            sqlite3_reset(st);
            return -1;
        }
        kv.version = (uint64_t)sqlite3_column_int64(st, 2);
        kv.deleted = with_deleted && sqlite3_column_int(st, 3) != 0;
        if (!kv.deleted) {
            const void *p = sqlite3_column_blob(st, 1);
            size_t n = (size_t)sqlite3_column_bytes(st, 1);
            if (p == NULL || n == 0) {
                fail(s, "twin key %s has no stored value", kv.key);
                sqlite3_reset(st);
                return -1;
            }
            kv.value = blob_keep(s, p, n);
            if (kv.value == NULL) {
                fail(s, "out of memory");
                sqlite3_reset(st);
                return -1;
            }
            kv.len = n;
        }
        fn(ctx, &kv);
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, what);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_twin_desired(ternd_store_t *base, const char *id, uint64_t since, ternd_twin_kv_fn fn,
                           void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    if (check_id(s, id) || check_u63(s, since, "desired version")) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_DESIRED_GET);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
    return twin_rows(s, st, true, fn, ctx, "twin desired");
}

static int sq_twin_reported(ternd_store_t *base, const char *id, ternd_twin_kv_fn fn, void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_REPORTED_GET);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return twin_rows(s, st, false, fn, ctx, "twin reported");
}

static int report(sq_store_t *s, const char *id, uint64_t version, uint64_t applied, bool full,
                  const ternd_twin_kv_t *kv, size_t n)
{
    if (ensure_device(s, id, now_ms()) != 0 || ensure_meta(s, id) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_VERSIONS);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_db(s, "twin versions");
        sqlite3_reset(st);
        return -1;
    }
    uint64_t stored = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (version == 0 && n == 0 && !full && stored > 0) {
        /* A hello from a twin that never had a report acknowledged, after reports from
         * this device: its twin started over (a factory reset, a new flash). Take its
         * word: nothing reported, the desired version it has; the delta goes from there. */
        st = stmt(s, ST_REPORTED_CLEAR);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (run(s, st, "clear reported") != 0) {
            return -1;
        }
        st = stmt(s, ST_TWIN_RESTART);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)applied);
        return run(s, st, "twin restart") != 0 ? -1 : 1;
    }
    st = stmt(s, ST_APPLIED);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)applied);
    if (run(s, st, "applied version") != 0) {
        return -1;
    }
    if (version <= stored) {
        return 0; /* stale: the applied version above is kept all the same */
    }
    if (full) {
        st = stmt(s, ST_REPORTED_CLEAR);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (run(s, st, "clear reported") != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (kv[i].deleted) {
            st = stmt(s, ST_REPORTED_DEL);
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, kv[i].key, -1, SQLITE_STATIC);
        } else {
            st = stmt(s, ST_REPORTED_PUT);
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, kv[i].key, -1, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, kv[i].value, (int)kv[i].len, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)version);
        }
        if (run(s, st, "reported key") != 0) {
            return -1;
        }
    }
    st = stmt(s, ST_REPORTED_VERSION);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    if (run(s, st, "reported version") != 0) {
        return -1;
    }
    return 1;
}

static int sq_twin_report(ternd_store_t *base, const char *id, uint64_t version, uint64_t applied,
                          bool full, const ternd_twin_kv_t *kv, size_t n)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    if (check_id(s, id) || check_u63(s, version, "reported version") ||
        check_u63(s, applied, "applied version") || check_kvs(s, kv, n) != 0 || sp_begin(s) != 0) {
        return -1;
    }
    return sp_end(s, report(s, id, version, applied, full, kv, n));
}

/* ------------------------------------------------ certificates, trust -- */

/* A text column copied out of SQLite with its NUL, kept until the next call on the store. */
static const char *keep_text(sq_store_t *s, sqlite3_stmt *st, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (t == NULL) {
        t = (const unsigned char *)"";
        n = 0;
    }
    char *p = (char *)blob_keep(s, t, n + 1); /* sqlite3_column_text()'s NUL included */
    if (p != NULL && len != NULL) {
        *len = n;
    }
    return p;
}

static int check_hex(sq_store_t *s, const char *v, size_t max, const char *what)
{
    size_t n = v != NULL ? strnlen(v, max + 1) : 0;
    if (n == 0 || n > max) {
        return fail(s, "%s: 1 to %zu characters expected", what, max);
    }
    return 0;
}

static int row_cert(sq_store_t *s, sqlite3_stmt *st, void *out)
{
    ternd_cert_row_t *r = out;
    memset(r, 0, sizeof *r);
    if (copy_text(s, st, 0, r->device, sizeof r->device, "device") ||
        copy_text(s, st, 2, r->key_id, sizeof r->key_id, "key id") ||
        copy_text(s, st, 3, r->serial, sizeof r->serial, "serial")) {
        return -1;
    }
    r->request = (uint64_t)sqlite3_column_int64(st, 1);
    r->not_before = sqlite3_column_int64(st, 4);
    r->not_after = sqlite3_column_int64(st, 5);
    r->issued_ms = sqlite3_column_int64(st, 6);
    r->chain = keep_text(s, st, 7, &r->chain_len);
    r->published = sqlite3_column_int(st, 8) != 0;
    return r->chain != NULL ? 0 : fail(s, "out of memory");
}

static int cert_put(sq_store_t *s, const ternd_cert_row_t *r)
{
    if (ensure_device(s, r->device, 0) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_CERT_SUPERSEDE);
    sqlite3_bind_text(st, 1, r->device, -1, SQLITE_STATIC);
    if (run(s, st, "supersede certificates") != 0) {
        return -1;
    }
    st = stmt(s, ST_CERT_PUT);
    sqlite3_bind_text(st, 1, r->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->request);
    sqlite3_bind_text(st, 3, r->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->serial, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->not_before);
    sqlite3_bind_int64(st, 6, r->not_after);
    sqlite3_bind_int64(st, 7, r->issued_ms);
    sqlite3_bind_text(st, 8, r->chain, (int)r->chain_len, SQLITE_STATIC);
    return run(s, st, "certificate");
}

static int sq_cert_put(ternd_store_t *base, const ternd_cert_row_t *r)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    if (r == NULL || check_id(s, r->device) || check_u63(s, r->request, "request serial") ||
        check_hex(s, r->key_id, sizeof r->key_id - 1, "key id") ||
        check_hex(s, r->serial, sizeof r->serial - 1, "serial")) {
        return -1;
    }
    if (r->chain == NULL || r->chain_len == 0 || r->chain_len > INT_MAX ||
        memchr(r->chain, 0, r->chain_len) != NULL) {
        return fail(s, "certificate chain missing, too large, or holding a NUL");
    }
    if (sp_begin(s) != 0) {
        return -1;
    }
    return sp_end(s, cert_put(s, r));
}

static int sq_cert_latest(ternd_store_t *base, const char *id, ternd_cert_row_t *out)
{
    return row_of(base, ST_CERT_LATEST, id, row_cert, out, "latest certificate");
}

static int sq_cert_find(ternd_store_t *base, const char *id, uint64_t request, const char *key_id,
                        ternd_cert_row_t *out)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0 || check_u63(s, request, "request serial") ||
        check_hex(s, key_id, sizeof out->key_id - 1, "key id")) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_CERT_FIND);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)request);
    sqlite3_bind_text(st, 3, key_id, -1, SQLITE_STATIC);
    return one_row(s, st, row_cert, out, "find certificate");
}

static int sq_cert_published(ternd_store_t *base, const char *id, const char *serial)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0 || check_hex(s, serial, 64, "serial")) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_CERT_PUBLISHED);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
    return run(s, st, "certificate published");
}

static int trust_put(sq_store_t *s, const char *id, const char *pem, size_t len, int64_t now,
                     uint64_t *version)
{
    if (ensure_device(s, id, 0) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_TRUST_SUPERSEDE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (run(s, st, "supersede trust") != 0) {
        return -1;
    }
    st = stmt(s, ST_TRUST_PUT);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pem, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_db(s, "trust version");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    if (run(s, st, "trust") != 0) {
        return -1;
    }
    if (version != NULL) {
        *version = (uint64_t)v;
    }
    return 0;
}

static int sq_trust_put(ternd_store_t *base, const char *id, const char *pem, size_t len,
                        int64_t now, uint64_t *version)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0) {
        return -1;
    }
    if (pem == NULL || len == 0 || len > INT_MAX || memchr(pem, 0, len) != NULL) {
        return fail(s, "trust store missing, too large, or holding a NUL");
    }
    if (sp_begin(s) != 0) {
        return -1;
    }
    return sp_end(s, trust_put(s, id, pem, len, now, version));
}

static int row_trust(sq_store_t *s, sqlite3_stmt *st, void *out)
{
    ternd_trust_row_t *r = out;
    memset(r, 0, sizeof *r);
    r->version = (uint64_t)sqlite3_column_int64(st, 0);
    r->pem = keep_text(s, st, 1, &r->len);
    r->created_ms = sqlite3_column_int64(st, 2);
    r->published = sqlite3_column_int(st, 3) != 0;
    return r->pem != NULL ? 0 : fail(s, "out of memory");
}

static int sq_trust_latest(ternd_store_t *base, const char *id, ternd_trust_row_t *out)
{
    return row_of(base, ST_TRUST_LATEST, id, row_trust, out, "latest trust");
}

static int sq_trust_published(ternd_store_t *base, const char *id, uint64_t version)
{
    sq_store_t *s = sq(base);
    if (op_start_for(s, id) != 0 || check_u63(s, version, "trust version")) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_TRUST_PUBLISHED);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    return run(s, st, "trust published");
}

static int sq_pending(ternd_store_t *base, ternd_pending_fn fn, void *ctx)
{
    sq_store_t *s = sq(base);
    if (op_start(s) != 0) {
        return -1;
    }
    sqlite3_stmt *st = stmt(s, ST_PENDING);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id != NULL) {
            fn(ctx, id, sqlite3_column_int(st, 1) ? TERND_PUB_TRUST : TERND_PUB_CERT);
        }
    }
    if (rc != SQLITE_DONE) {
        fail_db(s, "pending");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* -------------------------------------------------------- open, close -- */

static const char *sq_error(ternd_store_t *base)
{
    return sq(base)->err;
}

static void sq_close(ternd_store_t *base)
{
    if (base == NULL) {
        return;
    }
    sq_store_t *s = sq(base);
    blobs_free(s);
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
    }
    sqlite3_close(s->db);
    free(s);
}

static const ternd_store_ops_t k_ops = {
    .close = sq_close,
    .error = sq_error,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .presence = sq_presence,
    .seen = sq_seen,
    .message = sq_message,
    .reading = sq_reading,
    .device = sq_device,
    .devices = sq_devices,
    .readings = sq_readings,
    .twin_set_desired = sq_twin_set_desired,
    .twin_versions = sq_twin_versions,
    .twin_desired = sq_twin_desired,
    .twin_reported = sq_twin_reported,
    .twin_report = sq_twin_report,
    .cert_put = sq_cert_put,
    .cert_latest = sq_cert_latest,
    .cert_find = sq_cert_find,
    .cert_published = sq_cert_published,
    .trust_put = sq_trust_put,
    .trust_latest = sq_trust_latest,
    .trust_published = sq_trust_published,
    .pending = sq_pending,
    .twin_set_desired_all = sq_twin_set_desired_all,
    .twin_behind = sq_twin_behind,
    .fleet_stats = sq_fleet_stats,
};

static int exec(sq_store_t *s, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail(s, "%s: %s", what, msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int pragma_int(sq_store_t *s, const char *sql, int *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return fail_db(s, sql);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail_db(s, sql);
}

/* Create the schema, or check the one there: in a write transaction, so two ternd
 * connections opening a new file at once do not both create it. */
static int schema(sq_store_t *s)
{
    if (exec(s, "BEGIN IMMEDIATE", "begin") != 0) {
        return -1;
    }
    int v = 0;
    if (pragma_int(s, "PRAGMA user_version", &v) != 0) {
        goto fail;
    }
    if (v > SCHEMA_VERSION) {
        fail(s, "schema version %d is newer than this ternd's (%d)", v, SCHEMA_VERSION);
        goto fail;
    }
    if (v < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
        if (exec(s, k_schema, "create schema") != 0 || exec(s, sql, "schema version") != 0) {
            goto fail;
        }
    }
    return exec(s, "COMMIT", "commit");
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

ternd_store_t *ternd_store_open_sqlite(const char *path, char *err, size_t cap)
{
    sq_store_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->base.ops = &k_ops;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "%s: %s", path,
                 s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_close(&s->base);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    int wal = 0;
    if (sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK ||
        exec(s, "PRAGMA journal_mode=WAL", "journal mode") != 0 ||
        exec(s, "PRAGMA synchronous=NORMAL", "synchronous") != 0 || schema(s) != 0) {
        goto fail;
    }
    {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) {
                const char *m = (const char *)sqlite3_column_text(st, 0);
                wal = m != NULL && strcmp(m, "wal") == 0;
            }
            sqlite3_finalize(st);
        }
        if (!wal) {
            fail(s, "the file system refused WAL journal mode");
            goto fail;
        }
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, k_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            fail(s, "prepare \"%s\": %s", k_sql[i], sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    return &s->base;
fail:
    snprintf(err, cap, "%s: %s", path, s->err);
    sq_close(&s->base);
    return NULL;
}
