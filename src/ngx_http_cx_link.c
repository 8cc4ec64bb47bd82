/*
 * Survey links: feedback for a touchpoint off the site (a support call, a
 * delivery), where no page of the site is open (README: Survey links).
 *
 *   GET|POST <report>link?survey=S&touchpoint=T[&stage=ST][&expires=14d]
 *            [&attr.KEY=VALUE ...]
 *       behind the report location's access rules, for a CRM or help desk:
 *       {"path": "<endpoint>s/<link>", "url": ..., "expires": ISO 8601}
 *       (cxctl link makes the same links from the store's secret)
 *
 *   GET <endpoint>s/<link>
 *       a small page of its own with the survey's prompt (the widget, in
 *       the visitor's language): counted as a visit and an offer at the
 *       link's touchpoint and stage, under the link's own visitor id.
 *
 * A link is signed (ngx_cx_link_encode: domain 0x06, the token key), so
 * it cannot be forged or altered; it names an expiry, after which its page
 * is 410 and intake refuses it; and all its pages carry one prompt id, so
 * it holds one answer (a second is 409, as for a page's token).  The
 * widget posts the link itself as its token; intake (ngx_http_cx_endpoint.c)
 * takes either.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"


#define NGX_HTTP_CX_LINK_TTL      (14 * 86400)
#define NGX_HTTP_CX_GONE          410     /* nginx names no constant for it */
#define NGX_HTTP_CX_LINK_TTL_MAX  (366 * 86400)

/* the page sends its own HTML and loads the widget from this server */
#define NGX_HTTP_CX_LINK_POLICY                                              \
    "default-src 'none'; script-src 'self'; connect-src 'self'; "            \
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "       \
    "frame-ancestors 'none'"


static ngx_int_t ngx_http_cx_link_message(ngx_http_request_t *r,
    ngx_uint_t status, const char *text);
static ngx_int_t ngx_http_cx_link_attrs(ngx_http_request_t *r,
    ngx_cx_token_t *t);


/* GET <endpoint>s/<link> */

ngx_int_t
ngx_http_cx_link_page(ngx_http_request_t *r, ngx_str_t *link)
{
    u_char                   *p;
    size_t                    len;
    uint32_t                  expires;
    ngx_uint_t                stage;
    ngx_str_t                 body, nonce, title, name;
    ngx_cx_token_t            t;
    ngx_http_cx_ctx_t        *ctx;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_main_conf_t  *cmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (!cmcf->keys_ready || !ngx_http_cx_store_usable(cmcf->store)) {
        return ngx_http_cx_link_message(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "The survey cannot be answered right now. Please try "
                   "again later.");
    }

    if (ngx_cx_link_decode(&cmcf->token_key, link->data, link->len, &t,
                           &expires)
        != 0)
    {
        return ngx_http_cx_link_message(r, NGX_HTTP_NOT_FOUND,
                                        "This survey link is not valid.");
    }

    survey = ngx_http_cx_survey_find(cmcf, (u_char *) t.survey,
                                     t.survey_len);

    if ((time_t) expires < ngx_http_cx_now(r) || survey == NULL) {
        return ngx_http_cx_link_message(r, NGX_HTTP_CX_GONE,
                                        "This survey link has expired.");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->now = ngx_http_cx_now(r);
    ctx->done = 1;
    ngx_memcpy(ctx->visitor.v.id, t.visitor, NGX_CX_VISITOR_ID_LEN);

    ngx_str_null(&nonce);

    if (ngx_http_cx_prompt_fixed(r, survey, link, 0, &nonce, ctx) != NGX_OK) {
        return ngx_http_cx_link_message(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "The survey cannot be answered right now. Please try "
                   "again later.");
    }

    /* a visit of the touchpoint and the offer, as a page's */
    if (r->method == NGX_HTTP_GET) {
        name.data = (u_char *) t.touchpoint;
        name.len = t.touchpoint_len;

        stage = ngx_http_cx_link_stage(cmcf, &t);

        ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_VISIT, &name, stage);
        ngx_http_cx_event(r, ctx, NGX_HTTP_CX_EVENT_OFFER, &survey->name,
                          stage);
    }

    title = survey->title.len ? survey->title : survey->name;

    len = sizeof("<!doctype html><html><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, "
                 "initial-scale=1\"><meta name=\"robots\" content=\"noindex\">"
                 "<title></title><style>body{margin:0;padding:2rem 1rem;"
                 "font:16px/1.5 system-ui,sans-serif;background:#f6f6f8;"
                 "color:#1d1d20}h1{font-size:1.25rem;text-align:center}"
                 "</style></head><body><main><h1></h1></main>"
                 "</body></html>\n")
          + 2 * ngx_escape_html(NULL, title.data, title.len) + 2 * title.len
          + ctx->snippet.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = p;

    p = ngx_cpymem(p, "<!doctype html><html><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, "
                   "initial-scale=1\"><meta name=\"robots\" "
                   "content=\"noindex\"><title>",
                   sizeof("<!doctype html><html><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-"
                          "width, initial-scale=1\"><meta name=\"robots\" "
                          "content=\"noindex\"><title>") - 1);
    p = (u_char *) ngx_escape_html(p, title.data, title.len);
    p = ngx_cpymem(p, "</title><style>body{margin:0;padding:2rem 1rem;"
                   "font:16px/1.5 system-ui,sans-serif;background:#f6f6f8;"
                   "color:#1d1d20}h1{font-size:1.25rem;text-align:center}"
                   "</style></head><body><main><h1>",
                   sizeof("</title><style>body{margin:0;padding:2rem 1rem;"
                          "font:16px/1.5 system-ui,sans-serif;background:"
                          "#f6f6f8;color:#1d1d20}h1{font-size:1.25rem;"
                          "text-align:center}</style></head><body><main><h1>")
                   - 1);
    p = (u_char *) ngx_escape_html(p, title.data, title.len);
    p = ngx_cpymem(p, "</h1></main>", sizeof("</h1></main>") - 1);
    p = ngx_cpymem(p, ctx->snippet.data, ctx->snippet.len);
    p = ngx_cpymem(p, "</body></html>\n", sizeof("</body></html>\n") - 1);

    body.len = p - body.data;

    return ngx_http_cx_send_page(r, NGX_HTTP_CX_LINK_POLICY, &body);
}


