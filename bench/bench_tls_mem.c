/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peak heap and stack of one mTLS handshake with mbedTLS 2.28 against a real
 * mosquitto listener that requires a client certificate (the test PKI, EC P-256):
 * tern's TLS transport (tern/port/posix_net.h) without and with max fragment
 * length 1024, and the same handshake with a plain mbedTLS client on its
 * defaults (mbedtls_ssl_config_defaults), in one run, twice over:
 *
 * - bench_tls_mem, on Debian's shared libmbedtls (records of 16 KiB in and out);
 * - bench_tls_mem_device, this file built again against a device build of
 *   mbedTLS (tools/mbedtls-device.sh: static libraries with tern's
 *   ports/posix/mbedtls/tern_mbedtls_device.h, record buffers of 4 KiB in and
 *   2 KiB out), tern's port sources with it. One process cannot hold both
 *   libraries, so bench_tls_mem starts it (next to itself, or the path in
 *   TERN_BENCH_TLS_DEVICE) on its broker and PKI and prints its rows too.
 *
 * Heap: Debian's mbedTLS is built without MBEDTLS_PLATFORM_MEMORY, so this
 * program defines malloc, calloc, realloc and free itself (the shared
 * libmbedtls calls them through the PLT) and counts the bytes in use with
 * malloc_usable_size(). The device build has MBEDTLS_PLATFORM_MEMORY: its
 * allocations are counted through mbedtls_platform_set_calloc_free() (the
 * "mbedTLS" column), and the same malloc count adds tern's own (the transport's
 * state, which holds the mbedTLS contexts), so both builds' totals are counted
 * alike. Peak: above what was in use before the handshake, from the session's
 * set-up to the end of the handshake; held: what the open session keeps.
 * Stack: each handshake runs on a thread whose stack was filled with a
 * pattern; the deepest byte changed is its peak.
 *
 * The last lines: tern (max fragment length 1024 on Debian's library; the device
 * build without and with it) against the mbedTLS defaults on Debian's library,
 * peak heap; ratio = tern / reference. Goal: under 40 KiB. Without the device
 * build (no apt-get to fetch mbedTLS's source, say) they say it was not measured.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(TERN_BENCH_DEVICE)
#include <mbedtls/platform.h>
#else
#include "tern_broker.h"
#include "tern_testpki.h"
#endif

#include "tern/port/posix_net.h"
#include "tern_test_net.h"

/* ----------------------------------------------------------- heap count -- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* Bytes in use, the peak since the last reset, and what was in use at it: of
 * everything (all) and of mbedTLS's allocations through its platform hooks. */
typedef struct {
    long cur, peak, base;
} meter_t;

static meter_t g_all, g_mbedtls;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void count(meter_t *m, long delta)
{
    pthread_mutex_lock(&g_mu);
    m->cur += delta;
    if (m->cur > m->peak) {
        m->peak = m->cur;
    }
    pthread_mutex_unlock(&g_mu);
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p != NULL) {
        count(&g_all, (long)malloc_usable_size(p));
    }
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    if (p != NULL) {
        count(&g_all, (long)malloc_usable_size(p));
    }
    return p;
}

void *realloc(void *p, size_t n)
{
    long before = p != NULL ? (long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q != NULL) {
        count(&g_all, (long)malloc_usable_size(q) - before);
    } else if (n == 0 && p != NULL) {
        count(&g_all, -before);
    }
    return q;
}

void free(void *p)
{
    if (p != NULL) {
        count(&g_all, -(long)malloc_usable_size(p));
    }
    __libc_free(p);
}

#if defined(TERN_BENCH_DEVICE)
/* mbedtls_calloc / mbedtls_free of the device build: counted apart, then by the above. */
static void *mbedtls_counting_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p != NULL) {
        count(&g_mbedtls, (long)malloc_usable_size(p));
    }
    return p;
}

static void mbedtls_counting_free(void *p)
{
    if (p != NULL) {
        count(&g_mbedtls, -(long)malloc_usable_size(p));
    }
    free(p);
}
#endif

/* Start counting a peak from what is in use now. */
static void peak_reset(void)
{
    pthread_mutex_lock(&g_mu);
    g_all.base = g_all.peak = g_all.cur;
    g_mbedtls.base = g_mbedtls.peak = g_mbedtls.cur;
    pthread_mutex_unlock(&g_mu);
}

