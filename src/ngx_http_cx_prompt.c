/*
 * Targeting: the cx_touchpoint and cx_prompt directives, the prompts'
 * resolution at postconfiguration (survey, endpoint, snippet parts); then,
 * per response, deciding a prompt and building what the page gets:
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


static ngx_int_t ngx_http_cx_prompt_check_after(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf, ngx_http_cx_prompt_t *prompt);
static ngx_int_t ngx_http_cx_prompt_after(ngx_conf_t *cf,
    ngx_http_cx_prompt_t *prompt, ngx_str_t *value);
static ngx_int_t ngx_http_cx_parse_percent(ngx_str_t *value,
    ngx_uint_t *per10000);
static ngx_int_t ngx_http_cx_prompt_prepare(ngx_conf_t *cf,
    ngx_http_cx_prompt_t *prompt);
static ngx_uint_t ngx_http_cx_sample_bucket(ngx_http_cx_main_conf_t *cmcf,
    u_char *visitor, ngx_str_t *survey);
static u_char *ngx_http_cx_nonce_attr(u_char *p, ngx_str_t *nonce);
static ngx_int_t ngx_http_cx_prompt_build(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_http_cx_snippet_t *parts, u_char *tok,
    size_t n, ngx_str_t *endpoint, ngx_str_t *nonce);
static ngx_int_t ngx_http_cx_prompt_json(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_http_cx_snippet_t *parts, u_char *tok,
    size_t n, ngx_str_t *endpoint);
static ngx_int_t ngx_http_cx_snippet_tail(ngx_pool_t *pool,
    ngx_http_cx_prompt_t *prompt, ngx_http_cx_survey_t *survey,
    ngx_http_cx_rendering_t *rd, ngx_str_t *tail);
static ngx_int_t ngx_http_cx_prompt_passes(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_prompt_t *prompt);
static ngx_int_t ngx_http_cx_recontact_ok(ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_survey_t *survey, uint32_t survey_id);


/* cx_touchpoint NAME [stage=STAGE]: responses here are visits */

