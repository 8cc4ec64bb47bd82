/*
 * ngx_cx_pattern -- Lua patterns (string.find, match, gmatch, gsub) with a
 * step budget, for the hooks' sandbox.
 *
 * LuaJIT's own matcher runs inside one C call, out of reach of the count
 * hook that enforces a hook's instruction budget: a pattern such as
 * "a-a-a-b" over a long header backtracks for seconds.  This matcher has
 * the same language (character classes %a %c %d %g %l %p %s %u %w %x %z and
 * their complements, ".", sets, "*" "+" "-" "?", anchors, captures and
 * position captures, %b, %f, back-references) and counts its steps
 * against a budget the caller owns; when the budget is spent it stops
 * with NGX_CX_PAT_BUDGET (or asks ms->refill for more, if set).  Classes are ASCII, as in LuaJIT.
 *
 * Usage: ngx_cx_pat_init() once per subject and pattern, then
 * ngx_cx_pat_match() from a start position; NULL means no match there, or
 * an error when ms->error is set (ngx_cx_pat_strerror() says which, in
 * LuaJIT's words).  Captures are in ms->capture[0 .. ms->level).
 *
 * Pure C99, no allocation, no Lua or nginx headers.
 */

#ifndef NGX_CX_PATTERN_H
#define NGX_CX_PATTERN_H

#include <stddef.h>


#define NGX_CX_PAT_MAXCAPTURES     32
#define NGX_CX_PAT_MAXDEPTH        200
#define NGX_CX_PAT_CAP_UNFINISHED  (-1)
#define NGX_CX_PAT_CAP_POSITION    (-2)

enum {
    NGX_CX_PAT_OK = 0,
    NGX_CX_PAT_BUDGET,             /* the step budget is spent */
    NGX_CX_PAT_TOO_COMPLEX,        /* nesting deeper than MAXDEPTH */
    NGX_CX_PAT_ENDS_WITH_ESCAPE,
    NGX_CX_PAT_MISSING_BRACKET,
    NGX_CX_PAT_MISSING_B_ARGS,
    NGX_CX_PAT_MISSING_F_SET,
    NGX_CX_PAT_BAD_CAPTURE_INDEX,
    NGX_CX_PAT_BAD_CAPTURE,
    NGX_CX_PAT_TOO_MANY_CAPTURES,
    NGX_CX_PAT_UNFINISHED_CAPTURE,
    NGX_CX_PAT_TIME                /* refill() said the time is up */
};

typedef struct {
    const char  *init;
    ptrdiff_t    len;              /* or CAP_UNFINISHED, CAP_POSITION */
} ngx_cx_pat_capture_t;

typedef struct {
    const char            *src_init;
    const char            *src_end;
    const char            *pat_end;
    long                  *budget;     /* steps left; the caller refills */
    /*
     * NULL (as ngx_cx_pat_init sets it), or called when *budget runs out:
     * adds steps and returns NGX_CX_PAT_OK, or returns the error to stop
     * with (NGX_CX_PAT_BUDGET, NGX_CX_PAT_TIME).  So a caller can hand out
     * its budget in slices and look at a clock in between.
     */
    int                  (*refill)(long *budget);
    int                    level;      /* captures open or closed */
    int                    depth;
    int                    error;
    ngx_cx_pat_capture_t   capture[NGX_CX_PAT_MAXCAPTURES];
} ngx_cx_pat_t;


void ngx_cx_pat_init(ngx_cx_pat_t *ms, const char *s, size_t slen,
    const char *pat_end, long *budget);

/* Matches pattern p (up to ms->pat_end) at s; the end of the match. */
const char *ngx_cx_pat_match(ngx_cx_pat_t *ms, const char *s, const char *p);

/* 1 if p[0 .. len) has none of the characters "^$*+?.([%-". */
int ngx_cx_pat_is_plain(const char *p, size_t len);

const char *ngx_cx_pat_strerror(int error);


#endif /* NGX_CX_PATTERN_H */
