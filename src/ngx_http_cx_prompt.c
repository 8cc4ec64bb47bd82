/*
 * Deciding a prompt for one response, and building what the page gets:
 *
 *   <script type="application/json" id="cx-prompt" nonce="N">{...}</script>
 *   <script src="/cx/w.js" async nonce="N"></script>
 *
 * Everything that does not depend on the visitor was rendered at
 * configuration time (ngx_http_cx_survey.c); here we only pick, sign and
 * copy.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_store.h"
#include "ngx_http_cx_lua.h"


#define NGX_HTTP_CX_OPEN  "<script type=\"application/json\" id=\"cx-prompt\""


static ngx_uint_t ngx_http_cx_sample_bucket(ngx_http_cx_main_conf_t *cmcf,
    u_char *visitor, ngx_str_t *survey);
static u_char *ngx_http_cx_nonce_attr(u_char *p, ngx_str_t *nonce);
static ngx_int_t ngx_http_cx_snippet_tail(ngx_pool_t *pool,
    ngx_http_cx_prompt_t *prompt, ngx_http_cx_survey_t *survey,
    ngx_http_cx_rendering_t *rd, ngx_str_t *tail);
static ngx_int_t ngx_http_cx_prompt_passes(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_prompt_t *prompt);
static ngx_int_t ngx_http_cx_recontact_ok(ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_survey_t *survey, uint32_t survey_id);


/*
 * The snippet around the token, once per prompt and language:
 *   head  {"v":1,"endpoint":"/cx/","token":"
 *   tail  ","survey":...,"delay":3000,<texts>}</script><script src="/cx/w.js" async
 * Endpoint and survey names are restricted to characters that need no
 * escaping (checked where they are configured).
 */

