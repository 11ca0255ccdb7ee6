/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 key store (tern/port/posix_keystore.h): any vendor's module,
 * loaded by path with dlopen, through the standard function list.
 *
 * A module is process-wide state: C_Initialize once, C_Finalize once, and every
 * session of the process ends with it. So stores count their users of each
 * module here (the one piece of global state, behind a mutex), and the last one
 * to close finalises it, but only if a store initialised it: a module the
 * application had initialised already is left as it was.
 *
 * A key is a pair of token objects carrying the store's label as CKA_LABEL and
 * CKA_ID. PKCS#11 does not make labels unique, so generate looks first; a label
 * found on more than one object of a class is refused rather than guessed at.
 *
 * Every value the token hands back (EC point, signature) is checked for length
 * and shape before it is used.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>

#include "tern/port/posix_keystore.h"

/* DER of the named curve prime256v1 (1.2.840.10045.3.1.7), as CKA_EC_PARAMS wants it. */
static const CK_BYTE k_p256_params[] = {
    0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07
};

#define P256_COORD  32
#define MAX_MODULES 8

struct tern_posix_keystore_pkcs11_state {
    void *dl;
    CK_FUNCTION_LIST_PTR fl;
    CK_SESSION_HANDLE session;
    bool have_module; /* counted in g_modules */
};

/* ------------------------------------------------------- CK_RV as text -- */

#define RV_(name)   \
    {               \
        name, #name \
    }
