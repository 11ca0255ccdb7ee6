/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peak heap and stack of one mTLS handshake with mbedTLS (2.28, Debian's),
 * against a real mosquitto listener that requires a client certificate (the
 * test PKI, EC P-256): tern's TLS transport (tern/port/posix_net.h) without
 * and with max fragment length 1024, and the same handshake with a plain
 * mbedTLS client on its defaults (mbedtls_ssl_config_defaults), in one run.
 *
 * Heap: Debian's mbedTLS is built without MBEDTLS_PLATFORM_MEMORY, so
 * mbedtls_platform_set_calloc_free() is not there; this program defines
 * malloc, calloc, realloc and free itself (the shared libmbedtls calls them
 * through the PLT, so it gets these) and counts the bytes in use with
 * malloc_usable_size(): the peak above what was in use before the handshake,
 * from the session's set-up to the end of the handshake. Stack: each
 * handshake runs on a thread whose stack was filled with a pattern; the
 * deepest byte changed is its peak.
 *
 * Note: without MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH (off in Debian's build)
 * the record buffers keep their full 16 KiB size whatever fragment length
 * is negotiated; a device build of mbedTLS sets MBEDTLS_SSL_IN/OUT_CONTENT_LEN.
 *
 * The last line: tern (max fragment length 1024) against the mbedTLS
 * defaults, peak heap; ratio = tern / reference. Goal: under 40 KiB.
 */
#define _GNU_SOURCE
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

#include "tern/port/posix_net.h"
#include "tern_broker.h"
#include "tern_test_net.h"
#include "tern_testpki.h"

/* ----------------------------------------------------------- heap count -- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static long g_cur, g_peak; /* bytes in use, and the peak since the last reset */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void count(long delta)
{
    pthread_mutex_lock(&g_mu);
    g_cur += delta;
    if (g_cur > g_peak) {
        g_peak = g_cur;
    }
    pthread_mutex_unlock(&g_mu);
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p != NULL) {
        count((long)malloc_usable_size(p));
    }
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    if (p != NULL) {
        count((long)malloc_usable_size(p));
    }
    return p;
}

void *realloc(void *p, size_t n)
{
    long before = p != NULL ? (long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q != NULL) {
        count((long)malloc_usable_size(q) - before);
    } else if (n == 0 && p != NULL) {
        count(-before);
    }
    return q;
}

void free(void *p)
{
    if (p != NULL) {
        count(-(long)malloc_usable_size(p));
    }
    __libc_free(p);
}

/* Start counting a peak from what is in use now; the peak since then, above it. */
static long g_base;

static void peak_reset(void)
{
    pthread_mutex_lock(&g_mu);
    g_base = g_cur;
    g_peak = g_cur;
    pthread_mutex_unlock(&g_mu);
}

static long peak_now(void)
{
    pthread_mutex_lock(&g_mu);
    long p = g_peak - g_base;
    pthread_mutex_unlock(&g_mu);
    return p;
}

/* ------------------------------------------------------- the handshakes -- */

typedef struct {
    const tern_testpki_t *pki;
    uint16_t port;
    uint16_t mfl;   /* tern: max fragment length (0: none) */
    bool reference; /* a plain mbedTLS client on its defaults instead */
    bool ok;
    long heap; /* peak heap bytes */
} run_t;

static void tern_handshake(run_t *r)
{
    tern_posix_tls_config_t cfg = { .ca_file = r->pki->ca.crt,
                                    .hostname = "localhost",
                                    .cert_file = r->pki->client.crt,
                                    .key_file = r->pki->client.key,
                                    .max_fragment_len = r->mfl };
    tern_posix_tcp_t tcp;
    tern_posix_tls_t tls;
    peak_reset();
    r->ok = tern_test_tls_connect(&tcp, &tls, "127.0.0.1", r->port, &cfg) == TERN_OK;
    r->heap = peak_now();
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
    rc = rc ? rc : mbedtls_x509_crt_parse_file(&ca, r->pki->ca.crt);
    rc = rc ? rc : mbedtls_x509_crt_parse_file(&own, r->pki->client.crt);
    rc = rc ? rc : mbedtls_pk_parse_keyfile(&key, r->pki->client.key, NULL);
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
    r->heap = peak_now();
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

/* Run @p r on a fresh painted stack; the deepest stack use in bytes, or -1. */
static long run_on_stack(run_t *r)
{
    uint8_t *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
        return -1;
    }
    memset(stack, PATTERN, STACK);
    pthread_attr_t attr;
    pthread_t th;
    long used = -1;
    if (pthread_attr_init(&attr) == 0 && pthread_attr_setstack(&attr, stack, STACK) == 0 &&
        pthread_create(&th, &attr, thread_main, r) == 0) {
        pthread_join(th, NULL);
        size_t low = 0;
        while (low < STACK && stack[low] == PATTERN) {
            low++;
        }
        used = (long)(STACK - low);
    }
    pthread_attr_destroy(&attr);
    munmap(stack, STACK);
    return used;
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
    static const struct {
        const char *what;
        uint16_t mfl;
        bool reference;
    } k[] = { { "tern, no max fragment length", 0, false },
              { "tern, max fragment length 1024", 1024, false },
              { "mbedTLS defaults", 0, true } };
    run_t r[3];
    long stack[3];
    int rc = 0;
    printf("mTLS handshake (EC P-256 client certificate, mosquitto require_certificate), "
           "mbedTLS %s:\n",
           MBEDTLS_VERSION_STRING);
    printf("  %-32s %12s %12s\n", "", "peak heap", "peak stack");
    for (int i = 0; i < 3; i++) {
        r[i] = (run_t){
            .pki = &pki, .port = broker.tls_port[0], .mfl = k[i].mfl, .reference = k[i].reference
        };
        stack[i] = run_on_stack(&r[i]);
        if (!r[i].ok || stack[i] < 0) {
            fprintf(stderr, "bench_tls_mem: the handshake \"%s\" failed\n", k[i].what);
            rc = 1;
            continue;
        }
        printf("  %-32s %9.1f KiB %9.1f KiB\n", k[i].what, r[i].heap / 1024.0, stack[i] / 1024.0);
    }
    tern_broker_close(&broker);
    tern_testpki_remove(&pki);
    if (rc == 0) {
        printf("tls_handshake_peak_heap: tern=%.1f KiB reference=%.1f KiB ratio=%.3f "
               "(goal: under 40 KiB)\n",
               r[1].heap / 1024.0, r[2].heap / 1024.0, (double)r[1].heap / (double)r[2].heap);
    }
    return rc;
}
