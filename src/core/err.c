/* SPDX-License-Identifier: Apache-2.0 */
#include "tern/err.h"

#include <stddef.h>

typedef struct {
    int value;
    const char *name;
    const char *msg;
} err_entry_t;

static const err_entry_t k_errors[] = {
#define TERN_ERR_ROW_(name, value, msg) { (value), #name, (msg) },
    TERN_ERR_LIST(TERN_ERR_ROW_)
#undef TERN_ERR_ROW_
};

static const err_entry_t *find(int err)
{
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
        if (k_errors[i].value == err) {
            return &k_errors[i];
        }
    }
    return NULL;
}

const char *tern_strerror(int err)
{
    const err_entry_t *e = find(err);
    return e ? e->msg : "unknown error";
}

const char *tern_err_name(int err)
{
    const err_entry_t *e = find(err);
    return e ? e->name : "TERN_ERR_UNKNOWN";
}