static const struct {
    CK_RV rv;
    const char *name;
} k_rv_names[] = {
    RV_(CKR_OK),
    RV_(CKR_CANCEL),
    RV_(CKR_HOST_MEMORY),
    RV_(CKR_SLOT_ID_INVALID),
    RV_(CKR_GENERAL_ERROR),
    RV_(CKR_FUNCTION_FAILED),
    RV_(CKR_ARGUMENTS_BAD),
    RV_(CKR_CANT_LOCK),
    RV_(CKR_ATTRIBUTE_READ_ONLY),
    RV_(CKR_ATTRIBUTE_SENSITIVE),
    RV_(CKR_ATTRIBUTE_TYPE_INVALID),
    RV_(CKR_ATTRIBUTE_VALUE_INVALID),
    RV_(CKR_ACTION_PROHIBITED),
    RV_(CKR_DATA_INVALID),
    RV_(CKR_DATA_LEN_RANGE),
    RV_(CKR_DEVICE_ERROR),
    RV_(CKR_DEVICE_MEMORY),
    RV_(CKR_DEVICE_REMOVED),
    RV_(CKR_FUNCTION_CANCELED),
    RV_(CKR_FUNCTION_NOT_PARALLEL),
    RV_(CKR_FUNCTION_NOT_SUPPORTED),
    RV_(CKR_KEY_HANDLE_INVALID),
    RV_(CKR_KEY_SIZE_RANGE),
    RV_(CKR_KEY_TYPE_INCONSISTENT),
    RV_(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV_(CKR_KEY_UNEXTRACTABLE),
    RV_(CKR_MECHANISM_INVALID),
    RV_(CKR_MECHANISM_PARAM_INVALID),
    RV_(CKR_OBJECT_HANDLE_INVALID),
    RV_(CKR_OPERATION_ACTIVE),
    RV_(CKR_OPERATION_NOT_INITIALIZED),
    RV_(CKR_PIN_INCORRECT),
    RV_(CKR_PIN_INVALID),
    RV_(CKR_PIN_LEN_RANGE),
    RV_(CKR_PIN_EXPIRED),
    RV_(CKR_PIN_LOCKED),
    RV_(CKR_SESSION_CLOSED),
    RV_(CKR_SESSION_COUNT),
    RV_(CKR_SESSION_HANDLE_INVALID),
    RV_(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    RV_(CKR_SESSION_READ_ONLY),
    RV_(CKR_SESSION_EXISTS),
    RV_(CKR_SESSION_READ_ONLY_EXISTS),
    RV_(CKR_SESSION_READ_WRITE_SO_EXISTS),
    RV_(CKR_SIGNATURE_INVALID),
    RV_(CKR_SIGNATURE_LEN_RANGE),
    RV_(CKR_TEMPLATE_INCOMPLETE),
    RV_(CKR_TEMPLATE_INCONSISTENT),
    RV_(CKR_TOKEN_NOT_PRESENT),
    RV_(CKR_TOKEN_NOT_RECOGNIZED),
    RV_(CKR_TOKEN_WRITE_PROTECTED),
    RV_(CKR_USER_ALREADY_LOGGED_IN),
    RV_(CKR_USER_NOT_LOGGED_IN),
    RV_(CKR_USER_PIN_NOT_INITIALIZED),
    RV_(CKR_USER_TYPE_INVALID),
    RV_(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    RV_(CKR_USER_TOO_MANY_TYPES),
    RV_(CKR_RANDOM_NO_RNG),
    RV_(CKR_DOMAIN_PARAMS_INVALID),
    RV_(CKR_CURVE_NOT_SUPPORTED),
    RV_(CKR_BUFFER_TOO_SMALL),
    RV_(CKR_CRYPTOKI_NOT_INITIALIZED),
    RV_(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    RV_(CKR_LIBRARY_LOAD_FAILED),
    RV_(CKR_PIN_TOO_WEAK),
    RV_(CKR_FUNCTION_REJECTED),
};
#undef RV_

static const char *rv_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof k_rv_names / sizeof k_rv_names[0]; i++) {
        if (k_rv_names[i].rv == rv) {
            return k_rv_names[i].name;
        }
    }
    return rv >= CKR_VENDOR_DEFINED ? "vendor-defined CKR" : "unknown CKR";
}

/* What a failed call means to the caller; the CK_RV itself stays in last_rv. */
static tern_err_t rv_to_err(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return TERN_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
        return TERN_ERR_INVAL;
    case CKR_BUFFER_TOO_SMALL:
        return TERN_ERR_TOO_SMALL;
    case CKR_DEVICE_MEMORY:
        return TERN_ERR_FULL; /* the token has no room for another key */
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
        return TERN_ERR_NOT_FOUND;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_SIZE_RANGE:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_ACTION_PROHIBITED:
        return TERN_ERR_UNSUPPORTED;
    case CKR_SESSION_COUNT:
    case CKR_FUNCTION_NOT_PARALLEL:
    case CKR_CANT_LOCK:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
        return TERN_ERR_BUSY;
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_READ_ONLY:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_OPERATION_ACTIVE:
    case CKR_OPERATION_NOT_INITIALIZED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return TERN_ERR_STATE;
    default: /* device errors, a removed token, general failures */
        return TERN_ERR_IO;
    }
}

static tern_err_t fail_msg(tern_posix_keystore_pkcs11_t *p, tern_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a failure that is not a CK_RV (last_rv becomes CKR_OK); returns @p err. */
static tern_err_t fail_msg(tern_posix_keystore_pkcs11_t *p, tern_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(p->last_msg, sizeof p->last_msg, fmt, ap);
    va_end(ap);
    p->last_rv = CKR_OK;
    return err;
}

/* Record the failure @p rv of @p fn; its meaning as a tern error. */
static tern_err_t fail_rv(tern_posix_keystore_pkcs11_t *p, const char *fn, CK_RV rv)
{
    (void)snprintf(p->last_msg, sizeof p->last_msg, "%s: %s (0x%lx)", fn, rv_name(rv),
                   (unsigned long)rv);
    p->last_rv = rv;
    return rv_to_err(rv);
}

/* ----------------------------------------------- modules in the process -- */

static struct {
    CK_FUNCTION_LIST_PTR fl;
    unsigned users;
    bool finalize; /* a store initialised it, so the last store finalises it */
} g_modules[MAX_MODULES];
static pthread_mutex_t g_modules_lock = PTHREAD_MUTEX_INITIALIZER;

/* C_Initialize @p fl unless a store in this process did already. */
static tern_err_t module_acquire(tern_posix_keystore_pkcs11_t *p, CK_FUNCTION_LIST_PTR fl)
{
    tern_err_t err = TERN_OK;
    (void)pthread_mutex_lock(&g_modules_lock);
    size_t i = 0, free_slot = MAX_MODULES;
    for (; i < MAX_MODULES && g_modules[i].fl != fl; i++) {
        if (g_modules[i].fl == NULL && free_slot == MAX_MODULES) {
            free_slot = i;
        }
    }
    if (i < MAX_MODULES) {
        g_modules[i].users++;
    } else if (free_slot == MAX_MODULES) {
        err = fail_msg(p, TERN_ERR_FULL, "more than %d PKCS#11 modules in use", MAX_MODULES);
    } else {
        CK_C_INITIALIZE_ARGS args;
        memset(&args, 0, sizeof args);
        args.flags = CKF_OS_LOCKING_OK; /* the OS's mutexes; stores may live in several threads */
        CK_RV rv = fl->C_Initialize(&args);
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            g_modules[free_slot].fl = fl;
            g_modules[free_slot].users = 1;
            g_modules[free_slot].finalize = rv == CKR_OK;
        } else {
            err = fail_rv(p, "C_Initialize", rv);
        }
    }
    (void)pthread_mutex_unlock(&g_modules_lock);
    return err;
}

static void module_release(CK_FUNCTION_LIST_PTR fl)
{
    (void)pthread_mutex_lock(&g_modules_lock);
    for (size_t i = 0; i < MAX_MODULES; i++) {
        if (g_modules[i].fl == fl && --g_modules[i].users == 0) {
            if (g_modules[i].finalize) {
                (void)fl->C_Finalize(NULL);
            }
            g_modules[i].fl = NULL;
            break;
        }
    }
    (void)pthread_mutex_unlock(&g_modules_lock);
}

/* -------------------------------------------------------------- objects -- */

/* Up to @p cap handles of @p cls objects labelled @p label; *n how many (at most cap). */
static tern_err_t find_objects(tern_posix_keystore_pkcs11_t *p, CK_OBJECT_CLASS cls,
                               const char *label, CK_OBJECT_HANDLE *out, CK_ULONG cap, CK_ULONG *n)
{
    struct tern_posix_keystore_pkcs11_state *s = p->s;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    *n = 0;
    CK_RV rv = s->fl->C_FindObjectsInit(s->session, tmpl, 2);
    if (rv != CKR_OK) {
        return fail_rv(p, "C_FindObjectsInit", rv);
    }
    rv = s->fl->C_FindObjects(s->session, out, cap, n);
    CK_RV rv_final = s->fl->C_FindObjectsFinal(s->session);
    if (rv != CKR_OK) {
        *n = 0;
        return fail_rv(p, "C_FindObjects", rv);
    }
    if (*n > cap) {
        unsigned long got = (unsigned long)*n;
        *n = 0;
        return fail_msg(p, TERN_ERR_PROTOCOL, "C_FindObjects: %lu objects for room for %lu", got,
                        (unsigned long)cap);
    }
    return rv_final == CKR_OK ? TERN_OK : fail_rv(p, "C_FindObjectsFinal", rv_final);
}

/* The one @p cls object labelled @p label. */
static tern_err_t find_one(tern_posix_keystore_pkcs11_t *p, CK_OBJECT_CLASS cls, const char *label,
                           CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    tern_err_t err = find_objects(p, cls, label, found, 2, &n);
    if (err != TERN_OK) {
        return err;
    }
    const char *what = cls == CKO_PRIVATE_KEY ? "private" : "public";
    if (n == 0) {
        return fail_msg(p, TERN_ERR_NOT_FOUND, "no %s key labelled \"%s\"", what, label);
    }
    if (n > 1) {
        return fail_msg(p, TERN_ERR_STATE, "more than one %s key labelled \"%s\"", what, label);
    }
    *h = found[0];
    return TERN_OK;
}

/* Token labels are 32 bytes padded with blanks, no NUL. */
static bool token_label_is(const CK_UTF8CHAR tok[32], const char *want)
{
    size_t n = strlen(want);
    if (n > 32 || memcmp(tok, want, n) != 0) {
        return false;
    }
    for (size_t i = n; i < 32; i++) {
        if (tok[i] != ' ') {
            return false;
        }
    }
    return true;
}

static tern_err_t find_token(tern_posix_keystore_pkcs11_t *p, const char *label, CK_SLOT_ID *slot)
{
    CK_FUNCTION_LIST_PTR fl = p->s->fl;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv;
    for (int tries = 0;; tries++) { /* the list may grow between the two calls */
        rv = fl->C_GetSlotList(CK_TRUE, NULL, &n);
        if (rv != CKR_OK) {
            return fail_rv(p, "C_GetSlotList", rv);
        }
        free(slots);
        slots = calloc(n != 0 ? n : 1, sizeof *slots);
        if (slots == NULL) {
            return fail_msg(p, TERN_ERR_IO, "out of memory for %lu slots", (unsigned long)n);
        }
        rv = fl->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL || tries == 3) {
            break;
        }
    }
    tern_err_t err = TERN_OK;
    size_t matches = 0;
    if (rv != CKR_OK) {
        err = fail_rv(p, "C_GetSlotList", rv);
    }
    for (CK_ULONG i = 0; err == TERN_OK && i < n; i++) {
        CK_TOKEN_INFO info;
        rv = fl->C_GetTokenInfo(slots[i], &info);
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED) {
            continue; /* pulled out since the list was made */
        }
        if (rv != CKR_OK) {
            err = fail_rv(p, "C_GetTokenInfo", rv);
        } else if (token_label_is(info.label, label) && matches++ == 0) {
            *slot = slots[i];
        }
    }
    free(slots);
    if (err == TERN_OK && matches == 0) {
        err = fail_msg(p, TERN_ERR_NOT_FOUND, "no token labelled \"%s\" (%lu tokens present)",
                       label, (unsigned long)n);
    } else if (err == TERN_OK && matches > 1) {
        err = fail_msg(p, TERN_ERR_INVAL, "%zu tokens labelled \"%s\": which one is meant?",
                       matches, label);
    }
    return err;
}

