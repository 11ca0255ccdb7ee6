/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-loss sweep of the identity (src/sec/identity.c), with the real
 * cryptography: keys in the file key store (a directory made here), X.509 by
 * the POSIX port (mbedTLS), certificates issued by ternd's CA code from the
 * device's own CSRs, the test PKI's root as the fleet's trust anchor.
 *
 * The script: provisioning, two rotations (the second retires the first
 * rotated key), a trust-store update with the wrong root that fails three
 * handshakes into quarantine, then a good update committed. It runs once
 * clean to count its flash operations N; then for each operation 1..N and
 * each kind of tear it runs again on a blank flash (and an empty key store)
 * with the power cut there, reboots, and checks what the fleet relies on:
 *  - the identity mounts (only a cut inside the very first save may leave it
 *    blank, and then provisioning again works);
 *  - the identity it picks to connect with is one a broker that trusts the
 *    fleet CA accepts: its key is in the key store, its chain holds that key
 *    and verifies against the CA at that moment's wall time; and so is the
 *    fallback identity;
 *  - driven on against a good broker (the CA answering CSRs, the fleet
 *    pushing a good trust store to a quarantined device), it finishes the
 *    interrupted work: rotation idle, not quarantined, no key left behind
 *    besides the factory key and the operational one.
 * Prints `powerloss identity: <N> cut points, <M> passed`.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "tern/hal.h"
#include "tern/identity.h"
#include "tern/port/posix.h"
#include "tern/port/posix_keystore.h"
#include "tern/port/posix_x509.h"
#include "tern_norsim.h"
#include "tern_testpki.h"

enum { SECTOR = 4096, SECTORS = 4, SIZE = SECTOR * SECTORS, PROG = 4, CAP = 2 * SECTOR };

static const uint32_t k_tears[] = { 0, 100000, TERN_NORSIM_TEAR_RANDOM };
enum { TEARS = sizeof k_tears / sizeof k_tears[0] };

static const int64_t T0 = 1800000000000; /* wall time of the factory, ms */
static const uint32_t LIFE = 3000;       /* seconds of a rotated certificate */
static const uint32_t LIFE_F = 30000;    /* and of the factory's */

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static uint8_t g_buf[CAP];
static char g_keydir[300];
static tern_testpki_t g_pki;
static ternd_ca_t *g_ca;
static char *g_trust, *g_wrong, *g_factory_chain;
static size_t g_trust_len, g_wrong_len, g_factory_len;
static tern_posix_keystore_file_t g_kf;
static tern_keystore_t g_ks;
static tern_backoff_t g_retry;
static int64_t g_wall; /* the wall clock of the script's current step */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        b = n > 0 ? malloc((size_t)n) : NULL;
        if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            b = NULL;
        }
        *len = (size_t)n;
    }
    if (f != NULL) {
        fclose(f);
    }
    return b;
}

/* The CA's answer to a CSR, at wall time @p wall; into @p out (malloc'd). */
static tern_err_t issue(const uint8_t *csr, size_t len, int64_t wall, uint32_t life, char **out,
                        size_t *out_len)
{
    ternd_cert_t c;
    char why[160];
    if (ternd_ca_issue(g_ca, "dev-1", csr, len, life, wall / 1000, &c, why, sizeof why) !=
        TERND_CA_OK) {
        fprintf(stderr, "CA refused: %s\n", why);
        return TERN_ERR_CERT;
    }
    *out = malloc(c.chain_len);
    memcpy(*out, c.chain, c.chain_len);
    *out_len = c.chain_len;
    ternd_cert_free(&c);
    return TERN_OK;
}

