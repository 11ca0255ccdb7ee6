/* SPDX-License-Identifier: Apache-2.0 */
/* What the ternd tests share: a temporary directory made for a test and removed after it, and
 * a store opened in one. */
#ifndef TERND_CLOUD_TEST_H
#define TERND_CLOUD_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static int cloud_test_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A new empty directory under $TMPDIR (or /tmp) in @p buf (@p cap bytes); NULL on failure. */
static inline char *cloud_test_tmpdir(char *buf, size_t cap, const char *what)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/ternd-%s-XXXXXX", base != NULL && base[0] ? base : "/tmp", what);
    return mkdtemp(buf);
}

/* Remove @p dir and everything in it. */
static inline void cloud_test_rmdir(const char *dir)
{
    nftw(dir, cloud_test_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new temporary directory in @p dir (@p dir_cap bytes; see cloud_test_tmpdir()) and a store
 * opened in it, its file's path in @p db (@p db_cap bytes). The store, or NULL (said on
 * stderr; the directory removed). */
static inline ternd_store_t *cloud_test_store_open(char *dir, size_t dir_cap, char *db,
                                                   size_t db_cap, const char *what)
{
    if (cloud_test_tmpdir(dir, dir_cap, what) == NULL) {
        return NULL;
    }
    snprintf(db, db_cap, "%s/ternd.db", dir);
    char err[256];
    ternd_store_t *s = ternd_store_open_sqlite(db, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "open: %s\n", err);
        cloud_test_rmdir(dir);
    }
    return s;
}

/* The end of cloud_test_store_open(): close @p s (if not NULL) and remove @p dir. */
static inline void cloud_test_store_close(ternd_store_t *s, const char *dir)
{
    if (s != NULL) {
        ternd_store_close(s);
    }
    cloud_test_rmdir(dir);
}

#endif /* TERND_CLOUD_TEST_H */