/*
 * A link's stage: its own, else that of a location's cx_touchpoint of the
 * same name (cxctl link does not read nginx.conf), else none.
 */

ngx_uint_t
ngx_http_cx_link_stage(ngx_http_cx_main_conf_t *cmcf, ngx_cx_token_t *t)
{
    ngx_uint_t                 i;
    ngx_http_cx_touchpoint_t  *tp;

    if (t->stage) {
        return t->stage;
    }

    tp = cmcf->touchpoints.elts;

    for (i = 0; i < cmcf->touchpoints.nelts; i++) {
        if (tp[i].name.len == t->touchpoint_len
            && ngx_strncmp(tp[i].name.data, t->touchpoint,
                           t->touchpoint_len) == 0)
        {
            return tp[i].stage;
        }
    }

    return 0;
}


/* A short page of its own for a link that cannot be answered. */

static ngx_int_t
ngx_http_cx_link_message(ngx_http_request_t *r, ngx_uint_t status,
    const char *text)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   body;

    len = sizeof("<!doctype html><html><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, "
                 "initial-scale=1\"><title>Survey</title></head><body>"
                 "<p></p></body></html>\n")
          + ngx_strlen(text);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = p;
    body.len = ngx_sprintf(p, "<!doctype html><html><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-"
                           "width, initial-scale=1\"><title>Survey</title>"
                           "</head><body><p>%s</p></body></html>\n", text)
               - p;

    r->headers_out.status = status;

    return ngx_http_cx_send_page(r, NGX_HTTP_CX_LINK_POLICY, &body);
}


/* <report>link: a new link, as JSON */

