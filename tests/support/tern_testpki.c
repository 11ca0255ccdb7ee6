/* SPDX-License-Identifier: Apache-2.0 */
/* The test PKI: run gen_pki.sh into a scratch directory and name its files. */
#include <stdio.h>
#include <string.h>

#include "tern_proc.h"
#include "tern_testpki.h"

/* Where gen_pki.sh lives and which openssl it runs: set by tests/support/CMakeLists.txt. */
#ifndef TERN_TEST_SUPPORT_DIR
#error "TERN_TEST_SUPPORT_DIR must name tests/support"
#endif
#ifndef TERN_OPENSSL_PATH
#define TERN_OPENSSL_PATH "openssl"
#endif

static tern_err_t set_id(tern_testpki_id_t *id, const char *dir, const char *stem)
{
    int a = snprintf(id->crt, sizeof id->crt, "%s/%s.crt", dir, stem);
    int b = snprintf(id->key, sizeof id->key, "%s/%s.key", dir, stem);
    return a > 0 && (size_t)a < sizeof id->crt && b > 0 && (size_t)b < sizeof id->key
               ? TERN_OK
               : TERN_ERR_TOO_SMALL;
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
    }
    fclose(f);
}

tern_err_t tern_testpki_make(tern_testpki_t *pki)
{
    memset(pki, 0, sizeof *pki);
    tern_err_t err = tern_tmpdir_make(pki->dir, sizeof pki->dir, "pki");
    if (err != TERN_OK) {
        return err;
    }
#define TERN_TESTPKI_SET_(field, stem)             \
    if (err == TERN_OK) {                          \
        err = set_id(&pki->field, pki->dir, stem); \
    }
    TERN_TESTPKI_LIST(TERN_TESTPKI_SET_)
#undef TERN_TESTPKI_SET_
    int crl = snprintf(pki->crl, sizeof pki->crl, "%s/ca.crl", pki->dir);
    if (err == TERN_OK && (crl <= 0 || (size_t)crl >= sizeof pki->crl)) {
        err = TERN_ERR_TOO_SMALL;
    }
    char log[TERN_TESTPKI_PATH + 16];
    snprintf(log, sizeof log, "%s/gen_pki.log", pki->dir);
    char *argv[] = { "/bin/sh", TERN_TEST_SUPPORT_DIR "/gen_pki.sh", pki->dir, TERN_OPENSSL_PATH,
                     NULL };
    int code = -1;
    if (err == TERN_OK) {
        err = tern_proc_run(argv, log, 30000, &code);
    }
    if (err == TERN_OK && code != 0) {
        fprintf(stderr, "tern_testpki: gen_pki.sh exited with %d:\n", code);
        print_file(log);
        err = TERN_ERR_IO;
    }
    if (err != TERN_OK) {
        tern_testpki_remove(pki);
    }
    return err;
}

void tern_testpki_remove(tern_testpki_t *pki)
{
    if (pki != NULL && pki->dir[0] != '\0') {
        tern_tmpdir_remove(pki->dir);
        pki->dir[0] = '\0';
    }
}