/* ---------------------------------------------------------------- DER -- */

/* One DER INTEGER of the big-endian unsigned @p v: minimal, positive. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t n)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    size_t pad = (v[0] & 0x80) != 0 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* PKCS#11's ECDSA signature r || s as X.509's SEQUENCE { INTEGER r, INTEGER s }. */
static size_t der_ecdsa_sig(uint8_t out[TERN_KEYSTORE_SIG_MAX], const uint8_t rs[2 * P256_COORD])
{
    size_t len = der_uint(out + 2, rs, P256_COORD);
    len += der_uint(out + 2 + len, rs + P256_COORD, P256_COORD);
    out[0] = 0x30;
    out[1] = (uint8_t)len; /* at most 70: a short-form length */
    return 2 + len;
}

/* ------------------------------------------------------------ the ops -- */

static bool usable(const tern_posix_keystore_pkcs11_t *p, const char *label)
{
    return p != NULL && p->s != NULL && label != NULL && label[0] != '\0' &&
           strlen(label) <= TERN_KEYSTORE_LABEL_MAX;
}

static tern_err_t p11_generate(void *ctx, const char *label)
{
    tern_posix_keystore_pkcs11_t *p = ctx;
    if (!usable(p, label)) {
        return TERN_ERR_INVAL;
    }
    CK_OBJECT_HANDLE found[1];
    CK_ULONG n_priv = 0, n_pub = 0;
    tern_err_t err = find_objects(p, CKO_PRIVATE_KEY, label, found, 1, &n_priv);
    if (err == TERN_OK) {
        err = find_objects(p, CKO_PUBLIC_KEY, label, found, 1, &n_pub);
    }
    if (err != TERN_OK) {
        return err;
    }
    if (n_priv != 0 || n_pub != 0) {
        return fail_msg(p, TERN_ERR_EXISTS, "a key labelled \"%s\" exists", label);
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG label_len = strlen(label);
    CK_ATTRIBUTE pub[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_EC_PARAMS, (void *)k_p256_params, sizeof k_p256_params },
        { CKA_LABEL, (void *)label, label_len },
        { CKA_ID, (void *)label, label_len },
    };
    CK_ATTRIBUTE priv[] = {
        { CKA_TOKEN, &yes, sizeof yes },      { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes },  { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, &yes, sizeof yes },       { CKA_LABEL, (void *)label, label_len },
        { CKA_ID, (void *)label, label_len },
    };
    CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h_pub = CK_INVALID_HANDLE, h_priv = CK_INVALID_HANDLE;
    CK_RV rv = p->s->fl->C_GenerateKeyPair(p->s->session, &mech, pub, sizeof pub / sizeof pub[0],
                                           priv, sizeof priv / sizeof priv[0], &h_pub, &h_priv);
    return rv == CKR_OK ? TERN_OK : fail_rv(p, "C_GenerateKeyPair", rv);
}

