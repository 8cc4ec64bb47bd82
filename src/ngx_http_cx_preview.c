/*
 * Preview: a marketer sees a survey on any page of the site before it goes
 * live, without being sampled, counted or stored (README: Preview).
 *
 *   GET <report>preview?survey=S&page=/path
 *       behind the report location's access rules: sets the preview
 *       cookie (an expiry signed with the token key, domain
 *       NGX_CX_DOMAIN_PREVIEW, an hour) and redirects to
 *       /path?cx_preview=S
 *
 *   GET /path?cx_preview=S   with that cookie: the page gets survey S's
 *       prompt at once, marked "preview": the widget shows the whole
 *       exchange and posts nothing.  No visit, offer, draw or cookie of
 *       the visitor; the page is private, as every prompted page.  Without
 *       a valid cookie, or for an unknown survey, cx_preview= is ignored.
 *
 * Any page: the location need not have cx_prompt or cx_touchpoint, only
 * the usual eligibility (HTML, 200, a CSP that lets the widget run) and a
 * cx_endpoint in its server.
 */

#include "ngx_http_cx.h"


#define NGX_HTTP_CX_PREVIEW_TTL  3600


static ngx_str_t  ngx_http_cx_preview_cookie = ngx_string("cx_preview");


static ngx_int_t ngx_http_cx_preview_page(ngx_http_request_t *r,
    ngx_str_t *page);


/* <report>preview: the cookie, then the page */

ngx_int_t
ngx_http_cx_preview_issue(ngx_http_request_t *r)
{
    u_char                   *p, *location;
    size_t                    n, len;
    ngx_str_t                 name, page;
    ngx_table_elt_t          *h;
    ngx_http_cx_main_conf_t  *cmcf;
    u_char                    payload[4];
    u_char                    blob[NGX_CX_SIGNED_LEN(4)];
    uint32_t                  expires;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (ngx_http_arg(r, (u_char *) "survey", sizeof("survey") - 1, &name)
        != NGX_OK
        || ngx_http_cx_survey_find(cmcf, name.data, name.len) == NULL)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "survey= must name a cx_survey");
    }

    if (ngx_http_cx_preview_page(r, &page) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "page= must be a path of this site, "
                                      "from \"/\"");
    }

    if (!cmcf->keys_ready) {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "no secret yet");
    }

    expires = (uint32_t) (ngx_time() + NGX_HTTP_CX_PREVIEW_TTL);
    payload[0] = (u_char) (expires >> 24);
    payload[1] = (u_char) (expires >> 16);
    payload[2] = (u_char) (expires >> 8);
    payload[3] = (u_char) expires;

    n = ngx_cx_signed_encode(blob, sizeof(blob), &cmcf->token_key,
                             NGX_CX_DOMAIN_PREVIEW, payload, sizeof(payload));
    if (n == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* HttpOnly, Lax: sent with the navigation to the page, to no script */
    len = sizeof("cx_preview=; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
                 "; Secure") + n;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_sprintf(p, "cx_preview=%*s; Max-Age=%d; Path=/; HttpOnly; "
                      "SameSite=Lax%s", n, blob, NGX_HTTP_CX_PREVIEW_TTL,
                      cmcf->cookie_secure ? "; Secure" : "")
          - p;

    if (ngx_http_cx_header_add(r, "Set-Cookie", p, len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the page's own query stays; the survey name is of [a-z0-9_-] */
    len = page.len + sizeof("&cx_preview=") - 1 + name.len;

    location = ngx_pnalloc(r->pool, len);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(location, page.data, page.len);
    *p++ = ngx_strlchr(page.data, page.data + page.len, '?') ? '&' : '?';
    p = ngx_cpymem(p, "cx_preview=", sizeof("cx_preview=") - 1);
    p = ngx_cpymem(p, name.data, name.len);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value.data = location;
    h->value.len = p - location;
    r->headers_out.location = h;

    if (ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_SEE_OTHER;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* page=: a path of this site (not "//host", no control bytes, no "#") */

static ngx_int_t
ngx_http_cx_preview_page(ngx_http_request_t *r, ngx_str_t *page)
{
    u_char     *dst, *src, *p;
    ngx_str_t   arg;

    if (ngx_http_arg(r, (u_char *) "page", sizeof("page") - 1, &arg)
        != NGX_OK || arg.len == 0)
    {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    page->data = dst;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    page->len = dst - page->data;

    if (page->len == 0 || page->data[0] != '/'
        || (page->len > 1 && (page->data[1] == '/' || page->data[1] == '\\')))
    {
        return NGX_DECLINED;
    }

    for (p = page->data; p < page->data + page->len; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '#' || *p == '\\') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * The survey a response previews, or NULL: cx_preview=S in the query, S a
 * cx_survey, and a preview cookie that is genuine and not expired.
 */

ngx_http_cx_survey_t *
ngx_http_cx_preview_survey(ngx_http_request_t *r)
{
    u_char                    payload[4];
    size_t                    n;
    uint32_t                  expires;
    ngx_str_t                 name, cookie;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_main_conf_t  *cmcf;

    if (r->args.len == 0
        || ngx_strlcasestrn(r->args.data, r->args.data + r->args.len,
                            (u_char *) "cx_preview=",
                            sizeof("cx_preview=") - 2)
           == NULL
        || ngx_http_arg(r, (u_char *) "cx_preview", sizeof("cx_preview") - 1,
                        &name)
           != NGX_OK)
    {
        return NULL;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    survey = ngx_http_cx_survey_find(cmcf, name.data, name.len);

    if (survey == NULL || !cmcf->keys_ready
        || ngx_http_cx_cookie(r, &ngx_http_cx_preview_cookie, &cookie)
           != NGX_OK
        || ngx_cx_signed_decode(&cmcf->token_key, NGX_CX_DOMAIN_PREVIEW,
                                cookie.data, cookie.len, payload,
                                sizeof(payload), &n)
           != 0
        || n != sizeof(payload))
    {
        return NULL;
    }

    expires = (uint32_t) payload[0] << 24 | (uint32_t) payload[1] << 16
              | (uint32_t) payload[2] << 8 | payload[3];

    if ((time_t) expires < ngx_time()) {
        return NULL;
    }

    return survey;
}


/*
 * The header filter's part for a preview: the prompt goes into an
 * eligible page; nothing of the visitor is read or written.
 */

ngx_int_t
ngx_http_cx_preview_prepare(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_http_cx_survey_t *survey)
{
    u_char              *p;
    ngx_str_t            nonce, token;
    ngx_http_cx_ctx_t   *ctx;
    u_char               rnd[8];

    if (ngx_http_cx_response_eligible(r, lcf, &nonce) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* a token of its own each time: the widget remembers answered ones */
    if (ngx_http_cx_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    token.data = ngx_pnalloc(r->pool, sizeof("preview.") - 1 + 16);
    if (token.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(token.data, "preview.", sizeof("preview.") - 1);
    p = ngx_hex_dump(p, rnd, sizeof(rnd));
    token.len = p - token.data;

    ctx->now = ngx_time();
    ctx->preview = 1;

    if (ngx_http_cx_prompt_fixed(r, survey, &token, 1, &nonce, ctx)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ctx->inject = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_cx_module);

    ngx_http_cx_response_prepare(r);
    ngx_cx_scan_init(&ctx->scan);

    return ngx_http_cx_response_private(r);
}
