/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_test.h
 * @brief What every unit test includes: cmocka on the host, its small in-tree
 * subset (cmocka_lite) on targets without an OS, so one test source runs on both.
 */
#ifndef TERN_TEST_H
#define TERN_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef TERN_TEST_LITE
#include "cmocka_lite.h"
#else
#include <cmocka.h>
#endif

#endif /* TERN_TEST_H */
