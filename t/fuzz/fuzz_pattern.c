/*
 * The budgeted Lua pattern matcher (src/ngx_cx_pattern.h) on arbitrary
 * patterns and subjects, the way the sandbox's string.find drives it: from
 * every start position until a match or an error. Input: byte 0 picks the
 * pattern's length (modulo what follows), then the pattern, then the
 * subject. The pattern is NUL-terminated like a Lua string; the subject is
 * an exact-size heap copy, so a read past its end is an ASan report. The
 * step budget bounds every run: it cannot hang, and when it says OK the
 * match and its captures lie inside the subject.
 */

#include "fuzz.h"
#include "ngx_cx_pattern.h"

#define BUDGET  20000


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            i, anchor;
    long           budget;
    size_t         plen, slen;
    char          *pat, *subj, *p;
    const char    *e, *src;
    ngx_cx_pat_t   ms;

    if (size == 0) {
        return 0;
    }

    plen = data[0] % size;
    data++;
    size--;
    if (plen > size) {
        plen = size;
    }
    slen = size - plen;

    pat = malloc(plen + 1);
    CHECK(pat != NULL);
    memcpy(pat, data, plen);
    pat[plen] = '\0';
    subj = (char *) fz_dup(data + plen, slen);

    CHECK(ngx_cx_pat_is_plain(pat, plen) == 0 || ngx_cx_pat_is_plain(pat, plen) == 1);

    /* as the sandbox's string.find: the pattern ends at its first NUL, a
     * leading '^' anchors it */
    p = pat;
    anchor = (*p == '^');
    if (anchor) {
        p++;
    }

    budget = BUDGET;
    ngx_cx_pat_init(&ms, subj, slen, p + strlen(p), &budget);
    e = NULL;
    for (src = subj; src <= subj + slen; src++) {
        e = ngx_cx_pat_match(&ms, src, p);
        if (e != NULL || ms.error || anchor) {
            break;
        }
    }

    CHECK(ms.error >= NGX_CX_PAT_OK && ms.error <= NGX_CX_PAT_TIME);
    CHECK(ngx_cx_pat_strerror(ms.error) != NULL);
    CHECK(budget >= -BUDGET);

    if (e != NULL && ms.error == NGX_CX_PAT_OK) {
        CHECK(e >= src && e <= subj + slen);
        CHECK(ms.level >= 0 && ms.level <= NGX_CX_PAT_MAXCAPTURES);
        for (i = 0; i < ms.level; i++) {
            const ngx_cx_pat_capture_t *c = &ms.capture[i];
            CHECK(c->init >= subj && c->init <= subj + slen);
            /* an unfinished one is the caller's "unfinished capture" */
            if (c->len >= 0 || c->len < NGX_CX_PAT_CAP_POSITION) {
                CHECK(c->len >= 0 && c->init + c->len <= subj + slen);
            }
        }
    }

    free(pat);
    free(subj);
    return 0;
}