/* The peak since peak_reset(), and what is in use now, above what was then. */
static void peak_read(const meter_t *m, long *peak, long *held)
{
    pthread_mutex_lock(&g_mu);
    *peak = m->peak - m->base;
    *held = m->cur - m->base;
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------- the handshakes -- */

typedef struct {
    const char *ca, *crt, *key; /* the test PKI's CA, client certificate and key */
    uint16_t port;
    uint16_t mfl;   /* tern: max fragment length (0: none) */
    bool reference; /* a plain mbedTLS client on its defaults instead */
    bool ok;
    long heap, held;   /* peak heap bytes; in use once the handshake is done */
    long mbedtls_heap; /* of mbedTLS's allocations alone (device build) */
    long stack;        /* peak stack bytes */
} run_t;

static void measured(run_t *r)
{
    long unused;
    peak_read(&g_all, &r->heap, &r->held);
    peak_read(&g_mbedtls, &r->mbedtls_heap, &unused);
}

static void tern_handshake(run_t *r)
{
    tern_posix_tls_config_t cfg = { .ca_file = r->ca,
                                    .hostname = "localhost",
                                    .cert_file = r->crt,
                                    .key_file = r->key,
                                    .max_fragment_len = r->mfl };
    tern_posix_tcp_t tcp;
    tern_posix_tls_t tls;
    peak_reset();
    r->ok = tern_test_tls_connect(&tcp, &tls, "127.0.0.1", r->port, &cfg) == TERN_OK;
    measured(r);
    tern_posix_tls_close(&tls);
    tern_posix_tcp_close(&tcp);
}

static void reference_handshake(run_t *r)
{
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca, own;
    mbedtls_pk_context key;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)r->port);
    peak_reset();
    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own);
    mbedtls_pk_init(&key);
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
    rc = rc ? rc : mbedtls_x509_crt_parse_file(&ca, r->ca);
    rc = rc ? rc : mbedtls_x509_crt_parse_file(&own, r->crt);
    rc = rc ? rc : mbedtls_pk_parse_keyfile(&key, r->key, NULL);
    rc = rc ? rc
            : mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc == 0) {
        mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
        rc = mbedtls_ssl_conf_own_cert(&conf, &own, &key);
    }
    rc = rc ? rc : mbedtls_ssl_setup(&ssl, &conf);
    rc = rc ? rc : mbedtls_ssl_set_hostname(&ssl, "localhost");
    rc = rc ? rc : mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP);
    if (rc == 0) {
        mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
        while ((rc = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
               rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        }
    }
    r->ok = rc == 0 && mbedtls_ssl_get_verify_result(&ssl) == 0;
    measured(r);
    mbedtls_ssl_close_notify(&ssl);
    mbedtls_net_free(&net);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

static void *thread_main(void *arg)
{
    run_t *r = arg;
    if (r->reference) {
        reference_handshake(r);
    } else {
        tern_handshake(r);
    }
    return NULL;
}

enum { STACK = 1u << 20, PATTERN = 0xA5 };

/* Run @p r on a fresh painted stack; its deepest stack use in r->stack (-1: not run). */
static void run_on_stack(run_t *r)
{
    r->stack = -1;
    uint8_t *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
        return;
    }
    memset(stack, PATTERN, STACK);
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) == 0 && pthread_attr_setstack(&attr, stack, STACK) == 0 &&
        pthread_create(&th, &attr, thread_main, r) == 0) {
        pthread_join(th, NULL);
        size_t low = 0;
        while (low < STACK && stack[low] == PATTERN) {
            low++;
        }
        r->stack = (long)(STACK - low);
    }
    pthread_attr_destroy(&attr);
    munmap(stack, STACK);
}

/* The three handshakes of one build, and the table's rows. */
static const struct {
    const char *what;
    uint16_t mfl;
    bool reference;
} k_runs[] = { { "tern, no max fragment length", 0, false },
               { "tern, max fragment length 1024", 1024, false },
               { "mbedTLS defaults", 0, true } };
enum { NRUNS = sizeof k_runs / sizeof k_runs[0] };

static double kib(long bytes)
{
    return bytes / 1024.0;
}

static void print_row(const char *what, const run_t *r, bool with_mbedtls)
{
    printf("  %-32s %9.1f KiB %9.1f KiB %9.1f KiB", what, kib(r->heap), kib(r->stack),
           kib(r->held));
    if (with_mbedtls) {
        printf(" %9.1f KiB", kib(r->mbedtls_heap));
    }
    printf("\n");
}

