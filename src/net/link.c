/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The link manager: which link carries the connection, failover when it dies,
 * fail back once a preferred link is stable again. Each link is in one state:
 *
 *   IDLE        nothing open; may be started once its retry time has come
 *   CONNECTING  the active link, connecting
 *   UP          the active link, connected
 *   PROBE       a preferred link checked in the background by the port's probe
 *   TRIAL       a preferred link connecting in the background (no probe, or proven)
 *   TRIAL_UP    that background connection is up; it becomes active when stable
 *
 * Background work is done only for links ranked above the active one and only
 * while the active one is up, so a device never opens two links for nothing.
 */
#include "tern/link.h"

#include "tern/tern_config.h"

enum {
    ST_IDLE = 0,
    ST_CONNECTING,
    ST_UP,
    ST_PROBE,
    ST_TRIAL,
    ST_TRIAL_UP,
};

static void emit(tern_link_mgr_t *m, tern_link_event_type_t type, int link, int from,
                 tern_err_t err)
{
    if (m->cfg.on_event == NULL) {
        return;
    }
    tern_link_event_t ev = { type, &m->links[link], from >= 0 ? &m->links[from] : NULL, err };
    m->cfg.on_event(m->cfg.event_arg, &ev);
}

/* Negative if link a is preferred to link b: rank, then cost, then position. */
static int compare(const tern_link_mgr_t *m, int a, int b)
{
    const tern_link_t *la = &m->links[a];
    const tern_link_t *lb = &m->links[b];
    if (la->rank != lb->rank) {
        return la->rank < lb->rank ? -1 : 1;
    }
    if (la->cost != lb->cost) {
        return la->cost < lb->cost ? -1 : 1;
    }
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* A failed attempt: the next one waits for the link's backoff. */
static void schedule_retry(tern_link_t *l, tern_ms_t now)
{
    uint32_t delay = 0;
    if (tern_backoff_next(l->backoff, &delay) != TERN_OK) {
        l->priv.gave_up = true;
    }
    if (delay > TERN_TIME_MAX_INTERVAL_MS) {
        delay = TERN_TIME_MAX_INTERVAL_MS;
    }
    l->priv.retry_set = true;
    l->priv.retry_at = tern_deadline_in(now, delay);
    l->priv.failed_now = true;
    l->priv.since_set = false;
    l->priv.proven = false;
    l->priv.st = ST_IDLE;
}

static bool retry_due(const tern_link_t *l, tern_ms_t now)
{
    return !l->priv.failed_now && !l->priv.gave_up &&
           (!l->priv.retry_set || tern_deadline_passed(now, l->priv.retry_at));
}

/* Leave a link without blaming it (it may be started at once later). */
static void release(tern_link_t *l)
{
    if (l->priv.st != ST_IDLE && l->priv.st != ST_PROBE) {
        l->ops->close(l->ctx);
    }
    l->priv.st = ST_IDLE;
    l->priv.since_set = false;
    l->priv.proven = false;
}

static void became_up(tern_link_mgr_t *m, int i, tern_ms_t now)
{
    tern_link_t *l = &m->links[i];
    l->priv.st = ST_UP;
    l->priv.since = now;
    l->priv.since_set = true;
    l->priv.retry_set = false;
    emit(m, TERN_LINK_EVENT_UP, i, -1, TERN_OK);
    if (m->last_up >= 0 && m->last_up != i) {
        emit(m, TERN_LINK_EVENT_SWITCHED, i, m->last_up, TERN_OK);
    }
    m->last_up = i;
}

static void fail_active(tern_link_mgr_t *m, tern_err_t err, tern_ms_t now)
{
    int i = m->active;
    tern_link_t *l = &m->links[i];
    l->ops->close(l->ctx);
    schedule_retry(l, now);
    m->active = -1;
    emit(m, TERN_LINK_EVENT_DOWN, i, -1, err);
}

/* Background links ranked below the active one are of no use any more. */
static void drop_worse_background(tern_link_mgr_t *m)
{
    for (size_t k = 0; k < m->n; k++) {
        int i = (int)k;
        uint8_t st = m->links[k].priv.st;
        if (i != m->active && st >= ST_PROBE && compare(m, i, m->active) > 0) {
            release(&m->links[k]);
        }
    }
}

/* The best link that may be made active now, -1 if none. */
static int best_candidate(const tern_link_mgr_t *m, tern_ms_t now)
{
    int best = -1;
    for (size_t k = 0; k < m->n; k++) {
        const tern_link_t *l = &m->links[k];
        bool ok = l->priv.st >= ST_PROBE || (l->priv.st == ST_IDLE && retry_due(l, now));
        if (ok && (best < 0 || compare(m, (int)k, best) < 0)) {
            best = (int)k;
        }
    }
    return best;
}

/* No active link: make the best candidate active, falling through failures. */
static void select_active(tern_link_mgr_t *m, tern_ms_t now)
{
    for (;;) {
        int i = best_candidate(m, now);
        if (i < 0) {
            return;
        }
        tern_link_t *l = &m->links[i];
        m->active = i;
        if (l->priv.st == ST_TRIAL_UP) {
            became_up(m, i, now);
            break;
        }
        if (l->priv.st != ST_TRIAL) {
            l->priv.st = ST_CONNECTING;
            tern_err_t err = l->ops->start(l->ctx, now);
            if (err != TERN_OK) {
                m->active = -1;
                schedule_retry(l, now);
                emit(m, TERN_LINK_EVENT_DOWN, i, -1, err);
                continue;
            }
        }
        l->priv.st = ST_CONNECTING;
        tern_err_t err = l->ops->poll(l->ctx, now);
        if (err == TERN_OK) {
            became_up(m, i, now);
            break;
        }
        if (err == TERN_ERR_AGAIN) {
            break;
        }
        fail_active(m, err, now);
    }
    drop_worse_background(m);
}

static void bg_fail(tern_link_t *l, tern_ms_t now)
{
    if (l->priv.st == ST_TRIAL || l->priv.st == ST_TRIAL_UP) {
        l->ops->close(l->ctx);
    }
    schedule_retry(l, now);
}

/* Start a background trial connection of @p l. */
static void bg_start_trial(tern_link_t *l, tern_ms_t now)
{
    if (l->ops->start(l->ctx, now) != TERN_OK) {
        schedule_retry(l, now);
        return;
    }
    l->priv.st = ST_TRIAL;
    l->priv.since_set = false;
}

/* One step of the background check of a link ranked above the active one. */
static void bg_step(tern_link_mgr_t *m, tern_link_t *l, tern_ms_t now)
{
    if (l->priv.st == ST_IDLE) {
        if (!retry_due(l, now)) {
            return;
        }
        if (l->ops->probe != NULL) {
            l->priv.st = ST_PROBE;
            l->priv.since_set = false;
        } else {
            bg_start_trial(l, now);
            if (l->priv.st != ST_TRIAL) {
                return;
            }
        }
    }
    tern_err_t err;
    switch (l->priv.st) {
    case ST_PROBE:
        err = l->ops->probe(l->ctx, now);
        if (err == TERN_OK) {
            if (!l->priv.since_set) {
                l->priv.since = now;
                l->priv.since_set = true;
            }
            if (tern_time_elapsed(now, l->priv.since) >= m->cfg.stable_ms) {
                bg_start_trial(l, now);
                l->priv.proven = l->priv.st == ST_TRIAL;
                if (l->priv.proven) {
                    bg_step(m, l, now);
                }
            }
        } else if (err != TERN_ERR_AGAIN) {
            bg_fail(l, now);
        }
        break;
    case ST_TRIAL:
        err = l->ops->poll(l->ctx, now);
        if (err == TERN_OK) {
            l->priv.st = ST_TRIAL_UP;
            l->priv.since = now;
            l->priv.since_set = true;
        } else if (err != TERN_ERR_AGAIN) {
            bg_fail(l, now);
        }
        break;
    case ST_TRIAL_UP:
        err = l->ops->poll(l->ctx, now);
        if (err != TERN_OK && err != TERN_ERR_AGAIN) {
            bg_fail(l, now);
        }
        break;
    default:
        break;
    }
}

static bool bg_stable(const tern_link_mgr_t *m, const tern_link_t *l, tern_ms_t now)
{
    return l->priv.st == ST_TRIAL_UP &&
           (l->priv.proven || tern_time_elapsed(now, l->priv.since) >= m->cfg.stable_ms);
}

/* Background checks, then fail back to the best link that proved stable. */
static void background(tern_link_mgr_t *m, tern_ms_t now)
{
    int best = -1;
    for (size_t k = 0; k < m->n; k++) {
        int i = (int)k;
        tern_link_t *l = &m->links[k];
        if (i == m->active || compare(m, i, m->active) > 0) {
            continue;
        }
        bg_step(m, l, now);
        if (bg_stable(m, l, now) && (best < 0 || compare(m, i, best) < 0)) {
            best = i;
        }
    }
    if (best < 0) {
        return;
    }
    int old = m->active;
    m->active = best;
    tern_backoff_reset(m->links[best].backoff);
    became_up(m, best, now);
    release(&m->links[old]);
    emit(m, TERN_LINK_EVENT_DOWN, old, -1, TERN_OK);
    drop_worse_background(m);
}

tern_err_t tern_link_init(tern_link_mgr_t *m, tern_link_t *links, size_t n,
                          const tern_link_config_t *cfg)
{
    if (m == NULL || links == NULL || n == 0 || n > (size_t)INT16_MAX || cfg == NULL) {
        return TERN_ERR_INVAL;
    }
    for (size_t k = 0; k < n; k++) {
        const tern_link_ops_t *o = links[k].ops;
        if (links[k].backoff == NULL || o == NULL || o->start == NULL || o->poll == NULL ||
            o->transport == NULL || o->close == NULL) {
            return TERN_ERR_INVAL;
        }
    }
    for (size_t k = 0; k < n; k++) {
        links[k].priv = (tern_link_state_t){ 0 };
    }
    m->links = links;
    m->n = n;
    m->cfg = *cfg;
    m->active = -1;
    m->last_up = -1;
    m->pending = TERN_OK;
    return TERN_OK;
}

tern_err_t tern_link_poll(tern_link_mgr_t *m, tern_ms_t now)
{
    if (m == NULL || m->links == NULL) {
        return TERN_ERR_INVAL;
    }
    for (size_t k = 0; k < m->n; k++) {
        m->links[k].priv.failed_now = false;
    }
    if (m->active >= 0) {
        tern_link_t *l = &m->links[m->active];
        tern_err_t err = m->pending;
        m->pending = TERN_OK;
        if (err == TERN_OK) {
            err = l->ops->poll(l->ctx, now);
        }
        if (err == TERN_OK && l->priv.st == ST_CONNECTING) {
            became_up(m, m->active, now);
            drop_worse_background(m);
        } else if (err == TERN_OK || err == TERN_ERR_AGAIN) {
            /* A link that stayed up for the stable time has its backoff forgiven. */
            if (l->priv.st == ST_UP && tern_time_elapsed(now, l->priv.since) >= m->cfg.stable_ms) {
                tern_backoff_reset(l->backoff);
            }
        } else {
            fail_active(m, err, now);
        }
    }
    m->pending = TERN_OK;
    if (m->active < 0) {
        select_active(m, now);
    }
    if (m->active >= 0 && m->links[m->active].priv.st == ST_UP) {
        background(m, now);
    }
    if (m->active < 0) {
        return TERN_ERR_CONNECT;
    }
    return m->links[m->active].priv.st == ST_UP ? TERN_OK : TERN_ERR_AGAIN;
}

tern_err_t tern_link_report_failure(tern_link_mgr_t *m, tern_err_t err)
{
    if (m == NULL || err >= 0) {
        return TERN_ERR_INVAL;
    }
    if (m->active < 0) {
        return TERN_ERR_STATE;
    }
    m->pending = err;
    return TERN_OK;
}

const tern_link_t *tern_link_active(const tern_link_mgr_t *m)
{
    if (m == NULL || m->active < 0 || m->links[m->active].priv.st != ST_UP) {
        return NULL;
    }
    return &m->links[m->active];
}

tern_err_t tern_link_transport(const tern_link_mgr_t *m, tern_transport_t *out)
{
    const tern_link_t *l = tern_link_active(m);
    if (out == NULL) {
        return TERN_ERR_INVAL;
    }
    if (l == NULL) {
        return TERN_ERR_STATE;
    }
    *out = l->ops->transport(l->ctx);
    return TERN_OK;
}

bool tern_link_bulk_allowed(const tern_link_mgr_t *m)
{
    const tern_link_t *l = tern_link_active(m);
    return l != NULL && l->cost == TERN_LINK_COST_FREE;
}

uint32_t tern_link_next_timeout(const tern_link_mgr_t *m, tern_ms_t now)
{
    uint32_t best = UINT32_MAX;
    if (m == NULL || m->links == NULL) {
        return best;
    }
    if (m->pending != TERN_OK) {
        return 0; /* a failure reported by the caller waits for the next poll: poll now */
    }
    bool up = m->active >= 0 && m->links[m->active].priv.st == ST_UP;
    for (size_t k = 0; k < m->n; k++) {
        const tern_link_t *l = &m->links[k];
        uint32_t t = UINT32_MAX;
        /* retries matter when nothing is active, or for a link above an active one that is up */
        bool may_start = m->active < 0 || (up && compare(m, (int)k, m->active) < 0);
        if (l->priv.st == ST_IDLE && may_start && !l->priv.gave_up) {
            t = l->priv.retry_set ? tern_deadline_remaining(now, l->priv.retry_at) : 0;
        } else if ((l->priv.st == ST_PROBE || l->priv.st == ST_TRIAL_UP) && l->priv.since_set) {
            t = l->priv.proven ? 0
                               : tern_deadline_remaining(
                                     now, tern_deadline_in(l->priv.since, m->cfg.stable_ms));
        }
        if (t < best) {
            best = t;
        }
    }
    return best;
}

void tern_link_close_all(tern_link_mgr_t *m)
{
    if (m == NULL || m->links == NULL) {
        return;
    }
    for (size_t k = 0; k < m->n; k++) {
        release(&m->links[k]);
        m->links[k].priv = (tern_link_state_t){ 0 };
        tern_backoff_reset(m->links[k].backoff);
    }
    m->active = -1;
    m->last_up = -1;
    m->pending = TERN_OK;
}

const char *tern_link_kind_name(tern_link_kind_t kind)
{
    switch (kind) {
    case TERN_LINK_ETHERNET:
        return "ethernet";
    case TERN_LINK_WIFI:
        return "wifi";
    case TERN_LINK_CELLULAR:
        return "cellular";
    case TERN_LINK_LORA:
        return "lora";
    }
    return "unknown";
}