char *
ngx_http_cx_touchpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    ngx_str_t                *value, s;
    ngx_http_cx_touchpoint_t *tp;
    ngx_http_cx_srv_conf_t   *cscf;
    ngx_http_cx_loc_conf_t  **lcfp;
    ngx_http_cx_main_conf_t  *cmcf;

    if (lcf->touchpoint.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_cx_conf_name(cf, "cx_touchpoint", &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lcf->touchpoint = value[1];
    lcf->touchpoint_id = ngx_cx_name_id(value[1].data, value[1].len);
    lcf->stage = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "stage=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_touchpoint: unknown parameter \"%V\", "
                               "expected \"stage=\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        lcf->stage = ngx_cx_stage_from_name((char *) s.data, s.len);

        if (lcf->stage == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_touchpoint: unknown stage \"%V\"; the "
                               "stages are awareness, consideration, "
                               "purchase, usage, loyalty and advocacy", &s);
            return NGX_CONF_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    tp = ngx_array_push(&cmcf->touchpoints);
    if (tp == NULL) {
        return NGX_CONF_ERROR;
    }

    tp->name = value[1];
    tp->id = lcf->touchpoint_id;
    tp->stage = lcf->stage;

    /* <endpoint>p finds the touchpoint's location in its server */
    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_cx_module);

    if (cscf->touchpoints == NULL) {
        cscf->touchpoints = ngx_array_create(cf->pool, 4,
                                             sizeof(ngx_http_cx_loc_conf_t *));
        if (cscf->touchpoints == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    lcfp = ngx_array_push(cscf->touchpoints);
    if (lcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *lcfp = lcf;

    return NGX_CONF_OK;
}


/*
 * trigger=exit, scroll:N% or idle:TIME: when, after the delay, the widget
 * shows (src/widget/w.js): the pointer leaving the page by the top, N% of
 * the page scrolled, TIME without input.
 */

static ngx_int_t
ngx_http_cx_prompt_trigger(ngx_http_cx_prompt_t *prompt, ngx_str_t *s)
{
    ngx_int_t   n;
    ngx_str_t   t;
    ngx_msec_t  ms;

    if (s->len == 4 && ngx_strncmp(s->data, "exit", 4) == 0) {
        prompt->trigger = NGX_HTTP_CX_TRIGGER_EXIT;
        return NGX_OK;
    }

    if (s->len > 8 && ngx_strncmp(s->data, "scroll:", 7) == 0
        && s->data[s->len - 1] == '%')
    {
        n = ngx_atoi(s->data + 7, s->len - 8);
        if (n < 1 || n > 100) {
            return NGX_ERROR;
        }

        prompt->trigger = NGX_HTTP_CX_TRIGGER_SCROLL;
        prompt->trigger_at = n;
        return NGX_OK;
    }

    if (s->len > 5 && ngx_strncmp(s->data, "idle:", 5) == 0) {
        t.data = s->data + 5;
        t.len = s->len - 5;

        /* "20" would be 20 ms: a number alone is refused, as for delay= */
        if (ngx_http_cx_isdigit(t.data[t.len - 1])) {
            return NGX_ERROR;
        }

        ms = ngx_parse_time(&t, 0);
        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 600000) {
            return NGX_ERROR;
        }

        prompt->trigger = NGX_HTTP_CX_TRIGGER_IDLE;
        prompt->trigger_at = ms;
        return NGX_OK;
    }

    return NGX_ERROR;
}


/*
 * cx_prompt SURVEY [sample=] [delay=] [trigger=] [after=] [min_visits=]
 * [if=]: offer
 * the survey here.  Surveys and endpoints may be declared later: they are
 * resolved by ngx_http_cx_prompt_postconfiguration().
 */

static ngx_int_t ngx_http_cx_prompt_trigger(ngx_http_cx_prompt_t *prompt,
    ngx_str_t *s);


char *
ngx_http_cx_prompt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_loc_conf_t *lcf = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value, s;
    ngx_uint_t                         i;
    ngx_msec_t                         delay;
    ngx_http_cx_prompt_t              *prompt, **pp;
    ngx_http_cx_main_conf_t           *cmcf;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    /* pointers: the prompt is also listed in the main conf, to check */
    if (lcf->prompts == NGX_CONF_UNSET_PTR) {
        lcf->prompts = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_cx_prompt_t *));
        if (lcf->prompts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    prompt = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_prompt_t));
    pp = ngx_array_push(lcf->prompts);
    if (prompt == NULL || pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = prompt;

    prompt->survey_name = value[1];
    prompt->sample = 10000;
    prompt->file = cf->conf_file->file.name.data;
    prompt->line = cf->conf_file->line;
    prompt->srv = ngx_http_conf_get_module_srv_conf(cf, ngx_http_cx_module);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "sample=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            if (ngx_http_cx_parse_percent(&s, &prompt->sample) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: sample \"%V\" is not a "
                                   "percentage from 0%% to 100%% such as "
                                   "\"25%%\" or \"2.5%%\"", &s);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "delay=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            /* "3000" would be 50 minutes: a number alone is refused */
            if (s.len && ngx_http_cx_isdigit(s.data[s.len - 1])
                && !(s.len == 1 && s.data[0] == '0'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: delay \"%V\" needs a unit, "
                                   "such as \"3s\" or \"500ms\"", &s);
                return NGX_CONF_ERROR;
            }

            /* nobody reads a page for longer before being asked */
            delay = ngx_parse_time(&s, 0);
            if (delay == (ngx_msec_t) NGX_ERROR || delay > 600000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: delay \"%V\" is not a "
                                   "duration up to 10m such as \"3s\" or "
                                   "\"500ms\"", &s);
                return NGX_CONF_ERROR;
            }
            prompt->delay = delay;
            continue;
        }

        if (ngx_strncmp(value[i].data, "trigger=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            if (ngx_http_cx_prompt_trigger(prompt, &s) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: trigger \"%V\" is not exit, "
                                   "scroll:N%% (N from 1 to 100) or "
                                   "idle:TIME (with a unit, up to 10m, such "
                                   "as \"idle:20s\")", &s);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "after=", 6) == 0) {
            if (ngx_http_cx_prompt_after(cf, prompt, &value[i]) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_visits=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);
            if (n == NGX_ERROR || n > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: min_visits \"%V\" is not a "
                                   "number from 0 to 65535", &value[i]);
                return NGX_CONF_ERROR;
            }
            prompt->min_visits = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "if=", 3) == 0) {
            s.data = value[i].data + 3;
            s.len = value[i].len - 3;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_prompt: if= needs a value such as "
                                   "\"if=$cookie_logged_in\"");
                return NGX_CONF_ERROR;
            }

            prompt->cond = ngx_palloc(cf->pool,
                                      sizeof(ngx_http_complex_value_t));
            if (prompt->cond == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = prompt->cond;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_prompt: unknown parameter \"%V\"; expected "
                           "sample=, delay=, trigger=, after=, min_visits= "
                           "or if=",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    /* surveys and endpoints may be declared later: checked at the end */
    pp = ngx_array_push(&cmcf->prompts);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = prompt;

    return NGX_CONF_OK;
}


