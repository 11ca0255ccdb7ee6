/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tern-sim: N devices of the real SDK in one process, against a real MQTT broker
 * (and ternd behind it), driven by one epoll set and a timer heap.
 *
 * Each device is what examples/device/device.c is in its -B mode, made small: a
 * tern_uplink over a link manager with one link (a non-blocking TCP socket, link.c)
 * and its own backoff, a tern_outbox and a tern_twin on its own RAM NOR flash, a
 * tern_telemetry with one series (one compact batch per period on tern/<id>/telemetry),
 * a retained presence message on every connect with the offline will, the twin on
 * tern/<id>/twin/desired with a hello on every connect; its own clock (the host's
 * monotonic and wall clocks, at a random uptime) and its own seeded RNG. MQTT 5, clean
 * start off, session expiry 600 s, keep alive 60 s.
 *
 * The loop: one epoll_wait over every device's socket; a device is polled when its
 * socket moved or its timer (tern_uplink_next_timeout(), its connect deadline, its
 * next reading) is due, never otherwise. A line per report interval on stdout (text,
 * or JSON with --json), and a final summary; see usage() and README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "tern/version.h"

sim_t S;

static volatile sig_atomic_t g_signals;
static tern_posix_prng_t g_rng; /* the simulator's own choices (faults) */
static uint32_t *g_due;         /* devices whose timer is due, this iteration */

/* ---------------------------------------------------------------- options -- */

typedef enum { O_STR, O_U32, O_U64, O_DBL, O_BOOL } otype_t;

typedef struct opt {
    const char *name;
    otype_t type;
    size_t off, size;
    const char *arg, *help;
} opt_t;

#define OPT(n, t, f, a, h)                                              \
    {                                                                   \
        n, t, offsetof(sim_cfg_t, f), sizeof(((sim_cfg_t *)0)->f), a, h \
    }

static const opt_t k_opts[] = {
    OPT("broker", O_STR, broker, "HOST:PORT", "the MQTT broker (127.0.0.1:1883)"),
    OPT("bind", O_STR, bind, "ADDR[,ADDR..]",
        "source addresses, device i uses the (i mod n)-th (any)"),
    OPT("devices", O_U32, devices, "N", "devices in this process (100)"),
    OPT("prefix", O_STR, prefix, "STR", "device ids are <prefix><index, 6 digits> (sim-0-)"),
    OPT("ramp", O_U32, ramp, "PER_S", "devices started per second, 0: all at once (0)"),
    OPT("period-ms", O_U32, period_ms, "MS", "telemetry period, 0: no telemetry (10000)"),
    OPT("payload", O_U32, payload, "N", "approximate bytes of a telemetry message (64)"),
    OPT("duration", O_U32, duration_s, "S",
        "run this long, 0: until a signal or the stop file (60)"),
    OPT("drain", O_U32, drain_s, "S", "then wait up to S s for every outbox to empty (0)"),
    OPT("link-faults", O_DBL, link_faults, "PER_MIN", "sockets shut down abruptly, per minute (0)"),
    OPT("report-ms", O_U32, report_ms, "MS", "a report line this often (1000)"),
    OPT("json", O_BOOL, json, NULL, "report lines and summary as JSON objects"),
    OPT("twin-key", O_STR, twin_key, "KEY", "count devices running KEY's newest desired value"),
    OPT("password", O_STR, password, "PW",
        "connect with the device id as user name and this password (none)"),
    OPT("stop-file", O_STR, stop_file, "PATH", "stop (draining) once PATH exists"),
    OPT("stats-file", O_STR, stats_file, "PATH",
        "per-device CSV: id,sent,acked,first_seq,last_seq,queued"),
    OPT("backoff", O_STR, backoff, "fixed|additive|full", "reconnect policy (additive)"),
    OPT("base-ms", O_U32, base_ms, "MS", "backoff base (1000)"),
    OPT("cap-ms", O_U32, cap_ms, "MS", "backoff cap (60000; fixed: = base)"),
    OPT("jitter-ms", O_U32, jitter_ms, "MS", "additive jitter (1000; fixed: 0)"),
    OPT("seed", O_U64, seed, "N", "seeds every device's RNG with its id (1)"),
    OPT("sector", O_U32, sector, "BYTES", "flash sector size (512)"),
    OPT("outbox-sectors", O_U32, outbox_sectors, "N", "outbox sectors, at least 3 (4)"),
    OPT("twin-state", O_U32, twin_state, "BYTES", "twin reported-state buffer (96)"),
    OPT("tx", O_U32, tx, "BYTES", "MQTT transmit buffer (512)"),
    OPT("rx", O_U32, rx, "BYTES", "MQTT receive buffer (512)"),
    OPT("inflight", O_U32, inflight, "N", "MQTT in-flight table (4)"),
    OPT("keep-alive", O_U32, keep_alive, "S", "MQTT keep alive (60)"),
    OPT("session-expiry", O_U32, session_expiry, "S", "MQTT 5 session expiry (600)"),
    OPT("connect-timeout-ms", O_U32, connect_timeout_ms, "MS", "TCP connect timeout (10000)"),
    OPT("connack-timeout-ms", O_U32, connack_timeout_ms, "MS", "CONNACK/PINGRESP timeout (10000)"),
    OPT("stable-ms", O_U32, stable_ms, "MS", "a link up this long has its backoff reset (10000)"),
};

