/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file version.h
 * @brief The SDK version. CMake reads the numbers from this file, so it is the only place to bump.
 */
#ifndef TERN_VERSION_H
#define TERN_VERSION_H

#define TERN_VERSION_MAJOR  0
#define TERN_VERSION_MINOR  1
#define TERN_VERSION_PATCH  0
#define TERN_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** The version the library was built as ("0.1.0"); compare with TERN_VERSION_STRING to catch
 * header/library skew. */
const char *tern_version(void);

#ifdef __cplusplus
}
#endif
#endif /* TERN_VERSION_H */