/* Run every handshake on @p port; 0 if all succeeded. */
static int run_all(run_t r[NRUNS], uint16_t port, const char *ca, const char *crt, const char *key,
                   bool with_mbedtls, const char *prog)
{
    int rc = 0;
    for (int i = 0; i < NRUNS; i++) {
        r[i] = (run_t){ .ca = ca,
                        .crt = crt,
                        .key = key,
                        .port = port,
                        .mfl = k_runs[i].mfl,
                        .reference = k_runs[i].reference };
        run_on_stack(&r[i]);
        if (!r[i].ok || r[i].stack < 0) {
            fprintf(stderr, "%s: the handshake \"%s\" failed\n", prog, k_runs[i].what);
            rc = 1;
            continue;
        }
        print_row(k_runs[i].what, &r[i], with_mbedtls);
    }
    return rc;
}

#if defined(TERN_BENCH_DEVICE)

/* ------------------------------------------- the device build's process -- */

/*
 * bench_tls_mem_device <port> <ca.crt> <client.crt> <client.key>: the three
 * handshakes against the listener bench_tls_mem started; each row printed, then
 * "=run <i> <peak heap> <peak stack> <held> <mbedTLS peak heap>" (bytes) for it.
 */
int main(int argc, char **argv)
{
    char *end = NULL;
    unsigned long port = argc == 5 ? strtoul(argv[1], &end, 10) : 0;
    if (argc != 5 || end == argv[1] || *end != '\0' || port == 0 || port > 65535) {
        fprintf(stderr,
                "usage: %s <port> <ca.crt> <client.crt> <client.key> (bench_tls_mem runs it)\n",
                argv[0]);
        return 2;
    }
    tern_test_net_init();
    if (mbedtls_platform_set_calloc_free(mbedtls_counting_calloc, mbedtls_counting_free) != 0) {
        fprintf(stderr, "bench_tls_mem_device: mbedtls_platform_set_calloc_free failed\n");
        return 1;
    }
    printf("device build of mbedTLS %s (ports/posix/mbedtls/tern_mbedtls_device.h: records "
           "%d in, %d out), heap through mbedtls_platform_set_calloc_free (+ tern's own):\n",
           MBEDTLS_VERSION_STRING, MBEDTLS_SSL_IN_CONTENT_LEN, MBEDTLS_SSL_OUT_CONTENT_LEN);
    run_t r[NRUNS];
    int rc = run_all(r, (uint16_t)port, argv[2], argv[3], argv[4], true, "bench_tls_mem_device");
    for (int i = 0; i < NRUNS; i++) {
        if (r[i].ok && r[i].stack >= 0) {
            printf("=run %d %ld %ld %ld %ld\n", i, r[i].heap, r[i].stack, r[i].held,
                   r[i].mbedtls_heap);
        }
    }
    return rc;
}

#else

/* ------------------------------------------------- Debian's, and the run -- */

/* Where bench_tls_mem_device is: TERN_BENCH_TLS_DEVICE, or next to this program. */
static void device_path(char *buf, size_t cap)
{
    const char *env = getenv("TERN_BENCH_TLS_DEVICE");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, cap, "%s", env);
        return;
    }
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(buf, '/');
    size_t dir = slash != NULL ? (size_t)(slash - buf) + 1 : 0;
    snprintf(buf + dir, cap - dir, "bench_tls_mem_device");
}

/* Why the device build is not there: tools/mbedtls-device.sh leaves its reason in
 * <its output>/FAILED. */
static void device_missing(char *why, size_t cap, const char *path)
{
    snprintf(why, cap, "%s is not there (`make bench` builds it)", path);
#ifdef TERN_MBEDTLS_DEVICE_DIR
    FILE *f = fopen(TERN_MBEDTLS_DEVICE_DIR "/FAILED", "r");
    char line[512];
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(why, cap, "tools/mbedtls-device.sh: %s", line);
    }
    if (f != NULL) {
        fclose(f);
    }
#endif
}

/*
 * Run bench_tls_mem_device against @p port and @p pki: its rows are printed, its
 * results read into @p r. 0 if it measured all three; else @p why says what went wrong
 * (1: the device build is not there, 2: it failed).
 */