#define NOPTS (sizeof k_opts / sizeof k_opts[0])

static void defaults(sim_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->broker, sizeof c->broker, "127.0.0.1:1883");
    c->devices = 100;
    snprintf(c->prefix, sizeof c->prefix, "sim-0-");
    c->period_ms = 10000;
    c->payload = 64;
    c->duration_s = 60;
    c->report_ms = 1000;
    snprintf(c->backoff, sizeof c->backoff, "additive");
    c->base_ms = 1000;
    c->cap_ms = 60000;
    c->jitter_ms = 1000;
    c->seed = 1;
    c->sector = 512;
    c->outbox_sectors = 4;
    c->twin_state = 96;
    c->tx = 512;
    c->rx = 512;
    c->inflight = 4;
    c->keep_alive = 60;
    c->session_expiry = 600;
    c->connect_timeout_ms = 10000;
    c->connack_timeout_ms = 10000;
    c->stable_ms = 10000;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tern-sim [--scenario FILE] [--OPTION VALUE ...]\n"
               "Runs N devices of the tern SDK in one process against an MQTT broker.\n"
               "A scenario file holds `key = value` lines (the options below without --);\n"
               "the command line wins over it.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", k_opts[i].name, k_opts[i].arg ? " " : "",
                 k_opts[i].arg ? k_opts[i].arg : "");
        fprintf(f, "  %-34s %s\n", left, k_opts[i].help);
    }
    fprintf(f, "  %-34s %s\n", "--scenario FILE", "read options from FILE first");
}

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || x > max) {
        return false;
    }
    *out = x;
    return true;
}

/* Set option @p name to @p v (NULL: a flag without value); false with a message if bad. */
static bool set_opt(sim_cfg_t *c, const char *name, const char *v, const char *where)
{
    const opt_t *o = NULL;
    for (size_t i = 0; i < NOPTS && o == NULL; i++) {
        if (strcmp(k_opts[i].name, name) == 0) {
            o = &k_opts[i];
        }
    }
    if (o == NULL) {
        fprintf(stderr, "tern-sim: %s: unknown option \"%s\"\n", where, name);
        return false;
    }
    void *p = (uint8_t *)c + o->off;
    uint64_t u = 0;
    bool ok = v != NULL || o->type == O_BOOL;
    switch (o->type) {
    case O_STR:
        ok = ok && strlen(v) < o->size;
        if (ok) {
            memcpy(p, v, strlen(v) + 1);
        }
        break;
    case O_U32:
        ok = ok && parse_u64(v, UINT32_MAX, &u);
        if (ok) {
            *(uint32_t *)p = (uint32_t)u;
        }
        break;
    case O_U64:
        ok = ok && parse_u64(v, UINT64_MAX, &u);
        if (ok) {
            *(uint64_t *)p = u;
        }
        break;
    case O_DBL: {
        char *end = NULL;
        double d = ok ? strtod(v, &end) : 0;
        ok = ok && end != v && *end == '\0' && d >= 0;
        if (ok) {
            *(double *)p = d;
        }
        break;
    }
    case O_BOOL:
        ok = v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 ||
             strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0;
        if (ok) {
            *(bool *)p = v == NULL || v[0] == 't' || v[0] == '1' || v[0] == 'y';
        }
        break;
    }
    if (!ok) {
        fprintf(stderr, "tern-sim: %s: bad value for %s: \"%s\"\n", where, name, v ? v : "");
    }
    return ok;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static bool load_scenario(sim_cfg_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "tern-sim: %s: %s\n", path, strerror(errno));
        return false;
    }
    char line[512], where[300];
    bool ok = true;
    for (int n = 1; ok && fgets(line, sizeof line, f) != NULL; n++) {
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        snprintf(where, sizeof where, "%s:%d", path, n);
        if (eq == NULL) {
            fprintf(stderr, "tern-sim: %s: not `key = value`\n", where);
            ok = false;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (strncmp(k, "--", 2) == 0) {
            k += 2;
        }
        ok = set_opt(c, k, v, where);
    }
    fclose(f);
    return ok;
}