static void clear_keys(void)
{
    DIR *d = opendir(g_keydir);
    struct dirent *e;
    char p[600];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", g_keydir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

static unsigned count_keys(void)
{
    DIR *d = opendir(g_keydir);
    struct dirent *e;
    unsigned n = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* The factory: a key in the store, its certificate from the CA at T0. */
static void factory(void)
{
    uint8_t csr[600];
    size_t len = 0;
    clear_keys();
    free(g_factory_chain);
    g_factory_chain = NULL;
    if (tern_keystore_generate(&g_ks, "factory") != TERN_OK ||
        tern_posix_x509_ops.make_csr(NULL, &g_ks, "factory", "dev-1", csr, sizeof csr, &len) !=
            TERN_OK ||
        issue(csr, len, T0, LIFE_F, &g_factory_chain, &g_factory_len) != TERN_OK) {
        fprintf(stderr, "factory step failed\n");
        exit(1);
    }
}

static tern_identity_config_t config(tern_norsim_t *sim)
{
    tern_identity_config_t c = { .flash = tern_norsim_flash(sim),
                                 .slot_size = 2 * SECTOR,
                                 .buf = g_buf,
                                 .cap = CAP,
                                 .keystore = &g_ks,
                                 .x509 = &tern_posix_x509_ops,
                                 .device_id = "dev-1",
                                 .retry = &g_retry };
    return c;
}

/* Would a broker trusting the fleet CA accept @p c at @p wall? */
static bool accepted(const tern_identity_creds_t *c, int64_t wall, const char **why)
{
    tern_x509_info_t info;
    uint8_t pub[TERN_KEYSTORE_PUB_LEN];
    if (tern_keystore_public_key(&g_ks, c->key_label, pub) != TERN_OK) {
        *why = "its key is not in the key store";
        return false;
    }
    if (tern_posix_x509_ops.leaf_info(NULL, c->cert, c->cert_len, &info) != TERN_OK ||
        !info.pub_p256 || memcmp(info.pub, pub, sizeof pub) != 0) {
        *why = "its chain does not hold its key";
        return false;
    }
    if (tern_posix_x509_ops.verify(NULL, c->cert, c->cert_len, (const uint8_t *)g_trust,
                                   g_trust_len, wall) != TERN_OK) {
        *why = "its chain does not verify against the CA now";
        return false;
    }
    return true;
}

/* One connection as a good broker would see it: TLS fails only with the wrong root. */
static tern_err_t connect_once(tern_identity_t *id, tern_identity_creds_t *c)
{
    tern_err_t err = tern_identity_creds(id, g_wall, c);
    if (err != TERN_OK) {
        return err;
    }
    bool wrong = c->trust_len == g_wrong_len && memcmp(c->trust, g_wrong, g_wrong_len) == 0;
    return tern_identity_result(id, wrong ? TERN_ERR_CERT : TERN_OK,
                                wrong ? "unknown CA: CN=localhost" : NULL);
}

/* A rotation's work as far as it goes: CSRs answered, reconnections made. */
static tern_err_t drive(tern_identity_t *id, tern_ms_t *now, int rounds)
{
    uint8_t csr[600];
    size_t len = 0;
    tern_identity_creds_t c;
    for (int i = 0; i < rounds; i++) {
        tern_identity_action_t act;
        *now += 100000;
        tern_err_t err = tern_identity_poll(id, *now, g_wall, true, csr, sizeof csr, &len, &act);
        if (err != TERN_OK) {
            return err;
        }
        if (act == TERN_IDENTITY_ACT_SEND_CSR) {
            char *chain = NULL;
            size_t cl = 0;
            if ((err = tern_identity_csr_sent(id, *now)) != TERN_OK ||
                (err = issue(csr, len, g_wall, LIFE, &chain, &cl)) != TERN_OK) {
                free(chain);
                return err;
            }
            err = tern_identity_cert_received(id, tern_identity_serial(id), (uint8_t *)chain, cl,
                                              g_wall);
            free(chain);
            if (err != TERN_OK) {
                return err;
            }
        } else if (act == TERN_IDENTITY_ACT_RECONNECT) {
            if ((err = tern_identity_result(id, TERN_ERR_CLOSED, NULL)) != TERN_OK ||
                (err = connect_once(id, &c)) != TERN_OK) {
                return err;
            }
        } else {
            return TERN_OK;
        }
    }
    return TERN_OK;
}

/* Step @p i of the script. */
static tern_err_t step(tern_identity_t *id, tern_identity_config_t *cfg, int i)
{
    tern_identity_creds_t c;
    tern_ms_t now = 0;
    switch (i) {
    case 0:
        return tern_identity_provision(id, "factory", (const uint8_t *)g_factory_chain,
                                       g_factory_len, (const uint8_t *)g_trust, g_trust_len);
    case 1: /* online with the factory identity */
        g_wall = T0 + 1000000;
        return connect_once(id, &c);
    case 2: /* which asks for an operational one at once: the first rotation */
        return drive(id, &now, 3);
    case 4: /* two thirds of the rotated one's life: the second */
        g_wall = T0 + 3100000;
        return drive(id, &now, 3);
    case 3:
    case 5:
        return tern_identity_mount(id, cfg) == TERN_OK ? connect_once(id, &c) : TERN_ERR_STATE;
    case 6:
        return tern_identity_trust_update(id, 1, (const uint8_t *)g_wrong, g_wrong_len);
    case 7:
    case 8:
    case 9: /* three handshakes refused: quarantined */
        return connect_once(id, &c);
    case 10:
        return tern_identity_trust_update(id, 2, (const uint8_t *)g_trust, g_trust_len);
    case 11:
        return connect_once(id, &c);
    default:
        return TERN_OK;
    }
}
enum { STEPS = 12 };

static void open_flash(tern_norsim_t *sim, uint64_t seed)
{
    const tern_norsim_config_t c = { SIZE, SECTOR, PROG, TERN_NORSIM_PROGRAM_ONCE, 0, seed };
    (void)tern_norsim_init(sim, &c, g_mem, g_counts);
    tern_norsim_format(sim);
}

static tern_err_t run(tern_identity_t *id, tern_identity_config_t *cfg, int *done)
{
    tern_err_t err = tern_identity_mount(id, cfg);
    *done = 0;
    if (err == TERN_ERR_NOT_FOUND) {
        err = TERN_OK;
    }
    g_wall = T0;
    for (int i = 0; err == TERN_OK && i < STEPS; i++) {
        err = step(id, cfg, i);
        if (err == TERN_OK) {
            *done = i + 1;
        }
    }
    return err;
}

static bool check(tern_identity_t *id, tern_identity_config_t *cfg, int done, uint32_t point)
{
    const char *why = "";
    tern_identity_creds_t c;
    tern_err_t err = tern_identity_mount(id, cfg);
    if (err == TERN_ERR_NOT_FOUND && done == 0) {
        err = step(id, cfg, 0); /* cut inside the first save: the factory provisions again */
    }
    if (err != TERN_OK) {
        fprintf(stderr, "cut %u (step %d): mount: %s\n", (unsigned)point, done, tern_strerror(err));
        return false;
    }
    if ((err = tern_identity_creds(id, g_wall, &c)) != TERN_OK || !accepted(&c, g_wall, &why)) {
        fprintf(stderr, "cut %u (step %d): the %s identity (key %s) is not accepted: %s\n",
                (unsigned)point, done, tern_identity_name(c.identity), c.key_label,
                err != TERN_OK ? tern_strerror(err) : why);
        return false;
    }
    /* every identity the state names is whole: the fallback, the operational one (used
     * again if a new one is refused) and a new one waiting to be tried */
    for (int w = TERN_IDENTITY_FALLBACK; w >= TERN_IDENTITY_OPERATIONAL; w--) {
        uint32_t serial = w == TERN_IDENTITY_FALLBACK      ? 0
                          : w == TERN_IDENTITY_OPERATIONAL ? id->op_serial
                                                           : id->serial;
        c.cert = tern_identity_chain(id, (tern_identity_which_t)w, &c.cert_len);
        if (c.cert == NULL) {
            continue;
        }
        if (serial == 0) {
            snprintf(c.key_label, sizeof c.key_label, "factory");
        } else {
            snprintf(c.key_label, sizeof c.key_label, "op%u", (unsigned)serial);
        }
        if (!accepted(&c, w == TERN_IDENTITY_FALLBACK ? T0 : g_wall, &why)) {
            fprintf(stderr, "cut %u (step %d): the %s identity is broken: %s\n", (unsigned)point,
                    done, tern_identity_name((tern_identity_which_t)w), why);
            return false;
        }
    }
    /* go on against a good broker and fleet until the work is done */
    tern_ms_t now = 0;
    for (int round = 0; round < 8; round++) {
        if ((err = connect_once(id, &c)) != TERN_OK || (err = drive(id, &now, 4)) != TERN_OK) {
            break;
        }
        size_t n;
        if (tern_identity_quarantined(id) &&
            tern_identity_chain(id, TERN_IDENTITY_NEXT, &n) == NULL) {
            err = tern_identity_trust_update(id, id->tentative_version + 1,
                                             (const uint8_t *)g_trust, g_trust_len);
            if (err != TERN_OK) {
                break;
            }
        }
    }
    unsigned keys = count_keys();
    if (err != TERN_OK || tern_identity_rotation(id) != TERN_ROTATION_IDLE ||
        tern_identity_quarantined(id) || keys > 2 ||
        tern_identity_creds(id, g_wall, &c) != TERN_OK || !accepted(&c, g_wall, &why)) {
        fprintf(stderr,
                "cut %u (step %d): does not finish: %s, rotation %d, quarantined %d, %u keys, %s\n",
                (unsigned)point, done, tern_strerror(err), (int)tern_identity_rotation(id),
                (int)tern_identity_quarantined(id), keys, why);
        return false;
    }
    return true;
}

int main(void)
{
    tern_norsim_t sim;
    tern_identity_t id;
    char err_text[200];
    if (tern_testpki_make(&g_pki) != TERN_OK) {
        fprintf(stderr, "cannot make the test PKI\n");
        return 1;
    }
    snprintf(g_keydir, sizeof g_keydir, "%s/keys", g_pki.dir);
    g_ca = ternd_ca_load(g_pki.ca.crt, g_pki.ca.key, err_text, sizeof err_text);
    g_trust = slurp(g_pki.ca.crt, &g_trust_len);
    g_wrong = slurp(g_pki.other_ca.crt, &g_wrong_len);
    if (g_ca == NULL || g_trust == NULL || g_wrong == NULL ||
        tern_posix_keystore_file_open(&g_kf, g_keydir, &g_ks) != TERN_OK) {
        fprintf(stderr, "set-up failed: %s\n", g_ca == NULL ? err_text : "files");
        return 1;
    }
    tern_backoff_config_t bc = { TERN_BACKOFF_FULL_JITTER, 1000, 60000, 0, 0 };
    tern_rng_t r = tern_posix_rng_hal();
    (void)tern_backoff_init(&g_retry, &bc, &r);

    open_flash(&sim, 1);
    factory();
    tern_identity_config_t cfg = config(&sim);
    int done = 0;
    tern_err_t err = run(&id, &cfg, &done);
    uint32_t n_ops = tern_norsim_op_count(&sim);
    if (err != TERN_OK || done != STEPS || id.op_serial != 2 || id.trust_version != 2 ||
        count_keys() != 2) {
        fprintf(stderr, "clean run failed at step %d: %s (op %u, trust %u, %u keys)\n", done,
                tern_strerror(err), (unsigned)id.op_serial, (unsigned)id.trust_version,
                count_keys());
        printf("powerloss identity: 1 cut points, 0 passed\n");
        return 1;
    }
    fprintf(stderr, "clean run: %d steps, %u flash operations, %u bytes of state at the end\n",
            STEPS, (unsigned)n_ops, (unsigned)id.used);

    unsigned total = 0, passed = 0;
    for (uint32_t k = 1; k <= n_ops; k++) {
        for (uint32_t tear = 0; tear < TEARS; tear++) {
            total++;
            open_flash(&sim, 1000u + k * TEARS + tear);
            factory();
            cfg = config(&sim);
            tern_norsim_cut_after(&sim, k, k_tears[tear]);
            err = run(&id, &cfg, &done);
            if (err != TERN_ERR_POWER_LOST || !tern_norsim_power_lost(&sim)) {
                fprintf(stderr, "cut %u: the script ended with %s\n", (unsigned)k,
                        tern_strerror(err));
                continue;
            }
            tern_norsim_reboot(&sim);
            passed += check(&id, &cfg, done, k);
        }
    }
    printf("powerloss identity: %u cut points, %u passed\n", total, passed);
    tern_posix_keystore_file_close(&g_kf);
    ternd_ca_free(g_ca);
    clear_keys();
    tern_testpki_remove(&g_pki);
    return passed == total ? 0 : 1;
}
