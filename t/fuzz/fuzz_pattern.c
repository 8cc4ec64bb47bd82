/*
 * The budgeted Lua pattern matcher (src/ngx_cx_pattern.h) on arbitrary
 * patterns and subjects, the way the sandbox's string.find drives it: from
 * every start position until a match or an error. Input: byte 0 picks the
 * pattern's length (modulo what follows), then the pattern, then the
 * subject. The pattern is NUL-terminated like a Lua string; the subject is
 * an exact-size heap copy, so a read past its end is an ASan report. The
 * step budget bounds every run: it cannot hang, and when it says OK the
 * match and its captures lie inside the subject.
 *
 * And when the budgeted matcher finishes within its budget, LuaJIT's own
 * string.match (the matcher it replaces; string.find would take its plain
 * search for patterns without specials) must give the same answer: the same
 * match or captures, or an error where it has one.
 */

#include "fuzz.h"
#include "ngx_cx_pattern.h"

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>


static lua_State  *L;


/* string.match(subj, pat) in LuaJIT, compared with what we found */
static void
compare_luajit(const char *subj, size_t slen, const char *pat,
    const char *start, const char *e, ngx_cx_pat_t *ms)
{
    int          i, n, top, rc, unfinished;
    size_t       len;
    const char  *str;

    /* A back-reference to a position capture, "()%1", is an error here
     * (match_back refuses it on purpose) and in LuaJIT a comparison of
     * (size_t) -2 bytes that fails: no match, so LuaJIT backtracks on, for
     * as long as the pattern makes it (t/fuzz/regress/pattern/
     * position-backref-slow took seconds): not asked. */
    if (ms->error == NGX_CX_PAT_BAD_CAPTURE_INDEX && strstr(pat, "()")) {
        return;
    }

    top = lua_gettop(L);
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "match");
    lua_pushlstring(L, subj, slen);
    lua_pushstring(L, pat);
    rc = lua_pcall(L, 2, LUA_MULTRET, 0);
    n = lua_gettop(L) - top - 1;        /* the string table stays below */

    unfinished = 0;
    for (i = 0; e != NULL && i < ms->level; i++) {
        if (ms->capture[i].len == NGX_CX_PAT_CAP_UNFINISHED) {
            unfinished = 1;
        }
    }

    if (ms->error != NGX_CX_PAT_OK || unfinished) {
        /* an error here (or "unfinished capture" when the caller pushes the
         * captures) is an error there */
        if (rc == 0) {
            fprintf(stderr, "LuaJIT: no error; here: %s\n",
                    ngx_cx_pat_strerror(ms->error));
        }
        CHECK(rc != 0);
        lua_settop(L, top);
        return;
    }

    if (rc != 0) {
        fprintf(stderr, "LuaJIT: %s; here: none\n", lua_tostring(L, -1));
    }
    CHECK(rc == 0);

    if (e == NULL) {
        CHECK(n == 1 && lua_isnil(L, -1));
        lua_settop(L, top);
        return;
    }

    if (ms->level == 0) {
        CHECK(n == 1 && lua_type(L, -1) == LUA_TSTRING);
        str = lua_tolstring(L, -1, &len);
        CHECK(len == (size_t) (e - start) && memcmp(str, start, len) == 0);
        lua_settop(L, top);
        return;
    }

    CHECK(n == ms->level);
    for (i = 0; i < ms->level; i++) {
        if (ms->capture[i].len == NGX_CX_PAT_CAP_POSITION) {
            CHECK(lua_type(L, top + 2 + i) == LUA_TNUMBER);
            CHECK(lua_tointeger(L, top + 2 + i)
                  == ms->capture[i].init - subj + 1);
        } else {
            CHECK(lua_type(L, top + 2 + i) == LUA_TSTRING);
            str = lua_tolstring(L, top + 2 + i, &len);
            CHECK(len == (size_t) ms->capture[i].len);
            CHECK(memcmp(str, ms->capture[i].init, len) == 0);
        }
    }
    lua_settop(L, top);
}

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

    if (L == NULL) {
        L = luaL_newstate();
        CHECK(L != NULL);
        luaL_openlibs(L);
    }

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

    if (ms.error != NGX_CX_PAT_BUDGET) {
        compare_luajit(subj, slen, pat, src, e, &ms);
    }

    free(pat);
    free(subj);
    return 0;
}
