/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file api.h
 * @brief ternd's operator API (docs/api.md): JSON over HTTP/1.1 on 127.0.0.1
 * only, a bearer token from the state directory, served by libmicrohttpd on
 * a thread of its own.
 *
 * Threads: the API runs every request on libmicrohttpd's one internal thread,
 * with its own store connection (opened on the same database file as the MQTT
 * loop's; SQLite's WAL and busy timeout let both share it), so it never
 * touches the MQTT loop's store. The only calls into the rest of ternd are
 * the hooks of ternd_api_hooks_t, from that thread.
 *
 * State directory files: `token` (created at the first start: 64 hex
 * characters of getrandom() bytes, mode 0600; an existing one is read, and
 * refused if it is malformed or group/other may access it) and `api.url`
 * (rewritten at every start with the port actually bound).
 */
#ifndef TERND_API_H
#define TERND_API_H

#include <stddef.h>
#include <stdint.h>

/** The length of the API token in hex characters (32 random bytes). */
#define TERND_API_TOKEN_LEN 64
/** The largest request body the API reads (PATCH .../twin/desired, PUT .../trust). */
#define TERND_API_BODY_MAX  (64u * 1024u)

typedef struct ternd_api ternd_api_t;

/** What the API calls back into ternd. */
typedef struct ternd_api_hooks {
    void *ctx;
    /**
     * An operator stored a new desired version of device @p id (already
     * committed): push the delta to the device if it is online. Called on the
     * API's thread, not the MQTT loop's, so it must be thread-safe (e.g. queue
     * the id and wake the loop); it should return quickly. May be NULL.
     */
    void (*twin_changed)(void *ctx, const char *id);
    /**
     * An operator stored a new desired version of every device (committed,
     * PATCH /v1/fleet/twin/desired): push the deltas to the devices that are
     * online. Called with @p ctx, on the API's thread, once per change (not
     * once per device): same rules as twin_changed. May be NULL.
     */
    void (*fleet_changed)(void *ctx);
    /**
     * An operator stored trust store version N of device @p id (committed):
     * publish it on tern/<id>/trust/new. Same rules as twin_changed; called
     * with @p trust_ctx. May be NULL.
     */
    void (*trust_changed)(void *trust_ctx, const char *id);
    void *trust_ctx;
} ternd_api_hooks_t;

/**
 * Start the API on 127.0.0.1:@p port (0: a port the system chooses), with
 * its own store connection on @p db_path, its token and api.url in
 * @p state_dir (created, mode 0700, if missing). @p hooks (may be NULL) is
 * copied. NULL on failure, with the reason in @p err (@p cap bytes).
 */
ternd_api_t *ternd_api_start(const char *state_dir, uint16_t port, const char *db_path,
                             const ternd_api_hooks_t *hooks, char *err, size_t cap);

/** The port the API listens on. */
uint16_t ternd_api_port(const ternd_api_t *api);

/** Stop serving (waits for the request in progress), close the store and free @p api. */
void ternd_api_stop(ternd_api_t *api);

#endif /* TERND_API_H */
