/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file err.h
 * @brief The one error type of tern: @ref tern_err_t and tern_strerror().
 *
 * Every fallible call returns a tern_err_t: TERN_OK (0) on success, a negative
 * value on failure. The list is an X-macro so the enum and its strings cannot
 * drift apart.
 */
#ifndef TERN_ERR_H
#define TERN_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Values are stable: they may be logged and stored. */
#define TERN_ERR_LIST(X)                                                \
    X(TERN_OK, 0, "ok")                                                 \
    X(TERN_ERR_INVAL, -1, "invalid argument")                           \
    X(TERN_ERR_TOO_SMALL, -2, "buffer too small")                       \
    X(TERN_ERR_RANGE, -3, "out of range")                               \
    X(TERN_ERR_ALIGN, -4, "misaligned address or length")               \
    X(TERN_ERR_IO, -5, "I/O error")                                     \
    X(TERN_ERR_TIMEOUT, -6, "timed out")                                \
    X(TERN_ERR_AGAIN, -7, "would block, try again")                     \
    X(TERN_ERR_BUSY, -8, "busy")                                        \
    X(TERN_ERR_FULL, -9, "full")                                        \
    X(TERN_ERR_EMPTY, -10, "empty")                                     \
    X(TERN_ERR_NOT_FOUND, -11, "not found")                             \
    X(TERN_ERR_STATE, -12, "call not valid in this state")              \
    X(TERN_ERR_UNSUPPORTED, -13, "not supported")                       \
    X(TERN_ERR_CORRUPT, -14, "stored data corrupt")                     \
    X(TERN_ERR_MALFORMED, -15, "malformed input")                       \
    X(TERN_ERR_POWER_LOST, -16, "power lost")                           \
    X(TERN_ERR_FLASH_NOR, -17, "flash program would set a cleared bit") \
    X(TERN_ERR_WORN_OUT, -18, "flash sector worn out")                  \
    X(TERN_ERR_NACK, -19, "peripheral did not acknowledge")             \
    X(TERN_ERR_TIME_UNKNOWN, -20, "wall-clock time unknown")

/** One enum for every failure in the SDK: 0 is success, negatives are errors. */
typedef enum tern_err {
#define TERN_ERR_ENUM_(name, value, msg) name = (value),
    TERN_ERR_LIST(TERN_ERR_ENUM_)
#undef TERN_ERR_ENUM_
} tern_err_t;

/** A static, human-readable message for @p err; "unknown error" for values not in the list. */
const char *tern_strerror(int err);

/** The enumerator's name ("TERN_ERR_IO") for logs; "TERN_ERR_UNKNOWN" if not in the list. */
const char *tern_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* TERN_ERR_H */
