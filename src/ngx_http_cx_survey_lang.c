/*
 * A survey's languages: the tags, the texts rendered once per language at
 * postconfiguration into the JSON the widget reads (so a page that gets a
 * prompt only copies bytes), and the rendering a request gets by its
 * Accept-Language.
 */

#include "ngx_http_cx_survey.h"
#include "ngx_cx_json.h"


static ngx_int_t ngx_http_cx_survey_render(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey);
static ngx_int_t ngx_http_cx_survey_render_lang(ngx_conf_t *cf,
    ngx_http_cx_survey_t *survey, ngx_str_t *lang, ngx_str_t *json);
static ngx_http_cx_text_t *ngx_http_cx_survey_band_text(
    ngx_http_cx_survey_t *survey, ngx_str_t *lang, ngx_uint_t band);
static ngx_uint_t ngx_http_cx_lang_is(ngx_str_t *lang, const char *tag);
static u_char *ngx_http_cx_json_member(u_char *p, u_char sep,
    const char *name, ngx_str_t *value);
static size_t ngx_http_cx_json_member_len(const char *name,
    ngx_str_t *value);


static ngx_str_t  ngx_http_cx_default_thanks = ngx_string("Thank you!");

/*
 * The widget's own words (close, send, skip, and what it says when intake
 * answers 409: the token was answered before, from another copy of the
 * page), in the languages the module knows; the widget falls back to
 * English.  Kept here, not in w.js, so the script stays small and each page
 * carries one language only.
 */
typedef struct {
    const char  *lang;
    const char  *json;
} ngx_http_cx_ui_t;

static ngx_http_cx_ui_t  ngx_http_cx_ui[] = {
    { "en", ",\"ui\":{\"close\":\"Close\",\"send\":\"Send\",\"skip\":\"Skip\","
            "\"recorded\":\"Your answer was already recorded.\"}" },
    { "tr", ",\"ui\":{\"close\":\"Kapat\",\"send\":\"G\\u00f6nder\","
            "\"skip\":\"Atla\","
            "\"recorded\":\"Yan\\u0131t\\u0131n\\u0131z zaten kaydedildi.\"}" },
    { "nb", ",\"ui\":{\"close\":\"Lukk\",\"send\":\"Send\","
            "\"skip\":\"Hopp over\","
            "\"recorded\":\"Svaret ditt er allerede registrert.\"}" },
    { "no", ",\"ui\":{\"close\":\"Lukk\",\"send\":\"Send\","
            "\"skip\":\"Hopp over\","
            "\"recorded\":\"Svaret ditt er allerede registrert.\"}" },
    { "de", ",\"ui\":{\"close\":\"Schlie\\u00dfen\",\"send\":\"Senden\","
            "\"skip\":\"\\u00dcberspringen\","
            "\"recorded\":\"Ihre Antwort wurde bereits gespeichert.\"}" },
    { "fr", ",\"ui\":{\"close\":\"Fermer\",\"send\":\"Envoyer\","
            "\"skip\":\"Passer\","
            "\"recorded\":\"Votre r\\u00e9ponse a d\\u00e9j\\u00e0 "
            "\\u00e9t\\u00e9 enregistr\\u00e9e.\"}" },
    { "es", ",\"ui\":{\"close\":\"Cerrar\",\"send\":\"Enviar\","
            "\"skip\":\"Omitir\","
            "\"recorded\":\"Su respuesta ya fue registrada.\"}" },
    { NULL, NULL }
};

/* primary language subtags written right to left */
static const char  *ngx_http_cx_rtl[] = {
    "ar", "he", "fa", "ur", "yi", "ps", "dv", "ckb", "sd", "ug", NULL
};


/* a BCP 47 tag, simplified: 2-3 letters, then -subtags; made lowercase */

