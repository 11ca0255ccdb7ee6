/* SPDX-License-Identifier: Apache-2.0 */
/* The file key store (tern/port/posix_keystore.h): one PEM file per key.
 *
 * A key is written whole or not at all: it goes to a temporary file first
 * (created with O_EXCL, mode 0600, synced), which is then link()ed to its final
 * name. link() refuses an existing name, so two generates of one label cannot
 * both win, and a crash leaves at most a temporary file, never a half-written
 * key under a real label. Temporary names start with '.', which no label may.
 *
 * Every file is untrusted input: its size is bounded before it is read and
 * mbedTLS parses it; a file that is not a P-256 key is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "tern/port/posix_keystore.h"

/* A P-256 SEC1 PEM is about 230 bytes; anything far larger is not ours. */
#define KEY_FILE_MAX 2048

struct tern_posix_keystore_file_state {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char dir[PATH_MAX];
};

/* Labels become file names: a safe alphabet, and no leading '.' (hidden and
 * temporary files, "." and ".."). */
static bool file_label_ok(const char *label)
{
    if (label == NULL || label[0] == '\0' || label[0] == '.') {
        return false;
    }
    size_t i = 0;
    for (; label[i] != '\0'; i++) {
        char c = label[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok || i >= TERN_KEYSTORE_LABEL_MAX) {
            return false;
        }
    }
    return true;
}

static tern_err_t io_error(tern_posix_keystore_file_t *f, int err)
{
    f->last_errno = err;
    return TERN_ERR_IO;
}

static tern_err_t key_path(const struct tern_posix_keystore_file_state *s, char *out, size_t cap,
                           const char *prefix, const char *label, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s%s", s->dir, prefix, label, suffix);
    return n >= 0 && (size_t)n < cap ? TERN_OK : TERN_ERR_TOO_SMALL;
}

/* Make a rename or unlink in the directory durable. */
static void sync_dir(const struct tern_posix_keystore_file_state *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        (void)close(fd);
    }
}

static bool write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Write @p pem as @p label's key unless the label is taken. */
static tern_err_t store_new(tern_posix_keystore_file_t *f, const char *label,
                            const unsigned char *pem, size_t len)
{
    struct tern_posix_keystore_file_state *s = f->s;
    char tmp[PATH_MAX], final[PATH_MAX], tail[32];
    (void)snprintf(tail, sizeof tail, ".key.%ld.tmp", (long)getpid());
    tern_err_t err = key_path(s, tmp, sizeof tmp, ".", label, tail);
    if (err == TERN_OK) {
        err = key_path(s, final, sizeof final, "", label, ".key");
    }
    if (err != TERN_OK) {
        return err;
    }
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
    int fd = open(tmp, flags, 0600);
    if (fd < 0 && errno == EEXIST) {
        (void)unlink(tmp); /* left by a crashed process that had our pid */
        fd = open(tmp, flags, 0600);
    }
    if (fd < 0) {
        return io_error(f, errno);
    }
    bool ok = fchmod(fd, 0600) == 0 && write_all(fd, pem, len) && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && link(tmp, final) != 0) {
        ok = false;
        saved = errno;
    }
    (void)unlink(tmp);
    sync_dir(s);
    if (!ok) {
        return saved == EEXIST ? TERN_ERR_EXISTS : io_error(f, saved);
    }
    return TERN_OK;
}

/* Read and parse @p label's key into @p pk (initialised by the caller). */
static tern_err_t load_key(tern_posix_keystore_file_t *f, const char *label, mbedtls_pk_context *pk)
{
    char path[PATH_MAX];
    tern_err_t err = key_path(f->s, path, sizeof path, "", label, ".key");
    if (err != TERN_OK) {
        return err;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? TERN_ERR_NOT_FOUND : io_error(f, errno);
    }
    unsigned char buf[KEY_FILE_MAX + 1];
    size_t len = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = io_error(f, errno);
    } else if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
        err = TERN_ERR_CORRUPT;
    }
    while (err == TERN_OK && len < KEY_FILE_MAX) {
        ssize_t n = read(fd, buf + len, KEY_FILE_MAX - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = io_error(f, errno);
        } else if (n == 0) {
            break;
        } else {
            len += (size_t)n;
        }
    }
    (void)close(fd);
    if (err == TERN_OK) {
        buf[len] = '\0'; /* PEM parsing wants the terminating NUL counted */
        if (mbedtls_pk_parse_key(pk, buf, len + 1, NULL, 0) != 0) {
            err = TERN_ERR_CORRUPT;
        } else if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY ||
                   mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
            err = TERN_ERR_UNSUPPORTED; /* a key, but not one this store makes */
        }
    }
    mbedtls_platform_zeroize(buf, sizeof buf);
    return err;
}

/* ------------------------------------------------------------ the ops -- */

