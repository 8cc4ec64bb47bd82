/*
 * ngx_cx_search -- a case-insensitive substring search over UTF-8 text:
 * the comment search of the report location (comments.json ?q=).
 *
 * Matching is on code points, never on bytes, so a query can neither match
 * half a character nor match across two.  The query and the text are
 * decoded as UTF-8 (ngx_cx_utf8_decode) and each code point is folded to
 * lower case (ngx_cx_fold) first.  The folding covers the scripts with case
 * that most European languages write in:
 *
 *   ASCII, Latin-1 (U+00C0..U+00DE, and U+00B5 micro to Greek mu),
 *   Latin Extended-A (U+0100..U+017F; long s to "s"),
 *   Latin Extended Additional (U+1E00..U+1EFF, Vietnamese among them),
 *   Greek (U+0386..U+03AB; final sigma to sigma),
 *   Cyrillic (U+0400..U+052F), Armenian (U+0531..U+0556)
 *
 * as Unicode's simple case folding does, with one difference for search:
 * Turkish dotted capital I (U+0130) and dotless small i (U+0131) both fold
 * to "i", so "istanbul" finds "İstanbul".  Other scripts compare as they
 * are (most have no case).  No normalisation: a precomposed "é" and "e"
 * with a combining accent are different texts.
 *
 * A query must be valid UTF-8.  A text need not be: each byte that does
 * not start a valid sequence counts as a code point of its own that no
 * query matches (not even U+FFFD).
 *
 * The search is Knuth-Morris-Pratt over the folded code points, one pass
 * over the text with no going back: its cost is linear in the text,
 * whatever the query, so a hostile query ("aaaa...b" against "aaaa...")
 * costs no more than a plain one.
 *
 * Pure C99, no allocation, no nginx headers.
 */

#ifndef NGX_CX_SEARCH_H
#define NGX_CX_SEARCH_H

#include <stddef.h>
#include <stdint.h>


/* The longest query, in code points (comments.json's ?q=). */
#define NGX_CX_SEARCH_MAX   100


typedef struct {
    size_t          n;                          /* code points */
    uint32_t        cp[NGX_CX_SEARCH_MAX];      /* folded */
    unsigned char   fail[NGX_CX_SEARCH_MAX];    /* KMP's failure function */
} ngx_cx_search_t;


/*
 * Prepares s for the query q of len bytes.  0, or -1 when q is empty, is
 * not valid UTF-8, or holds more than NGX_CX_SEARCH_MAX code points.
 */
int ngx_cx_search_init(ngx_cx_search_t *s, const unsigned char *q,
    size_t len);

/* 1 when the len bytes at text hold the query (folded), else 0.  text may
 * be NULL when len is 0. */
int ngx_cx_search_in(const ngx_cx_search_t *s, const unsigned char *text,
    size_t len);

/* A code point folded as above; any other value is returned as it is. */
uint32_t ngx_cx_fold(uint32_t cp);


#endif /* NGX_CX_SEARCH_H */
