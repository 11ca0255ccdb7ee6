/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CBOR decoder again, built without its short way (TERN_CBOR_FAST 0, as
 * -Os firmware has it) and under other names, so that fuzz_cbor_decode runs
 * both on the same bytes and checks that they agree item for item.
 */
#define TERN_CBOR_FAST       0
#define tern_cbor_dec_setup  whole_dec_setup
#define tern_cbor_dec_next   whole_dec_next
#define tern_cbor_dec_offset whole_dec_offset
#define tern_cbor_dec_skip   whole_dec_skip
#define tern_cbor_dec_walk   whole_dec_walk
#define tern_cbor_widen      whole_widen
#include "../../src/core/cbor_dec.c"