static tern_err_t fs_generate(void *ctx, const char *label)
{
    tern_posix_keystore_file_t *f = ctx;
    if (f == NULL || f->s == NULL || !file_label_ok(label)) {
        return TERN_ERR_INVAL;
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    unsigned char pem[512];
    tern_err_t err = TERN_OK;
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random,
                            &f->s->drbg) != 0 ||
        mbedtls_pk_write_key_pem(&pk, pem, sizeof pem) != 0) {
        err = TERN_ERR_IO; /* no entropy, or no memory */
        f->last_errno = 0;
    } else {
        err = store_new(f, label, pem, strlen((const char *)pem));
    }
    mbedtls_platform_zeroize(pem, sizeof pem);
    mbedtls_pk_free(&pk);
    return err;
}

static tern_err_t fs_public_key(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    tern_posix_keystore_file_t *f = ctx;
    if (f == NULL || f->s == NULL || !file_label_ok(label) || pub == NULL) {
        return TERN_ERR_INVAL;
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    tern_err_t err = load_key(f, label, &pk);
    if (err == TERN_OK) {
        const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
        size_t olen = 0;
        if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                           pub, TERN_KEYSTORE_PUB_LEN) != 0 ||
            olen != TERN_KEYSTORE_PUB_LEN) {
            err = TERN_ERR_CORRUPT;
        }
    }
    mbedtls_pk_free(&pk);
    return err;
}

static tern_err_t fs_sign(void *ctx, const char *label, const uint8_t hash[32], uint8_t *sig,
                          size_t cap, size_t *sig_len)
{
    tern_posix_keystore_file_t *f = ctx;
    if (f == NULL || f->s == NULL || !file_label_ok(label) || hash == NULL || sig == NULL ||
        sig_len == NULL) {
        return TERN_ERR_INVAL;
    }
    *sig_len = 0;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    tern_err_t err = load_key(f, label, &pk);
    if (err == TERN_OK) {
        unsigned char der[MBEDTLS_ECDSA_MAX_LEN];
        size_t len = 0;
        if (mbedtls_ecdsa_write_signature(mbedtls_pk_ec(pk), MBEDTLS_MD_SHA256, hash, 32, der, &len,
                                          mbedtls_ctr_drbg_random, &f->s->drbg) != 0) {
            err = TERN_ERR_IO;
            f->last_errno = 0;
        } else if (len > cap) {
            err = TERN_ERR_TOO_SMALL;
        } else {
            memcpy(sig, der, len);
            *sig_len = len;
        }
    }
    mbedtls_pk_free(&pk);
    return err;
}

static tern_err_t fs_destroy(void *ctx, const char *label)
{
    tern_posix_keystore_file_t *f = ctx;
    if (f == NULL || f->s == NULL || !file_label_ok(label)) {
        return TERN_ERR_INVAL;
    }
    char path[PATH_MAX];
    tern_err_t err = key_path(f->s, path, sizeof path, "", label, ".key");
    if (err != TERN_OK) {
        return err;
    }
    if (unlink(path) != 0) {
        return errno == ENOENT ? TERN_ERR_NOT_FOUND : io_error(f, errno);
    }
    sync_dir(f->s);
    return TERN_OK;
}

static const tern_keystore_ops_t k_file_ops = {
    .name = "file",
    .generate = fs_generate,
    .public_key = fs_public_key,
    .sign = fs_sign,
    .destroy = fs_destroy,
};

/* ------------------------------------------------------ open and close -- */

tern_err_t tern_posix_keystore_file_open(tern_posix_keystore_file_t *f, const char *dir,
                                         tern_keystore_t *out)
{
    static const unsigned char k_pers[] = "tern posix keystore file";
    if (f == NULL) {
        return TERN_ERR_INVAL;
    }
    f->s = NULL;
    f->last_errno = 0;
    if (dir == NULL || dir[0] == '\0' || out == NULL) {
        return TERN_ERR_INVAL;
    }
    if (strlen(dir) >= PATH_MAX - (TERN_KEYSTORE_LABEL_MAX + 32)) {
        return TERN_ERR_TOO_SMALL; /* no room left for a key's file name */
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0 || stat(dir, &st) != 0) {
            return io_error(f, errno);
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        return TERN_ERR_INVAL;
    }
    struct tern_posix_keystore_file_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return io_error(f, ENOMEM);
    }
    memcpy(s->dir, dir, strlen(dir) + 1);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    if (mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy, k_pers,
                              sizeof k_pers - 1) != 0) {
        mbedtls_ctr_drbg_free(&s->drbg);
        mbedtls_entropy_free(&s->entropy);
        free(s);
        return io_error(f, 0);
    }
    f->s = s;
    out->ops = &k_file_ops;
    out->ctx = f;
    return TERN_OK;
}

int tern_posix_keystore_file_errno(const tern_posix_keystore_file_t *f)
{
    return f != NULL ? f->last_errno : 0;
}

void tern_posix_keystore_file_close(tern_posix_keystore_file_t *f)
{
    if (f == NULL || f->s == NULL) {
        return;
    }
    mbedtls_ctr_drbg_free(&f->s->drbg);
    mbedtls_entropy_free(&f->s->entropy);
    free(f->s);
    f->s = NULL;
}