static tern_err_t p11_public_key(void *ctx, const char *label, uint8_t pub[TERN_KEYSTORE_PUB_LEN])
{
    tern_posix_keystore_pkcs11_t *p = ctx;
    if (!usable(p, label) || pub == NULL) {
        return TERN_ERR_INVAL;
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tern_err_t err = find_one(p, CKO_PUBLIC_KEY, label, &h);
    if (err != TERN_OK) {
        return err;
    }
    CK_BYTE point[TERN_KEYSTORE_PUB_LEN + 8];
    CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof point };
    CK_RV rv = p->s->fl->C_GetAttributeValue(p->s->session, h, &a, 1);
    if (rv != CKR_OK) {
        err = fail_rv(p, "C_GetAttributeValue(CKA_EC_POINT)", rv);
        return rv == CKR_BUFFER_TOO_SMALL ? TERN_ERR_MALFORMED : err; /* not a P-256 point */
    }
    /* PKCS#11 2.40 says a DER OCTET STRING around the point (04 41 04 X Y); some
     * tokens give the bare point. Accept those two shapes only. */
    const CK_BYTE *q = NULL;
    if (a.ulValueLen == TERN_KEYSTORE_PUB_LEN + 2 && point[0] == 0x04 &&
        point[1] == TERN_KEYSTORE_PUB_LEN) {
        q = point + 2;
    } else if (a.ulValueLen == TERN_KEYSTORE_PUB_LEN) {
        q = point;
    }
    if (q == NULL || q[0] != 0x04) {
        return fail_msg(p, TERN_ERR_MALFORMED,
                        "CKA_EC_POINT of \"%s\": %lu bytes, not an uncompressed P-256 point", label,
                        (unsigned long)a.ulValueLen);
    }
    memcpy(pub, q, TERN_KEYSTORE_PUB_LEN);
    return TERN_OK;
}

