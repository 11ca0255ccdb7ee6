/* SPDX-License-Identifier: Apache-2.0 */
/* MQTT strings, topic names and filters: validation and matching (tern/mqtt_codec.h). */
#include <string.h>

#include "tern/mqtt_codec.h"

tern_err_t tern_mqtt_utf8_check(const void *s, size_t len)
{
    /* Bits a code point needs before it takes 1, 2 or 3 continuation bytes: fewer is an
     * overlong encoding. */
    static const uint8_t k_bits[4] = { 0, 7, 11, 16 };
    const uint8_t *p = s; /* NULL when len is 0 */
    while (len > 0) {
        uint32_t c = *p++;
        len--;
        if (c < 0x80u) {
            if (c == 0) {
                return TERN_ERR_MQTT_BAD_UTF8; /* U+0000 is forbidden in MQTT strings */
            }
            continue;
        }
        /* The lead byte's ones after the first: how many continuation bytes follow. */
        size_t more = 0;
        uint32_t bit = 0x40u;
        while (c & bit) {
            more++;
            bit >>= 1;
        }
        if (more - 1u > 2u || len < more) {
            return TERN_ERR_MQTT_BAD_UTF8;
        }
        len -= more;
        c &= bit - 1u;
        for (size_t k = 0; k < more; k++) {
            uint8_t b = *p++;
            if ((b & 0xC0u) != 0x80u) {
                return TERN_ERR_MQTT_BAD_UTF8;
            }
            c = (c << 6) | (b & 0x3Fu);
        }
        /* overlong, above U+10FFFF, or a surrogate (U+D800..U+DFFF) */
        if ((c >> k_bits[more]) == 0 || c > 0x10FFFFu || (c >> 11) == 0x1Bu) {
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
    uint8_t prev = '/';
    for (size_t i = 0; i < len; prev = s[i++]) {
        uint8_t c = s[i];
        /* nothing after '#', and '/' after '+'; a wildcard only where a level starts */
        if (prev == '#' || (prev == '+' && c != '/') ||
            ((c == '+' || c == '#') && (bad == TERN_ERR_MQTT_BAD_TOPIC || prev != '/'))) {
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
    const uint8_t *slash = memchr(f + 7, '/', len - 7);
    return slash != NULL ? (size_t)(slash - f) + 1u : len;
}

tern_err_t tern_mqtt_filter_check(const void *s, size_t len)
{
    const uint8_t *f = s;
    size_t skip = share_prefix(f, len);
    if (skip != 0) {
        /* The group is one non-empty level without wildcards, and a filter must follow it (a
         * prefix without the '/' after the group is the whole filter: skip == len). */
        if (skip == 8 || skip == len || memchr(f + 7, '+', skip - 7) != NULL ||
            memchr(f + 7, '#', skip - 7) != NULL) {
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
    const uint8_t *f_end = f + filter_len, *t_end = t + topic_len;
    while (f < f_end) {
        if (*f == '#') {
            return true;
        }
        if (*f == '+') {
            while (t < t_end && *t != '/') {
                t++;
            }
            f++;
            continue;
        }
        if (t == t_end) {
            /* "a/#" also matches "a": the parent of what '#' stands for. */
            return f_end - f == 2 && f[0] == '/' && f[1] == '#';
        }
        if (*f++ != *t++) {
            return false;
        }
    }
    return t == t_end;
}
