/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_proc.h
 * @brief Test support: child processes (brokers, servers, scripts) and scratch
 * directories that never outlive the test.
 *
 * A child is started so that it dies with the test process even if the test
 * crashes or is killed (PR_SET_PDEATHSIG), and whatever is still running or
 * still on disk at exit() is killed or removed. Host (POSIX) tests only.
 */
#ifndef TERN_PROC_H
#define TERN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A child process; zero it or spawn it before use. */
typedef struct tern_proc {
    pid_t pid;  /* 0: none (never started, or reaped) */
    int status; /* wait status, once reaped */
} tern_proc_t;

/**
 * Start argv[0] (a path) with @p argv; stdin is /dev/null, stdout and stderr are appended
 * to @p log_path (NULL: discarded). TERN_ERR_IO if fork fails; an exec failure shows as a
 * child that exits with 127.
 */
tern_err_t tern_proc_spawn(tern_proc_t *p, char *const argv[], const char *log_path);

/** True while the child runs (or is paused); reaps it once it has exited. */
bool tern_proc_alive(tern_proc_t *p);

/** Send @p sig to a live child; TERN_ERR_STATE if there is none. */
tern_err_t tern_proc_signal(tern_proc_t *p, int sig);

/**
 * End the child: SIGTERM (and SIGCONT, should it be paused), up to @p grace_ms for it
 * to exit, then SIGKILL. TERN_OK if it went within the grace, TERN_ERR_TIMEOUT if it
 * had to be killed. Always reaps it; a no-op on a child that is gone.
 */
tern_err_t tern_proc_stop(tern_proc_t *p, uint32_t grace_ms);

/**
 * Run @p argv to completion (output to @p log_path as for spawn), killing it after
 * @p timeout_ms. *exit_code gets its exit status (-1 if killed by a signal).
 */
tern_err_t tern_proc_run(char *const argv[], const char *log_path, uint32_t timeout_ms,
                         int *exit_code);

/** Sleep @p ms milliseconds (tests only: the SDK itself never sleeps). */
void tern_proc_sleep_ms(uint32_t ms);

/**
 * Make a fresh directory under $TMPDIR (or /tmp) named after @p tag into @p out;
 * TERN_ERR_TOO_SMALL if the path does not fit. It is removed at exit if still there.
 */
tern_err_t tern_tmpdir_make(char *out, size_t cap, const char *tag);

/** Remove @p path and everything below it. */
void tern_tmpdir_remove(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* TERN_PROC_H */
