/*
 * ngx_cx_pattern -- see ngx_cx_pattern.h.
 *
 * The usual backtracking matcher of Lua patterns: do_match walks the
 * pattern, recursing only where it must try alternatives (quantifiers,
 * captures); every entry and every character an expansion or a %b tries
 * is one step off the budget.
 */

#include <string.h>

#include "ngx_cx_pattern.h"


#define ESC  '%'

static const char *do_match(ngx_cx_pat_t *ms, const char *s, const char *p);


static int
step(ngx_cx_pat_t *ms)
{
    if (--*ms->budget < 0) {
        ms->error = (ms->refill != NULL) ? ms->refill(ms->budget)
                                         : NGX_CX_PAT_BUDGET;
        return ms->error == NGX_CX_PAT_OK;
    }

    return 1;
}


/* ASCII classes, as LuaJIT has them (no locale) */

static int
match_class(int c, int cl)
{
    int  res, lower;

    lower = (cl >= 'A' && cl <= 'Z') ? cl + 32 : cl;

    switch (lower) {
    case 'a': res = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); break;
    case 'c': res = c < 32 || c == 127; break;
    case 'd': res = c >= '0' && c <= '9'; break;
    case 'g': res = c > 32 && c < 127; break;
    case 'l': res = c >= 'a' && c <= 'z'; break;
    case 'p': res = c > 32 && c < 127 && !((c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
              break;
    case 's': res = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': res = c >= 'A' && c <= 'Z'; break;
    case 'w': res = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9');
              break;
    case 'x': res = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                    || (c >= 'A' && c <= 'F');
              break;
    case 'z': res = c == 0; break;
    default:  return cl == c;
    }

    return (cl >= 'A' && cl <= 'Z') ? !res : res;
}


/* p at '[', ec at its closing ']' */

static int
match_bracket(int c, const char *p, const char *ec)
{
    int  sig;

    sig = 1;

    if (p[1] == '^') {
        sig = 0;
        p++;
    }

    while (++p < ec) {
        if (*p == ESC) {
            p++;
            if (match_class(c, (unsigned char) *p)) {
                return sig;
            }

        } else if (p + 2 < ec && p[1] == '-') {
            if ((unsigned char) p[0] <= c && c <= (unsigned char) p[2]) {
                return sig;
            }
            p += 2;

        } else if ((unsigned char) *p == c) {
            return sig;
        }
    }

    return !sig;
}


/* The end of the single-character class at p; NULL (and an error) if bad. */

static const char *
class_end(ngx_cx_pat_t *ms, const char *p)
{
    const char  *end;

    end = ms->pat_end;

    switch (*p++) {

    case ESC:
        if (p >= end) {
            ms->error = NGX_CX_PAT_ENDS_WITH_ESCAPE;
            return NULL;
        }
        return p + 1;

    case '[':
        if (p < end && *p == '^') {
            p++;
        }

        /* the first character is never the closing ']' */
        do {
            if (p >= end) {
                ms->error = NGX_CX_PAT_MISSING_BRACKET;
                return NULL;
            }
            if (*p++ == ESC && p < end) {
                p++;
            }
        } while (p >= end || *p != ']');

        return p + 1;

    default:
        return p;
    }
}


static int
single_match(const char *s, const char *src_end, const char *p,
    const char *ep)
{
    int  c;

    if (s >= src_end) {
        return 0;
    }

    c = (unsigned char) *s;

    switch (*p) {
    case '.':
        return 1;
    case ESC:
        return match_class(c, (unsigned char) p[1]);
    case '[':
        return match_bracket(c, p, ep - 1);
    default:
        return (unsigned char) *p == c;
    }
}


static const char *
max_expand(ngx_cx_pat_t *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t    i;
    const char  *res;

    for (i = 0; single_match(s + i, ms->src_end, p, ep); i++) {
        if (!step(ms)) {
            return NULL;
        }
    }

    /* the longest first, then one less each time */
    for ( /* void */ ; i >= 0; i--) {
        res = do_match(ms, s + i, ep + 1);
        if (res != NULL || ms->error) {
            return res;
        }
    }

    return NULL;
}


static const char *
min_expand(ngx_cx_pat_t *ms, const char *s, const char *p, const char *ep)
{
    const char  *res;

    for ( ;; ) {
        res = do_match(ms, s, ep + 1);
        if (res != NULL || ms->error) {
            return res;
        }

        if (!single_match(s, ms->src_end, p, ep)) {
            return NULL;
        }

        s++;
    }
}


static const char *
start_capture(ngx_cx_pat_t *ms, const char *s, const char *p, ptrdiff_t what)
{
    const char  *res;

    if (ms->level >= NGX_CX_PAT_MAXCAPTURES) {
        ms->error = NGX_CX_PAT_TOO_MANY_CAPTURES;
        return NULL;
    }

    ms->capture[ms->level].init = s;
    ms->capture[ms->level].len = what;
    ms->level++;

    res = do_match(ms, s, p);
    if (res == NULL) {
        ms->level--;
    }

    return res;
}


static const char *
end_capture(ngx_cx_pat_t *ms, const char *s, const char *p)
{
    int          l;
    const char  *res;

    /* the innermost capture still open */
    for (l = ms->level - 1; l >= 0; l--) {
        if (ms->capture[l].len == NGX_CX_PAT_CAP_UNFINISHED) {
            break;
        }
    }

    if (l < 0) {
        ms->error = NGX_CX_PAT_BAD_CAPTURE;
        return NULL;
    }

    ms->capture[l].len = s - ms->capture[l].init;

    res = do_match(ms, s, p);
    if (res == NULL) {
        ms->capture[l].len = NGX_CX_PAT_CAP_UNFINISHED;
    }

    return res;
}


/* %bxy at p (p at x) */

static const char *
match_balance(ngx_cx_pat_t *ms, const char *s, const char *p)
{
    int  open, close, depth;

    if (p + 1 >= ms->pat_end) {
        ms->error = NGX_CX_PAT_MISSING_B_ARGS;
        return NULL;
    }

    if (s >= ms->src_end || *s != *p) {
        return NULL;
    }

    open = (unsigned char) p[0];
    close = (unsigned char) p[1];
    depth = 1;

    while (++s < ms->src_end) {
        if (!step(ms)) {
            return NULL;
        }

        if ((unsigned char) *s == close) {
            if (--depth == 0) {
                return s + 1;
            }

        } else if ((unsigned char) *s == open) {
            depth++;
        }
    }

    return NULL;
}


/* %1 .. %9 */

static const char *
match_back(ngx_cx_pat_t *ms, const char *s, int digit)
{
    int     l;
    size_t  len;

    l = digit - '1';

    if (l < 0 || l >= ms->level
        || ms->capture[l].len == NGX_CX_PAT_CAP_UNFINISHED
        || ms->capture[l].len == NGX_CX_PAT_CAP_POSITION)
    {
        ms->error = NGX_CX_PAT_BAD_CAPTURE_INDEX;
        return NULL;
    }

    len = (size_t) ms->capture[l].len;

    if ((size_t) (ms->src_end - s) >= len
        && memcmp(ms->capture[l].init, s, len) == 0)
    {
        return s + len;
    }

    return NULL;
}


static const char *
do_match(ngx_cx_pat_t *ms, const char *s, const char *p)
{
    int          m, prev, cur;
    const char  *ep, *res, *end;

    if (!step(ms)) {
        return NULL;
    }

    if (++ms->depth > NGX_CX_PAT_MAXDEPTH) {
        ms->error = NGX_CX_PAT_TOO_COMPLEX;
        ms->depth--;
        return NULL;
    }

    end = ms->pat_end;
    res = NULL;

    for ( ;; ) {

        if (p >= end) {
            res = s;
            break;
        }

        switch (*p) {

        case '(':
            if (p + 1 < end && p[1] == ')') {
                res = start_capture(ms, s, p + 2, NGX_CX_PAT_CAP_POSITION);
            } else {
                res = start_capture(ms, s, p + 1, NGX_CX_PAT_CAP_UNFINISHED);
            }
            goto done;

        case ')':
            res = end_capture(ms, s, p + 1);
            goto done;

        case '$':
            if (p + 1 == end) {
                res = (s == ms->src_end) ? s : NULL;
                goto done;
            }
            goto single;

        case ESC:
            if (p + 1 >= end) {
                goto single;                /* class_end reports it */
            }

            if (p[1] == 'b') {
                s = match_balance(ms, s, p + 2);
                if (s == NULL) {
                    goto done;
                }
                p += 4;
                continue;
            }

            if (p[1] == 'f') {
                p += 2;
                if (p >= end || *p != '[') {
                    ms->error = NGX_CX_PAT_MISSING_F_SET;
                    goto done;
                }

                ep = class_end(ms, p);
                if (ep == NULL) {
                    goto done;
                }

                prev = (s == ms->src_init) ? 0 : (unsigned char) s[-1];
                cur = (s < ms->src_end) ? (unsigned char) *s : 0;

                if (match_bracket(prev, p, ep - 1)
                    || !match_bracket(cur, p, ep - 1))
                {
                    goto done;
                }

                p = ep;
                continue;
            }

            if (p[1] >= '0' && p[1] <= '9') {
                s = match_back(ms, s, p[1]);
                if (s == NULL) {
                    goto done;
                }
                p += 2;
                continue;
            }

            goto single;

        default:
        single:
            ep = class_end(ms, p);
            if (ep == NULL) {
                goto done;
            }

            m = single_match(s, ms->src_end, p, ep);

            if (ep < end) {
                switch (*ep) {

                case '?':
                    if (m) {
                        res = do_match(ms, s + 1, ep + 1);
                        if (res != NULL || ms->error) {
                            goto done;
                        }
                    }
                    p = ep + 1;
                    continue;

                case '*':
                    res = max_expand(ms, s, p, ep);
                    goto done;

                case '+':
                    res = m ? max_expand(ms, s + 1, p, ep) : NULL;
                    goto done;

                case '-':
                    res = min_expand(ms, s, p, ep);
                    goto done;
                }
            }

            if (!m) {
                goto done;
            }

            s++;
            p = ep;
            continue;
        }
    }

done:

    ms->depth--;

    return res;
}


void
ngx_cx_pat_init(ngx_cx_pat_t *ms, const char *s, size_t slen,
    const char *pat_end, long *budget)
{
    ms->src_init = s;
    ms->src_end = s + slen;
    ms->pat_end = pat_end;
    ms->budget = budget;
    ms->refill = NULL;
    ms->level = 0;
    ms->depth = 0;
    ms->error = NGX_CX_PAT_OK;
}


const char *
ngx_cx_pat_match(ngx_cx_pat_t *ms, const char *s, const char *p)
{
    ms->level = 0;
    ms->depth = 0;

    return do_match(ms, s, p);
}


int
ngx_cx_pat_is_plain(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (strchr("^$*+?.([%-", p[i]) != NULL && p[i] != '\0') {
            return 0;
        }
    }

    return 1;
}


const char *
ngx_cx_pat_strerror(int error)
{
    switch (error) {
    case NGX_CX_PAT_BUDGET:
        return "instruction budget exceeded (in a pattern)";
    case NGX_CX_PAT_TIME:
        return "time budget exceeded (cx_lua_time)";
    case NGX_CX_PAT_TOO_COMPLEX:
        return "pattern too complex";
    case NGX_CX_PAT_ENDS_WITH_ESCAPE:
        return "malformed pattern (ends with '%')";
    case NGX_CX_PAT_MISSING_BRACKET:
        return "malformed pattern (missing ']')";
    case NGX_CX_PAT_MISSING_B_ARGS:
        return "unbalanced pattern";
    case NGX_CX_PAT_MISSING_F_SET:
        return "missing '[' after '%f' in pattern";
    case NGX_CX_PAT_BAD_CAPTURE_INDEX:
        return "invalid capture index";
    case NGX_CX_PAT_BAD_CAPTURE:
        return "invalid pattern capture";
    case NGX_CX_PAT_TOO_MANY_CAPTURES:
        return "too many captures";
    case NGX_CX_PAT_UNFINISHED_CAPTURE:
        return "unfinished capture";
    default:
        return "no error";
    }
}
