/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT strings, topic names and filters: validation and matching (tern/mqtt_codec.h). */
#include <string.h>

#include "tern/mqtt_codec.h"

tern_err_t tern_mqtt_utf8_check(const void *s, size_t len)
{
    const uint8_t *p = s;
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i++];
        if (c < 0x80u) {
            if (c == 0) {
                return TERN_ERR_MQTT_BAD_UTF8; /* U+0000 is forbidden in MQTT strings */
            }
            continue;
        }
        /* Lead byte: how many continuation bytes, and the smallest code point that
         * needs this many (anything smaller is an overlong encoding). */
        size_t more;
        uint32_t min;
        if (c >= 0xF8u || c < 0xC0u) {
            return TERN_ERR_MQTT_BAD_UTF8;
        } else if (c >= 0xF0u) {
            more = 3, min = 0x10000u, c &= 0x07u;
        } else if (c >= 0xE0u) {
            more = 2, min = 0x800u, c &= 0x0Fu;
        } else {
            more = 1, min = 0x80u, c &= 0x1Fu;
        }
        if (len - i < more) {
            return TERN_ERR_MQTT_BAD_UTF8;
        }
        while (more-- > 0) {
            uint8_t b = p[i++];
            if ((b & 0xC0u) != 0x80u) {
                return TERN_ERR_MQTT_BAD_UTF8;
            }
            c = (c << 6) | (b & 0x3Fu);
        }
        if (c < min || c > 0x10FFFFu || (c >= 0xD800u && c <= 0xDFFFu)) {
            return TERN_ERR_MQTT_BAD_UTF8;
        }
    }
    return TERN_OK;
}

/*
 * The checks names and filters share: 1..65535 bytes of MQTT UTF-8. Then
 * every '+' and '#' must fill its level, '#' only as the last one; a topic
 * name (@p bad = TERN_ERR_MQTT_BAD_TOPIC) may have neither.
 */
static tern_err_t check_levels(const uint8_t *s, size_t len, tern_err_t bad)
{
    if (len == 0 || len > 0xFFFFu) {
        return bad;
    }
    tern_err_t e = tern_mqtt_utf8_check(s, len);
    if (e != TERN_OK) {
        return e;
    }
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '+' || s[i] == '#') &&
            (bad == TERN_ERR_MQTT_BAD_TOPIC || (i > 0 && s[i - 1] != '/') ||
             (i + 1 < len && (s[i] == '#' || s[i + 1] != '/')))) {
            return bad;
        }
    }
    return TERN_OK;
}

tern_err_t tern_mqtt_topic_check(const void *s, size_t len)
{
    return check_levels(s, len, TERN_ERR_MQTT_BAD_TOPIC);
}

/* Length of the "$share/<group>/" prefix of a shared filter; 0 if @p f is not shared. */
static size_t share_prefix(const uint8_t *f, size_t len)
{
    if (len < 7 || memcmp(f, "$share/", 7) != 0) {
        return 0;
    }
    size_t i = 7;
    while (i < len && f[i] != '/') {
        i++;
    }
    return i + (i < len);
}

tern_err_t tern_mqtt_filter_check(const void *s, size_t len)
{
    const uint8_t *f = s;
    size_t skip = share_prefix(f, len);
    if (skip != 0) {
        /* The group is one non-empty level without wildcards, and a filter must follow it. */
        if (skip == 8 || f[skip - 1] != '/' || skip == len ||
            memchr(f + 7, '+', skip - 7) != NULL || memchr(f + 7, '#', skip - 7) != NULL) {
            return TERN_ERR_MQTT_BAD_FILTER;
        }
        tern_err_t e = tern_mqtt_utf8_check(f, skip);
        if (e != TERN_OK) {
            return e;
        }
    }
    return check_levels(f + skip, len - skip, TERN_ERR_MQTT_BAD_FILTER);
}

bool tern_mqtt_topic_match(const void *filter, size_t filter_len, const void *topic,
                           size_t topic_len)
{
    const uint8_t *f = filter;
    const uint8_t *t = topic;
    size_t skip = share_prefix(f, filter_len);
    f += skip;
    filter_len -= skip;
    if (filter_len == 0 || topic_len == 0 || (t[0] == '$' && (f[0] == '+' || f[0] == '#'))) {
        return false;
    }
    size_t i = 0, j = 0;
    while (i < filter_len) {
        if (f[i] == '#') {
            return true;
        }
        if (f[i] == '+') {
            while (j < topic_len && t[j] != '/') {
                j++;
            }
            i++;
            continue;
        }
        if (j == topic_len) {
            /* "a/#" also matches "a": the parent of what '#' stands for. */
            return filter_len - i == 2 && f[i] == '/' && f[i + 1] == '#';
        }
        if (f[i] != t[j]) {
            return false;
        }
        i++;
        j++;
    }
    return j == topic_len;
}
