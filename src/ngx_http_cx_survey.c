/*
 * The cx_survey block: parsed like "map" (a handler per inner line) and
 * checked as a whole at its end.  Its texts are rendered per language at
 * postconfiguration (ngx_http_cx_survey_lang.c).
 */

#include "ngx_http_cx_survey.h"
#include "ngx_cx_json.h"
#include "ngx_cx_number.h"
#include "ngx_cx_color.h"


#define NGX_HTTP_CX_TEXT_MAX  1000

/* the usual refusals of a line, by ngx_http_cx_survey_error() */
#define ngx_http_cx_survey_duplicate(cf, survey, name)                        \
    ngx_http_cx_survey_error(cf, survey,                                      \
        "cx_survey \"%V\": \"%V\" is duplicate", name)
#define ngx_http_cx_survey_args(cf, survey, name)                             \
    ngx_http_cx_survey_error(cf, survey,                                      \
        "cx_survey \"%V\": wrong number of arguments for \"%V\"; the "       \
        "forms are: type nps|csat|ces; question [LANG] TEXT; followup "       \
        "[LANG] [BAND] TEXT; labels [LANG] LOW HIGH; thanks [LANG] TEXT; "    \
        "lang LANG; every DURATION; target SCORE; position P; color C; "    \
        "title TEXT", name)
#define ngx_http_cx_survey_bad_lang(cf, survey, tag)                          \
    ngx_http_cx_survey_error(cf, survey,                                      \
        "cx_survey \"%V\": \"%V\" is not a language tag such as \"en\", "    \
        "\"tr\" or \"pt-BR\"", tag)


