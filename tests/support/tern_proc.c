/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes and scratch directories for host tests, with a safety net:
 * at exit() every child still running is killed and every directory still
 * there removed; a child also dies with its parent, however the parent ends. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw flags, mkdtemp, prctl */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tern_proc.h"

/* What to clean up at exit: test support may keep process-wide state. */
#define MAX_CHILDREN 64
#define MAX_DIRS     32
#define DIR_LEN      256

static pid_t g_children[MAX_CHILDREN];
static char g_dirs[MAX_DIRS][DIR_LEN];
static bool g_atexit_set;

static void cleanup_at_exit(void)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        if (g_children[i] > 0) {
            kill(g_children[i], SIGKILL);
            waitpid(g_children[i], NULL, 0);
            g_children[i] = 0;
        }
    }
    for (size_t i = 0; i < MAX_DIRS; i++) {
        if (g_dirs[i][0] != '\0') {
            tern_tmpdir_remove(g_dirs[i]);
        }
    }
}

static void ensure_atexit(void)
{
    if (!g_atexit_set) {
        g_atexit_set = atexit(cleanup_at_exit) == 0;
    }
}

static void track_child(pid_t pid, pid_t replace)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        if (g_children[i] == replace) {
            g_children[i] = pid;
            return;
        }
    }
}

void tern_proc_sleep_ms(uint32_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(char *const argv[], const char *log_path, pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        _exit(126); /* the parent is already gone: do not run unsupervised */
    }
    int in = open("/dev/null", O_RDONLY);
    int out = log_path != NULL ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600)
                               : open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
        _exit(126);
    }
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv);
    _exit(127);
}

tern_err_t tern_proc_spawn(tern_proc_t *p, char *const argv[], const char *log_path)
{
    if (p == NULL || argv == NULL || argv[0] == NULL) {
        return TERN_ERR_INVAL;
    }
    ensure_atexit();
    fflush(NULL); /* nothing buffered gets written twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        return TERN_ERR_IO;
    }
    if (pid == 0) {
        child_exec(argv, log_path, parent);
    }
    p->pid = pid;
    p->status = 0;
    track_child(pid, 0);
    return TERN_OK;
}

/* Reap @p p if it has exited (or wait for it when @p block). True once reaped. */
static bool proc_reap(tern_proc_t *p, bool block)
{
    if (p->pid <= 0) {
        return true;
    }
    pid_t r;
    do {
        r = waitpid(p->pid, &p->status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return false;
    }
    track_child(0, p->pid);
    p->pid = 0;
    return true;
}

bool tern_proc_alive(tern_proc_t *p)
{
    return p != NULL && !proc_reap(p, false);
}

tern_err_t tern_proc_signal(tern_proc_t *p, int sig)
{
    if (!tern_proc_alive(p)) {
        return TERN_ERR_STATE;
    }
    return kill(p->pid, sig) == 0 ? TERN_OK : TERN_ERR_IO;
}

/* Wait up to @p ms for @p p to exit; true if it did. */
static bool proc_wait(tern_proc_t *p, uint32_t ms)
{
    for (uint32_t waited = 0;; waited += 5) {
        if (proc_reap(p, false)) {
            return true;
        }
        if (waited >= ms) {
            return false;
        }
        tern_proc_sleep_ms(5);
    }
}

tern_err_t tern_proc_stop(tern_proc_t *p, uint32_t grace_ms)
{
    if (p == NULL || proc_reap(p, false)) {
        return TERN_OK;
    }
    kill(p->pid, SIGTERM);
    kill(p->pid, SIGCONT);
    if (proc_wait(p, grace_ms)) {
        return TERN_OK;
    }
    kill(p->pid, SIGKILL);
    proc_reap(p, true);
    return TERN_ERR_TIMEOUT;
}

tern_err_t tern_proc_run(char *const argv[], const char *log_path, uint32_t timeout_ms,
                         int *exit_code)
{
    tern_proc_t p = { 0, 0 };
    tern_err_t err = tern_proc_spawn(&p, argv, log_path);
    if (err != TERN_OK) {
        return err;
    }
    if (!proc_wait(&p, timeout_ms)) {
        kill(p.pid, SIGKILL);
        proc_reap(&p, true);
        return TERN_ERR_TIMEOUT;
    }
    if (exit_code != NULL) {
        *exit_code = WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
    }
    return TERN_OK;
}

tern_err_t tern_tmpdir_make(char *out, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    int n = snprintf(out, cap, "%s/tern-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= DIR_LEN) {
        return TERN_ERR_TOO_SMALL;
    }
    if (mkdtemp(out) == NULL) {
        return TERN_ERR_IO;
    }
    ensure_atexit();
    for (size_t i = 0; i < MAX_DIRS; i++) {
        if (g_dirs[i][0] == '\0') {
            memcpy(g_dirs[i], out, (size_t)n + 1);
            break;
        }
    }
    return TERN_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tern_tmpdir_remove(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        return;
    }
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < MAX_DIRS; i++) {
        if (strcmp(g_dirs[i], path) == 0) {
            g_dirs[i][0] = '\0';
        }
    }
}