static tern_err_t p11_sign(void *ctx, const char *label, const uint8_t hash[32], uint8_t *sig,
                           size_t cap, size_t *sig_len)
{
    tern_posix_keystore_pkcs11_t *p = ctx;
    if (!usable(p, label) || hash == NULL || sig == NULL || sig_len == NULL) {
        return TERN_ERR_INVAL;
    }
    *sig_len = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tern_err_t err = find_one(p, CKO_PRIVATE_KEY, label, &h);
    if (err != TERN_OK) {
        return err;
    }
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 }; /* the digest as given: the token hashes nothing */
    CK_RV rv = p->s->fl->C_SignInit(p->s->session, &mech, h);
    if (rv != CKR_OK) {
        return fail_rv(p, "C_SignInit(CKM_ECDSA)", rv);
    }
    CK_BYTE rs[4 * P256_COORD]; /* room to spare: a token that answers more is refused below */
    CK_ULONG rs_len = sizeof rs;
    rv = p->s->fl->C_Sign(p->s->session, (CK_BYTE_PTR)hash, 32, rs, &rs_len);
    if (rv != CKR_OK) {
        err = fail_rv(p, "C_Sign", rv);
        return rv == CKR_BUFFER_TOO_SMALL ? TERN_ERR_MALFORMED : err; /* not a P-256 signature */
    }
    if (rs_len != 2 * P256_COORD) {
        return fail_msg(p, TERN_ERR_MALFORMED, "C_Sign: %lu bytes, not r || s of P-256",
                        (unsigned long)rs_len);
    }
    uint8_t der[TERN_KEYSTORE_SIG_MAX];
    size_t len = der_ecdsa_sig(der, rs);
    if (len > cap) {
        return TERN_ERR_TOO_SMALL;
    }
    memcpy(sig, der, len);
    *sig_len = len;
    return TERN_OK;
}

