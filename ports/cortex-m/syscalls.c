/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The system calls newlib-nano needs, on bare metal: stdin/stdout/stderr are
 * the UART0 console, the heap is the RAM between the end of .noinit and the
 * stack (mps2_an386.ld), and exit leaves qemu through semihosting.
 * There is no file system: other descriptors fail with EBADF.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_internal.h"

/* newlib declares these only while building itself. */
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _getpid(void);
int _isatty(int fd);
int _kill(int pid, int sig);
_off_t _lseek(int fd, _off_t offset, int whence);
_READ_WRITE_RETURN_TYPE _read(int fd, void *buf, size_t len);
void *_sbrk(ptrdiff_t incr);
_READ_WRITE_RETURN_TYPE _write(int fd, const void *buf, size_t len);

extern char __heap_start__[];
extern char __heap_end__[];

static int cm_is_console(int fd)
{
    return fd >= 0 && fd <= 2;
}

void *_sbrk(ptrdiff_t incr)
{
    static char *brk = __heap_start__;
    char *old = brk;
    if (incr > __heap_end__ - brk || incr < __heap_start__ - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    return old;
}

_READ_WRITE_RETURN_TYPE _write(int fd, const void *buf, size_t len)
{
    if (!cm_is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    tern_cm_console_write(buf, len);
    return (_READ_WRITE_RETURN_TYPE)len;
}

/* A console read waits for the first byte, then takes what has arrived. */
_READ_WRITE_RETURN_TYPE _read(int fd, void *buf, size_t len)
{
    size_t got = 0;

    if (!cm_is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    while (len > 0 && got == 0) {
        got = cm_console_read(buf, len);
    }
    return (_READ_WRITE_RETURN_TYPE)got;
}

int _close(int fd)
{
    (void)fd;
    errno = EBADF;
    return -1;
}

int _fstat(int fd, struct stat *st)
{
    if (!cm_is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    st->st_mode = S_IFCHR; /* a character device: newlib line-buffers stdout */
    return 0;
}

int _isatty(int fd)
{
    if (!cm_is_console(fd)) {
        errno = EBADF;
        return 0;
    }
    return 1;
}

_off_t _lseek(int fd, _off_t offset, int whence)
{
    (void)fd;
    (void)offset;
    (void)whence;
    errno = ESPIPE;
    return -1;
}

void _exit(int status)
{
    tern_cm_exit(status);
}

int _getpid(void)
{
    return 1;
}

/* abort() raises SIGABRT through here: there is nobody to signal, so end the program. */
int _kill(int pid, int sig)
{
    (void)pid;
    tern_cm_exit(128 + sig);
}
