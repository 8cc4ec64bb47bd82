/*
 * The cx table a hook gets (README: Lua targeting hooks): read-only views of the visitor, the
 * request, the response, their headers, cookies and nginx variables, made
 * once per worker VM.  See ngx_http_cx_lua.h for the contract.
 */

#include "ngx_http_cx_lua.h"

#include <lua.h>
#include <lauxlib.h>


static void ngx_http_cx_lua_view(lua_State *L, lua_CFunction index,
    ngx_uint_t fixed);
static int ngx_http_cx_lua_view_error(lua_State *L);
static ngx_http_request_t *ngx_http_cx_lua_index_key(lua_State *L,
    ngx_str_t *key);
static int ngx_http_cx_lua_cx_index(lua_State *L);
static int ngx_http_cx_lua_visitor_index(lua_State *L);
static int ngx_http_cx_lua_request_index(lua_State *L);
static int ngx_http_cx_lua_response_index(lua_State *L);
static int ngx_http_cx_lua_touchpoints(lua_State *L);
static int ngx_http_cx_lua_request_header(lua_State *L);
static int ngx_http_cx_lua_response_header(lua_State *L);
static int ngx_http_cx_lua_cookie(lua_State *L);
static int ngx_http_cx_lua_var(lua_State *L);
static void ngx_http_cx_lua_push_headers(lua_State *L, ngx_list_t *headers,
    const u_char *name, size_t len);


#define ngx_http_cx_lua_key_is(key, s)                                        \
    ((key)->len == sizeof(s) - 1                                              \
     && ngx_strncmp((key)->data, s, sizeof(s) - 1) == 0)


ngx_http_cx_lua_call_t  ngx_http_cx_lua_call;


/*
 * The cx table and the tables under it (visitor, request, response and
 * their headers, cookies, touchpoints) are views made once per VM, so a
 * call allocates nothing for them.  A view is an empty table: a read
 * finds its fixed fields (the views under it, cx.var) in a table behind
 * it without leaving the interpreter, and the rest through an __index
 * function that reads the request of the call in progress; so a field
 * costs only when it is read.  Nothing is cached: a view kept from an
 * earlier call reads the current call, never the request it was handed
 * in; outside a call the request's fields are nil.  Views are read-only,
 * since every hook shares them.
 */

void
ngx_http_cx_lua_view_build(lua_State *L)
{
    lua_createtable(L, 0, 4);                         /* cx's fixed fields */

    lua_createtable(L, 0, 1);                         /* visitor's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_touchpoints, 0);
    lua_setfield(L, -2, "touchpoints");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_visitor_index, 1);
    lua_setfield(L, -2, "visitor");

    lua_createtable(L, 0, 2);                         /* request's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_request_header, 0);
    lua_setfield(L, -2, "headers");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_cookie, 0);
    lua_setfield(L, -2, "cookies");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_request_index, 1);
    lua_setfield(L, -2, "request");

    lua_createtable(L, 0, 1);                         /* response's */
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_response_header, 0);
    lua_setfield(L, -2, "headers");
    ngx_http_cx_lua_view(L, ngx_http_cx_lua_response_index, 1);
    lua_setfield(L, -2, "response");

    lua_pushcfunction(L, ngx_http_cx_lua_var);
    lua_setfield(L, -2, "var");

    ngx_http_cx_lua_view(L, ngx_http_cx_lua_cx_index, 1);
}


/*
 * Pushes a read-only view reading by index(); with fixed, the table on
 * top (popped) holds its fixed fields, read before index() is asked.
 */

