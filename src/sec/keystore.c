/* SPDX-License-Identifier: Apache-2.0 */
/* The key store front door: the arguments every backend would otherwise check
 * on its own, then the backend's operation. Backends live in the ports. */
#include "tern/keystore.h"

#include <stdbool.h>

/* A label is 1..TERN_KEYSTORE_LABEL_MAX characters; backends narrow the alphabet. */
static bool label_ok(const char *label)
{
    if (label == NULL || label[0] == '\0') {
        return false;
    }
    for (size_t i = 0; i <= TERN_KEYSTORE_LABEL_MAX; i++) {
        if (label[i] == '\0') {
            return true;
        }
    }
    return false; /* read no further than one past the limit */
}

static bool store_ok(const tern_keystore_t *ks)
{
    return ks != NULL && ks->ops != NULL;
}

tern_err_t tern_keystore_generate(const tern_keystore_t *ks, const char *label)
{
    if (!store_ok(ks) || !label_ok(label)) {
        return TERN_ERR_INVAL;
    }
    if (ks->ops->generate == NULL) {
        return TERN_ERR_UNSUPPORTED;
    }
    return ks->ops->generate(ks->ctx, label);
}

tern_err_t tern_keystore_public_key(const tern_keystore_t *ks, const char *label,
                                    uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    if (!store_ok(ks) || !label_ok(label) || pub == NULL) {
        return TERN_ERR_INVAL;
    }
    if (ks->ops->public_key == NULL) {
        return TERN_ERR_UNSUPPORTED;
    }
    return ks->ops->public_key(ks->ctx, label, pub);
}

tern_err_t tern_keystore_sign(const tern_keystore_t *ks, const char *label, const uint8_t hash[32],
                              uint8_t *sig, size_t cap, size_t *sig_len)
{
    if (sig_len != NULL) {
        *sig_len = 0;
    }
    if (!store_ok(ks) || !label_ok(label) || hash == NULL || sig == NULL || sig_len == NULL) {
        return TERN_ERR_INVAL;
    }
    if (ks->ops->sign == NULL) {
        return TERN_ERR_UNSUPPORTED;
    }
    return ks->ops->sign(ks->ctx, label, hash, sig, cap, sig_len);
}

tern_err_t tern_keystore_destroy(const tern_keystore_t *ks, const char *label)
{
    if (!store_ok(ks) || !label_ok(label)) {
        return TERN_ERR_INVAL;
    }
    if (ks->ops->destroy == NULL) {
        return TERN_ERR_UNSUPPORTED;
    }
    return ks->ops->destroy(ks->ctx, label);
}
