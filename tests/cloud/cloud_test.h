/* SPDX-License-Identifier: Apache-2.0 */
/* What the ternd tests share: a temporary directory made for a test and removed after it. */
#ifndef TERND_CLOUD_TEST_H
#define TERND_CLOUD_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#endif /* TERND_CLOUD_TEST_H */