static tern_err_t p11_destroy(void *ctx, const char *label)
{
    tern_posix_keystore_pkcs11_t *p = ctx;
    if (!usable(p, label)) {
        return TERN_ERR_INVAL;
    }
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n_priv = 0, n_pub = 0;
    tern_err_t err = find_objects(p, CKO_PRIVATE_KEY, label, h, 4, &n_priv);
    if (err == TERN_OK) {
        err = find_objects(p, CKO_PUBLIC_KEY, label, h + n_priv, 4, &n_pub);
    }
    if (err != TERN_OK) {
        return err;
    }
    if (n_priv + n_pub == 0) {
        return fail_msg(p, TERN_ERR_NOT_FOUND, "no key labelled \"%s\"", label);
    }
    for (CK_ULONG i = 0; i < n_priv + n_pub; i++) {
        CK_RV rv = p->s->fl->C_DestroyObject(p->s->session, h[i]);
        if (rv != CKR_OK) {
            return fail_rv(p, "C_DestroyObject", rv);
        }
    }
    return TERN_OK;
}

static const tern_keystore_ops_t k_pkcs11_ops = {
    .name = "pkcs11",
    .generate = p11_generate,
    .public_key = p11_public_key,
    .sign = p11_sign,
    .destroy = p11_destroy,
};

/* ------------------------------------------------------ open and close -- */

static tern_err_t load_module(tern_posix_keystore_pkcs11_t *p, const char *path)
{
    struct tern_posix_keystore_pkcs11_state *s = p->s;
    s->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (s->dl == NULL) {
        struct stat st;
        bool missing = strchr(path, '/') != NULL && stat(path, &st) != 0 && errno == ENOENT;
        const char *why = dlerror();
        return fail_msg(p, missing ? TERN_ERR_NOT_FOUND : TERN_ERR_UNSUPPORTED, "dlopen: %s",
                        why != NULL ? why : path);
    }
    CK_C_GetFunctionList get_list = NULL;
    void *sym = dlsym(s->dl, "C_GetFunctionList");
    memcpy(&get_list, &sym, sizeof get_list); /* a function pointer from a data pointer */
    if (get_list == NULL) {
        return fail_msg(p, TERN_ERR_UNSUPPORTED,
                        "%s has no C_GetFunctionList: not a PKCS#11 module", path);
    }
    CK_RV rv = get_list(&s->fl);
    if (rv != CKR_OK) {
        return fail_rv(p, "C_GetFunctionList", rv);
    }
    if (s->fl == NULL || s->fl->version.major != 2) {
        return fail_msg(p, TERN_ERR_UNSUPPORTED, "%s: Cryptoki %d.%d, not 2.x", path,
                        s->fl != NULL ? s->fl->version.major : 0,
                        s->fl != NULL ? s->fl->version.minor : 0);
    }
    tern_err_t err = module_acquire(p, s->fl);
    s->have_module = err == TERN_OK;
    return err;
}

static tern_err_t start_session(tern_posix_keystore_pkcs11_t *p,
                                const tern_posix_keystore_pkcs11_config_t *cfg)
{
    struct tern_posix_keystore_pkcs11_state *s = p->s;
    CK_SLOT_ID slot = 0;
    tern_err_t err = find_token(p, cfg->token_label, &slot);
    if (err != TERN_OK) {
        return err;
    }
    CK_RV rv =
        s->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s->session);
    if (rv != CKR_OK) {
        s->session = CK_INVALID_HANDLE;
        return fail_rv(p, "C_OpenSession", rv);
    }
    rv =
        s->fl->C_Login(s->session, CKU_USER, (CK_UTF8CHAR_PTR)cfg->user_pin, strlen(cfg->user_pin));
    /* Login is per application and token: another store here may have done it. */
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        return fail_rv(p, "C_Login", rv);
    }
    return TERN_OK;
}

