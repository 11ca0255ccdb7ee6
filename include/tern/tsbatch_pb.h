/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tsbatch_pb.h
 * @brief Layer 4: the time-series batch as a Protobuf message (nanopb), the
 * alternative to the compact CBOR batch for a team whose pipeline already
 * speaks Protobuf. Built when nanopb is found (Debian's libnanopb-dev and
 * nanopb_generator.py); with -DTERN_TELEMETRY_PROTOBUF=ON, tern_telemetry
 * sends its batches in this form instead of CBOR.
 *
 * The same series (tern/tsbatch.h) and the same data model: per series, its
 * name and unit once, a scale, the first value and the time base, then the
 * later readings as zigzag-varint deltas (a number that moves by less than 64
 * steps takes one byte), or runs for booleans and states. The schema is
 * src/app/tsbatch.proto (message tern.Batch); any Protobuf implementation
 * reads it. No heap: the series' buffers are walked by nanopb callbacks.
 */
#ifndef TERN_TSBATCH_PB_H
#define TERN_TSBATCH_PB_H

#include "tern/tsbatch.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Encode the batch of @p n series under base name @p bn into @p out as a
 * tern.Batch message: *len its size. As tern_tsb_encode(): series without
 * samples are left out and none is changed. TERN_ERR_EMPTY if no series has a
 * sample, TERN_ERR_TOO_SMALL if @p cap is short, TERN_ERR_MALFORMED if a
 * series' buffer does not hold what tern_tsb_add_*() writes.
 */
tern_err_t tern_tsb_encode_pb(const char *bn, tern_tsb_series_t *series, size_t n, uint8_t *out,
                              size_t cap, size_t *len);

/** Bytes the message would take if encoded now (exact); 0 if no series has a sample. */
size_t tern_tsb_size_pb(const char *bn, const tern_tsb_series_t *series, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* TERN_TSBATCH_PB_H */