/* after=purchase,cart: every listed touchpoint must have been visited */

static ngx_int_t
ngx_http_cx_prompt_after(ngx_conf_t *cf, ngx_http_cx_prompt_t *prompt,
    ngx_str_t *value)
{
    u_char     *p, *last, *start;
    uint32_t   *id;
    ngx_str_t  *name;

    prompt->after = ngx_array_create(cf->pool, 2, sizeof(uint32_t));
    prompt->after_names = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (prompt->after == NULL || prompt->after_names == NULL) {
        return NGX_ERROR;
    }

    p = value->data + 6;
    last = value->data + value->len;

    while (p <= last) {
        start = p;

        while (p < last && *p != ',') {
            if (!(ngx_http_cx_isalnum(*p) || *p == '_' || *p == '-'
                  || *p == '.'))
            {
                goto invalid;
            }
            p++;
        }

        if (p == start || p - start > NGX_CX_NAME_MAX) {
            goto invalid;
        }

        id = ngx_array_push(prompt->after);
        if (id == NULL) {
            return NGX_ERROR;
        }

        *id = ngx_cx_name_id(start, p - start);

        name = ngx_array_push(prompt->after_names);
        if (name == NULL) {
            return NGX_ERROR;
        }

        name->data = start;
        name->len = p - start;

        p++;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "cx_prompt: \"%V\" must name touchpoints, such as "
                       "\"after=purchase\" or \"after=cart,purchase\"",
                       value);
    return NGX_ERROR;
}


/* "25%", "2.5%", "100%" -> per ten thousand */

static ngx_int_t
ngx_http_cx_parse_percent(ngx_str_t *value, ngx_uint_t *per10000)
{
    u_char      *p, *last;
    ngx_uint_t   n, decimals;

    p = value->data;
    last = p + value->len;

    if (value->len < 2 || last[-1] != '%') {
        return NGX_ERROR;
    }

    last--;
    n = 0;
    decimals = 0;

    if (!ngx_http_cx_isdigit(*p)) {
        return NGX_ERROR;
    }

    while (p < last && ngx_http_cx_isdigit(*p) && n <= 100) {
        n = n * 10 + (*p++ - '0');
    }

    n *= 100;

    if (p < last && *p == '.') {
        p++;

        if (p == last) {
            return NGX_ERROR;
        }

        while (p < last && ngx_http_cx_isdigit(*p) && decimals < 2) {
            n += (*p++ - '0') * (decimals == 0 ? 10 : 1);
            decimals++;
        }
    }

    if (p != last || n > 10000) {
        return NGX_ERROR;
    }

    *per10000 = n;

    return NGX_OK;
}


/*
 * after= that names a touchpoint no location declares could never be
 * satisfied: the prompt would silently never show.
 */

