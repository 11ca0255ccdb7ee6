/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ring buffer driven by arbitrary operation sequences and checked against
 * a flat reference model after every step. Input: byte 0 picks the capacity,
 * then each (op, n) byte pair is one call.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t cap = (size_t)(data[0] % 64) + 1;
    uint8_t mem[64], model[64], buf[128];
    size_t mlen = 0;
    uint8_t next = 0;
    tern_ring_t r;
    CHECK(tern_ring_init(&r, mem, cap) == TERN_OK);

    for (size_t i = 1; i + 1 < size; i += 2) {
        size_t n = data[i + 1] % 80;
        size_t room = cap - mlen, span = 0;
        switch (data[i] % 7) {
        case 0: { /* write */
            for (size_t k = 0; k < n; k++) {
                buf[k] = (uint8_t)(next + k);
            }
            size_t w = tern_ring_write(&r, buf, n);
            CHECK(w == (n < room ? n : room));
            memcpy(model + mlen, buf, w);
            mlen += w;
            next = (uint8_t)(next + w);
            break;
        }
        case 1: { /* write_all */
            for (size_t k = 0; k < n; k++) {
                buf[k] = (uint8_t)(next + k);
            }
            tern_err_t e = tern_ring_write_all(&r, buf, n);
            CHECK((e == TERN_OK) == (n <= room));
            if (e == TERN_OK) {
                memcpy(model + mlen, buf, n);
                mlen += n;
                next = (uint8_t)(next + n);
            }
            break;
        }
        case 2: { /* read */
            size_t got = tern_ring_read(&r, buf, n);
            CHECK(got == (n < mlen ? n : mlen));
            CHECK(memcmp(buf, model, got) == 0);
            memmove(model, model + got, mlen - got);
            mlen -= got;
            break;
        }
        case 3: { /* peek at an offset */
            size_t off = n % 70;
            size_t got = tern_ring_peek(&r, off, buf, n);
            size_t expect = off >= mlen ? 0 : (mlen - off < n ? mlen - off : n);
            CHECK(got == expect);
            CHECK(got == 0 || memcmp(buf, model + off, got) == 0);
            break;
        }
        case 4: { /* discard */
            size_t d = tern_ring_discard(&r, n);
            CHECK(d == (n < mlen ? n : mlen));
            memmove(model, model + d, mlen - d);
            mlen -= d;
            break;
        }
        case 5: { /* zero-copy write */
            uint8_t *w2 = tern_ring_write_span(&r, &span);
            CHECK(span <= room && (span > 0 || room == 0));
            size_t k = n < span ? n : span;
            for (size_t j = 0; j < k; j++) {
                w2[j] = next;
                model[mlen + j] = next++;
            }
            CHECK(tern_ring_commit(&r, k) == TERN_OK);
            mlen += k;
            CHECK(tern_ring_commit(&r, cap - mlen + 1) == TERN_ERR_RANGE); /* more than is free */
            break;
        }
        default: { /* zero-copy read */
            const uint8_t *p = tern_ring_read_span(&r, &span);
            CHECK(span <= mlen && (span > 0 || mlen == 0));
            CHECK(memcmp(p, model, span) == 0);
            break;
        }
        }
        CHECK(tern_ring_len(&r) == mlen);
        CHECK(tern_ring_space(&r) == cap - mlen);
    }
    return 0;
}