ngx_int_t
ngx_http_cx_prompt_prepare(ngx_conf_t *cf, ngx_http_cx_prompt_t *prompt)
{
    size_t                    len;
    ngx_uint_t                i, n;
    ngx_str_t                *endpoint;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_snippet_t    *parts;
    ngx_http_cx_rendering_t  *rd;

    survey = prompt->survey;
    endpoint = &prompt->srv->endpoint;
    rd = survey->renderings.elts;
    n = survey->renderings.nelts;

    parts = ngx_pcalloc(cf->pool, n * sizeof(ngx_http_cx_snippet_t));
    if (parts == NULL) {
        return NGX_ERROR;
    }

    prompt->parts = parts;

    len = sizeof("{\"v\":1,\"endpoint\":\"\",\"token\":\"") + endpoint->len;

    parts[0].head.data = ngx_pnalloc(cf->pool, len);
    if (parts[0].head.data == NULL) {
        return NGX_ERROR;
    }

    parts[0].head.len = ngx_sprintf(parts[0].head.data,
                                    "{\"v\":1,\"endpoint\":\"%V\",\"token\":\"",
                                    endpoint)
                        - parts[0].head.data;

    for (i = 0; i < n; i++) {
        parts[i].head = parts[0].head;

        if (ngx_http_cx_snippet_tail(cf->pool, prompt, survey, &rd[i],
                                     &parts[i].tail)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* The part after the token, for a survey in one of its languages. */

static ngx_int_t
ngx_http_cx_snippet_tail(ngx_pool_t *pool, ngx_http_cx_prompt_t *prompt,
    ngx_http_cx_survey_t *survey, ngx_http_cx_rendering_t *rd,
    ngx_str_t *tail)
{
    u_char     *p;
    size_t      len;
    ngx_str_t  *endpoint;

    endpoint = &prompt->srv->endpoint;

    len = sizeof("\",\"survey\":\"\",\"type\":\"csat\",\"delay\":,"
                 "}</script><script src=\"w.js\" async")
          + survey->name.len + NGX_INT_T_LEN + rd->json.len + endpoint->len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tail->data = p;

    p = ngx_sprintf(p, "\",\"survey\":\"%V\",\"type\":\"%s\",\"delay\":%M,",
                    &survey->name, ngx_cx_type_name(survey->type),
                    prompt->delay);
    p = ngx_cpymem(p, rd->json.data, rd->json.len);
    p = ngx_sprintf(p, "}</script><script src=\"%Vw.js\" async", endpoint);

    tail->len = p - tail->data;

    return NGX_OK;
}


static u_char *
ngx_http_cx_nonce_attr(u_char *p, ngx_str_t *nonce)
{
    if (nonce->len == 0) {
        return p;
    }

    p = ngx_cpymem(p, " nonce=\"", sizeof(" nonce=\"") - 1);
    p = ngx_cpymem(p, nonce->data, nonce->len);
    *p++ = '"';

    return p;
}


ngx_int_t
ngx_http_cx_prompt_decide(ngx_http_request_t *r, ngx_http_cx_loc_conf_t *lcf,
    ngx_str_t *nonce, ngx_http_cx_ctx_t *ctx)
{
    u_char                   *p, *q;
    size_t                    len, n;
    ngx_str_t                 path;
    ngx_uint_t                i;
    ngx_cx_token_t            token;
    ngx_cx_visitor_t         *v;
    ngx_http_cx_prompt_t     *prompt, **prompts;
    ngx_http_cx_survey_t     *survey;
    ngx_http_cx_rendering_t  *rd;
    ngx_http_cx_main_conf_t  *cmcf;
    ngx_http_cx_snippet_t    *parts, other;
    u_char                    tok[NGX_CX_TOKEN_MAX];

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    v = &ctx->visitor.v;

    /* no second prompt of any survey within the quiet period */
    if (cmcf->quiet_period && v->last_display
        && ctx->now - (time_t) v->last_display < cmcf->quiet_period)
    {
        return NGX_DECLINED;
    }

    prompt = NULL;
    prompts = lcf->prompts->elts;

    for (i = 0; i < lcf->prompts->nelts; i++) {
        if (ngx_http_cx_prompt_passes(r, lcf, ctx, prompts[i])) {
            prompt = prompts[i];
            break;
        }
    }

    if (prompt == NULL) {
        return NGX_DECLINED;
    }

    survey = ctx->survey;
    rd = ngx_http_cx_survey_pick(r, survey);

    ngx_memzero(&token, sizeof(ngx_cx_token_t));

    token.issued_at = (uint32_t) ctx->now;
    ngx_memcpy(token.visitor, v->id, NGX_CX_VISITOR_ID_LEN);

    if (ngx_http_cx_random(token.nonce, sizeof(token.nonce)) != NGX_OK) {
        return NGX_DECLINED;
    }

    token.stage = (unsigned char) lcf->stage;
    token.survey_len = (unsigned char) survey->name.len;
    ngx_memcpy(token.survey, survey->name.data, survey->name.len);
    token.touchpoint_len = (unsigned char) lcf->touchpoint.len;
    ngx_memcpy(token.touchpoint, lcf->touchpoint.data, lcf->touchpoint.len);
    token.lang_len = (unsigned char) rd->lang.len;
    ngx_memcpy(token.lang, rd->lang.data, rd->lang.len);

    /*
     * The path the visitor asked for (not the one after internal
     * redirects), never the query string: it may hold personal data.
     */
    path = r->unparsed_uri;
    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q) {
        path.len = q - path.data;
    }

    token.path_len = (uint16_t) ngx_min(path.len, NGX_CX_PATH_MAX);
    ngx_memcpy(token.path, path.data, token.path_len);

    /* hidden fields travel encrypted in the token, to any node */
    token.attrs_len = (uint16_t) ngx_min(ctx->attrs_len, NGX_CX_ATTRS_MAX);
    ngx_memcpy(token.attrs, ctx->attrs, token.attrs_len);

    n = ngx_cx_token_encode(tok, sizeof(tok), &cmcf->token_key, &token);
    if (n == 0) {
        return NGX_DECLINED;
    }

    if (survey == prompt->survey) {
        parts = &prompt->parts[rd - (ngx_http_cx_rendering_t *)
                                    survey->renderings.elts];

    } else {
        /* a hook chose another survey: its tail is made now */
        parts = &other;
        other.head = prompt->parts[0].head;

        if (ngx_http_cx_snippet_tail(r->pool, prompt, survey, rd,
                                     &other.tail)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    len = sizeof(NGX_HTTP_CX_OPEN ">" "></script>") - 1
          + 2 * (sizeof(" nonce=\"\"") - 1 + nonce->len)
          + parts->head.len + n + parts->tail.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->snippet.data = p;

    p = ngx_cpymem(p, NGX_HTTP_CX_OPEN, sizeof(NGX_HTTP_CX_OPEN) - 1);
    p = ngx_http_cx_nonce_attr(p, nonce);
    *p++ = '>';
    p = ngx_cpymem(p, parts->head.data, parts->head.len);
    p = ngx_cpymem(p, tok, n);
    p = ngx_cpymem(p, parts->tail.data, parts->tail.len);
    p = ngx_http_cx_nonce_attr(p, nonce);
    p = ngx_cpymem(p, "></script>", sizeof("></script>") - 1);

    ctx->snippet.len = p - ctx->snippet.data;
    ctx->prompt = prompt;

    return NGX_OK;
}


/* The conditions of one cx_prompt line, cheapest first. */

static ngx_int_t
ngx_http_cx_prompt_passes(ngx_http_request_t *r, ngx_http_cx_loc_conf_t *lcf,
    ngx_http_cx_ctx_t *ctx, ngx_http_cx_prompt_t *prompt)
{
    uint32_t                    *after;
    ngx_str_t                    value;
    ngx_uint_t                   i;
    ngx_cx_visitor_t            *v;
    ngx_http_cx_main_conf_t     *cmcf;
    ngx_http_cx_hook_result_t    res;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    v = &ctx->visitor.v;

    if (v->visits < prompt->min_visits) {
        return 0;
    }

    if (prompt->after) {
        after = prompt->after->elts;
        for (i = 0; i < prompt->after->nelts; i++) {
            if (ngx_cx_visitor_tp_visits(v, after[i]) == 0) {
                return 0;
            }
        }
    }

    if (!ngx_http_cx_recontact_ok(ctx, prompt->survey, prompt->survey_id)) {
        return 0;
    }

    if (prompt->sample < 10000
        && ngx_http_cx_sample_bucket(cmcf, v->id, &prompt->survey_name)
           >= prompt->sample)
    {
        return 0;
    }

    if (prompt->cond) {
        if (ngx_http_complex_value(r, prompt->cond, &value) != NGX_OK) {
            return 0;
        }

        if (value.len == 0 || (value.len == 1 && value.data[0] == '0')) {
            return 0;
        }
    }

    ctx->survey = prompt->survey;

    if (lcf->hook == NULL) {
        return 1;
    }

    /* the hook runs last: it is the most expensive condition */
    if (ngx_http_cx_lua_target(r, ctx, lcf->hook, prompt, &res) != NGX_OK
        || res.survey == NULL)
    {
        return 0;
    }

    if (res.survey != prompt->survey
        && !ngx_http_cx_recontact_ok(ctx, res.survey,
                                     ngx_cx_name_id(res.survey->name.data,
                                                    res.survey->name.len)))
    {
        return 0;
    }

    ctx->survey = res.survey;

    if (res.attrs_len) {
        ctx->attrs = ngx_pnalloc(r->pool, res.attrs_len);
        if (ctx->attrs == NULL) {
            return 0;
        }

        ngx_memcpy(ctx->attrs, res.attrs, res.attrs_len);
        ctx->attrs_len = res.attrs_len;
    }

    return 1;
}


/* recontact only "every" after an answer or a dismissal */

static ngx_int_t
ngx_http_cx_recontact_ok(ngx_http_cx_ctx_t *ctx, ngx_http_cx_survey_t *survey,
    uint32_t survey_id)
{
    const ngx_cx_survey_mark_t  *mark;

    mark = ngx_cx_visitor_mark_get(&ctx->visitor.v, survey_id);

    return mark == NULL || ctx->now - (time_t) mark->at >= survey->every;
}


/* A journey event, queued for the store; never fails the page. */

void
ngx_http_cx_event(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *name, ngx_uint_t stage)
{
    ngx_http_cx_event_t       ev;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (cmcf->store == NULL) {
        return;
    }

    ev.at_ms = (uint64_t) ctx->now * 1000;
    ngx_memcpy(ev.visitor, ctx->visitor.v.id, NGX_CX_VISITOR_ID_LEN);
    ev.kind = (u_char) kind;
    ev.stage = (u_char) stage;
    ev.name_len = (u_char) ngx_min(name->len, NGX_CX_NAME_MAX);
    ngx_memcpy(ev.name, name->data, ev.name_len);

    ngx_http_cx_store_event(cmcf->store, &ev);
}


/*
 * A visitor's bucket 0..9999 for a survey: the same on every page and
 * every node that shares the secret, independent between surveys.
 */

static ngx_uint_t
ngx_http_cx_sample_bucket(ngx_http_cx_main_conf_t *cmcf, u_char *visitor,
    ngx_str_t *survey)
{
    u_char  *p;
    u_char   buf[4 + NGX_CX_VISITOR_ID_LEN + NGX_CX_NAME_MAX];

    p = buf;
    *p++ = (u_char) (cmcf->sample_seed >> 24);
    *p++ = (u_char) (cmcf->sample_seed >> 16);
    *p++ = (u_char) (cmcf->sample_seed >> 8);
    *p++ = (u_char) cmcf->sample_seed;
    p = ngx_cpymem(p, visitor, NGX_CX_VISITOR_ID_LEN);
    p = ngx_cpymem(p, survey->data, ngx_min(survey->len, NGX_CX_NAME_MAX));

    return ngx_murmur_hash2(buf, p - buf) % 10000;
}