static void
ngx_http_cx_lua_view(lua_State *L, lua_CFunction index, ngx_uint_t fixed)
{
    lua_createtable(L, 0, 2);                         /* index's metatable */
    lua_pushcfunction(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");

    if (fixed) {
        lua_setmetatable(L, -2);                      /* fixed -> index() */

    } else {
        lua_getfield(L, -1, "__index");               /* index() itself */
        lua_replace(L, -2);
    }

    ngx_cx_lua_sandbox_proxy(L, ngx_http_cx_lua_view_error);
}


static int
ngx_http_cx_lua_view_error(lua_State *L)
{
    return luaL_error(L, "attempt to change cx, which is read-only");
}


/*
 * What an __index function of a view reads: the request of the call in
 * progress, and the key.  NULL outside a call (the request's fields are
 * nil then) and for a key that is neither a string nor a number.
 */

static ngx_http_request_t *
ngx_http_cx_lua_index_key(lua_State *L, ngx_str_t *key)
{
    key->data = (u_char *) lua_tolstring(L, 2, &key->len);

    if (key->data == NULL) {
        return NULL;
    }

    return ngx_http_cx_lua_call.r;
}


static int
ngx_http_cx_lua_cx_index(lua_State *L)
{
    ngx_str_t                key, *name;
    ngx_http_request_t      *r;
    ngx_http_cx_loc_conf_t  *lcf;

    r = ngx_http_cx_lua_index_key(L, &key);
    if (r == NULL) {
        return 0;
    }

    if (ngx_http_cx_lua_key_is(&key, "now")) {
        lua_pushnumber(L, (lua_Number) ngx_http_cx_lua_call.ctx->now);

    } else if (ngx_http_cx_lua_key_is(&key, "survey")) {
        name = &ngx_http_cx_lua_call.prompt->survey->name;
        lua_pushlstring(L, (char *) name->data, name->len);

    } else if (ngx_http_cx_lua_key_is(&key, "touchpoint")) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);
        lua_pushlstring(L, (char *) lcf->touchpoint.data, lcf->touchpoint.len);

    } else if (ngx_http_cx_lua_key_is(&key, "stage")) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_cx_module);
        lua_pushstring(L, ngx_cx_stage_name(lcf->stage));

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_visitor_index(lua_State *L)
{
    u_char                       hex[2 * NGX_CX_VISITOR_ID_LEN];
    ngx_str_t                    key;
    ngx_uint_t                   i;
    ngx_cx_visitor_t            *v;
    const ngx_cx_survey_mark_t  *last;

    if (ngx_http_cx_lua_index_key(L, &key) == NULL) {
        return 0;
    }

    v = &ngx_http_cx_lua_call.ctx->visitor.v;

    if (ngx_http_cx_lua_key_is(&key, "id")) {
        ngx_cx_hex(hex, v->id, NGX_CX_VISITOR_ID_LEN);
        lua_pushlstring(L, (char *) hex, sizeof(hex));

    } else if (ngx_http_cx_lua_key_is(&key, "visits")) {
        lua_pushnumber(L, v->visits);

    } else if (ngx_http_cx_lua_key_is(&key, "first_seen")) {
        lua_pushnumber(L, v->first_seen);

    } else if (ngx_http_cx_lua_key_is(&key, "last_prompt_at")) {
        if (v->last_display == 0) {
            return 0;
        }
        lua_pushnumber(L, v->last_display);

    } else if (ngx_http_cx_lua_key_is(&key, "last_score")) {
        /* the most recent answer's score */
        last = NULL;
        for (i = 0; i < v->nsv; i++) {
            if (v->sv[i].event == NGX_CX_MARK_ANSWERED
                && (last == NULL || v->sv[i].at > last->at))
            {
                last = &v->sv[i];
            }
        }

        if (last == NULL) {
            return 0;
        }
        lua_pushnumber(L, last->score);

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_request_index(lua_State *L)
{
    ngx_str_t            key, *route;
    ngx_http_request_t  *r;

    r = ngx_http_cx_lua_index_key(L, &key);
    if (r == NULL) {
        return 0;
    }

    if (ngx_http_cx_lua_key_is(&key, "method")) {
        lua_pushlstring(L, (char *) r->method_name.data, r->method_name.len);

    } else if (ngx_http_cx_lua_key_is(&key, "uri")) {
        route = &ngx_http_cx_lua_call.ctx->route;

        if (route->data) {      /* <endpoint>p: the application's route */
            lua_pushlstring(L, (char *) route->data, route->len);

        } else {
            lua_pushlstring(L, (char *) r->uri.data, r->uri.len);
        }

    } else if (ngx_http_cx_lua_key_is(&key, "args")) {
        if (ngx_http_cx_lua_call.ctx->route.data) {
            lua_pushliteral(L, "");     /* the route's are not sent */

        } else {
            lua_pushlstring(L, (char *) r->args.data, r->args.len);
        }

    } else {
        return 0;
    }

    return 1;
}


static int
ngx_http_cx_lua_response_index(lua_State *L)
{
    ngx_str_t            key;
    ngx_http_request_t  *r;

    r = ngx_http_cx_lua_index_key(L, &key);
    if (r == NULL) {
        return 0;
    }

    if (ngx_http_cx_lua_key_is(&key, "status")) {
        lua_pushnumber(L, r->headers_out.status);

    } else {
        return 0;
    }

    return 1;
}


/* cx.visitor.touchpoints["purchase"]: visits, from the cookie's counts */

static int
ngx_http_cx_lua_touchpoints(lua_State *L)
{
    ngx_str_t          name;
    ngx_cx_visitor_t  *v;

    if (ngx_http_cx_lua_index_key(L, &name) == NULL) {
        return 0;
    }

    v = &ngx_http_cx_lua_call.ctx->visitor.v;

    lua_pushnumber(L, ngx_cx_visitor_tp_visits(v, ngx_cx_name_id(name.data,
                                                                 name.len)));

    return 1;
}


static int
ngx_http_cx_lua_request_header(lua_State *L)
{
    ngx_str_t            name;
    ngx_http_request_t  *r;

    r = ngx_http_cx_lua_index_key(L, &name);
    if (r == NULL) {
        return 0;
    }

    ngx_http_cx_lua_push_headers(L, &r->headers_in.headers, name.data,
                                 name.len);
    return 1;
}


static int
ngx_http_cx_lua_response_header(lua_State *L)
{
    ngx_str_t            name;
    ngx_http_request_t  *r;

    r = ngx_http_cx_lua_index_key(L, &name);
    if (r == NULL) {
        return 0;
    }

    /* kept out of the list by nginx */
    if (name.len == sizeof("content-type") - 1
        && ngx_strncasecmp(name.data, (u_char *) "content-type", name.len)
           == 0)
    {
        if (r->headers_out.content_type.len == 0) {
            return 0;
        }

        lua_pushlstring(L, (char *) r->headers_out.content_type.data,
                        r->headers_out.content_type.len);
        return 1;
    }

    ngx_http_cx_lua_push_headers(L, &r->headers_out.headers, name.data,
                                 name.len);
    return 1;
}


/*
 * Every header of that name (any case), joined by ", "; nil when none.
 * The common single header is pushed as it is, without a buffer.
 */

static void
ngx_http_cx_lua_push_headers(lua_State *L, ngx_list_t *headers,
    const u_char *name, size_t len)
{
    ngx_uint_t        i, found;
    luaL_Buffer       b;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *first;

    found = 0;
    first = NULL;

    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != len
            || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
        {
            continue;
        }

        if (found == 0) {
            first = &h[i];
            found = 1;
            continue;
        }

        if (found == 1) {
            luaL_buffinit(L, &b);
            luaL_addlstring(&b, (char *) first->value.data, first->value.len);
        }

        luaL_addlstring(&b, ", ", 2);
        luaL_addlstring(&b, (char *) h[i].value.data, h[i].value.len);
        found++;
    }

    if (found == 0) {
        lua_pushnil(L);

    } else if (found == 1) {
        lua_pushlstring(L, (char *) first->value.data, first->value.len);

    } else {
        luaL_pushresult(&b);
    }
}


static int
ngx_http_cx_lua_cookie(lua_State *L)
{
    ngx_str_t            name, value;
    ngx_http_request_t  *r;

    r = ngx_http_cx_lua_index_key(L, &name);
    if (r == NULL) {
        return 0;
    }

    if (ngx_http_cx_cookie(r, &name, &value) != NGX_OK) {
        return 0;
    }

    lua_pushlstring(L, (char *) value.data, value.len);

    return 1;
}


/* cx.var("name"): an nginx variable of this request, or nil */

static int
ngx_http_cx_lua_var(lua_State *L)
{
    size_t                      len;
    u_char                     *lowcase;
    ngx_str_t                   name;
    ngx_uint_t                  key;
    const char                 *s;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t  *vv;

    r = ngx_http_cx_lua_call.r;
    s = luaL_checklstring(L, 1, &len);

    if (r == NULL || len == 0 || len > 256) {
        lua_pushnil(L);
        return 1;
    }

    lowcase = ngx_pnalloc(r->pool, len);
    if (lowcase == NULL) {
        lua_pushnil(L);
        return 1;
    }

    key = ngx_hash_strlow(lowcase, (u_char *) s, len);
    name.data = lowcase;
    name.len = len;

    vv = ngx_http_get_variable(r, &name, key);

    if (vv == NULL || vv->not_found) {
        lua_pushnil(L);
        return 1;
    }

    lua_pushlstring(L, (char *) vv->data, vv->len);

    return 1;
}
