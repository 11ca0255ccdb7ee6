/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NOR flash on the norsim, backed by RAM or by a file mapped MAP_SHARED: every
 * program and erase lands in the page cache at once, so the image survives the
 * process (a crash, a kill, a simulated reboot) and another process sees it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/port/posix.h"

/* Map @p path as the image; a new or empty file becomes a blank chip. */
static tern_err_t map_file(const char *path, uint32_t size, uint8_t **out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return TERN_ERR_IO;
    }
    struct stat st;
    tern_err_t err = TERN_OK;
    bool blank = false;
    if (fstat(fd, &st) != 0) {
        err = TERN_ERR_IO;
    } else if (st.st_size == 0) {
        blank = true;
        if (ftruncate(fd, (off_t)size) != 0) {
            err = TERN_ERR_IO;
        }
    } else if (st.st_size != (off_t)size) {
        err = TERN_ERR_INVAL; /* an image of another geometry: refuse rather than reshape it */
    }
    void *mem = MAP_FAILED;
    if (err == TERN_OK) {
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED) {
            err = TERN_ERR_IO;
        }
    }
    (void)close(fd); /* the mapping keeps the file */
    if (err != TERN_OK) {
        return err;
    }
    if (blank) {
        memset(mem, 0xFF, size);
    }
    *out = mem;
    return TERN_OK;
}

tern_err_t tern_posix_flash_open(tern_posix_flash_t *f, const tern_posix_flash_config_t *cfg)
{
    if (f == NULL || cfg == NULL) {
        return TERN_ERR_INVAL;
    }
    memset(f, 0, sizeof *f);
    /* Let the simulator judge the geometry before anything is allocated or created. */
    uint8_t probe_mem;
    uint32_t probe_count;
    tern_err_t err = tern_norsim_init(&f->sim, &cfg->sim, &probe_mem, &probe_count);
    if (err != TERN_OK) {
        return err;
    }
    uint32_t size = cfg->sim.size;
    f->erase_counts = calloc(size / cfg->sim.sector_size, sizeof(uint32_t));
    if (f->erase_counts == NULL) {
        return TERN_ERR_IO;
    }
    if (cfg->path != NULL) {
        err = map_file(cfg->path, size, &f->mem);
        f->mapped = err == TERN_OK;
    } else if (cfg->mem != NULL) {
        f->mem = cfg->mem;
    } else {
        f->mem = malloc(size);
        if (f->mem == NULL) {
            err = TERN_ERR_IO;
        } else {
            f->owns_mem = true;
            memset(f->mem, 0xFF, size);
        }
    }
    if (err == TERN_OK) {
        err = tern_norsim_init(&f->sim, &cfg->sim, f->mem, f->erase_counts);
    }
    if (err != TERN_OK) {
        tern_posix_flash_close(f);
    }
    return err;
}

void tern_posix_flash_close(tern_posix_flash_t *f)
{
    if (f->mapped) {
        (void)munmap(f->mem, f->sim.cfg.size);
    } else if (f->owns_mem) {
        free(f->mem);
    }
    free(f->erase_counts);
    memset(f, 0, sizeof *f);
}

tern_flash_t tern_posix_flash_hal(tern_posix_flash_t *f)
{
    return tern_norsim_flash(&f->sim);
}

tern_norsim_t *tern_posix_flash_sim(tern_posix_flash_t *f)
{
    return &f->sim;
}
