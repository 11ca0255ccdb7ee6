/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file devqueue.h
 * @brief A FIFO of per-device jobs with an index, so that a device is queued
 * once: the twin server's deltas (twin_server.h) and the certificate service's
 * answers (certs.h). Queueing and finding a job cost O(log n) (a tsearch()
 * tree over the jobs' keys), taking the oldest costs O(log n), so a queue of
 * the whole fleet stays cheap.
 *
 * The jobs are opaque fixed-size records copied in and out; the caller's
 * comparison says which of them are the same job (a device, or a device and a
 * kind). Not thread-safe: the caller holds its own lock around every call.
 */
#ifndef TERND_DEVQUEUE_H
#define TERND_DEVQUEUE_H

#include <stdbool.h>
#include <stddef.h>

/** Orders two jobs by their key (strcmp()-like); 0: the same job. */
typedef int (*ternd_devqueue_cmp_fn)(const void *a, const void *b);

/** A queue. Caller-owned; its fields are for reading (n) only. */
typedef struct ternd_devqueue {
    size_t job_size;
    size_t links_at; /* where a node's links follow its job */
    ternd_devqueue_cmp_fn cmp;
    void *index;       /* the queued jobs by key (tsearch) */
    void *head, *tail; /* the queue's nodes, oldest first (NULL: empty) */
    size_t n;          /* jobs queued */
} ternd_devqueue_t;

/** An empty queue of jobs of @p job_size bytes, the same when @p cmp says 0. */
void ternd_devqueue_init(ternd_devqueue_t *q, size_t job_size, ternd_devqueue_cmp_fn cmp);

/** Free every job queued; @p q is empty after. */
void ternd_devqueue_free(ternd_devqueue_t *q);

/**
 * Queue a copy of @p job at the tail, or at the head if @p front (a job the
 * drain took and puts back). 1 queued; 0 the same job is queued already
 * (nothing added; *queued, if @p queued is not NULL, points at it, for the
 * caller to update anything but its key); -1 out of memory (nothing added).
 */
int ternd_devqueue_push(ternd_devqueue_t *q, const void *job, bool front, void **queued);

/** Take the oldest job into @p job: false if there is none. */
bool ternd_devqueue_pop(ternd_devqueue_t *q, void *job);

#endif /* TERND_DEVQUEUE_H */