static bool parse_args(sim_cfg_t *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) { /* the scenario first: the command line wins */
        if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
            if (!load_scenario(c, argv[i + 1])) {
                return false;
            }
        } else if (strncmp(argv[i], "--scenario=", 11) == 0 && !load_scenario(c, argv[i] + 11)) {
            return false;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "tern-sim: unexpected argument \"%s\"\n", a);
            return false;
        }
        char name[64];
        const char *v = NULL;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n >= sizeof name) {
            fprintf(stderr, "tern-sim: unknown option \"%s\"\n", a);
            return false;
        }
        memcpy(name, a + 2, n);
        name[n] = '\0';
        if (eq) {
            v = eq + 1;
        } else if (strcmp(name, "json") != 0 && i + 1 < argc) {
            v = argv[++i];
        }
        if (strcmp(name, "scenario") == 0) {
            continue;
        }
        if (!set_opt(c, name, v, "command line")) {
            return false;
        }
    }
    return true;
}

/* HOST:PORT (or [V6]:PORT) to a socket address. */
static bool resolve(const char *hostport, bool passive, struct sockaddr_storage *out,
                    socklen_t *len)
{
    char host[128];
    const char *port = passive ? "0" : NULL;
    snprintf(host, sizeof host, "%s", hostport);
    if (!passive) {
        char *colon = strrchr(host, ':');
        if (colon == NULL) {
            return false;
        }
        *colon = '\0';
        port = colon + 1;
    }
    char *h = host;
    if (h[0] == '[') {
        h++;
        char *rb = strchr(h, ']');
        if (rb) {
            *rb = '\0';
        }
    }
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? (AI_NUMERICHOST | AI_PASSIVE) : AI_NUMERICSERV;
    if (getaddrinfo(h, port, &hints, &ai) != 0 || ai == NULL) {
        return false;
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

/* ------------------------------------------------------------------ timers -- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t sim_elapsed(void)
{
    return (int64_t)(mono_ms() - S.t0);
}

static void hswap(uint32_t a, uint32_t b)
{
    uint64_t t = S.hdue[a];
    S.hdue[a] = S.hdue[b];
    S.hdue[b] = t;
    uint32_t i = S.hidx[a];
    S.hidx[a] = S.hidx[b];
    S.hidx[b] = i;
    S.hpos[S.hidx[a]] = (int32_t)a;
    S.hpos[S.hidx[b]] = (int32_t)b;
}

static void hup(uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (S.hdue[p] <= S.hdue[i]) {
            break;
        }
        hswap(i, p);
        i = p;
    }
}

static void hdown(uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < S.hn && S.hdue[l] < S.hdue[m]) {
            m = l;
        }
        if (r < S.hn && S.hdue[r] < S.hdue[m]) {
            m = r;
        }
        if (m == i) {
            return;
        }
        hswap(i, m);
        i = m;
    }
}

void sim_heap_set(sim_dev_t *d, uint64_t due)
{
    int32_t pos = S.hpos[d->idx];
    if (pos < 0) {
        uint32_t i = S.hn++;
        S.hdue[i] = due;
        S.hidx[i] = d->idx;
        S.hpos[d->idx] = (int32_t)i;
        hup(i);
        return;
    }
    uint32_t i = (uint32_t)pos;
    uint64_t old = S.hdue[i];
    S.hdue[i] = due;
    if (due < old) {
        hup(i);
    } else {
        hdown(i);
    }
}

static uint32_t hpop(void)
{
    uint32_t idx = S.hidx[0];
    S.hn--;
    if (S.hn > 0) {
        S.hdue[0] = S.hdue[S.hn];
        S.hidx[0] = S.hidx[S.hn];
        S.hpos[S.hidx[0]] = 0;
        hdown(0);
    }
    S.hpos[idx] = -1;
    return idx;
}

/* ---------------------------------------------------------------- reports -- */

void sim_online_changed(void)
{
    uint64_t n = S.cfg.devices;
    bool above = S.online * 2 >= n;
    int64_t t = sim_elapsed();
    if (S.above_half && !above) {
        S.t_below_half = t; /* the last drop below half: the herd's start */
        S.t_back99 = -1;
    }
    S.above_half = above;
    if (S.online * 100 >= n * 99) {
        if (S.t_first99 < 0) {
            S.t_first99 = t;
        }
        if (S.t_below_half >= 0 && S.t_back99 < 0) {
            S.t_back99 = t;
        }
    }
}

static long rss_kb(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) {
            res = 0;
        }
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static uint64_t queued_total(void)
{
    uint64_t q = 0;
    for (uint32_t i = 0; i < S.started; i++) {
        q += sim_dev_backlog(sim_dev(i));
    }
    return q;
}

static double sec(int64_t ms)
{
    return (double)ms / 1000.0;
}

/* One line of fields, as `name=value ...` or as a JSON object: the same fields either way.
 * In text, o_break() starts a new line with the same prefix (a JSON object goes on). */
typedef struct out {
    bool json;
    int n;
    const char *prefix;
} out_t;

static void o_begin(out_t *o, const char *prefix)
{
    o->json = S.cfg.json;
    o->n = 0;
    o->prefix = prefix;
    fputs(o->json ? "{" : prefix, stdout);
}

static void o_key(out_t *o, const char *k)
{
    if (o->json) {
        printf("%s\"%s\":", o->n ? "," : "", k);
    } else {
        printf("%s%s=", o->n || o->prefix[0] ? " " : "", k);
    }
    o->n++;
}

static void o_u(out_t *o, const char *k, unsigned long long v)
{
    o_key(o, k);
    printf("%llu", v);
}

static void o_f(out_t *o, const char *k, double v, int prec)
{
    o_key(o, k);
    printf("%.*f", prec, v);
}

static void o_s(out_t *o, const char *k, const char *v)
{
    o_key(o, k);
    printf(o->json ? "\"%s\"" : "%s", v);
}

static void o_b(out_t *o, const char *k, bool v)
{
    o_key(o, k);
    fputs(v ? "true" : "false", stdout);
}

/* A time in seconds (ms given), null if it never happened. */
static void o_t(out_t *o, const char *k, int64_t ms)
{
    o_key(o, k);
    if (ms < 0) {
        fputs("null", stdout);
    } else {
        printf("%.3f", sec(ms));
    }
}

static void o_break(out_t *o)
{
    if (!o->json) {
        printf("\n%s", o->prefix);
        o->n = 0;
    }
}

static void o_end(out_t *o)
{
    fputs(o->json ? "}\n" : "\n", stdout);
    fflush(stdout);
}

/* The per-interval line: counters since the start, and what happened in the interval. */
static void report(uint64_t iv_ms, double cpu_pct)
{
    long rss = rss_kb();
    double att_s = iv_ms ? (double)S.iv_attempts * 1000.0 / (double)iv_ms : 0;
    if (att_s > S.peak_attempts_per_s) {
        S.peak_attempts_per_s = att_s;
    }
    out_t o;
    o_begin(&o, "");
    o_f(&o, "t", sec(sim_elapsed()), 1);
    o_u(&o, "started", S.started);
    o_u(&o, "online", S.online);
    o_u(&o, "connects", S.iv_connects);
    o_u(&o, "attempts", S.iv_attempts);
    o_u(&o, "refused", S.iv_refused);
    o_u(&o, "connack_refused", S.iv_connack_refused);
    o_u(&o, "drops", S.iv_drops);
    o_u(&o, "faults", S.iv_faults);
    o_u(&o, "sent", S.tele_sent);
    o_u(&o, "acked", S.tele_acked);
    o_u(&o, "queued", queued_total());
    o_u(&o, "twin_version", S.twin_max);
    o_u(&o, "twin_applied", S.twin_applied_n);
    o_u(&o, "twin_reported", S.twin_reported_n);
    if (S.cfg.twin_key[0]) {
        o_u(&o, "twin_key_applied", S.key_applied_n);
    }
    o_u(&o, "polls", S.iv_polls);
    o_f(&o, "cpu_pct", cpu_pct, 1);
    o_u(&o, "rss_kb", (unsigned long long)rss);
    o_u(&o, "rss_per_device_b", S.started ? (unsigned long long)rss * 1024u / S.started : 0);
    o_end(&o);
    S.iv_connects = S.iv_attempts = S.iv_refused = S.iv_connack_refused = S.iv_drops = 0;
    S.iv_faults = S.iv_polls = 0;
}

static void write_stats(void)
{
    FILE *f = fopen(S.cfg.stats_file, "w");
    if (f == NULL) {
        fprintf(stderr, "tern-sim: %s: %s\n", S.cfg.stats_file, strerror(errno));
        return;
    }
    fprintf(f, "id,sent,acked,first_seq,last_seq,queued\n");
    for (uint32_t i = 0; i < S.started; i++) {
        const sim_dev_t *d = sim_dev(i);
        fprintf(f, "%.*s,%u,%u,%u,%u,%u\n", (int)d->idlen, dev_str(d, S.str_presence) + 5,
                d->tele_sent, d->tele_acked, d->first_seq, d->last_seq, sim_dev_backlog(d));
    }
    fclose(f);
}

static void final_report(uint64_t online_at_end, uint64_t queued, double cpu, double wall_s)
{
    long rss = rss_kb();
    uint64_t mismatched = 0, erases = 0, programs = 0;
    for (uint32_t i = 0; i < S.started; i++) {
        const sim_dev_t *d = sim_dev(i);
        mismatched += d->tele_sent != d->tele_acked;
        erases += d->nor.erases;
        programs += d->nor.programs;
    }
    /* flash work per record sent (telemetry, presence, twin): wear on a real part */
    uint64_t records = S.tele_sent + S.ctl_sent;
    size_t structs = sim_sdk_struct_bytes(), bufs = sim_sdk_buffer_bytes();
    bool twin = S.twin_max > 0;
    out_t o;
    o_begin(&o, "final:");
    if (o.json) {
        o_b(&o, "final", true);
    }
    o_f(&o, "t", wall_s, 1);
    o_u(&o, "devices", S.cfg.devices);
    o_u(&o, "started", S.started);
    o_u(&o, "online", online_at_end);
    o_s(&o, "backoff", S.cfg.backoff);
    o_u(&o, "base_ms", S.boc.base_ms);
    o_u(&o, "cap_ms", S.boc.cap_ms);
    o_u(&o, "jitter_ms", S.boc.jitter_ms);
    o_break(&o);
    o_u(&o, "connects", S.connects);
    o_u(&o, "attempts", S.attempts);
    o_f(&o, "peak_attempts_per_s", S.peak_attempts_per_s, 1);
    o_u(&o, "refused", S.refused);
    o_u(&o, "connect_timeouts", S.timeouts);
    o_u(&o, "connack_refused", S.connack_refused);
    o_u(&o, "drops", S.drops);
    o_u(&o, "faults", S.faults);
    o_u(&o, "socket_errors", S.sock_errors);
    o_break(&o);
    o_t(&o, "online99_first_s", S.t_first99);
    o_t(&o, "below_half_s", S.t_below_half);
    o_t(&o, "back99_s", S.t_back99);
    o_t(&o, "recovery_s",
        S.t_below_half >= 0 && S.t_back99 >= 0 ? S.t_back99 - S.t_below_half : -1);
    o_break(&o);
    o_u(&o, "sent", S.tele_sent);
    o_u(&o, "acked", S.tele_acked);
    o_u(&o, "queued", queued);
    o_u(&o, "evicted", S.evicted);
    o_u(&o, "rejected", S.rejected);
    o_u(&o, "send_errors", S.send_errors);
    o_u(&o, "control_sent", S.ctl_sent);
    o_u(&o, "control_acked", S.ctl_acked);
    o_u(&o, "devices_sent_ne_acked", mismatched);
    o_u(&o, "fatal", S.fatal);
    o_break(&o);
    o_u(&o, "twin_version", S.twin_max);
    o_u(&o, "twin_applied", S.twin_applied_n);
    o_u(&o, "twin_reported", S.twin_reported_n);
    o_u(&o, "twin_key_applied", S.key_applied_n);
    o_t(&o, "twin_first_applied_s", twin ? S.t_twin_first : -1);
    o_t(&o, "twin_reported99_s", twin && S.t_twin99 >= 0 ? S.t_twin99 - S.t_twin_first : -1);
    o_t(&o, "twin_reported100_s", twin && S.t_twin100 >= 0 ? S.t_twin100 - S.t_twin_first : -1);
    o_break(&o);
    o_u(&o, "polls", S.polls);
    o_f(&o, "cpu_s", cpu, 2);
    o_f(&o, "cpu_pct", wall_s > 0 ? 100.0 * cpu / wall_s : 0, 1);
    o_u(&o, "rss_kb", (unsigned long long)rss);
    o_u(&o, "rss_per_device_b", S.started ? (unsigned long long)rss * 1024u / S.started : 0);
    o_u(&o, "sdk_bytes_per_device", structs + bufs);
    o_u(&o, "sdk_struct_bytes", structs);
    o_u(&o, "sdk_buffer_bytes", bufs);
    o_u(&o, "flash_bytes", S.flash_size);
    o_u(&o, "shared_scratch_bytes", S.uplink_scratch_size + S.tele_scratch_size + S.twin_buf_size);
    o_u(&o, "sim_bytes_per_device", S.stride - structs - bufs);
    o_break(&o);
    o_u(&o, "readings_per_message", S.readings_per_tick);
    o_u(&o, "max_record", S.max_payload);
    o_u(&o, "flash_erases", erases);
    o_u(&o, "flash_programs", programs);
    o_f(&o, "erases_per_record", records ? (double)erases / (double)records : 0, 2);
    o_f(&o, "programs_per_record", records ? (double)programs / (double)records : 0, 2);
    o_end(&o);
}

/* ------------------------------------------------------------------- main -- */

static void on_signal(int sig)
{
    (void)sig;
    g_signals++;
}

static bool setup(void)
{
    sim_cfg_t *c = &S.cfg;
    if (c->devices == 0 || c->report_ms == 0 || c->tx < 64 || c->rx < 64 || c->inflight < 2 ||
        c->keep_alive > 65535 || c->sector < 64) {
        fprintf(stderr, "tern-sim: need devices > 0, report-ms > 0, tx and rx >= 64, "
                        "inflight >= 2, keep-alive <= 65535, sector >= 64\n");
        return false;
    }
    if (!resolve(c->broker, false, &S.broker_addr, &S.broker_len)) {
        fprintf(stderr, "tern-sim: broker \"%s\" is not HOST:PORT\n", c->broker);
        return false;
    }
    char binds[sizeof c->bind];
    memcpy(binds, c->bind, sizeof binds);
    for (char *save = NULL, *a = strtok_r(binds, ",", &save); a != NULL;
         a = strtok_r(NULL, ",", &save)) {
        if (S.n_bind == SIM_MAX_BIND ||
            !resolve(a, true, &S.bind_addr[S.n_bind], &S.bind_len[S.n_bind])) {
            fprintf(stderr, "tern-sim: bind address \"%s\" is not an address (or more than %d)\n",
                    a, SIM_MAX_BIND);
            return false;
        }
        S.n_bind++;
    }
    if (strcmp(c->backoff, "fixed") == 0) {
        S.boc = (tern_backoff_config_t){ TERN_BACKOFF_ADDITIVE, c->base_ms, c->base_ms, 0, 0 };
    } else if (strcmp(c->backoff, "additive") == 0) {
        S.boc = (tern_backoff_config_t){ TERN_BACKOFF_ADDITIVE, c->base_ms, c->cap_ms, c->jitter_ms,
                                         0 };
    } else if (strcmp(c->backoff, "full") == 0) {
        S.boc = (tern_backoff_config_t){ TERN_BACKOFF_FULL_JITTER, c->base_ms, c->cap_ms, 0, 0 };
    } else {
        fprintf(stderr, "tern-sim: --backoff is fixed, additive or full\n");
        return false;
    }
    if (S.boc.base_ms == 0 || S.boc.cap_ms < S.boc.base_ms) {
        fprintf(stderr, "tern-sim: backoff needs base-ms > 0 and cap-ms >= base-ms\n");
        return false;
    }
    if (!sim_layout()) {
        return false;
    }
    /* the file limit: raise the soft one as far as the hard one goes */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)c->devices + 16) {
            fprintf(stderr,
                    "tern-sim: warning: %llu open files allowed, %u devices need a socket "
                    "each (ulimit -n)\n",
                    (unsigned long long)rl.rlim_cur, c->devices);
        }
    }
    size_t total = S.stride * c->devices;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    S.uplink_scratch = malloc(S.uplink_scratch_size);
    S.tele_scratch = malloc(S.tele_scratch_size);
    S.twin_buf = malloc(S.twin_buf_size);
    S.hdue = malloc(sizeof *S.hdue * c->devices);
    S.hidx = malloc(sizeof *S.hidx * c->devices);
    S.hpos = malloc(sizeof *S.hpos * c->devices);
    g_due = malloc(sizeof *g_due * c->devices);
    S.ep = epoll_create1(EPOLL_CLOEXEC);
    if (m == MAP_FAILED || !S.uplink_scratch || !S.tele_scratch || !S.twin_buf || !S.hdue ||
        !S.hidx || !S.hpos || !g_due || S.ep < 0) {
        fprintf(stderr, "tern-sim: out of memory or file descriptors\n");
        return false;
    }
    S.mem = m;
    memset(S.hpos, 0xff, sizeof *S.hpos * c->devices);
    tern_posix_prng_init(&g_rng, c->seed ^ 0x5157u);
    S.t_below_half = S.t_back99 = S.t_first99 = -1;
    S.t_twin_first = S.t_twin99 = S.t_twin100 = -1;
    size_t structs = sim_sdk_struct_bytes(), bufs = sim_sdk_buffer_bytes();
    fprintf(stderr,
            "tern-sim %s: %u devices as %s000000.. against %s%s%s; backoff %s; telemetry every "
            "%u ms, %u readings a message (~%u B); outbox %u x %u B sectors, records up to %u B; "
            "SDK %zu B a device (structs %zu, buffers %zu), %zu B a device in all\n",
            TERN_VERSION_STRING, c->devices, c->prefix, c->broker, S.n_bind ? " from " : "",
            S.n_bind ? c->bind : "", c->backoff, c->period_ms, S.readings_per_tick, c->payload,
            c->outbox_sectors, c->sector, S.max_payload, structs + bufs, structs, bufs, S.stride);
    return true;
}

