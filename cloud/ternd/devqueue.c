/* SPDX-License-Identifier: Apache-2.0 */
/* A FIFO of per-device jobs indexed by key (devqueue.h). A node is one allocation: the job
 * first, so the index holds the node's address and compares it with the caller's comparison
 * as it is (a job to look for needs no node), then the node's links in the FIFO list. */
#define _GNU_SOURCE /* tdestroy */
#include "devqueue.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

typedef struct links {
    void *prev, *next;
} links_t;

static links_t *links(const ternd_devqueue_t *q, void *node)
{
    /* links_at is rounded up to links_t's alignment and malloc aligns the node for any type */
    return (links_t *)(void *)((char *)node + q->links_at);
}

void ternd_devqueue_init(ternd_devqueue_t *q, size_t job_size, ternd_devqueue_cmp_fn cmp)
{
    memset(q, 0, sizeof *q);
    q->job_size = job_size;
    q->links_at = (job_size + _Alignof(links_t) - 1) / _Alignof(links_t) * _Alignof(links_t);
    q->cmp = cmp;
}

static void no_free(void *p)
{
    (void)p; /* the nodes are freed from the list */
}

void ternd_devqueue_free(ternd_devqueue_t *q)
{
    tdestroy(q->index, no_free);
    q->index = NULL;
    while (q->head != NULL) {
        void *next = links(q, q->head)->next;
        free(q->head);
        q->head = next;
    }
    q->tail = NULL;
    q->n = 0;
}

int ternd_devqueue_push(ternd_devqueue_t *q, const void *job, bool front, void **queued)
{
    void **found = tfind(job, &q->index, q->cmp);
    if (found != NULL) {
        if (queued != NULL) {
            *queued = *found;
        }
        return 0;
    }
    void *n = malloc(q->links_at + sizeof(links_t));
    if (n == NULL) {
        return -1;
    }
    memcpy(n, job, q->job_size); /* before tsearch(), which compares by it */
    if (tsearch(n, &q->index, q->cmp) == NULL) {
        free(n);
        return -1;
    }
    links_t *l = links(q, n);
    if (front) {
        l->prev = NULL;
        l->next = q->head;
        *(q->head != NULL ? &links(q, q->head)->prev : &q->tail) = n;
        q->head = n;
    } else {
        l->next = NULL;
        l->prev = q->tail;
        *(q->tail != NULL ? &links(q, q->tail)->next : &q->head) = n;
        q->tail = n;
    }
    q->n++;
    return 1;
}

bool ternd_devqueue_pop(ternd_devqueue_t *q, void *job)
{
    void *n = q->head;
    if (n == NULL) {
        return false;
    }
    q->head = links(q, n)->next;
    *(q->head != NULL ? &links(q, q->head)->prev : &q->tail) = NULL;
    tdelete(n, &q->index, q->cmp);
    memcpy(job, n, q->job_size);
    free(n);
    q->n--;
    return true;
}
