/*
 * The </body> scanner fed in fuzzer-chosen pieces must agree with a
 * one-shot scan of the whole input: same FOUND and offset, same <meta> CSP
 * flag; and while it streams, ngx_cx_scan_hold_from() must hold at most 6
 * bytes and never release a byte of the tag found later (docs in
 * src/ngx_cx_scan.h).
 *
 * Input: byte 0 = number of cuts (low 5 bits) and the mode (0x20: also one
 * byte per call), then 2 bytes per cut (piece length, taken modulo what is
 * left), then the document. Each piece is a heap copy of exactly its bytes,
 * so a read across a piece boundary is an ASan report.
 */

#include "fuzz.h"
#include "ngx_cx_scan.h"

#define NONE  UINT64_MAX


typedef struct {
    int       found;
    uint64_t  at;
    int       csp;
} result_t;


static void
check_found(const result_t *want, uint64_t at, size_t done, size_t n)
{
    /* FOUND comes with the piece that holds the terminator, 6 bytes after
     * the '<', at the offset the one-shot scan found */
    CHECK(want->found);
    CHECK(at == want->at);
    CHECK(at + 6 >= done && at + 6 < done + n);
}


static void
check_more(const ngx_cx_scan_t *s, const result_t *want, uint64_t at,
    size_t fed)
{
    uint64_t  h;

    CHECK(at == NONE);                  /* untouched on MORE */
    h = ngx_cx_scan_hold_from(s);
    CHECK(h <= fed);
    CHECK(fed - h <= 6);
    if (want->found) {
        CHECK(h <= want->at);           /* never releases the tag's bytes */
        CHECK(want->at + 6 >= fed);     /* FOUND not missed */
    }
}


static void
after_found(ngx_cx_scan_t *s, const result_t *want, int csp)
{
    uint64_t  at;

    CHECK(csp == want->csp);
    at = NONE;
    CHECK(ngx_cx_scan_feed(s, (const unsigned char *) "</body>", 7, &at)
          == NGX_CX_SCAN_FOUND);
    CHECK(at == want->at);
    CHECK(ngx_cx_scan_meta_csp(s) == csp);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, bytewise;
    size_t         ncut, i, done, n, left, len;
    uint64_t       at;
    unsigned char  *piece;
    const uint8_t  *doc;
    result_t        want;
    ngx_cx_scan_t   s;
    size_t          cuts[32];

    if (size == 0) {
        return 0;
    }

    ncut = data[0] & 0x1f;
    bytewise = data[0] & 0x20;
    data++;
    size--;

    for (i = 0; i < ncut; i++) {
        if (size < 2) {
            ncut = i;
            break;
        }
        cuts[i] = (size_t) data[0] << 8 | data[1];
        data += 2;
        size -= 2;
    }

    doc = data;
    len = size;

    /* one shot */
    piece = fz_dup(doc, len);
    ngx_cx_scan_init(&s);
    at = NONE;
    rc = ngx_cx_scan_feed(&s, len ? piece : NULL, len, &at);
    CHECK(rc == NGX_CX_SCAN_FOUND || rc == NGX_CX_SCAN_MORE);
    want.found = rc == NGX_CX_SCAN_FOUND;
    want.at = want.found ? at : NONE;
    want.csp = ngx_cx_scan_meta_csp(&s);
    CHECK(want.csp == 0 || want.csp == 1);
    if (want.found) {
        CHECK(at + 6 < len);
        CHECK(doc[at] == '<' && doc[at + 1] == '/');
    } else {
        CHECK(at == NONE);
        CHECK(ngx_cx_scan_hold_from(&s) <= len);
        CHECK(len - ngx_cx_scan_hold_from(&s) <= 6);
    }
    free(piece);

    /* in the fuzzer's pieces, the rest in one */
    ngx_cx_scan_init(&s);
    done = 0;
    for (i = 0; i <= ncut && done < len; i++) {
        left = len - done;
        n = i < ncut ? cuts[i] % (left + 1) : left;

        piece = fz_dup(doc + done, n);
        at = NONE;
        rc = ngx_cx_scan_feed(&s, n ? piece : NULL, n, &at);
        free(piece);

        if (rc == NGX_CX_SCAN_FOUND) {
            check_found(&want, at, done, n);
            after_found(&s, &want, ngx_cx_scan_meta_csp(&s));
            goto bytes;
        }
        CHECK(rc == NGX_CX_SCAN_MORE);
        done += n;
        check_more(&s, &want, at, done);
    }
    CHECK(!want.found);
    CHECK(ngx_cx_scan_meta_csp(&s) == want.csp);

bytes:

    if (!bytewise) {
        return 0;
    }

    /* one byte per call */
    ngx_cx_scan_init(&s);
    for (done = 0; done < len; done++) {
        piece = fz_dup(doc + done, 1);
        at = NONE;
        rc = ngx_cx_scan_feed(&s, piece, 1, &at);
        free(piece);
        if (rc == NGX_CX_SCAN_FOUND) {
            check_found(&want, at, done, 1);
            after_found(&s, &want, ngx_cx_scan_meta_csp(&s));
            return 0;
        }
        CHECK(rc == NGX_CX_SCAN_MORE);
        check_more(&s, &want, at, done + 1);
    }
    CHECK(!want.found);
    CHECK(ngx_cx_scan_meta_csp(&s) == want.csp);

    return 0;
}
