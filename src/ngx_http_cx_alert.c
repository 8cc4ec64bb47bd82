/*
 * The cx_alert block and the alert directives: see ngx_http_cx_alert.h.
 * Everything a rule needs is checked here, at nginx -t, with file:line:
 * names, conditions, URLs, secrets, and at postconfiguration the surveys
 * named and what the targets need (a resolver, TLS).
 */

#include "ngx_http_cx_alert.h"
#include "ngx_http_cx_lua.h"


static char *ngx_http_cx_alert_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_cx_alert_target(ngx_conf_t *cf,
    ngx_http_cx_alert_t *rule, ngx_str_t *value, ngx_uint_t n,
    time_t after);
static char *ngx_http_cx_alert_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *key);


char *
ngx_http_cx_alert_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    char                 *rv;
    ngx_str_t            *value;
    ngx_uint_t            i;
    ngx_conf_t            save;
    ngx_http_cx_alert_t  *rule, *rules;

    value = cf->args->elts;

    if (ngx_http_cx_conf_name(cf, "cx_alert", &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rules = cmcf->alerts.elts;
    for (i = 0; i < cmcf->alerts.nelts; i++) {
        if (rules[i].name.len == value[1].len
            && ngx_strncmp(rules[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\" is declared twice",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(&cmcf->alerts);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_cx_alert_t));

    rule->name = value[1];
    rule->id = ngx_cx_name_id(value[1].data, value[1].len);
    rule->file = cf->conf_file->file.name.data;
    rule->line = cf->conf_file->line;

    if (ngx_array_init(&rule->surveys, cf->pool, 1, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&rule->whens, cf->pool, 2, sizeof(ngx_cx_when_t))
           != NGX_OK
        || ngx_array_init(&rule->levels, cf->pool, 2,
                          sizeof(ngx_http_cx_alert_level_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cmcf->used = 1;

    save = *cf;
    cf->handler = ngx_http_cx_alert_line;
    cf->handler_conf = (char *) rule;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (rule->levels.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_alert \"%V\" has no \"notify\" line: add "
                           "\"notify https://hooks.example.com/cx "
                           "secret=cx-hook.key;\"", &rule->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* One line inside cx_alert { }. */

static char *
ngx_http_cx_alert_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_cx_alert_t  *rule = (ngx_http_cx_alert_t *) cf->handler_conf;

    time_t                      after;
    ngx_str_t                  *value, *name;
    const char                 *err;
    ngx_cx_when_t              *when;
    ngx_http_cx_alert_level_t  *levels;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "survey") == 0) {
        if (ngx_http_cx_conf_name(cf, "cx_alert: survey", &value[1])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(&rule->surveys);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[1];
        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "when") == 0) {
        when = ngx_array_push(&rule->whens);
        if (when == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_cx_when_parse(value[1].data, value[1].len, when, &err) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"when %V\" %s",
                               &rule->name, &value[1], err);
            return NGX_CONF_ERROR;
        }

        if (when->what == NGX_CX_WHEN_COMMENT) {
            rule->comment = 1;
        }

        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "by_lua_file") == 0)
    {
        if (rule->hook) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"by_lua_file\" is given "
                               "twice", &rule->name);
            return NGX_CONF_ERROR;
        }

        return ngx_http_cx_lua_hook_conf(cf, &value[1], &rule->hook);
    }

    if (cf->args->nelts >= 2 && ngx_strcmp(value[0].data, "notify") == 0) {
        if (rule->levels.nelts) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"notify\" is given twice, "
                               "or after \"escalate\" (notify comes first)",
                               &rule->name);
            return NGX_CONF_ERROR;
        }

        return ngx_http_cx_alert_target(cf, rule, value + 1,
                                        cf->args->nelts - 1, 0);
    }

    if (cf->args->nelts >= 3 && ngx_strcmp(value[0].data, "escalate") == 0) {
        if (rule->levels.nelts == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"escalate\" before "
                               "\"notify\" (notify comes first)",
                               &rule->name);
            return NGX_CONF_ERROR;
        }

        if (rule->levels.nelts == NGX_CX_ALERT_LEVELS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": more than %d escalations",
                               &rule->name, NGX_CX_ALERT_LEVELS_MAX - 1);
            return NGX_CONF_ERROR;
        }

        after = ngx_parse_time(&value[1], 1);
        levels = rule->levels.elts;

        if (after == (time_t) NGX_ERROR || after <= 0
            || ngx_http_cx_isdigit(value[1].data[value[1].len - 1]))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"escalate %V\" needs a "
                               "time with a unit, such as \"15m\" or \"2h\"",
                               &rule->name, &value[1]);
            return NGX_CONF_ERROR;
        }

        if (after <= levels[rule->levels.nelts - 1].after) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_alert \"%V\": \"escalate %V\" is not "
                               "later than the level before it (escalations "
                               "come in order of time)", &rule->name,
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        return ngx_http_cx_alert_target(cf, rule, value + 2,
                                        cf->args->nelts - 2, after);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "cx_alert \"%V\": unknown or incomplete line \"%V\"; "
                       "a rule has \"survey NAME;\", \"when CONDITION;\", "
                       "\"notify URL secret=FILE;\" and \"escalate TIME URL "
                       "secret=FILE;\"", &rule->name, &value[0]);
    return NGX_CONF_ERROR;
}


/* URL [secret=FILE] [format=json|slack], for notify (after 0) or escalate */

