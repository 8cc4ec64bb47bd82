/*
 * ngx_cx_lua_bytes -- string.rep, upper, lower, reverse, sub, format and
 * table.concat, sort, insert and remove that charge the work they do: the
 * hooks' sandbox installs them over LuaJIT's own (nginx, and the Lua test
 * runner), so that no C call of the string and table libraries can hold a
 * worker.
 *
 * LuaJIT's run in one C call the count hook never sees: one call of
 * big:upper() on 4 MB is one instruction of the budget and some
 * milliseconds of work, so a loop of them held a worker for a minute within
 * its instruction budget.  Each wrapper works out what the call touches (a
 * byte each; the result's bytes, or the input's; a table element, eight;
 * a comparison of sort, sixteen) and hands it to charge() -- before the
 * work when the arguments tell it (rep, upper, lower, reverse, sort,
 * insert, remove), else after it, from the result (sub, format, concat:
 * their work is bounded by strings that already exist).  charge() raises
 * an error to stop the call.  A string.rep whose result would be larger
 * than *cap is refused before any work with the message nomem.
 *
 * Otherwise they are LuaJIT's own, called with the same arguments: the
 * results are the same, and so are the errors (the function's name and
 * the caller's file:line are put back into the messages LuaJIT raises
 * when it is called from C).
 *
 * Needs Lua headers, not nginx's.
 */

#ifndef NGX_CX_LUA_BYTES_H
#define NGX_CX_LUA_BYTES_H

#include <stddef.h>

#include <lua.h>


/*
 * Replaces the functions above in the global string and table tables.
 * charge: may be NULL (nothing is counted); it is also called with 0
 * when LuaJIT's function ran out of memory, before nomem is raised, so
 * that a host can raise its own error instead (nginx: past the deadline,
 * the time budget's).  cap: the largest
 * string.rep result, read at every call; may be NULL.  nomem: the message
 * of a refused rep, or of a memory error in any of them.
 */
void ngx_cx_lua_bytes_install(lua_State *L,
    void (*charge)(lua_State *L, size_t work), const size_t *cap,
    const char *nomem);


#endif /* NGX_CX_LUA_BYTES_H */
