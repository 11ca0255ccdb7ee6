/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A firmware image for the size table: with TERN_SIZE_MQTT it calls every
 * public function of the MQTT client (session and the codec calls a device
 * makes), without it nothing. The difference of the two linked images
 * (--gc-sections) is what the MQTT client really costs in flash, including
 * what it pulls in from libc and libtern's core.
 */
#include "tern/mqtt.h"

#if defined(TERN_SIZE_MQTT) && TERN_SIZE_MQTT
/* volatile so the compiler cannot drop or fold any call. */
static volatile uintptr_t g_sink;

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    g_sink += (uintptr_t)user + (uintptr_t)ev->type;
}

int main(void)
{
    static uint8_t tx[256], rx[256];
    static tern_mqtt_inflight_t inflight[4];
    static tern_mqtt_t m;
    tern_mqtt_config_t cfg = { .tx = tx,
                               .rx = rx,
                               .tx_size = sizeof tx,
                               .rx_size = sizeof rx,
                               .inflight = inflight,
                               .inflight_count = 4,
                               .on_event = on_event };
    tern_mqtt_connect_t cn = { .client_id = TERN_MQTT_STR("d"), .clean_start = true };
    tern_mqtt_publish_t p = { .topic = TERN_MQTT_STR("t") };
    tern_mqtt_sub_t s = { TERN_MQTT_STR("t/#"), 1 };
    tern_transport_t t = { 0 };
    g_sink += (uintptr_t)tern_mqtt_init(&m, &cfg);
    g_sink += (uintptr_t)tern_mqtt_restore(&m);
    g_sink += (uintptr_t)tern_mqtt_connect(&m, &t, (tern_mqtt_version_t)g_sink, &cn, 0);
    g_sink += (uintptr_t)tern_mqtt_publish(&m, &p, 1, NULL);
    g_sink += (uintptr_t)tern_mqtt_subscribe(&m, &s, 1, 0, NULL);
    g_sink += (uintptr_t)tern_mqtt_unsubscribe(&m, &s, 1, NULL);
    g_sink += (uintptr_t)tern_mqtt_disconnect(&m, 0, NULL);
    g_sink += (uintptr_t)tern_mqtt_poll(&m, 0);
    g_sink += (uintptr_t)tern_mqtt_next_deadline(&m, 0);
    g_sink += (uintptr_t)tern_mqtt_want_write(&m);
    g_sink += (uintptr_t)tern_mqtt_connected(&m);
    g_sink += (uintptr_t)tern_mqtt_pending(&m);
    g_sink += (uintptr_t)tern_mqtt_topic_check(p.topic.ptr, p.topic.len);
    g_sink += (uintptr_t)tern_mqtt_filter_check(s.filter.ptr, s.filter.len);
    g_sink +=
        (uintptr_t)tern_mqtt_topic_match(s.filter.ptr, s.filter.len, p.topic.ptr, p.topic.len);
    return (int)g_sink;
}
#else
int main(void)
{
    return 0;
}
#endif