static char *
ngx_http_cx_alert_target(ngx_conf_t *cf, ngx_http_cx_alert_t *rule,
    ngx_str_t *value, ngx_uint_t n, time_t after)
{
    char                       *rv;
    ngx_str_t                   s;
    ngx_uint_t                  i;
    ngx_http_cx_alert_level_t  *level;

    level = ngx_array_push(&rule->levels);
    if (level == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(level, sizeof(ngx_http_cx_alert_level_t));
    level->after = after;
    level->format = NGX_HTTP_CX_ALERT_JSON;

    rv = ngx_http_cx_target_parse(cf, &value[0], &level->target);
    if (rv != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cx_alert \"%V\": \"%V\" %s",
                           &rule->name, &value[0], rv);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < n; i++) {

        if (ngx_strncmp(value[i].data, "secret=", 7) == 0
            && value[i].len > 7 && level->key.len == 0)
        {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            rv = ngx_http_cx_alert_secret(cf, &s, &level->key);
            if (rv != NGX_CONF_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_alert \"%V\": secret \"%V\" %s",
                                   &rule->name, &s, rv);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "format=json") == 0) {
            level->format = NGX_HTTP_CX_ALERT_JSON;
            continue;
        }

        if (ngx_strcmp(value[i].data, "format=slack") == 0) {
            level->format = NGX_HTTP_CX_ALERT_SLACK;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_alert \"%V\": unknown parameter \"%V\"; "
                           "expected secret=FILE, format=json or "
                           "format=slack", &rule->name, &value[i]);
        return NGX_CONF_ERROR;
    }

    /* a receiver must be able to tell our payloads from anyone's */
    if (level->format == NGX_HTTP_CX_ALERT_JSON && level->key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_alert \"%V\": \"%V\" needs secret=FILE, a "
                           "file holding a Standard Webhooks key "
                           "(\"whsec_\" and base64), to sign what it gets",
                           &rule->name, &value[0]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A Standard Webhooks secret: "whsec_" then the key in base64, a trailing
 * newline allowed; relative paths against nginx.conf's directory.
 */

static char *
ngx_http_cx_alert_secret(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *key)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   text, b64;

    rc = ngx_http_cx_conf_read_key(cf, path, 1024, &text);

    if (rc == NGX_DECLINED) {
        return "cannot be opened (is it readable by the user running "
               "nginx -t?)";
    }

    if (rc == NGX_ABORT) {
        return "cannot be read, or is over 1 KB";
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (text.len <= 6 || ngx_strncmp(text.data, "whsec_", 6) != 0) {
        return "does not hold a Standard Webhooks key: \"whsec_\" "
               "followed by base64";
    }

    b64.data = text.data + 6;
    b64.len = text.len - 6;

    p = ngx_pnalloc(cf->pool, ngx_base64_decoded_length(b64.len));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    key->data = p;

    if (ngx_decode_base64(key, &b64) != NGX_OK) {
        return "holds a key that is not base64 after \"whsec_\"";
    }

    /* the Standard Webhooks recommendation: 24 to 64 random bytes */
    if (key->len < 24 || key->len > 64) {
        return "holds a key of other than 24 to 64 bytes (make one with: "
               "echo whsec_$(openssl rand -base64 32))";
    }

    return NGX_CONF_OK;
}


/* postconfiguration: surveys exist, targets can be reached */

ngx_int_t
ngx_http_cx_alert_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    ngx_str_t                  *survey;
    ngx_uint_t                  i, j;
    ngx_http_cx_alert_t        *rule;
    ngx_http_cx_alert_level_t  *level;

    rule = cmcf->alerts.elts;

    for (i = 0; i < cmcf->alerts.nelts; i++) {

        survey = rule[i].surveys.elts;
        for (j = 0; j < rule[i].surveys.nelts; j++) {
            if (ngx_http_cx_survey_find(cmcf, survey[j].data, survey[j].len)
                == NULL)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "cx_alert \"%V\": unknown survey \"%V\" "
                              "(declare it with cx_survey %V { ... }) in "
                              "%s:%ui", &rule[i].name, &survey[j],
                              &survey[j], rule[i].file, rule[i].line);
                return NGX_ERROR;
            }
        }

        level = rule[i].levels.elts;
        for (j = 0; j < rule[i].levels.nelts; j++) {
            if (ngx_http_cx_target_init(cf, &level[j].target,
                                        &cmcf->alert_trusted, rule[i].file,
                                        rule[i].line)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


ngx_http_cx_alert_t *
ngx_http_cx_alert_rule(ngx_array_t *rules, const u_char *name, size_t len)
{
    ngx_uint_t            i;
    ngx_http_cx_alert_t  *rule;

    rule = rules->elts;

    for (i = 0; i < rules->nelts; i++) {
        if (rule[i].name.len == len
            && ngx_strncmp(rule[i].name.data, name, len) == 0)
        {
            return &rule[i];
        }
    }

    return NULL;
}


/* cx_alert_link https://shop.example/cx/: where ack_url links point */

char *
ngx_http_cx_alert_link(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char      *p;
    size_t       skip;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (cmcf->alert_link.len) {
        return "is duplicate";
    }

    value = cf->args->elts;
    p = value[1].data;

    skip = (value[1].len > 7 && ngx_strncmp(p, "http://", 7) == 0) ? 7
           : (value[1].len > 8 && ngx_strncmp(p, "https://", 8) == 0) ? 8
           : 0;

    /* printable, and nothing that would need escaping in JSON or HTML */
    for (i = 0; i < value[1].len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\'
            || p[i] == '?' || p[i] == '#' || p[i] == '<' || p[i] == '>')
        {
            skip = 0;
        }
    }

    if (skip == 0 || p[skip] == '/' || p[value[1].len - 1] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_alert_link \"%V\" must be the URL of a "
                           "cx_endpoint location as people reach it, ending "
                           "in \"/\", such as \"https://shop.example/cx/\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->alert_link = value[1];

    return NGX_CONF_OK;
}