static char *ngx_http_cx_survey_look(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static char *ngx_http_cx_survey_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_cx_survey_type(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static char *ngx_http_cx_survey_lang(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static char *ngx_http_cx_survey_every(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static char *ngx_http_cx_survey_target(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static ngx_int_t ngx_http_cx_survey_check_target(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey);
static char *ngx_http_cx_survey_text_line(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *value);
static char *ngx_http_cx_survey_text_options(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_http_cx_text_t *text, ngx_str_t *value,
    ngx_uint_t *a, ngx_str_t *lang);
static char *ngx_http_cx_survey_error(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, const char *fmt, ngx_str_t *arg);
static void ngx_http_cx_survey_check_languages(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey);
static ngx_int_t ngx_http_cx_band(ngx_str_t *s);
static ngx_int_t ngx_http_cx_text_ok(ngx_conf_t *cf, ngx_str_t *text);


static const char  *ngx_http_cx_kind_names[] = {
    "", "question", "followup", "labels", "thanks"
};

const char  *ngx_http_cx_band_names[] = {
    "", "detractor", "passive", "promoter"
};


char *
ngx_http_cx_survey_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    char                  *rv;
    ngx_str_t             *value;
    ngx_uint_t             i;
    ngx_conf_t             save;
    ngx_http_cx_text_t    *text;
    ngx_http_cx_survey_t  *survey;

    value = cf->args->elts;

    if (ngx_http_cx_conf_name(cf, "cx_survey", &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cx_survey_find(cmcf, value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\" is declared twice", &value[1]);
        return NGX_CONF_ERROR;
    }

    survey = ngx_array_push(&cmcf->surveys);
    if (survey == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(survey, sizeof(ngx_http_cx_survey_t));

    survey->name = value[1];
    ngx_str_set(&survey->lang, "en");
    survey->every = NGX_CONF_UNSET;
    survey->target = NGX_CONF_UNSET;
    survey->position = NGX_CONF_UNSET_UINT;
    survey->file = cf->conf_file->file.name.data;
    survey->line = cf->conf_file->line;

    if (ngx_array_init(&survey->texts, cf->pool, 4,
                       sizeof(ngx_http_cx_text_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cmcf->used = 1;

    save = *cf;
    cf->handler = ngx_http_cx_survey_line;
    cf->handler_conf = (char *) survey;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* "lang" may come after untagged texts: check pairs once it is known */
    text = survey->texts.elts;
    for (i = 0; i < survey->texts.nelts; i++) {
        if (ngx_http_cx_survey_text(survey, text[i].kind, text[i].band,
                                    text[i].lang.len ? &text[i].lang
                                                     : &survey->lang)
            != &text[i])
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_survey \"%V\": \"%s\" is given twice for "
                               "the same language (\"%V\")", &survey->name,
                               ngx_http_cx_kind_names[text[i].kind],
                               text[i].lang.len ? &text[i].lang
                                                : &survey->lang);
            return NGX_CONF_ERROR;
        }
    }

    ngx_http_cx_survey_check_languages(cf, survey);

    /* a visitor who answered or dismissed is not asked again for 90 days */
    if (survey->every == NGX_CONF_UNSET) {
        survey->every = 90 * 86400;
    }

    if (survey->position == NGX_CONF_UNSET_UINT) {
        survey->position = NGX_HTTP_CX_POSITION_RIGHT;
    }

    if (survey->type == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\" has no type: add \"type nps;\", "
                           "\"type csat;\" or \"type ces;\"", &survey->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cx_survey_check_target(cf, survey) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_QUESTION, 0,
                                &survey->lang)
        == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\" has no question in its default "
                           "language \"%V\": add \"question \\\"...\\\";\"",
                           &survey->name, &survey->lang);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A survey's or a touchpoint's name: it is stored with every record and
 * shown in reports, so a few plain characters, up to NGX_CX_NAME_MAX.
 */

ngx_int_t
ngx_http_cx_conf_name(ngx_conf_t *cf, const char *directive, ngx_str_t *name)
{
    if (name->len == 0 || name->len > NGX_CX_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: a name of 1 to %d characters is needed",
                           directive, NGX_CX_NAME_MAX);
        return NGX_ERROR;
    }

    if (!ngx_cx_name_valid(name->data, name->len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: the name \"%V\" may contain only "
                           "letters, digits, \"_\", \"-\" and \".\"",
                           directive, name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_cx_survey_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_cx_survey_t *survey = (ngx_http_cx_survey_t *) conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "type", 4) == 0) {
        return ngx_http_cx_survey_type(cf, survey, value);
    }

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "lang", 4) == 0) {
        return ngx_http_cx_survey_lang(cf, survey, value);
    }

    if (value[0].len == 5 && ngx_strncmp(value[0].data, "every", 5) == 0) {
        return ngx_http_cx_survey_every(cf, survey, value);
    }

    if (value[0].len == 6 && ngx_strncmp(value[0].data, "target", 6) == 0) {
        return ngx_http_cx_survey_target(cf, survey, value);
    }

    if ((value[0].len == 8 && ngx_strncmp(value[0].data, "position", 8) == 0)
        || (value[0].len == 5 && ngx_strncmp(value[0].data, "color", 5) == 0)
        || (value[0].len == 5 && ngx_strncmp(value[0].data, "title", 5) == 0))
    {
        return ngx_http_cx_survey_look(cf, survey, value);
    }

    return ngx_http_cx_survey_text_line(cf, survey, value);
}


/*
 * How the prompt looks: position bottom-right|bottom-left|center; color
 * #rrggbb, the accent, on which the widget writes white (the selected
 * score, the button), so it must have WCAG AA contrast with white; title,
 * the name the dashboard shows.
 */

static char *
ngx_http_cx_survey_look(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    size_t     chars, n;
    u_char     hex[8];
    uint32_t   rgb;
    unsigned   ratio;

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": \"%V\" takes one value%s",
                           &survey->name, &value[0],
                           value[0].data[0] == 'c'
                           ? " (in nginx.conf # starts a comment: write "
                             "color 2457d6; or color \"#2457d6\";)" : "");
        return NGX_CONF_ERROR;
    }

    if (value[0].data[0] == 'p') {
        if (survey->position != NGX_CONF_UNSET_UINT) {
            return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
        }

        if (value[1].len == 12
            && ngx_strncmp(value[1].data, "bottom-right", 12) == 0)
        {
            survey->position = NGX_HTTP_CX_POSITION_RIGHT;

        } else if (value[1].len == 11
                   && ngx_strncmp(value[1].data, "bottom-left", 11) == 0)
        {
            survey->position = NGX_HTTP_CX_POSITION_LEFT;

        } else if (value[1].len == 6
                   && ngx_strncmp(value[1].data, "center", 6) == 0)
        {
            survey->position = NGX_HTTP_CX_POSITION_CENTER;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_survey \"%V\": position \"%V\" is not "
                               "bottom-right, bottom-left or center",
                               &survey->name, &value[1]);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (value[0].data[0] == 'c') {
        if (survey->color[0]) {
            return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
        }

        /* "#2457d6" quoted, or 2457d6 (a bare # starts a comment) */
        hex[0] = '#';
        n = ngx_min(value[1].len, sizeof(hex) - 1);
        ngx_memcpy(hex + 1, value[1].data, n);

        if ((value[1].len && value[1].data[0] == '#'
             ? ngx_cx_color_parse(value[1].data, value[1].len, &rgb)
             : ngx_cx_color_parse(hex, n + 1, &rgb))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_survey \"%V\": color \"%V\" is not a "
                               "colour such as 2457d6 or \"#2457d6\"",
                               &survey->name, &value[1]);
            return NGX_CONF_ERROR;
        }

        ratio = ngx_cx_contrast(rgb, 0xffffff);

        if (ratio < NGX_CX_CONTRAST_AA) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_survey \"%V\": color \"%V\" has a "
                               "contrast of %ud.%02ud:1 with the white text "
                               "on it; WCAG AA needs 4.5:1: choose a darker "
                               "shade", &survey->name, &value[1],
                               ratio / 100, ratio % 100);
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(survey->color, "#%06xD%Z", rgb);
        return NGX_CONF_OK;
    }

    if (survey->title.data) {
        return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
    }

    if (value[1].len == 0 || value[1].len > 200
        || !ngx_cx_utf8_valid(value[1].data, value[1].len, &chars))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": title must be 1 to 200 bytes "
                           "of UTF-8", &survey->name);
        return NGX_CONF_ERROR;
    }

    survey->title = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_survey_type(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    if (cf->args->nelts != 2) {
        return ngx_http_cx_survey_args(cf, survey, &value[0]);
    }

    if (survey->type) {
        return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
    }

    survey->type = ngx_cx_type_from_name((char *) value[1].data, value[1].len);

    if (survey->type == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": unknown type \"%V\", the "
                           "types are nps, csat and ces",
                           &survey->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_survey_lang(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    if (cf->args->nelts != 2) {
        return ngx_http_cx_survey_args(cf, survey, &value[0]);
    }

    if (ngx_http_cx_lang_tag(&value[1]) != NGX_OK) {
        return ngx_http_cx_survey_bad_lang(cf, survey, &value[1]);
    }

    if (survey->lang_set) {
        return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
    }

    survey->lang = value[1];
    survey->lang_set = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_cx_survey_every(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    time_t  every;

    if (cf->args->nelts != 2) {
        return ngx_http_cx_survey_args(cf, survey, &value[0]);
    }

    if (survey->every != NGX_CONF_UNSET) {
        return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
    }

    every = ngx_parse_time(&value[1], 1);
    if (every == (time_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": every \"%V\" is not a "
                           "duration such as \"90d\"",
                           &survey->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    survey->every = every;

    return NGX_CONF_OK;
}


/*
 * target 40: the score the survey should reach, in its score's unit (NPS
 * points, CSAT %, CES mean), with at most one decimal; its range is
 * checked once the type is known (ngx_http_cx_survey_check_target()).
 */

static char *
ngx_http_cx_survey_target(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    double  t;

    if (cf->args->nelts != 2) {
        return ngx_http_cx_survey_args(cf, survey, &value[0]);
    }

    if (survey->target != NGX_CONF_UNSET) {
        return ngx_http_cx_survey_duplicate(cf, survey, &value[0]);
    }

    if (!ngx_cx_number_read((char *) value[1].data, value[1].len, &t)
        || t * 10 != (double) (ngx_int_t) (t * 10)
        || t < -100 || t > 100)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": target \"%V\" is not a score "
                           "such as \"40\" (NPS), \"85\" (CSAT %%) or "
                           "\"5.5\" (CES), with at most one decimal",
                           &survey->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    survey->target = (ngx_int_t) (t * 10);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_cx_survey_check_target(ngx_conf_t *cf, ngx_http_cx_survey_t *survey)
{
    ngx_int_t    lo, hi;
    const char  *range;

    switch (survey->type) {
    case NGX_CX_TYPE_NPS:
        lo = -1000; hi = 1000; range = "-100 to 100";
        break;
    case NGX_CX_TYPE_CSAT:
        lo = 0; hi = 1000; range = "0 to 100 (% of answers 4 or 5)";
        break;
    default:
        lo = 10; hi = 70; range = "1 to 7 (the mean answer)";
        break;
    }

    if (survey->target == NGX_CONF_UNSET
        || (survey->target >= lo && survey->target <= hi))
    {
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "cx_survey \"%V\": target %s%i.%i is outside the %s "
                       "score's range, %s", &survey->name,
                       survey->target < 0 ? "-" : "",
                       ngx_abs(survey->target) / 10,
                       ngx_abs(survey->target) % 10,
                       ngx_cx_type_name((unsigned char) survey->type), range);
    return NGX_ERROR;
}


/* question, followup, labels, thanks: [LANG] [BAND] TEXT [TEXT2] */

static char *
ngx_http_cx_survey_text_line(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *value)
{
    ngx_str_t           *name, lang;
    ngx_uint_t           a;
    ngx_http_cx_text_t  *text;

    name = &value[0];

    text = ngx_array_push(&survey->texts);
    if (text == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(text, sizeof(ngx_http_cx_text_t));

    a = 1;
    ngx_str_null(&lang);

    if (ngx_http_cx_survey_text_options(cf, survey, text, value, &a, &lang)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (lang.data && ngx_http_cx_lang_tag(&lang) != NGX_OK) {
        return ngx_http_cx_survey_bad_lang(cf, survey, &lang);
    }

    text->lang = lang.data ? lang : survey->lang;

    text->text = value[a++];
    if (ngx_http_cx_text_ok(cf, &text->text) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (text->kind == NGX_HTTP_CX_TEXT_LABELS) {
        text->text2 = value[a];
        if (ngx_http_cx_text_ok(cf, &text->text2) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (lang.data == NULL) {
        /* untagged texts follow "lang" even when it comes later */
        text->lang.len = 0;
    }

    if (ngx_http_cx_survey_text(survey, text->kind, text->band, &text->lang)
        != text)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": \"%V\" is given twice for the "
                           "same language", &survey->name, name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The kind of text from the setting's name, and its options (a language,
 * a follow-up's band) by their number: *a is left at the first text.
 */

static char *
ngx_http_cx_survey_text_options(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_http_cx_text_t *text, ngx_str_t *value, ngx_uint_t *a,
    ngx_str_t *lang)
{
    ngx_str_t   *name;
    ngx_int_t    band;
    ngx_uint_t   nargs, texts;

    name = &value[0];
    nargs = cf->args->nelts - 1;

    if (name->len == 8 && ngx_strncmp(name->data, "question", 8) == 0) {
        text->kind = NGX_HTTP_CX_TEXT_QUESTION;
        texts = 1;

    } else if (name->len == 6 && ngx_strncmp(name->data, "thanks", 6) == 0) {
        text->kind = NGX_HTTP_CX_TEXT_THANKS;
        texts = 1;

    } else if (name->len == 6 && ngx_strncmp(name->data, "labels", 6) == 0) {
        text->kind = NGX_HTTP_CX_TEXT_LABELS;
        texts = 2;

    } else if (name->len == 8 && ngx_strncmp(name->data, "followup", 8) == 0)
    {
        text->kind = NGX_HTTP_CX_TEXT_FOLLOWUP;
        texts = 1;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey \"%V\": unknown setting \"%V\"; the "
                           "settings are type, question, followup, labels, "
                           "thanks, lang, every, target, position, color and "
                           "title", &survey->name, name);
        return NGX_CONF_ERROR;
    }

    if (text->kind != NGX_HTTP_CX_TEXT_FOLLOWUP) {
        if (nargs == texts + 1) {
            *lang = value[(*a)++];

        } else if (nargs != texts) {
            return ngx_http_cx_survey_args(cf, survey, name);
        }

        return NGX_CONF_OK;
    }

    /* followup [LANG] [BAND] TEXT */

    if (nargs == 3) {
        *lang = value[(*a)++];
    }

    if (nargs == 2 || nargs == 3) {
        band = ngx_http_cx_band(&value[*a]);

        if (band != NGX_ERROR) {
            text->band = band;
            (*a)++;

        } else if (nargs == 2) {
            if (ngx_http_cx_lang_tag(&value[*a]) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_survey \"%V\": \"%V\" is neither a "
                                   "language tag such as \"en\", \"tr\" or "
                                   "\"pt-BR\" nor a follow-up band "
                                   "(detractor, passive or promoter)",
                                   &survey->name, &value[*a]);
                return NGX_CONF_ERROR;
            }

            *lang = value[(*a)++];

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_survey \"%V\": unknown follow-up band "
                               "\"%V\", the bands are detractor, passive "
                               "and promoter", &survey->name, &value[*a]);
            return NGX_CONF_ERROR;
        }

    } else if (nargs != 1) {
        return ngx_http_cx_survey_args(cf, survey, name);
    }

    return NGX_CONF_OK;
}


/*
 * Refuses a line of the block: fmt has two %V, the survey's name, then
 * the setting or value at fault.
 */

static char *
ngx_http_cx_survey_error(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    const char *fmt, ngx_str_t *arg)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, fmt, &survey->name, arg);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_cx_band(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 1; i < 4; i++) {
        if (s->len == ngx_strlen(ngx_http_cx_band_names[i])
            && ngx_strncmp(s->data, ngx_http_cx_band_names[i], s->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_cx_text_ok(ngx_conf_t *cf, ngx_str_t *text)
{
    if (text->len == 0 || text->len > NGX_HTTP_CX_TEXT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey: texts must be 1 to %d bytes long",
                           NGX_HTTP_CX_TEXT_MAX);
        return NGX_ERROR;
    }

    if (!ngx_cx_utf8_valid(text->data, text->len, NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_survey: the text \"%V\" is not valid UTF-8",
                           text);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A language with some texts of its own but not others shows a mix: warn
 * (nginx -t still passes), naming what is missing.  Only the kinds the
 * default language has count; a band is covered by the language's general
 * follow-up.
 */

static void
ngx_http_cx_survey_check_languages(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey)
{
    u_char              *p, *last;
    ngx_uint_t           i, j, kind;
    ngx_str_t           *lang;
    ngx_http_cx_text_t  *text;
    u_char               missing[64];

    text = survey->texts.elts;

    for (i = 0; i < survey->texts.nelts; i++) {
        lang = &text[i].lang;

        if (lang->len == 0
            || (lang->len == survey->lang.len
                && ngx_memcmp(lang->data, survey->lang.data, lang->len) == 0))
        {
            continue;
        }

        /* once per language: at its first text */
        for (j = 0; j < i; j++) {
            if (text[j].lang.len == lang->len
                && ngx_memcmp(text[j].lang.data, lang->data, lang->len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        p = missing;
        last = missing + sizeof(missing);

        for (kind = NGX_HTTP_CX_TEXT_QUESTION;
             kind <= NGX_HTTP_CX_TEXT_THANKS;
             kind++)
        {
            if (ngx_http_cx_survey_text(survey, kind, 0, &survey->lang)
                && ngx_http_cx_survey_text(survey, kind, 0, lang) == NULL)
            {
                p = ngx_slprintf(p, last, "%s%s", p == missing ? "" : ", ",
                                 ngx_http_cx_kind_names[kind]);
            }
        }

        if (p != missing) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "cx_survey \"%V\": the \"%V\" texts have no "
                               "%*s: those are shown in the default language",
                               &survey->name, lang, p - missing, missing);
        }
    }
}


/* The text of a kind in a language; an empty lang means the default. */

ngx_http_cx_text_t *
ngx_http_cx_survey_text(ngx_http_cx_survey_t *s, ngx_uint_t kind,
    ngx_uint_t band, ngx_str_t *lang)
{
    ngx_str_t            *tl;
    ngx_uint_t            i;
    ngx_http_cx_text_t   *text;

    text = s->texts.elts;

    for (i = 0; i < s->texts.nelts; i++) {
        if (text[i].kind != kind || text[i].band != band) {
            continue;
        }

        tl = text[i].lang.len ? &text[i].lang : &s->lang;

        if ((lang->len == 0 ? s->lang.len : lang->len) == tl->len
            && ngx_memcmp(lang->len ? lang->data : s->lang.data,
                          tl->data, tl->len) == 0)
        {
            return &text[i];
        }
    }

    return NULL;
}


ngx_http_cx_survey_t *
ngx_http_cx_survey_find(ngx_http_cx_main_conf_t *cmcf, u_char *name,
    size_t len)
{
    ngx_uint_t             i;
    ngx_http_cx_survey_t  *survey;

    survey = cmcf->surveys.elts;

    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (survey[i].name.len == len
            && ngx_strncmp(survey[i].name.data, name, len) == 0)
        {
            return &survey[i];
        }
    }

    return NULL;
}
