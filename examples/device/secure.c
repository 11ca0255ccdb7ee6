/* SPDX-License-Identifier: Apache-2.0 */
/* The device example's identity: see secure.h. */
#define _POSIX_C_SOURCE 200809L
#include "secure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/cbor.h"
#include "tern/port/posix_x509.h"
#include "tern/wire.h"

enum { ID_BUF = 15 * 1024, CSR_MAX = 600, MSG_MAX = 1024 };

static uint8_t g_idbuf[ID_BUF];
/* the quarantine session's memory */
static uint8_t g_qtx[2048], g_qrx[SECURE_PEM_MAX + 256], g_qcopy[2 * MSG_MAX];
static tern_mqtt_inflight_t g_qinflight[2];

static int64_t wall(const secure_t *s)
{
    tern_walltime_t w = tern_clock_wall(&s->hal->clock);
    return w.known ? w.unix_ms : -1;
}

static void iso(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Take the identity's choice for the next connection into the TLS configuration. */
static void apply_creds(secure_t *s)
{
    tern_identity_creds_t *c = &s->creds;
    if (tern_identity_creds(&s->id, wall(s), c) != TERN_OK || c->cert_len > sizeof s->cert ||
        c->trust_len > sizeof s->ca) {
        printf("device %s: identity: no usable credentials\n", s->dev);
        return;
    }
    memcpy(s->cert, c->cert, c->cert_len);
    memcpy(s->ca, c->trust, c->trust_len);
    memcpy(s->label, c->key_label, sizeof s->label);
    s->tls.cert_pem = s->cert;
    s->tls.cert_pem_len = c->cert_len;
    s->tls.ca_pem = s->ca;
    s->tls.ca_pem_len = c->trust_len;
    s->tls.key_label = s->label;
    printf("device %s: identity: %s (key %s), %s trust store%s\n", s->dev,
           tern_identity_name(c->identity), s->label, tern_trust_name(c->trust_store),
           c->quarantine ? ", quarantine endpoint" : "");
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    *len = fread(buf, 1, cap, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int open_keys(secure_t *s, const secure_opts_t *o, const char *dev)
{
    tern_err_t err = TERN_ERR_INVAL;
    if (o->keys != NULL) {
        err = tern_posix_keystore_file_open(&s->kfile, o->keys, &s->ks);
    } else if (o->pkcs11 != NULL) {
        static char spec[512];
        snprintf(spec, sizeof spec, "%s", o->pkcs11);
        char *pin = strrchr(spec, ':'), *token = NULL;
        if (pin != NULL) {
            *pin++ = '\0';
            token = strrchr(spec, ':');
        }
        if (token != NULL) {
            *token++ = '\0';
            tern_posix_keystore_pkcs11_config_t pc = { spec, token, pin };
            err = tern_posix_keystore_pkcs11_open(&s->kp11, &pc, &s->ks);
        }
    }
    if (err != TERN_OK) {
        printf("device %s: key store: %s\n", dev, tern_strerror(err));
        return 1;
    }
    printf("device %s: key store: %s (%s)\n", dev, s->ks.ops->name,
           o->keys != NULL ? o->keys : "a PKCS#11 token");
    return 0;
}

int secure_make_csr(const char *dev, const secure_opts_t *o, const char *path)
{
    static secure_t s;
    uint8_t der[CSR_MAX];
    size_t len = 0;
    if (open_keys(&s, o, dev) != 0) {
        return 1;
    }
    tern_err_t err = tern_keystore_generate(&s.ks, "factory");
    if (err == TERN_OK || err == TERN_ERR_EXISTS) {
        err = tern_posix_x509_ops.make_csr(NULL, &s.ks, "factory", dev, der, sizeof der, &len);
    }
    FILE *f = err == TERN_OK ? fopen(path, "wb") : NULL;
    if (f == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0) {
        printf("device %s: factory CSR: %s\n", dev,
               err != TERN_OK ? tern_strerror(err) : "cannot write the file");
        return 1;
    }
    printf("device %s: factory key generated in the key store, CSR written to %s\n", dev, path);
    return 0;
}

int secure_open(secure_t *s, const tern_hal_t *hal, tern_flash_t flash, const char *dev,
                const secure_opts_t *o)
{
    memset(s, 0, sizeof *s);
    s->on = true;
    s->dev = dev;
    s->hal = hal;
    s->o = *o;
    if (open_keys(s, o, dev) != 0) {
        return 1;
    }
    tern_backoff_config_t rc = { TERN_BACKOFF_FULL_JITTER, 3000, 60000, 0, 0 };
    tern_backoff_config_t qc = { TERN_BACKOFF_FULL_JITTER, 500, 10000, 0, 0 };
    tern_identity_config_t ic = { .flash = flash,
                                  .buf = g_idbuf,
                                  .cap = sizeof g_idbuf,
                                  .keystore = &s->ks,
                                  .x509 = &tern_posix_x509_ops,
                                  .device_id = dev,
                                  .retry = &s->retry,
                                  .rotate_permille = o->rotate_permille };
    tern_err_t err = tern_backoff_init(&s->retry, &rc, &hal->rng);
    if (err == TERN_OK) {
        err = tern_backoff_init(&s->q_backoff, &qc, &hal->rng);
    }
    if (err == TERN_OK) {
        err = tern_identity_mount(&s->id, &ic);
    }
    if (err == TERN_ERR_NOT_FOUND) { /* blank: the factory's identity and trust store */
        size_t cl = 0, tl = 0;
        if (o->cert_file == NULL || o->ca_file == NULL ||
            read_file(o->cert_file, s->cert, sizeof s->cert, &cl) != 0 ||
            read_file(o->ca_file, s->ca, sizeof s->ca, &tl) != 0) {
            printf("device %s: identity: not provisioned, and no readable factory "
                   "certificate and trust store given\n",
                   dev);
            return 1;
        }
        err = tern_identity_provision(&s->id, "factory", s->cert, cl, s->ca, tl);
        if (err == TERN_OK) {
            printf("device %s: identity: provisioned from %s and %s\n", dev, o->cert_file,
                   o->ca_file);
        }
    }
    if (err != TERN_OK) {
        printf("device %s: identity: %s\n", dev, tern_strerror(err));
        return 1;
    }
    tern_wire_topic(s->t_csr, sizeof s->t_csr, dev, TERN_WIRE_CERT_CSR, NULL);
    tern_wire_topic(s->t_cert, sizeof s->t_cert, dev, TERN_WIRE_CERT_NEW, NULL);
    tern_wire_topic(s->t_trust, sizeof s->t_trust, dev, TERN_WIRE_TRUST_NEW, NULL);
    tern_wire_topic(s->t_quar, sizeof s->t_quar, dev, TERN_WIRE_QUARANTINE, NULL);
    s->tls.hostname = o->hostname;
    s->tls.keystore = &s->ks;
    s->tls.clock = &hal->clock;
    size_t n;
    tern_x509_info_t info;
    const uint8_t *chain = tern_identity_chain(&s->id, TERN_IDENTITY_OPERATIONAL, &n);
    if (tern_posix_x509_ops.leaf_info(NULL, chain, n, &info) == TERN_OK) {
        char until[32];
        iso(info.not_after_ms, until, sizeof until);
        printf("device %s: identity: certificate of %s valid until %s, rotation %d, trust store "
               "version %u%s\n",
               dev, info.cn, until, (int)tern_identity_rotation(&s->id),
               (unsigned)tern_identity_trust_version(&s->id),
               tern_identity_quarantined(&s->id) ? ", quarantined" : "");
    }
    apply_creds(s);
    return 0;
}

const tern_posix_tls_config_t *secure_tls(secure_t *s)
{
    return &s->tls;
}

void secure_bind(secure_t *s, tern_link_mgr_t *mgr)
{
    s->mgr = mgr;
}

/* The session came up, or a connection failed: tell the identity, and print what changed. */
static void outcome(secure_t *s, tern_err_t err, const char *detail)
{
    tern_identity_which_t was = s->creds.identity;
    tern_trust_which_t store = s->creds.trust_store;
    bool quarantined = tern_identity_quarantined(&s->id);
    tern_err_t e = tern_identity_result(&s->id, err, detail);
    if (e != TERN_OK && e != TERN_ERR_STATE) {
        printf("device %s: identity: %s\n", s->dev, tern_strerror(e));
    }
    if (err == TERN_OK && was == TERN_IDENTITY_NEXT) {
        printf("device %s: certificate rotation: connected with key %s, the new identity is "
               "committed and the old key destroyed\n",
               s->dev, s->label);
        s->creds.identity = TERN_IDENTITY_OPERATIONAL;
    }
    if (err == TERN_OK && store == TERN_TRUST_TENTATIVE) {
        printf("device %s: trust store version %u committed\n", s->dev,
               (unsigned)tern_identity_trust_version(&s->id));
        s->creds.trust_store = TERN_TRUST_PRIMARY;
    }
    if (!quarantined && tern_identity_quarantined(&s->id)) {
        s->q_reported = false; /* a report is owed */
        printf("device %s: the tentative trust store failed its handshakes: rolled back, "
               "quarantined\n",
               s->dev);
    }
}

void secure_on_event(secure_t *s, const tern_uplink_event_t *ev)
{
    if (!s->on) {
        return;
    }
    if (ev->type == TERN_UPLINK_EV_ONLINE) {
        outcome(s, TERN_OK, NULL);
    } else if (ev->type == TERN_UPLINK_EV_LINK && ev->link_ev->type == TERN_LINK_EVENT_DOWN &&
               ev->link_ev->err != TERN_OK) {
        char detail[640] = "";
        (void)tern_posix_link_describe(ev->link_ev->link->ctx, detail, sizeof detail);
        if (detail[0] != '\0') {
            printf("device %s: TLS: %s\n", s->dev, detail);
        }
        outcome(s, ev->link_ev->err, detail);
        apply_creds(s); /* the next attempt uses what the identity says now */
    }
}

size_t secure_subs(secure_t *s, tern_mqtt_sub_t *out)
{
    out[0] = (tern_mqtt_sub_t){ { (const uint8_t *)s->t_cert, strlen(s->t_cert) }, 1 };
    out[1] = (tern_mqtt_sub_t){ { (const uint8_t *)s->t_trust, strlen(s->t_trust) }, 1 };
    return 2;
}

/* {1: text, 2: uint}: the PEM and the serial or version. */
static bool pem_message(const tern_mqtt_publish_t *m, const uint8_t **pem, size_t *len,
                        uint32_t *num)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it, v;
    unsigned seen = 0;
    tern_cbor_dec_init(&d, m->payload.ptr, m->payload.len, 0);
    if (tern_cbor_dec_next(&d, &it) != TERN_OK || it.type != TERN_CBOR_MAP || it.indefinite) {
        return false;
    }
    for (uint64_t i = 0; i < it.u; i++) {
        tern_cbor_item_t k;
        if (tern_cbor_dec_next(&d, &k) != TERN_OK || k.type != TERN_CBOR_UINT ||
            tern_cbor_dec_next(&d, &v) != TERN_OK) {
            return false;
        }
        if (k.u == TERN_WIRE_C_DATA && v.type == TERN_CBOR_TEXT && !v.indefinite) {
            *pem = v.ptr;
            *len = v.len;
            seen |= 1;
        } else if (k.u == TERN_WIRE_C_SERIAL && v.type == TERN_CBOR_UINT && v.u <= UINT32_MAX) {
            *num = (uint32_t)v.u;
            seen |= 2;
        } else if (v.type == TERN_CBOR_MAP || v.type == TERN_CBOR_ARRAY) {
            return false; /* nothing nested belongs here */
        }
    }
    return seen == 3;
}

static bool topic_is(const tern_mqtt_publish_t *m, const char *t)
{
    return m->topic.len == strlen(t) && memcmp(m->topic.ptr, t, m->topic.len) == 0;
}

bool secure_on_message(secure_t *s, const tern_mqtt_publish_t *m)
{
    const uint8_t *pem = NULL;
    size_t len = 0;
    uint32_t num = 0;
    bool cert = topic_is(m, s->t_cert), trust = topic_is(m, s->t_trust);
    if (!s->on || (!cert && !trust)) {
        return false;
    }
    if (m->payload.len == 0) {
        return true; /* a retained message cleared */
    }
    if (!pem_message(m, &pem, &len, &num)) {
        printf("device %s: %s: not the schema of tern/wire.h, ignored\n", s->dev,
               cert ? "cert/new" : "trust/new");
        return true;
    }
    if (cert) {
        tern_err_t e = tern_identity_cert_received(&s->id, num, pem, len, wall(s));
        tern_x509_info_t info;
        char until[32] = "?";
        if (tern_posix_x509_ops.leaf_info(NULL, pem, len, &info) == TERN_OK) {
            iso(info.not_after_ms, until, sizeof until);
        }
        if (e == TERN_OK) {
            printf("device %s: certificate rotation: chain for request %u received (valid until "
                   "%s), reconnecting with it\n",
                   s->dev, (unsigned)num, until);
        } else if (e != TERN_ERR_STATE) {
            printf("device %s: certificate rotation: chain for request %u refused: %s\n", s->dev,
                   (unsigned)num, tern_strerror(e));
        }
    } else {
        tern_err_t e = tern_identity_trust_update(&s->id, num, pem, len);
        if (e == TERN_OK) {
            printf("device %s: trust store version %u received: trying it\n", s->dev,
                   (unsigned)num);
            s->q_leave = s->creds.quarantine; /* tried on the main endpoint */
        } else if (e != TERN_ERR_STATE) {
            printf("device %s: trust store version %u refused: %s\n", s->dev, (unsigned)num,
                   tern_strerror(e));
        }
    }
    return true;
}

tern_err_t secure_poll(secure_t *s, tern_uplink_t *up, tern_ms_t now)
{
    uint8_t csr[CSR_MAX], msg[CSR_MAX + 32];
    size_t len = 0;
    tern_identity_action_t act = TERN_IDENTITY_ACT_NONE;
    if (!s->on || tern_identity_quarantined(&s->id)) {
        return TERN_OK;
    }
    tern_err_t err = tern_identity_poll(&s->id, now, wall(s), tern_uplink_online(up), csr,
                                        sizeof csr, &len, &act);
    if (err != TERN_OK) {
        printf("device %s: identity: %s\n", s->dev, tern_strerror(err));
        return TERN_OK; /* the device goes on with what it has; the next poll tries again */
    }
    if (act == TERN_IDENTITY_ACT_SEND_CSR) {
        tern_cbor_enc_t e;
        size_t n = 0;
        uint32_t serial = tern_identity_serial(&s->id);
        tern_cbor_enc_init(&e, msg, sizeof msg, 0);
        tern_cbor_enc_map(&e, 2);
        tern_cbor_enc_uint(&e, TERN_WIRE_C_DATA);
        tern_cbor_enc_bytes(&e, csr, len);
        tern_cbor_enc_uint(&e, TERN_WIRE_C_SERIAL);
        tern_cbor_enc_uint(&e, serial);
        tern_mqtt_publish_t p = { 0 };
        p.topic = (tern_mqtt_view_t){ (const uint8_t *)s->t_csr, strlen(s->t_csr) };
        err = tern_cbor_enc_finish(&e, &n);
        p.payload = (tern_mqtt_view_t){ msg, n };
        if (err == TERN_OK) {
            err = tern_mqtt_publish(tern_uplink_mqtt(up), &p, 0, NULL);
        }
        if (err == TERN_OK) {
            printf("device %s: certificate rotation: new key op%u in the key store, CSR sent "
                   "(request %u)\n",
                   s->dev, (unsigned)serial, (unsigned)serial);
            err = tern_identity_csr_sent(&s->id, now);
        }
        if (err != TERN_OK) {
            printf("device %s: certificate rotation: CSR not sent: %s\n", s->dev,
                   tern_strerror(err));
        }
    } else if (act == TERN_IDENTITY_ACT_RECONNECT) {
        (void)tern_identity_result(&s->id, TERN_ERR_CLOSED, NULL); /* this connection ends */
        apply_creds(s);
        tern_link_close_all(s->mgr);
    }
    return TERN_OK;
}

bool secure_quarantined(const secure_t *s)
{
    return s->on && s->creds.quarantine;
}

static void q_close(secure_t *s, tern_ms_t now, bool retry)
{
    uint32_t d = 0;
    if (s->q_up) {
        (void)tern_mqtt_abort(&s->qm, TERN_ERR_CLOSED);
    }
    if (s->q_started) {
        tern_posix_link_ops.close(&s->qlink);
    }
    s->q_started = s->q_up = false;
    if (retry && tern_backoff_next(&s->q_backoff, &d) != TERN_OK) {
        d = 10000;
    }
    s->q_retry_at = now + d;
}

static void q_event(void *user, const tern_mqtt_event_t *ev)
{
    secure_t *s = user;
    if (ev->type == TERN_MQTT_EV_CONNECTED) {
        outcome(s, TERN_OK, NULL);
        tern_backoff_reset(&s->q_backoff);
        printf("device %s: connected to the quarantine endpoint %s:%u\n", s->dev, s->o.q_host,
               (unsigned)s->o.q_port);
        tern_mqtt_sub_t sub = { { (const uint8_t *)s->t_trust, strlen(s->t_trust) }, 1 };
        if (tern_mqtt_subscribe(&s->qm, &sub, 1, 0, NULL) != TERN_OK) {
            printf("device %s: quarantine: trust/new not subscribed\n", s->dev);
        }
        if (!s->q_reported) {
            uint8_t buf[MSG_MAX];
            size_t n = 0;
            tern_cbor_enc_t e;
            tern_cbor_enc_init(&e, buf, sizeof buf, 0);
            tern_err_t err = tern_identity_report(&s->id, &e);
            if (err == TERN_OK) {
                err = tern_cbor_enc_finish(&e, &n);
            }
            tern_mqtt_publish_t p = { 0 };
            p.qos = 1;
            p.topic = (tern_mqtt_view_t){ (const uint8_t *)s->t_quar, strlen(s->t_quar) };
            p.payload = (tern_mqtt_view_t){ buf, n };
            if (err == TERN_OK) {
                err = tern_mqtt_publish(&s->qm, &p, 1, &s->q_report_pid);
            }
            if (err != TERN_OK) {
                printf("device %s: quarantine report not sent: %s\n", s->dev, tern_strerror(err));
            }
        }
    } else if (ev->type == TERN_MQTT_EV_PUBLISHED && ev->token == 1) {
        s->q_reported = ev->err == TERN_OK;
        printf("device %s: quarantine report %s\n", s->dev,
               ev->err == TERN_OK ? "delivered" : tern_strerror(ev->err));
    } else if (ev->type == TERN_MQTT_EV_MESSAGE && ev->offset == 0 &&
               ev->total == ev->msg->payload.len) {
        (void)secure_on_message(s, ev->msg);
    } else if (ev->type == TERN_MQTT_EV_DISCONNECTED || ev->type == TERN_MQTT_EV_LINK_DEAD) {
        s->q_up = false;
    }
}

uint32_t secure_quarantine(secure_t *s, tern_ms_t now)
{
    if (!s->q_started) {
        if ((int32_t)(now - s->q_retry_at) < 0) {
            return (uint32_t)(s->q_retry_at - now);
        }
        tern_posix_link_init(&s->qlink, s->o.q_host, s->o.q_port, NULL, 5000, &s->tls,
                             &s->hal->clock);
        if (s->o.q_host == NULL || tern_posix_link_ops.start(&s->qlink, now) != TERN_OK) {
            q_close(s, now, true);
            return 1000;
        }
        s->q_started = true;
    }
    if (!s->q_up) {
        tern_err_t err = tern_posix_link_ops.poll(&s->qlink, now);
        if (err == TERN_ERR_AGAIN) {
            return 50;
        }
        if (err == TERN_OK) {
            tern_mqtt_config_t mc = { .tx = g_qtx,
                                      .rx = g_qrx,
                                      .tx_size = sizeof g_qtx,
                                      .rx_size = sizeof g_qrx,
                                      .inflight = g_qinflight,
                                      .inflight_count = 2,
                                      .copy = g_qcopy,
                                      .copy_size = sizeof g_qcopy,
                                      .timeout_ms = 5000,
                                      .on_event = q_event,
                                      .user = s };
            tern_mqtt_connect_t cc = { 0 };
            cc.client_id = (tern_mqtt_view_t){ (const uint8_t *)s->dev, strlen(s->dev) };
            cc.keep_alive = 10;
            cc.clean_start = true;
            tern_transport_t t = tern_posix_link_ops.transport(&s->qlink);
            err = tern_mqtt_init(&s->qm, &mc);
            if (err == TERN_OK) {
                err = tern_mqtt_connect(&s->qm, &t, TERN_MQTT_PROTO_V5, &cc, now);
            }
            s->q_up = err == TERN_OK;
        }
        if (err != TERN_OK) {
            char detail[640] = "";
            (void)tern_posix_link_describe(&s->qlink, detail, sizeof detail);
            printf("device %s: quarantine endpoint: %s%s%s\n", s->dev, tern_strerror(err),
                   detail[0] ? ": " : "", detail);
            q_close(s, now, true);
            return 1000;
        }
    }
    (void)tern_mqtt_poll(&s->qm, now);
    if (s->q_leave || !s->q_up) {
        bool left = s->q_leave;
        s->q_leave = false;
        if (left && tern_mqtt_connected(&s->qm)) {
            (void)tern_mqtt_disconnect(&s->qm, 0, NULL);
            (void)tern_mqtt_poll(&s->qm, now);
        }
        q_close(s, now, !left);
        if (left) { /* a trust update came: back to the main endpoint with it */
            (void)tern_identity_result(&s->id, TERN_ERR_CLOSED, NULL);
            apply_creds(s);
        }
        return 0;
    }
    uint32_t t = tern_deadline_remaining(now, tern_mqtt_next_deadline(&s->qm, now));
    return t > 1000 ? 1000 : t;
}

void secure_close(secure_t *s)
{
    if (!s->on) {
        return;
    }
    q_close(s, 0, false);
    tern_posix_keystore_file_close(&s->kfile);
    tern_posix_keystore_pkcs11_close(&s->kp11);
}