ngx_int_t
ngx_http_cx_link_issue(ngx_http_request_t *r)
{
    u_char                   *p;
    size_t                    n, len;
    time_t                    ttl, now;
    ngx_str_t                 arg, touchpoint, host;
    ngx_cx_token_t            t;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_srv_conf_t   *cscf;
    ngx_http_cx_main_conf_t  *cmcf;
    char                      expires[NGX_CX_ISO8601_SIZE];
    u_char                    link[NGX_CX_LINK_MAX];

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    cscf = ngx_http_get_module_srv_conf(r, ngx_http_cx_module);

    if (cscf->endpoint.len == 0) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "this server has no cx_endpoint");
    }

    if (!cmcf->keys_ready) {
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "no secret yet");
    }

    ngx_memzero(&t, sizeof(ngx_cx_token_t));

    if (ngx_http_arg(r, (u_char *) "survey", sizeof("survey") - 1, &arg)
        != NGX_OK
        || (survey = ngx_http_cx_survey_find(cmcf, arg.data, arg.len))
           == NULL)
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "survey= must name a cx_survey");
    }

    t.survey_len = (u_char) survey->name.len;
    ngx_memcpy(t.survey, survey->name.data, survey->name.len);

    if (ngx_http_arg(r, (u_char *) "touchpoint", sizeof("touchpoint") - 1,
                     &touchpoint)
        != NGX_OK
        || !ngx_cx_name_valid(touchpoint.data, touchpoint.len))
    {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "touchpoint= must be a name of 1 to 64 "
                                      "letters, digits, \"_\", \"-\" or "
                                      "\".\"");
    }

    t.touchpoint_len = (u_char) touchpoint.len;
    ngx_memcpy(t.touchpoint, touchpoint.data, touchpoint.len);

    /* stage=, else the stage of a location's cx_touchpoint of that name */
    if (ngx_http_arg(r, (u_char *) "stage", sizeof("stage") - 1, &arg)
        == NGX_OK)
    {
        t.stage = (u_char) ngx_cx_stage_from_name((char *) arg.data, arg.len);

        if (t.stage == 0) {
            return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "stage= must be awareness, "
                                          "consideration, purchase, usage, "
                                          "loyalty or advocacy");
        }

    } else {
        t.stage = (u_char) ngx_http_cx_link_stage(cmcf, &t);
    }

    ttl = NGX_HTTP_CX_LINK_TTL;

    if (ngx_http_arg(r, (u_char *) "expires", sizeof("expires") - 1, &arg)
        == NGX_OK)
    {
        ttl = ngx_parse_time(&arg, 1);

        if (ttl == (time_t) NGX_ERROR || ttl <= 0
            || ttl > NGX_HTTP_CX_LINK_TTL_MAX)
        {
            return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "expires= must be a time from 1s "
                                          "to 366d, e.g. 14d");
        }
    }

    if (ngx_http_cx_link_attrs(r, &t) != NGX_OK) {
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "attr.KEY=VALUE: keys of 1 to 64 "
                                      "letters, digits or \"_\", values of "
                                      "printable UTF-8, 256 bytes in all");
    }

    now = ngx_http_cx_now(r);
    t.issued_at = (uint32_t) now;

    if (ngx_http_cx_random(t.visitor, sizeof(t.visitor)) != NGX_OK
        || ngx_http_cx_random(t.nonce, sizeof(t.nonce)) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_cx_link_encode(link, sizeof(link), &cmcf->token_key, &t,
                           (uint32_t) (now + ttl));
    if (n == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_cx_iso8601(expires, (uint64_t) (now + ttl) * 1000);

    len = sizeof("{\"path\":\"s/\",\"url\":\"https://s/\",\"expires\":\"\"}\n")
          + 2 * (cscf->endpoint.len + n)
          + (r->headers_in.host ? r->headers_in.host->value.len
                                : r->headers_in.server.len)
          + sizeof(expires);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the host as the client named it (a CRM may prefer its own origin) */
    host = r->headers_in.host ? r->headers_in.host->value
                              : r->headers_in.server;

    arg.data = p;
    arg.len = ngx_sprintf(p, "{\"path\":\"%Vs/%*s\",\"url\":\"%s://%V%Vs/%*s\","
                          "\"expires\":\"%s\"}\n",
                          &cscf->endpoint, n, link,
#if (NGX_HTTP_SSL)
                          r->connection->ssl ? "https" : "http",
#else
                          "http",
#endif
                          &host, &cscf->endpoint, n, link,
                          expires)
              - p;

    return ngx_http_cx_send_json(r, NGX_HTTP_OK, &arg);
}


/*
 * attr.KEY=VALUE arguments into the token's attrs blob, in order: keys of
 * [A-Za-z0-9_], values decoded, printable (no control bytes).
 */

static ngx_int_t
ngx_http_cx_link_attrs(ngx_http_request_t *r, ngx_cx_token_t *t)
{
    u_char  *p, *last, *key, *eq, *amp, *dst, *src, *v;
    size_t   klen, vlen, k, w;
    u_char   val[NGX_CX_ATTRS_MAX];

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if (amp - p > 5 && ngx_strncmp(p, "attr.", 5) == 0) {
            key = p + 5;
            eq = ngx_strlchr(key, amp, '=');
            if (eq == NULL) {
                return NGX_DECLINED;
            }

            klen = eq - key;
            if (klen == 0 || klen > NGX_CX_NAME_MAX) {
                return NGX_DECLINED;
            }

            for (k = 0; k < klen; k++) {
                if (!(ngx_http_cx_isalnum(key[k]) || key[k] == '_')) {
                    return NGX_DECLINED;
                }
            }

            vlen = amp - eq - 1;
            if (vlen > sizeof(val)) {
                return NGX_DECLINED;
            }

            dst = val;
            src = eq + 1;
            ngx_unescape_uri(&dst, &src, vlen, 0);
            vlen = dst - val;

            for (v = val; v < val + vlen; v++) {
                if (*v < 0x20 || *v == 0x7f) {
                    return NGX_DECLINED;
                }
            }

            if (!ngx_cx_utf8_valid(val, vlen, NULL)) {
                return NGX_DECLINED;
            }

            w = ngx_cx_attrs_put(t->attrs + t->attrs_len,
                                 NGX_CX_ATTRS_MAX - t->attrs_len,
                                 (char *) key, klen, (char *) val, vlen);
            if (w == 0) {
                return NGX_DECLINED;
            }

            t->attrs_len += w;
        }

        p = amp + 1;
    }

    return NGX_OK;
}
