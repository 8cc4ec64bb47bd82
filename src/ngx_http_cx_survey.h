/*
 * ngx_http_cx_survey.h — what the parts of cx_survey share.
 *
 *   src/ngx_http_cx_survey.c       the cx_survey block: its lines, its
 *                                  texts, the checks of the whole block
 *   src/ngx_http_cx_survey_lang.c  its languages: language tags, the texts
 *                                  rendered once per language as the JSON
 *                                  the widget reads (with the widget's own
 *                                  words and the direction), and the
 *                                  rendering a request gets by its
 *                                  Accept-Language
 *
 * What the rest of the module calls is in ngx_http_cx.h.
 */

#ifndef _NGX_HTTP_CX_SURVEY_H_INCLUDED_
#define _NGX_HTTP_CX_SURVEY_H_INCLUDED_


#include "ngx_http_cx.h"


/* by NGX_HTTP_CX_BAND_*: "detractor", "passive", "promoter"; [0] is "" */
extern const char  *ngx_http_cx_band_names[];


/*
 * The text of a kind and band in a language (an empty lang means the
 * survey's default language); NULL when the survey has none.
 */
ngx_http_cx_text_t *ngx_http_cx_survey_text(ngx_http_cx_survey_t *s,
    ngx_uint_t kind, ngx_uint_t band, ngx_str_t *lang);

/*
 * NGX_OK when tag is a language tag (BCP 47, simplified: 2-3 letters,
 * then -subtags); it is made lowercase in place.
 */
ngx_int_t ngx_http_cx_lang_tag(ngx_str_t *tag);


#endif /* _NGX_HTTP_CX_SURVEY_H_INCLUDED_ */