ngx_int_t
ngx_http_cx_lang_tag(ngx_str_t *tag)
{
    ngx_uint_t  i, run;

    if (tag->len < 2 || tag->len > NGX_CX_LANG_MAX) {
        return NGX_ERROR;
    }

    run = 0;

    for (i = 0; i < tag->len; i++) {
        if (tag->data[i] == '-') {
            if (run == 0 || i == tag->len - 1) {
                return NGX_ERROR;
            }
            run = 0;
            continue;
        }

        if (!ngx_http_cx_isalnum(tag->data[i])) {
            return NGX_ERROR;
        }

        tag->data[i] = ngx_tolower(tag->data[i]);
        run++;
    }

    /* the primary subtag is letters only */
    for (i = 0; i < tag->len && tag->data[i] != '-'; i++) {
        if (!(tag->data[i] >= 'a' && tag->data[i] <= 'z') || i >= 3) {
            return NGX_ERROR;
        }
    }

    return (i >= 2) ? NGX_OK : NGX_ERROR;
}


/* postconfiguration: every survey is rendered, once per language */

ngx_int_t
ngx_http_cx_survey_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    ngx_uint_t             i;
    ngx_http_cx_survey_t  *survey;

    survey = cmcf->surveys.elts;
    for (i = 0; i < cmcf->surveys.nelts; i++) {
        if (ngx_http_cx_survey_render(cf, &survey[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_survey_render(ngx_conf_t *cf, ngx_http_cx_survey_t *survey)
{
    ngx_str_t                 *lang;
    ngx_uint_t                 i, j;
    ngx_http_cx_text_t        *text;
    ngx_http_cx_rendering_t   *rd;

    if (ngx_array_init(&survey->renderings, cf->pool, 2,
                       sizeof(ngx_http_cx_rendering_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the default language first: it is the fallback */

    rd = ngx_array_push(&survey->renderings);
    if (rd == NULL) {
        return NGX_ERROR;
    }

    rd->lang = survey->lang;

    text = survey->texts.elts;

    for (i = 0; i < survey->texts.nelts; i++) {
        lang = text[i].lang.len ? &text[i].lang : &survey->lang;

        rd = survey->renderings.elts;
        for (j = 0; j < survey->renderings.nelts; j++) {
            if (rd[j].lang.len == lang->len
                && ngx_strncmp(rd[j].lang.data, lang->data, lang->len) == 0)
            {
                break;
            }
        }

        if (j < survey->renderings.nelts) {
            continue;
        }

        rd = ngx_array_push(&survey->renderings);
        if (rd == NULL) {
            return NGX_ERROR;
        }

        rd->lang = *lang;
    }

    rd = survey->renderings.elts;
    for (j = 0; j < survey->renderings.nelts; j++) {
        if (ngx_http_cx_survey_render_lang(cf, survey, &rd[j].lang,
                                           &rd[j].json)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cx_survey_render_lang(ngx_conf_t *cf, ngx_http_cx_survey_t *survey,
    ngx_str_t *lang, ngx_str_t *json)
{
    u_char              *p;
    size_t               len;
    ngx_str_t            dir, *thanks;
    ngx_uint_t           i, band, bands;
    const char          *ui;
    ngx_http_cx_text_t  *q, *labels, *followup, *by_band[4];

#define ngx_http_cx_pick(kind, band)                                        \
    (ngx_http_cx_survey_text(survey, kind, band, lang)                      \
     ? ngx_http_cx_survey_text(survey, kind, band, lang)                    \
     : ngx_http_cx_survey_text(survey, kind, band, &survey->lang))

    q = ngx_http_cx_pick(NGX_HTTP_CX_TEXT_QUESTION, 0);
    labels = ngx_http_cx_pick(NGX_HTTP_CX_TEXT_LABELS, 0);
    followup = ngx_http_cx_pick(NGX_HTTP_CX_TEXT_FOLLOWUP, 0);

    bands = 0;
    for (band = 1; band < 4; band++) {
        by_band[band] = ngx_http_cx_survey_band_text(survey, lang, band);
        bands += (by_band[band] != NULL);
    }

    thanks = ngx_http_cx_pick(NGX_HTTP_CX_TEXT_THANKS, 0)
             ? &ngx_http_cx_pick(NGX_HTTP_CX_TEXT_THANKS, 0)->text
             : &ngx_http_cx_default_thanks;

#undef ngx_http_cx_pick

    ngx_str_set(&dir, "ltr");
    for (i = 0; ngx_http_cx_rtl[i]; i++) {
        if (ngx_http_cx_lang_is(lang, ngx_http_cx_rtl[i])) {
            ngx_str_set(&dir, "rtl");
            break;
        }
    }

    ui = NULL;
    for (i = 0; ngx_http_cx_ui[i].lang; i++) {
        if (ngx_http_cx_lang_is(lang, ngx_http_cx_ui[i].lang)) {
            ui = ngx_http_cx_ui[i].json;
            break;
        }
    }

    len = ngx_http_cx_json_member_len("lang", lang)
          + ngx_http_cx_json_member_len("dir", &dir)
          + (ui ? ngx_strlen(ui) : 0)
          + ngx_http_cx_json_member_len("question", &q->text)
          + ngx_http_cx_json_member_len("thanks", thanks);

    if (labels) {
        len += sizeof(",\"labels\":[\"\",\"\"]")
               + ngx_cx_json_escape_len(labels->text.data, labels->text.len)
               + ngx_cx_json_escape_len(labels->text2.data,
                                        labels->text2.len);
    }

    if (followup) {
        len += ngx_http_cx_json_member_len("followup", &followup->text);
    }

    if (bands) {
        len += sizeof(",\"followup_by_band\":{}");
        for (band = 1; band < 4; band++) {
            if (by_band[band]) {
                len += ngx_http_cx_json_member_len(
                           ngx_http_cx_band_names[band],
                           &by_band[band]->text);
            }
        }
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;

    p = ngx_http_cx_json_member(p, 0, "lang", lang);
    p = ngx_http_cx_json_member(p, ',', "dir", &dir);
    p = ngx_http_cx_json_member(p, ',', "question", &q->text);

    if (labels) {
        p = ngx_cpymem(p, ",\"labels\":[\"", sizeof(",\"labels\":[\"") - 1);
        p = ngx_cx_json_escape(p, labels->text.data, labels->text.len);
        p = ngx_cpymem(p, "\",\"", 3);
        p = ngx_cx_json_escape(p, labels->text2.data, labels->text2.len);
        p = ngx_cpymem(p, "\"]", 2);
    }

    if (followup) {
        p = ngx_http_cx_json_member(p, ',', "followup", &followup->text);
    }

    if (bands) {
        p = ngx_cpymem(p, ",\"followup_by_band\":{",
                       sizeof(",\"followup_by_band\":{") - 1);
        i = 0;
        for (band = 1; band < 4; band++) {
            if (by_band[band]) {
                p = ngx_http_cx_json_member(p, i++ ? ',' : 0,
                                            ngx_http_cx_band_names[band],
                                            &by_band[band]->text);
            }
        }
        *p++ = '}';
    }

    p = ngx_http_cx_json_member(p, ',', "thanks", thanks);

    if (ui) {
        p = ngx_cpymem(p, ui, ngx_strlen(ui));
    }

    json->len = p - json->data;

    return NGX_OK;
}


/*
 * The widget asks the follow-up of the answer's band from followup_by_band,
 * else the general followup (w.js, next()): the same choice, here for the
 * intake, which stores the text asked with the answer.
 */

ngx_str_t *
ngx_http_cx_survey_followup(ngx_http_cx_survey_t *survey, ngx_str_t *lang,
    ngx_uint_t band)
{
    ngx_http_cx_text_t  *text;

    text = (band >= 1 && band < 4)
           ? ngx_http_cx_survey_band_text(survey, lang, band) : NULL;

    if (text == NULL) {
        text = ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_FOLLOWUP, 0,
                                       lang);
    }

    if (text == NULL) {
        text = ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_FOLLOWUP, 0,
                                       &survey->lang);
    }

    return text ? &text->text : NULL;
}


/*
 * A band's follow-up in a rendering.  The visitor's language wins over a
 * band: a band's text in the default language is used only when the
 * follow-up has no text at all in the visitor's language.
 */

static ngx_http_cx_text_t *
ngx_http_cx_survey_band_text(ngx_http_cx_survey_t *survey, ngx_str_t *lang,
    ngx_uint_t band)
{
    ngx_http_cx_text_t  *text;

    text = ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_FOLLOWUP, band,
                                   lang);

    if (text == NULL
        && ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_FOLLOWUP, 0, lang)
           == NULL)
    {
        text = ngx_http_cx_survey_text(survey, NGX_HTTP_CX_TEXT_FOLLOWUP,
                                       band, &survey->lang);
    }

    return text;
}


/* lang is tag, or a variant of it: "pt-br" is "pt" */

static ngx_uint_t
ngx_http_cx_lang_is(ngx_str_t *lang, const char *tag)
{
    size_t  len;

    len = ngx_strlen(tag);

    return lang->len >= len
           && ngx_strncmp(lang->data, tag, len) == 0
           && (lang->len == len || lang->data[len] == '-');
}


static size_t
ngx_http_cx_json_member_len(const char *name, ngx_str_t *value)
{
    return sizeof(",\"\":\"\"") - 1 + ngx_strlen(name)
           + ngx_cx_json_escape_len(value->data, value->len);
}


static u_char *
ngx_http_cx_json_member(u_char *p, u_char sep, const char *name,
    ngx_str_t *value)
{
    if (sep) {
        *p++ = sep;
    }

    *p++ = '"';
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';
    *p++ = ':';
    *p++ = '"';
    p = ngx_cx_json_escape(p, value->data, value->len);
    *p++ = '"';

    return p;
}


/*
 * Accept-Language: the survey language with the highest q that matches a
 * listed range exactly or by its primary subtag ("tr-TR" finds "tr").
 */

ngx_http_cx_rendering_t *
ngx_http_cx_survey_pick(ngx_http_request_t *r, ngx_http_cx_survey_t *survey)
{
    u_char                   *p, *last, *tag, *tag_end;
    size_t                    len, plen;
    ngx_uint_t                i, q, best_q, best;
    ngx_table_elt_t          *h;
    ngx_http_cx_rendering_t  *rd;

    rd = survey->renderings.elts;

#if (NGX_HTTP_HEADERS)
    h = r->headers_in.accept_language;
#else
    h = NULL;
#endif

    if (h == NULL || survey->renderings.nelts == 1) {
        return &rd[0];
    }

    best = 0;
    best_q = 0;
    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',' || *p == '\t')) {
            p++;
        }

        tag = p;
        while (p < last && *p != ',' && *p != ';' && *p != ' ') {
            p++;
        }
        tag_end = p;

        q = 1000;

        while (p < last && *p != ',') {
            if (*p == 'q' && p + 1 < last && p[1] == '=') {
                p += 2;
                q = 0;
                if (p < last && *p == '1') {
                    q = 1000;
                } else if (p + 1 < last && *p == '0' && p[1] == '.') {
                    p += 2;
                    for (i = 100;
                         i > 0 && p < last && ngx_http_cx_isdigit(*p);
                         i /= 10)
                    {
                        q += (*p++ - '0') * i;
                    }
                }
                continue;
            }
            p++;
        }

        len = tag_end - tag;
        if (len == 0 || q <= best_q) {
            continue;
        }

        for (i = 0; i < survey->renderings.nelts; i++) {
            for (plen = 0; plen < rd[i].lang.len
                           && rd[i].lang.data[plen] != '-'; plen++)
            { /* void */ }

            if ((len == rd[i].lang.len
                 && ngx_strncasecmp(tag, rd[i].lang.data, len) == 0)
                || (len >= plen && ngx_strncasecmp(tag, rd[i].lang.data,
                                                   plen) == 0
                    && (len == plen || tag[plen] == '-')))
            {
                best = i;
                best_q = q;
                break;
            }
        }
    }

    return &rd[best];
}
