/*
 * ngx_cx_lua_pattern -- see ngx_cx_lua_pattern.h.  The argument handling
 * follows LuaJIT 2.1's string library (Lua 5.1 semantics).
 */

#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "ngx_cx_pattern.h"
#include "ngx_cx_lua_pattern.h"


static long   *budget;
static int   (*refill)(long *budget);
static void  (*spent)(lua_State *L);


static int
fail(lua_State *L, ngx_cx_pat_t *ms)
{
    if ((ms->error == NGX_CX_PAT_BUDGET || ms->error == NGX_CX_PAT_TIME)
        && spent != NULL)
    {
        spent(L);
    }

    return luaL_error(L, "%s", ngx_cx_pat_strerror(ms->error));
}


static void
push_one(lua_State *L, ngx_cx_pat_t *ms, int i, const char *s,
    const char *e)
{
    ptrdiff_t  l;

    if (i >= ms->level) {
        if (i != 0) {
            luaL_error(L, "invalid capture index");
        }
        lua_pushlstring(L, s, (size_t) (e - s));        /* the whole match */
        return;
    }

    l = ms->capture[i].len;

    if (l == NGX_CX_PAT_CAP_UNFINISHED) {
        luaL_error(L, "unfinished capture");
    }

    if (l == NGX_CX_PAT_CAP_POSITION) {
        lua_pushinteger(L, ms->capture[i].init - ms->src_init + 1);
    } else {
        lua_pushlstring(L, ms->capture[i].init, (size_t) l);
    }
}


static int
push_all(lua_State *L, ngx_cx_pat_t *ms, const char *s, const char *e)
{
    int  i, n;

    n = (ms->level == 0 && s != NULL) ? 1 : ms->level;

    luaL_checkstack(L, n, "too many captures");

    for (i = 0; i < n; i++) {
        push_one(L, ms, i, s, e);
    }

    return n;
}


/*
 * A plain find counts its steps too: a step for every 64 bytes memchr
 * reads, and one for every byte compared at a candidate, else a needle of
 * "aaa...ab" over a long run of "a" compares for seconds in one call.
 * *over is set to the error when the budget runs out.
 */

static const char *
find_plain(const char *s, size_t ls, const char *p, size_t lp, int *over)
{
    size_t       i;
    const char  *last, *from, *c;

    if (lp == 0) {
        return s;
    }

    if (lp > ls) {
        return NULL;
    }

    for (last = s + (ls - lp); s <= last; s++) {
        from = s;
        c = memchr(s, *p, (size_t) (last - s) + 1);

        for (i = 1; c != NULL && i < lp && c[i] == p[i]; i++) {
            /* void */
        }

        if (budget != NULL) {
            *budget -= ((c ? c : last + 1) - from) / 64 + (c ? (long) i : 0);

            while (*budget < 0) {
                *over = (refill != NULL) ? refill(budget) : NGX_CX_PAT_BUDGET;
                if (*over) {
                    return NULL;
                }
            }
        }

        if (c == NULL) {
            return NULL;
        }

        if (i == lp) {
            return c;
        }

        s = c;
    }

    return NULL;
}


static int
find_aux(lua_State *L, int find)
{
    int            anchor, over;
    size_t         ls, lp;
    lua_Integer    start;
    const char    *s, *p, *src, *e;
    ngx_cx_pat_t   ms;

    s = luaL_checklstring(L, 1, &ls);
    p = luaL_checklstring(L, 2, &lp);
    start = luaL_optinteger(L, 3, 1);

    if (start < 0) {
        start += (lua_Integer) ls;
    } else {
        start--;
    }

    if (start < 0) {
        start = 0;
    }

    if ((size_t) start > ls) {
        start = (lua_Integer) ls;
    }

    if (find && (lua_toboolean(L, 4) || ngx_cx_pat_is_plain(p, strlen(p))))
    {
        over = 0;
        e = find_plain(s + start, ls - (size_t) start, p, lp, &over);

        if (over) {
            ms.error = over;
            return fail(L, &ms);
        }

        if (e != NULL) {
            lua_pushinteger(L, e - s + 1);
            lua_pushinteger(L, e - s + (lua_Integer) lp);
            return 2;
        }

        lua_pushnil(L);
        return 1;
    }

    /* a pattern ends at its first NUL, as in LuaJIT */
    lp = strlen(p);
    anchor = (*p == '^');
    if (anchor) {
        p++;
        lp--;
    }

    ngx_cx_pat_init(&ms, s, ls, p + lp, budget);
    ms.refill = refill;

    src = s + start;

    do {
        e = ngx_cx_pat_match(&ms, src, p);

        if (ms.error) {
            return fail(L, &ms);
        }

        if (e != NULL) {
            if (find) {
                lua_pushinteger(L, src - s + 1);
                lua_pushinteger(L, e - s);
                return push_all(L, &ms, NULL, NULL) + 2;
            }

            return push_all(L, &ms, src, e);
        }

    } while (src++ < ms.src_end && !anchor);

    lua_pushnil(L);
    return 1;
}


