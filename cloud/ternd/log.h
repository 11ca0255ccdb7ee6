/* SPDX-License-Identifier: Apache-2.0 */
/** @file log.h @brief ternd's log: one line per event on stderr. */
#ifndef TERND_LOG_H
#define TERND_LOG_H

/** One "ternd: ..." line on stderr (printf format, no newline needed). Thread-safe. */
void ternd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TERND_LOG_H */