static ngx_int_t
ngx_http_cx_prompt_check_after(ngx_conf_t *cf, ngx_http_cx_main_conf_t *cmcf,
    ngx_http_cx_prompt_t *prompt)
{
    ngx_str_t                 *want;
    ngx_http_cx_touchpoint_t  *have;
    ngx_uint_t   i, j;

    if (prompt->after_names == NULL) {
        return NGX_OK;
    }

    want = prompt->after_names->elts;
    have = cmcf->touchpoints.elts;

    for (i = 0; i < prompt->after_names->nelts; i++) {
        for (j = 0; j < cmcf->touchpoints.nelts; j++) {
            if (want[i].len == have[j].name.len
                && ngx_strncmp(want[i].data, have[j].name.data, want[i].len)
                   == 0)
            {
                break;
            }
        }

        if (j == cmcf->touchpoints.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_prompt: after=%V names a touchpoint that no "
                          "location declares (add \"cx_touchpoint %V;\" "
                          "where it is visited) in %s:%ui", &want[i],
                          &want[i], prompt->file, prompt->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * postconfiguration: every cx_prompt gets its survey and its server's
 * endpoint, and its snippet is built
 */

ngx_int_t
ngx_http_cx_prompt_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    ngx_uint_t             i;
    ngx_http_cx_prompt_t  *prompt, **prompts;

    prompts = cmcf->prompts.elts;
    for (i = 0; i < cmcf->prompts.nelts; i++) {
        prompt = prompts[i];

        prompt->survey = ngx_http_cx_survey_find(cmcf,
                                                 prompt->survey_name.data,
                                                 prompt->survey_name.len);
        if (prompt->survey == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_prompt: unknown survey \"%V\" (declare it "
                          "with cx_survey %V { ... } in the http block) "
                          "in %s:%ui", &prompt->survey_name,
                          &prompt->survey_name, prompt->file, prompt->line);
            return NGX_ERROR;
        }

        if (prompt->srv->endpoint.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_prompt: the server has no cx_endpoint "
                          "location to answer the survey (add "
                          "\"location /cx/ { cx_endpoint; }\") in %s:%ui",
                          prompt->file, prompt->line);
            return NGX_ERROR;
        }

        prompt->survey_id = ngx_cx_name_id(prompt->survey_name.data,
                                           prompt->survey_name.len);

        if (ngx_http_cx_prompt_check_after(cf, cmcf, prompt) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_cx_prompt_prepare(cf, prompt) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The snippet around the token, once per prompt and language:
 *   head  {"v":1,"endpoint":"/cx/","token":"
 *   tail  ","survey":...,"delay":3000,["trigger":"scroll","at":60,]<texts>}
 *         </script><script src="/cx/w.js" async
 * Endpoint and survey names are restricted to characters that need no
 * escaping (checked where they are configured).
 */

static ngx_int_t
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
                 "\"trigger\":\"scroll\",\"at\":,"
                 "\"position\":\"bottom-left\",\"color\":\"#rrggbb\","
                 "}</script><script src=\"w.js\" async")
          + survey->name.len + 2 * NGX_INT_T_LEN + rd->json.len
          + endpoint->len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tail->data = p;

    p = ngx_sprintf(p, "\",\"survey\":\"%V\",\"type\":\"%s\",\"delay\":%M,",
                    &survey->name, ngx_cx_type_name(survey->type),
                    prompt->delay);

    if (survey->position == NGX_HTTP_CX_POSITION_LEFT) {
        p = ngx_sprintf(p, "\"position\":\"bottom-left\",");

    } else if (survey->position == NGX_HTTP_CX_POSITION_CENTER) {
        p = ngx_sprintf(p, "\"position\":\"center\",");
    }

    if (survey->color[0]) {
        p = ngx_sprintf(p, "\"color\":\"%s\",", survey->color);
    }

    switch (prompt->trigger) {
    case NGX_HTTP_CX_TRIGGER_EXIT:
        p = ngx_sprintf(p, "\"trigger\":\"exit\",");
        break;
    case NGX_HTTP_CX_TRIGGER_SCROLL:
        p = ngx_sprintf(p, "\"trigger\":\"scroll\",\"at\":%ui,",
                        prompt->trigger_at);
        break;
    case NGX_HTTP_CX_TRIGGER_IDLE:
        p = ngx_sprintf(p, "\"trigger\":\"idle\",\"at\":%ui,",
                        prompt->trigger_at);
        break;
    }
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
    u_char                   *q;
    size_t                    n;
    ngx_str_t                 path;
    ngx_uint_t                i;
    ngx_cx_bytes_t            attrs;
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
    if (lcf->touchpoint.len) {  /* unset: data is NULL, memcpy's UB */
        ngx_memcpy(token.touchpoint, lcf->touchpoint.data, lcf->touchpoint.len);
    }
    token.lang_len = (unsigned char) rd->lang.len;
    ngx_memcpy(token.lang, rd->lang.data, rd->lang.len);

    /*
     * The path the visitor asked for (not the one after internal
     * redirects), never the query string: it may hold personal data.
     * A single-page application's route names its own.
     */
    if (ctx->route.data) {
        path = ctx->route;

    } else {
        path = r->unparsed_uri;
        q = ngx_strlchr(path.data, path.data + path.len, '?');
        if (q) {
            path.len = q - path.data;
        }
    }

    token.path_len = (uint16_t) ngx_min(path.len, NGX_CX_PATH_MAX);
    ngx_memcpy(token.path, path.data, token.path_len);

    /* hidden fields travel encrypted in the token, to any node */
    attrs.data = ctx->attrs;    /* no attributes: NULL */
    attrs.len = ctx->attrs_len;
    token.attrs_len = (uint16_t) ngx_cx_attrs_pack(token.attrs,
                                                   NGX_CX_ATTRS_MAX, attrs,
                                                   ctx->attr_numbers);

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

    ctx->prompt = prompt;

    return ngx_http_cx_prompt_build(r, ctx, parts, tok, n,
                                    &prompt->srv->endpoint, nonce);
}


/*
 * A prompt of one survey outside targeting: a preview (not counted, its
 * answers never sent) or a survey link's page; token is what the widget
 * posts.  At once, in the survey's look, in the visitor's language.
 */

ngx_int_t
ngx_http_cx_prompt_fixed(ngx_http_request_t *r, ngx_http_cx_survey_t *survey,
    ngx_str_t *token, ngx_flag_t preview, ngx_str_t *nonce,
    ngx_http_cx_ctx_t *ctx)
{
    ngx_http_cx_prompt_t      prompt;
    ngx_http_cx_snippet_t     parts;
    ngx_http_cx_srv_conf_t   *cscf;
    ngx_http_cx_rendering_t  *rd;

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_cx_module);

    if (cscf->endpoint.len == 0) {
        return NGX_DECLINED;    /* no widget to load in this server */
    }

    ngx_memzero(&prompt, sizeof(ngx_http_cx_prompt_t));
    prompt.survey = survey;
    prompt.srv = cscf;

    rd = ngx_http_cx_survey_pick(r, survey);

    if (ngx_http_cx_snippet_tail(r->pool, &prompt, survey, rd, &parts.tail)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    parts.head.data = ngx_pnalloc(r->pool,
                                  sizeof("{\"v\":1,\"preview\":true,"
                                         "\"endpoint\":\"\",\"token\":\"")
                                  + cscf->endpoint.len);
    if (parts.head.data == NULL) {
        return NGX_ERROR;
    }

    parts.head.len = ngx_sprintf(parts.head.data,
                                 "{\"v\":1,%s\"endpoint\":\"%V\",\"token\":\"",
                                 preview ? "\"preview\":true," : "",
                                 &cscf->endpoint)
                     - parts.head.data;

    ctx->survey = survey;

    return ngx_http_cx_prompt_build(r, ctx, &parts, token->data, token->len,
                                    &cscf->endpoint, nonce);
}


/*
 * What the page gets: the prompt JSON in its script element and the
 * widget's script, each with the page's nonce; or (ctx->json, for
 * <endpoint>p) the JSON alone.
 */

static ngx_int_t
ngx_http_cx_prompt_build(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_snippet_t *parts, u_char *tok, size_t n, ngx_str_t *endpoint,
    ngx_str_t *nonce)
{
    u_char  *p;
    size_t   len;

    if (ctx->json) {
        return ngx_http_cx_prompt_json(r, ctx, parts, tok, n, endpoint);
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

    return NGX_OK;
}


/*
 * The prompt JSON alone, for <endpoint>p: the snippet's object without
 * the script elements around it (the tail ends with the widget's script).
 */

static ngx_int_t
ngx_http_cx_prompt_json(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_snippet_t *parts, u_char *tok, size_t n, ngx_str_t *endpoint)
{
    u_char  *p;
    size_t   tail;

    tail = parts->tail.len
           - (sizeof("</script><script src=\"w.js\" async") - 1)
           - endpoint->len;

    p = ngx_pnalloc(r->pool, parts->head.len + n + tail);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->snippet.data = p;

    p = ngx_cpymem(p, parts->head.data, parts->head.len);
    p = ngx_cpymem(p, tok, n);
    p = ngx_cpymem(p, parts->tail.data, tail);

    ctx->snippet.len = p - ctx->snippet.data;

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

    if (prompt->sample < 10000) {
        /* a new visitor keeps this id, so that the draw sticks (at 0%
         * every draw is the same: nothing to keep) */
        if (prompt->sample > 0) {
            ctx->drawn = 1;
        }

        if (ngx_http_cx_sample_bucket(cmcf, v->id, &prompt->survey_name)
            >= prompt->sample)
        {
            return 0;
        }
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
        ctx->attr_numbers = res.attr_numbers;
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
    ev.from_len = 0;
    ev.first_arrival = 0;
    ev.from_seconds = 0;
    ev.purchase_seconds = -1;

    ngx_http_cx_store_event(cmcf->store, &ev);
}


void
ngx_http_cx_visit(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_loc_conf_t *lcf)
{
    uint32_t                  now;
    ngx_uint_t                i;
    ngx_http_cx_touchpoint_t *tp;
    ngx_cx_visitor_t         *v;
    ngx_http_cx_event_t       ev;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);
    v = &ctx->visitor.v;
    now = (uint32_t) ctx->now;

    ev.at_ms = (uint64_t) ctx->now * 1000;
    ngx_memcpy(ev.visitor, v->id, NGX_CX_VISITOR_ID_LEN);
    ev.kind = NGX_HTTP_CX_EVENT_VISIT;
    ev.stage = (u_char) lcf->stage;
    ev.name_len = (u_char) ngx_min(lcf->touchpoint.len, NGX_CX_NAME_MAX);
    ngx_memcpy(ev.name, lcf->touchpoint.data, ev.name_len);

    /* what the cookie says of the journey so far, before this visit */
    ev.first_arrival = (ngx_cx_visitor_tp_visits(v, lcf->touchpoint_id) == 0);
    ev.from_len = 0;
    ev.from_seconds = (v->last_at && now >= v->last_at) ? now - v->last_at
                                                        : 0;
    ev.purchase_seconds = -1;

    if (v->last_tp) {
        /* the cookie names touchpoints by hash: the configured ones */
        tp = cmcf->touchpoints.elts;
        for (i = 0; i < cmcf->touchpoints.nelts; i++) {
            if (tp[i].id == v->last_tp) {
                ev.from_len = (u_char) ngx_min(tp[i].name.len,
                                               NGX_CX_NAME_MAX);
                ngx_memcpy(ev.from, tp[i].name.data, ev.from_len);
                break;
            }
        }
    }

    if (lcf->stage == NGX_CX_STAGE_PURCHASE
        && !(v->stages & (1u << NGX_CX_STAGE_PURCHASE)))
    {
        ev.purchase_seconds = (v->first_seen && now >= v->first_seen)
                              ? now - v->first_seen : 0;
    }

    ngx_cx_visitor_visit(v, lcf->touchpoint_id);
    ngx_cx_visitor_move(v, lcf->touchpoint_id, lcf->stage, now);

    if (cmcf->store) {
        ngx_http_cx_store_event(cmcf->store, &ev);
    }
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
