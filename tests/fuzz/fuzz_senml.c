/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SenML reader and the compact-batch reader on arbitrary bytes: each must end
 * (EMPTY or an error), every view they return must lie inside the input, times
 * of a batch series never go back, and a SenML pack the reader accepted,
 * written again by the writer from the resolved records, must read back to the
 * same records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/senml.h"
#include "tern/tsbatch.h"

static void inside(const uint8_t *data, size_t size, const void *p, size_t len)
{
    const uint8_t *b = p;
    CHECK(len == 0 || (b >= data && b + len <= data + size));
}

/* The batch reader: bounded, views inside, times monotonic within a series. */
static void batch(const uint8_t *data, size_t size)
{
    static tern_tsb_reader_t tr;
    tern_senml_rec_t r;
    tern_tsb_read_begin(&tr, data, size);
    double last_t = -1;
    const char *last_name = NULL;
    for (size_t n = 0; tern_tsb_read_next(&tr, &r) == TERN_OK; n++) {
        CHECK(n < 64u * 1024u * 1024u);
        inside(data, size, r.base_name.ptr, r.base_name.len);
        inside(data, size, r.name.ptr, r.name.len);
        inside(data, size, r.unit.ptr, r.unit.len);
        inside(data, size, r.vs.ptr, r.vs.len);
        if (r.name.ptr == last_name) {
            CHECK(r.t >= last_t);
        }
        last_name = r.name.ptr;
        last_t = r.t;
        if (n > 1000000u) {
            break; /* long runs are legal; enough checked */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    batch(data, size);
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
        if (bl) {
            memcpy(names[i], c.base_name.ptr, bl);
        }
        if (nl) {
            memcpy(names[i] + bl, c.name.ptr, nl);
        }
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
