/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PUBLISH to hand to tern_mqtt_publish(), from C strings: what the MQTT
 * session's unit tests and its integration tests publish. Header only, so the
 * portable unit tests can use it on the Cortex-M4 too.
 */
#ifndef TERN_MQTT_MSG_H
#define TERN_MQTT_MSG_H

#include <stdint.h>
#include <string.h>

#include "tern/mqtt_codec.h"

/** @p topic and @p payload (NUL-terminated, not copied) at @p qos; no retain, no properties. */
static inline tern_mqtt_publish_t tern_test_msg(const char *topic, const char *payload, uint8_t qos)
{
    tern_mqtt_publish_t p;
    memset(&p, 0, sizeof p);
    p.topic.ptr = (const uint8_t *)topic;
    p.topic.len = strlen(topic);
    p.payload.ptr = (const uint8_t *)payload;
    p.payload.len = strlen(payload);
    p.qos = qos;
    return p;
}

#endif /* TERN_MQTT_MSG_H */
