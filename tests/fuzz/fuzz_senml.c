/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SenML reader on arbitrary bytes: it must end (EMPTY or an error) within as
 * many records as the input has bytes, every view it returns must lie inside the
 * input, and a pack it accepted, written again by the writer from the resolved
 * records, must read back to the same records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/senml.h"

static void inside(const uint8_t *data, size_t size, const void *p, size_t len)
{
    const uint8_t *b = p;
    CHECK(len == 0 || (b >= data && b + len <= data + size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAXREC = 64 };
    static tern_senml_rec_t recs[MAXREC];
    static uint8_t out[1 << 16];
    tern_senml_reader_t rd;
    tern_senml_read_begin(&rd, data, size);
    size_t n = 0;
    tern_err_t err;
    tern_senml_rec_t r;
    while ((err = tern_senml_read_next(&rd, &r)) == TERN_OK) {
        CHECK(n <= size);
        inside(data, size, r.base_name.ptr, r.base_name.len);
        inside(data, size, r.name.ptr, r.name.len);
        inside(data, size, r.unit.ptr, r.unit.len);
        inside(data, size, r.vs.ptr, r.vs.len);
        inside(data, size, r.vd, r.vd_len);
        if (n < MAXREC) {
            recs[n] = r;
        }
        n++;
    }
    if (err != TERN_ERR_EMPTY || n == 0 || n > MAXREC) {
        return 0;
    }
    /* accepted: the writer reproduces it (names joined, times and values resolved) */
    char names[MAXREC][64];
    tern_senml_writer_t w;
    tern_senml_begin(&w, out, sizeof out, NULL, recs[0].t);
    for (size_t i = 0; i < n; i++) {
        tern_senml_rec_t c = recs[i];
        size_t bl = c.base_name.len, nl = c.name.len;
        if (bl + nl >= sizeof names[0] || c.t != c.t || c.v != c.v) {
            return 0; /* long names, NaN times or values: not compared */
        }
        memcpy(names[i], c.base_name.ptr, bl);
        memcpy(names[i] + bl, c.name.ptr, nl);
        c.name.ptr = names[i];
        c.name.len = bl + nl;
        c.base_name.len = 0;
        CHECK(tern_senml_add(&w, &c) == TERN_OK);
    }
    const uint8_t *p;
    size_t len;
    CHECK(tern_senml_finish(&w, &p, &len) == TERN_OK);
    tern_senml_read_begin(&rd, p, len);
    for (size_t i = 0; i < n; i++) {
        CHECK(tern_senml_read_next(&rd, &r) == TERN_OK);
        CHECK(r.name.len == recs[i].base_name.len + recs[i].name.len);
        CHECK(memcmp(r.name.ptr, names[i], r.name.len) == 0);
        CHECK(r.kind == recs[i].kind && r.vb == recs[i].vb && r.vd_len == recs[i].vd_len &&
              r.vs.len == recs[i].vs.len && r.unit.len == recs[i].unit.len);
        CHECK(r.kind != TERN_SENML_NUM || r.v == recs[i].v);
    }
    CHECK(tern_senml_read_next(&rd, &r) == TERN_ERR_EMPTY);
    return 0;
}