static void teardown(tern_posix_keystore_pkcs11_t *p)
{
    struct tern_posix_keystore_pkcs11_state *s = p->s;
    if (s->session != CK_INVALID_HANDLE) {
        /* The last session of the application closing logs it out too. */
        (void)s->fl->C_CloseSession(s->session);
    }
    if (s->have_module) {
        module_release(s->fl);
    }
    if (s->dl != NULL) {
        (void)dlclose(s->dl);
    }
    free(s);
    p->s = NULL;
}

tern_err_t tern_posix_keystore_pkcs11_open(tern_posix_keystore_pkcs11_t *p,
                                           const tern_posix_keystore_pkcs11_config_t *cfg,
                                           tern_keystore_t *out)
{
    if (p == NULL) {
        return TERN_ERR_INVAL;
    }
    p->s = NULL;
    p->last_rv = CKR_OK;
    p->last_msg[0] = '\0';
    if (cfg == NULL || out == NULL || cfg->module == NULL || cfg->module[0] == '\0' ||
        cfg->token_label == NULL || cfg->token_label[0] == '\0' || cfg->user_pin == NULL) {
        return fail_msg(p, TERN_ERR_INVAL, "configuration incomplete");
    }
    if (strlen(cfg->token_label) > 32) {
        return fail_msg(p, TERN_ERR_INVAL, "token label longer than 32 characters");
    }
    p->s = calloc(1, sizeof *p->s);
    if (p->s == NULL) {
        return fail_msg(p, TERN_ERR_IO, "out of memory");
    }
    p->s->session = CK_INVALID_HANDLE;
    tern_err_t err = load_module(p, cfg->module);
    if (err == TERN_OK) {
        err = start_session(p, cfg);
    }
    if (err != TERN_OK) {
        teardown(p);
        return err;
    }
    out->ops = &k_pkcs11_ops;
    out->ctx = p;
    return TERN_OK;
}

void tern_posix_keystore_pkcs11_close(tern_posix_keystore_pkcs11_t *p)
{
    if (p != NULL && p->s != NULL) {
        teardown(p);
    }
}

unsigned long tern_posix_keystore_pkcs11_last_rv(const tern_posix_keystore_pkcs11_t *p)
{
    return p != NULL ? p->last_rv : CKR_OK;
}

const char *tern_posix_keystore_pkcs11_last_error(const tern_posix_keystore_pkcs11_t *p)
{
    return p != NULL ? p->last_msg : "";
}

tern_err_t tern_posix_keystore_pkcs11_key_attrs(tern_posix_keystore_pkcs11_t *p, const char *label,
                                                bool *extractable, bool *sensitive)
{
    if (!usable(p, label) || extractable == NULL || sensitive == NULL) {
        return TERN_ERR_INVAL;
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tern_err_t err = find_one(p, CKO_PRIVATE_KEY, label, &h);
    if (err != TERN_OK) {
        return err;
    }
    CK_BBOOL ext = CK_TRUE, sens = CK_FALSE;
    CK_ATTRIBUTE a[] = {
        { CKA_EXTRACTABLE, &ext, sizeof ext },
        { CKA_SENSITIVE, &sens, sizeof sens },
    };
    CK_RV rv = p->s->fl->C_GetAttributeValue(p->s->session, h, a, 2);
    if (rv != CKR_OK) {
        return fail_rv(p, "C_GetAttributeValue(CKA_EXTRACTABLE, CKA_SENSITIVE)", rv);
    }
    if (a[0].ulValueLen != sizeof ext || a[1].ulValueLen != sizeof sens) {
        return fail_msg(p, TERN_ERR_MALFORMED, "CKA_EXTRACTABLE/CKA_SENSITIVE not CK_BBOOL");
    }
    *extractable = ext != CK_FALSE;
    *sensitive = sens != CK_FALSE;
    return TERN_OK;
}
