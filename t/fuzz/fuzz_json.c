/*
 * The intake parser on arbitrary bodies: never reads or writes out of its
 * buffers (exact-size heap copies, so ASan sees it), and what it accepts
 * obeys its contract (src/ngx_cx_json.h). The escaper and the UTF-8
 * validator on the same bytes: the escaped length is exact, the output is
 * inert in HTML, and a valid UTF-8 string escaped into an intake body
 * parses back to itself.
 */

#include "fuzz.h"
#include "ngx_cx_json.h"


static void
check_escaped(const unsigned char *e, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        CHECK(e[i] >= 0x20 && e[i] < 0x7f);
        CHECK(e[i] != '<' && e[i] != '>' && e[i] != '&' && e[i] != '\'');
        if (e[i] == '"') {
            CHECK(i > 0 && e[i - 1] == '\\');
        }
    }
}


static void
parse_body(const unsigned char *data, size_t size, size_t max_chars)
{
    int               rc;
    size_t            chars;
    const char       *err;
    unsigned char    *body, *scratch;
    ngx_cx_intake_t   in;

    body = fz_dup(data, size);
    scratch = malloc(size ? size : 1);
    CHECK(scratch != NULL);

    err = "unset";
    rc = ngx_cx_intake_parse(body, size, size ? scratch : NULL, max_chars,
                             &in, &err);

    if (rc == 0) {
        CHECK(err == NULL);
        CHECK(ngx_cx_utf8_valid(body, size, NULL));
        CHECK(in.token_len > 0);
        CHECK(in.token >= scratch && in.token + in.token_len <= scratch + size);
        CHECK(in.event >= NGX_CX_EVENT_DISPLAY && in.event <= NGX_CX_EVENT_DISMISS);
        CHECK(in.has_score || in.score == 0);
        CHECK(in.score >= -NGX_CX_INTAKE_SCORE_MAX
              && in.score <= NGX_CX_INTAKE_SCORE_MAX);
        CHECK(in.event != NGX_CX_EVENT_ANSWER || in.has_score);
        CHECK(ngx_cx_utf8_valid(in.token, in.token_len, NULL));
        if (in.has_comment) {
            CHECK(in.comment_len == 0 || (in.comment >= scratch
                  && in.comment + in.comment_len <= scratch + size));
            CHECK(ngx_cx_utf8_valid(in.comment, in.comment_len, &chars));
            CHECK(chars == in.comment_chars);
            CHECK(chars <= max_chars);
        }
        CHECK(in.event != NGX_CX_EVENT_COMMENT
              || (in.has_comment && in.comment_chars > 0));

    } else {
        CHECK(rc == -1);
        CHECK(err != NULL && strcmp(err, "unset") != 0);
    }

    free(body);
    free(scratch);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    size_t          n, elen, chars, blen;
    const char     *err;
    unsigned char  *src, *esc, *end, *body, *scratch;
    ngx_cx_intake_t in;

    static const char  head[] = "{\"event\":\"display\",\"token\":\"";
    static const char  tail[] = "\",\"x\":[1,{\"y\":null}]}";

    /* the body as it comes, under two comment limits */
    parse_body(data, size, 500);
    parse_body(data, size, size > 0 ? data[0] % 8 : 0);

    /* the escaper */
    src = fz_dup(data, size);
    elen = ngx_cx_json_escape_len(src, size);
    CHECK(elen <= 6 * size);
    esc = malloc(elen ? elen : 1);
    CHECK(esc != NULL);
    end = ngx_cx_json_escape(esc, src, size);
    CHECK(end == esc + elen);
    check_escaped(esc, elen);

    /* valid UTF-8 goes through escape and parse unchanged */
    if (size > 0 && ngx_cx_utf8_valid(src, size, &chars)) {
        CHECK(chars <= size);
        blen = sizeof(head) - 1 + elen + sizeof(tail) - 1;
        body = malloc(blen);
        scratch = malloc(blen);
        CHECK(body != NULL && scratch != NULL);
        memcpy(body, head, sizeof(head) - 1);
        memcpy(body + sizeof(head) - 1, esc, elen);
        memcpy(body + sizeof(head) - 1 + elen, tail, sizeof(tail) - 1);
        err = NULL;
        rc = ngx_cx_intake_parse(body, blen, scratch, 0, &in, &err);
        if (rc != 0) {
            fprintf(stderr, "round trip refused: %s\n", err);
        }
        CHECK(rc == 0);
        CHECK(in.event == NGX_CX_EVENT_DISPLAY);
        n = in.token_len;
        CHECK(n == size && memcmp(in.token, src, size) == 0);
        free(body);
        free(scratch);
    }

    free(src);
    free(esc);
    return 0;
}