static bool start_device(void)
{
    sim_dev_t *d = sim_dev(S.started);
    tern_err_t e = sim_dev_start(d, S.started);
    if (e != TERN_OK) {
        fprintf(stderr, "tern-sim: device %u: %s\n", S.started, tern_strerror(e));
        return false;
    }
    S.started++;
    sim_heap_set(d, S.now);
    return true;
}

static void inject_fault(void)
{
    for (int tries = 0; tries < 64 && S.started > 0; tries++) {
        sim_dev_t *d = sim_dev(tern_posix_prng_next(&g_rng) % S.started);
        if ((d->flags & DF_ONLINE) && sim_link_cut(&d->link)) {
            S.faults++;
            S.iv_faults++;
            return;
        }
    }
}

static uint64_t fault_gap(void)
{
    /* exponential gaps: faults arrive as a Poisson process of the given rate */
    double u = (tern_posix_prng_next(&g_rng) + 1.0) / 4294967297.0;
    return (uint64_t)(-log(u) * 60000.0 / S.cfg.link_faults) + 1;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    defaults(&S.cfg);
    if (!parse_args(&S.cfg, argc, argv)) {
        usage(stderr);
        return 2;
    }
    if (!setup()) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const sim_cfg_t *c = &S.cfg;
    static struct epoll_event evs[4096];
    S.t0 = S.now = mono_ms();
    uint64_t next_report = S.t0 + c->report_ms, last_report = S.t0, next_check = S.t0;
    uint64_t next_fault = c->link_faults > 0 ? S.t0 + fault_gap() : UINT64_MAX;
    uint64_t drain_until = 0;
    double cpu_last = cpu_s();
    int rc = 0;
    while (S.phase != PH_DONE) {
        S.now = mono_ms();
        uint64_t el = S.now - S.t0;
        /* start what the ramp allows */
        uint64_t next_start = UINT64_MAX;
        if (S.phase == PH_RUN && S.started < c->devices) {
            uint64_t target = c->ramp == 0 ? c->devices : el * c->ramp / 1000u + 1;
            while (S.started < c->devices && S.started < target) {
                if (!start_device()) {
                    rc = 1;
                    S.phase = PH_DONE;
                    break;
                }
            }
            if (S.started < c->devices) {
                next_start = S.t0 + ((uint64_t)S.started * 1000u + c->ramp - 1) / c->ramp;
            }
        }
        if (S.phase == PH_RUN && S.now >= next_fault) {
            inject_fault();
            next_fault = S.now + fault_gap();
        }
        /* stop: duration, stop file or signal; then drain */
        if (S.now >= next_check) {
            next_check = S.now + 100;
            struct stat st;
            bool stop = (c->duration_s > 0 && el >= (uint64_t)c->duration_s * 1000u) ||
                        g_signals > 0 || (c->stop_file[0] && stat(c->stop_file, &st) == 0);
            if (S.phase == PH_RUN && stop) {
                S.phase = PH_DRAIN;
                drain_until = S.now + (uint64_t)c->drain_s * 1000u;
            }
            if (S.phase == PH_DRAIN &&
                (S.now >= drain_until || g_signals > 1 || queued_total() == 0)) {
                S.phase = PH_DONE;
            }
        }
        if (S.now >= next_report) {
            double cpu = cpu_s();
            uint64_t iv = S.now - last_report;
            report(iv, iv ? 100.0 * (cpu - cpu_last) * 1000.0 / (double)iv : 0);
            cpu_last = cpu;
            last_report = S.now;
            next_report += c->report_ms;
            if (next_report <= S.now) {
                next_report = S.now + c->report_ms;
            }
        }
        if (S.phase == PH_DONE) {
            break;
        }
        uint64_t wake = min_u64(next_report, next_check);
        wake = min_u64(wake, next_start);
        wake = min_u64(wake, next_fault);
        if (S.hn > 0) {
            wake = min_u64(wake, S.hdue[0]);
        }
        S.now = mono_ms();
        int timeout = wake <= S.now ? 0 : (int)min_u64(wake - S.now, 1000);
        int n = epoll_wait(S.ep, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
        if (n < 0 && errno != EINTR) {
            perror("tern-sim: epoll_wait");
            rc = 1;
            break;
        }
        S.gen++;
        S.now = mono_ms();
        for (int i = 0; i < n; i++) {
            sim_dev_t *d = evs[i].data.ptr;
            d->link.revents |= evs[i].events;
            if (d->gen != S.gen) {
                sim_dev_poll(d);
            }
        }
        uint32_t nd = 0;
        while (S.hn > 0 && S.hdue[0] <= S.now) {
            g_due[nd++] = hpop();
        }
        for (uint32_t i = 0; i < nd; i++) {
            sim_dev_t *d = sim_dev(g_due[i]);
            if (d->gen == S.gen) {
                sim_heap_set(d, S.now); /* polled for I/O already: the next iteration */
            } else {
                sim_dev_poll(d);
            }
        }
    }
    /* the end: every device goes without a DISCONNECT (the broker sends its will) */
    uint64_t online_at_end = S.online, queued = queued_total();
    double wall_s = sec((int64_t)(mono_ms() - S.t0));
    double cpu = cpu_s();
    final_report(online_at_end, queued, cpu, wall_s);
    if (c->stats_file[0]) {
        write_stats();
    }
    for (uint32_t i = 0; i < S.started; i++) {
        sim_dev_close(sim_dev(i));
    }
    return rc;
}
