/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tern-sim: many devices of the real SDK in one process (see main.c for the CLI).
 *
 * One simulator (sim_t, a single instance: the process) owns the epoll set, the
 * timer heap, the counters and one memory block per device. A device (sim_dev_t)
 * is the SDK exactly as on a board: tern_uplink over a link manager with ONE link
 * (sim_link_t, a non-blocking TCP socket in the process's epoll set), a tern_outbox
 * and a tern_twin on its own RAM NOR flash (ports/common/norsim.c), a tern_telemetry
 * with one series, its own clock and its own seeded RNG. Everything a device owns is
 * in its block: the struct, then its buffers (tx, rx, in-flight table, flash, erase
 * counts, twin state, series buffer, its topic strings).
 */
#ifndef TERN_SIM_H
#define TERN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tern/backoff.h"
#include "tern/link.h"
#include "tern/outbox.h"
#include "tern/port/posix.h"
#include "tern/telemetry.h"
#include "tern/twin.h"
#include "tern/uplink.h"

#define SIM_MAX_BIND 16

/* What a run is told (CLI and scenario file; main.c documents each). */
typedef struct sim_cfg {
    char broker[128];
    char bind[256]; /* ADDR[,ADDR...] */
    uint32_t devices;
    char prefix[40];
    uint32_t ramp;      /* devices started per second, 0: all at once */
    uint32_t period_ms; /* telemetry period, 0: none */
    uint32_t payload;   /* approximate telemetry payload bytes */
    uint32_t duration_s;
    uint32_t drain_s;
    double link_faults; /* per minute */
    uint32_t report_ms;
    bool json;
    char twin_key[64];
    char password[64]; /* every device's, its id the user name; "": none */
    char stop_file[256];
    char stats_file[256];
    char backoff[16]; /* fixed, additive, full */
    uint32_t base_ms, cap_ms, jitter_ms;
    uint64_t seed;
    uint32_t sector, outbox_sectors, twin_state;
    uint32_t tx, rx, inflight;
    uint32_t keep_alive, session_expiry;
    uint32_t connect_timeout_ms, connack_timeout_ms, stable_ms;
} sim_cfg_t;

/* The one link of a device: a TCP socket in the simulator's epoll set. */
typedef struct sim_link {
    int fd;             /* -1 when closed */
    uint8_t st;         /* SL_* (link.c) */
    uint32_t revents;   /* epoll events since the device was last polled */
    uint32_t ep_mask;   /* what the fd is registered for */
    tern_ms_t deadline; /* connect deadline (device clock) */
} sim_link_t;

/* Phases of a run. */
enum { PH_RUN = 0, PH_DRAIN, PH_DONE };

/* Device flags. */
#define DF_STARTED    0x0001u
#define DF_ONLINE     0x0002u /* MQTT session up */
#define DF_CONNECTING 0x0004u /* link up, CONNACK awaited */
#define DF_SUBSCRIBED 0x0008u
#define DF_HELLO      0x0010u /* a twin hello is owed (every connect) */
#define DF_REP_PEND   0x0020u /* a twin report waits for its ack */
#define DF_HELLO_PEND 0x0040u /* a twin hello waits for its ack */
#define DF_REPOLL     0x0080u /* poll the uplink again before sleeping */
#define DF_KEY_SET    0x0100u /* the twin key was applied at least once */
#define DF_DEAD       0x0200u /* the uplink returned a fatal error: no longer polled */

typedef struct sim_dev {
    /* the SDK's state */
    tern_uplink_t up;
    tern_outbox_t ob;
    tern_link_mgr_t mgr;
    tern_link_t lk;
    tern_backoff_t bo;
    tern_twin_t twin;
    tern_telemetry_t tel;
    tern_tsb_series_t series;
    tern_norsim_t nor;
    tern_flash_part_t ob_part, tw_part;
    tern_posix_clock_t clk;
    tern_posix_prng_t prng;
    tern_mqtt_sub_entry_t sub;
    /* the simulator's */
    sim_link_t link;
    uint32_t idx;
    uint32_t flags;
    uint32_t gen; /* loop iteration it was last polled in */
    tern_ms_t next_tick;
    int32_t walk; /* the reading, a random walk */
    uint8_t idlen;
    uint32_t tele_sent, tele_acked, first_seq, last_seq, normal_live, evicted, rejected;
    uint32_t twin_rep_rec, twin_rep_ver, twin_rep_applied;
    uint32_t twin_hello_rec, twin_hello_applied;
    uint32_t twin_acked_applied; /* newest desired version an acknowledged report carried */
    uint32_t key_ver, key_hash;  /* --twin-key: version and value hash last applied */
} sim_dev_t;

typedef struct sim {
    sim_cfg_t cfg;
    /* broker and source addresses, resolved once */
    struct sockaddr_storage broker_addr, bind_addr[SIM_MAX_BIND];
    socklen_t broker_len, bind_len[SIM_MAX_BIND];
    uint32_t n_bind; /* source addresses, device i uses i % n_bind; 0: any */
    int ep;
    tern_backoff_config_t boc;
    /* memory: one block of `stride` bytes per device; offsets of the buffers in it */
    uint8_t *mem;
    size_t stride;
    size_t off_tx, off_rx, off_inflight, off_flash, off_erase, off_twin, off_series, off_str;
    uint32_t flash_size, series_cap, readings_per_tick, sample_ms, max_payload;
    uint32_t str_presence, str_desired, str_bn; /* offsets of the strings in the string area */
    /* shared scratch (single-threaded: only used inside a call) */
    uint8_t *uplink_scratch, *tele_scratch, *twin_buf;
    size_t uplink_scratch_size, tele_scratch_size, twin_buf_size;
    /* the run */
    uint32_t started;
    uint32_t gen;
    int phase; /* PH_* (main.c) */
    uint64_t t0, now;
    /* timer heap of device indexes, keyed by due time (process ms); hpos[device] is its
     * place in the heap (-1: none), kept out of the devices so a swap touches no device */
    uint64_t *hdue;
    uint32_t *hidx;
    int32_t *hpos;
    uint32_t hn;
    /* counters: cumulative */
    uint64_t online, tele_sent, tele_acked, ctl_sent, ctl_acked, evicted, rejected, send_errors;
    uint64_t connects, attempts, refused, connack_refused, drops, timeouts, faults, polls;
    uint64_t sock_errors, fatal;
    /* counters of the current report interval */
    uint64_t iv_connects, iv_attempts, iv_refused, iv_connack_refused, iv_drops, iv_faults,
        iv_polls;
    double peak_attempts_per_s;
    /* online: last drop below 50 % and the recovery to 99 % after it (ms since t0) */
    bool above_half;
    int64_t t_below_half, t_back99, t_first99;
    /* twin */
    uint32_t twin_max;                        /* newest desired version any device applied */
    uint64_t twin_applied_n, twin_reported_n; /* devices at twin_max: applied, reported */
    int64_t t_twin_first, t_twin99, t_twin100;
    uint32_t key_ver, key_hash; /* --twin-key: its newest value (by version) */
    uint64_t key_applied_n;
} sim_t;

extern sim_t S;

static inline sim_dev_t *sim_dev(uint32_t i)
{
    return (sim_dev_t *)(void *)(S.mem + (size_t)i * S.stride);
}

static inline uint8_t *dev_area(const sim_dev_t *d, size_t off)
{
    return (uint8_t *)d + off;
}

static inline const char *dev_str(const sim_dev_t *d, uint32_t which)
{
    return (const char *)dev_area(d, S.off_str) + which;
}

/* link.c */
extern const tern_link_ops_t sim_link_ops;
void sim_link_init(sim_link_t *l);
/* Shut the link's socket down abruptly (a fault); false if it is not up. */
bool sim_link_cut(sim_link_t *l);
bool sim_link_connecting(const sim_link_t *l);
/* Register for what the device waits on: reading always, writing while connecting or
 * when @p want_write. */
void sim_link_want(sim_link_t *l, bool want_write);

/* dev.c */
/* Sizes of the per-device buffers and of the shared scratch, from S.cfg; false if the
 * geometry cannot work (message printed). */
bool sim_layout(void);
tern_err_t sim_dev_start(sim_dev_t *d, uint32_t idx);
void sim_dev_poll(sim_dev_t *d);
void sim_dev_close(sim_dev_t *d);
uint32_t sim_dev_backlog(const sim_dev_t *d);
/* Bytes of the SDK's structs in one device, and of the buffers given to it. */
size_t sim_sdk_struct_bytes(void);
size_t sim_sdk_buffer_bytes(void);

/* main.c */
void sim_heap_set(sim_dev_t *d, uint64_t due);
void sim_online_changed(void);
int64_t sim_elapsed(void);

#endif /* TERN_SIM_H */