static int
str_find(lua_State *L)
{
    return find_aux(L, 1);
}


static int
str_match(lua_State *L)
{
    return find_aux(L, 0);
}


/* upvalues: the subject, the pattern, the position to go on from */

static int
gmatch_next(lua_State *L)
{
    size_t         ls;
    lua_Integer    pos;
    const char    *s, *p, *src, *e;
    ngx_cx_pat_t   ms;

    s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    p = lua_tostring(L, lua_upvalueindex(2));
    pos = lua_tointeger(L, lua_upvalueindex(3));

    ngx_cx_pat_init(&ms, s, ls, p + strlen(p), budget);
    ms.refill = refill;

    for (src = s + pos; src <= ms.src_end; src++) {
        e = ngx_cx_pat_match(&ms, src, p);

        if (ms.error) {
            return fail(L, &ms);
        }

        if (e != NULL) {
            pos = e - s;
            if (e == src) {
                pos++;                              /* an empty match */
            }
            lua_pushinteger(L, pos);
            lua_replace(L, lua_upvalueindex(3));
            return push_all(L, &ms, src, e);
        }
    }

    return 0;
}


static int
str_gmatch(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_next, 3);

    return 1;
}


static void
add_string(lua_State *L, ngx_cx_pat_t *ms, luaL_Buffer *b, const char *s,
    const char *e)
{
    char         c;
    size_t       i, l;
    const char  *news;

    news = lua_tolstring(L, 3, &l);

    for (i = 0; i < l; i++) {
        if (news[i] != '%') {
            luaL_addchar(b, news[i]);
            continue;
        }

        i++;
        c = (i < l) ? news[i] : '\0';

        if (c < '0' || c > '9') {
            luaL_addchar(b, c);

        } else if (c == '0') {
            luaL_addlstring(b, s, (size_t) (e - s));

        } else {
            push_one(L, ms, c - '1', s, e);
            luaL_addvalue(b);
        }
    }
}


static void
add_value(lua_State *L, ngx_cx_pat_t *ms, luaL_Buffer *b, const char *s,
    const char *e)
{
    int  n;

    switch (lua_type(L, 3)) {

    case LUA_TNUMBER:
    case LUA_TSTRING:
        add_string(L, ms, b, s, e);
        return;

    case LUA_TFUNCTION:
        lua_pushvalue(L, 3);
        n = push_all(L, ms, s, e);
        lua_call(L, n, 1);
        break;

    default:                                        /* a table */
        push_one(L, ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    }

    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t) (e - s));   /* keep the original */

    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)",
                   luaL_typename(L, -1));
    }

    luaL_addvalue(b);
}


static int
str_gsub(lua_State *L)
{
    int            tr, anchor;
    size_t         ls;
    lua_Integer    max, n;
    const char    *src, *p, *e;
    luaL_Buffer    b;
    ngx_cx_pat_t   ms;

    src = luaL_checklstring(L, 1, &ls);
    p = luaL_checkstring(L, 2);
    tr = lua_type(L, 3);
    max = luaL_optinteger(L, 4, (lua_Integer) ls + 1);

    luaL_argcheck(L, tr == LUA_TNUMBER || tr == LUA_TSTRING
                     || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                  3, "string/function/table expected");

    anchor = (*p == '^');
    if (anchor) {
        p++;
    }

    ngx_cx_pat_init(&ms, src, ls, p + strlen(p), budget);
    ms.refill = refill;
    luaL_buffinit(L, &b);
    n = 0;

    while (n < max) {
        e = ngx_cx_pat_match(&ms, src, p);

        if (ms.error) {
            return fail(L, &ms);
        }

        if (e != NULL) {
            n++;
            add_value(L, &ms, &b, src, e);
        }

        if (e != NULL && e > src) {
            src = e;

        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);

        } else {
            break;
        }

        if (anchor) {
            break;
        }
    }

    luaL_addlstring(&b, src, (size_t) (ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);

    return 2;
}


void
ngx_cx_lua_pattern_install(lua_State *L, long *steps,
    int (*on_empty)(long *budget), void (*on_spent)(lua_State *L))
{
    budget = steps;
    refill = on_empty;
    spent = on_spent;

    lua_pushcfunction(L, str_find);
    lua_setfield(L, -2, "find");
    lua_pushcfunction(L, str_match);
    lua_setfield(L, -2, "match");
    lua_pushcfunction(L, str_gmatch);
    lua_setfield(L, -2, "gmatch");
    lua_pushcfunction(L, str_gsub);
    lua_setfield(L, -2, "gsub");
}