static int run_device(run_t r[NRUNS], uint16_t port, const tern_testpki_t *pki, char *why,
                      size_t cap)
{
    char path[1024], portstr[8];
    device_path(path, sizeof path);
    if (access(path, X_OK) != 0) {
        device_missing(why, cap, path);
        return 1;
    }
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, portstr, pki->ca.crt, pki->client.crt, pki->client.key, (char *)NULL);
        fprintf(stderr, "bench_tls_mem: %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(why, cap, "fork: %s", strerror(errno));
        return 2;
    }
    FILE *in = fdopen(fds[0], "r");
    char line[512];
    int got = 0;
    while (in != NULL && fgets(line, sizeof line, in) != NULL) {
        int i;
        long heap, stack, held, mbedtls_heap;
        if (sscanf(line, "=run %d %ld %ld %ld %ld", &i, &heap, &stack, &held, &mbedtls_heap) == 5 &&
            i >= 0 && i < NRUNS) {
            r[i] = (run_t){
                .ok = true, .heap = heap, .stack = stack, .held = held, .mbedtls_heap = mbedtls_heap
            };
            got |= 1 << i;
        } else {
            fputs(line, stdout);
        }
    }
    if (in != NULL) {
        fclose(in);
    } else {
        close(fds[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (1 << NRUNS) - 1) {
        snprintf(why, cap, "bench_tls_mem_device failed (exit status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 2;
    }
    return 0;
}

static const char *goal(long heap)
{
    return heap < 40 * 1024 ? "met" : "not met";
}

int main(void)
{
    tern_test_net_init();
    tern_testpki_t pki;
    if (tern_testpki_make(&pki) != TERN_OK) {
        fprintf(stderr, "bench_tls_mem: the test PKI could not be made\n");
        return 1;
    }
    tern_broker_config_t bc;
    tern_broker_config_default(&bc);
    bc.ntls = 1;
    bc.tls[0] = (tern_broker_tls_t){ pki.ca.crt, pki.server.crt, pki.server.key, true };
    tern_broker_t broker;
    if (tern_broker_start(&broker, &bc) != TERN_OK) {
        fprintf(stderr, "bench_tls_mem: mosquitto did not start\n");
        return 1;
    }
    printf("mTLS handshake (EC P-256 client certificate, mosquitto require_certificate), "
           "mbedTLS %s:\n",
           MBEDTLS_VERSION_STRING);
    printf("  %-32s %13s %13s %13s %13s\n", "", "peak heap", "peak stack", "held after",
           "mbedTLS's");
    printf("Debian's shared library (its defaults: records 16384 in, 16384 out), heap through "
           "malloc:\n");
    run_t r[NRUNS], dev[NRUNS];
    int rc = run_all(r, broker.tls_port[0], pki.ca.crt, pki.client.crt, pki.client.key, false,
                     "bench_tls_mem");
    char why[2048] = "";
    int drc = run_device(dev, broker.tls_port[0], &pki, why, sizeof why);
    tern_broker_close(&broker);
    tern_testpki_remove(&pki);
    if (drc == 1) {
        printf("device build of mbedTLS: not measured: %s\n", why);
    } else if (drc != 0) {
        fprintf(stderr, "bench_tls_mem: %s\n", why);
        rc = 1;
    }
    if (rc != 0) {
        return rc;
    }
    const run_t *ref = &r[2];
    printf("tls_handshake_peak_heap: tern=%.1f KiB reference=%.1f KiB ratio=%.3f "
           "(Debian's mbedTLS, max fragment length 1024; goal under 40 KiB: %s)\n",
           kib(r[1].heap), kib(ref->heap), (double)r[1].heap / (double)ref->heap, goal(r[1].heap));
    static const char *const k_dev[2][2] = { { "device", "no max fragment length" },
                                             { "device_mfl", "max fragment length 1024" } };
    for (int i = 0; i < 2; i++) {
        if (drc != 0) {
            printf("tls_handshake_peak_heap_%s: not measured (no device build of mbedTLS: see "
                   "above)\n",
                   k_dev[i][0]);
            continue;
        }
        printf("tls_handshake_peak_heap_%s: tern=%.1f KiB reference=%.1f KiB ratio=%.3f "
               "(device build, %s; reference: Debian's mbedTLS defaults; goal under 40 KiB: "
               "%s)\n",
               k_dev[i][0], kib(dev[i].heap), kib(ref->heap),
               (double)dev[i].heap / (double)ref->heap, k_dev[i][1], goal(dev[i].heap));
    }
    return rc;
}

#endif
