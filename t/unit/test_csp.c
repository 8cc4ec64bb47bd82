/*
 * Unit tests for src/ngx_cx_csp.c: may the page's Content-Security-Policy
 * run the widget's same-origin <script src>, and with which nonce?  Every
 * expectation follows the contract in src/ngx_cx_csp.h.
 *
 * Each header value is copied into a heap buffer of exactly its length (no
 * terminating NUL), so AddressSanitizer catches any read past the value.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_csp.h"


#define ALLOW  NGX_CX_CSP_ALLOW
#define NONCE  NGX_CX_CSP_NONCE
#define BLOCK  NGX_CX_CSP_BLOCK

#define MAX_HEADERS  4


/*
 * One case: the header values (up to MAX_HEADERS, the rest NULL; none at
 * all is a response without the header), the verdict and the nonce, ""
 * for none (a nonce is never empty).  The group names the rule the case is
 * about.
 */

typedef struct {
    const char  *group;
    int          want;
    const char  *nonce;
    const char  *hdrs[MAX_HEADERS];
} csp_case_t;


static const char *
verdict_name(int v)
{
    switch (v) {
    case NGX_CX_CSP_ALLOW:
        return "ALLOW";
    case NGX_CX_CSP_NONCE:
        return "NONCE";
    case NGX_CX_CSP_BLOCK:
        return "BLOCK";
    default:
        return "?";
    }
}


/*
 * Feeds the headers (one ngx_cx_csp_add() each) and checks the verdict and
 * the nonce: "" means none (NULL, 0).  A given nonce must point into one of
 * the header values.  A failure names case i of its group.
 */

static void
check_at(const csp_case_t *tc, size_t i, const char *file, int line)
{
    int                   got, ok, inside;
    size_t                k, n, len, want_len;
    unsigned char        *buf[MAX_HEADERS];
    ngx_cx_csp_t          c;
    const unsigned char  *nonce;

    ngx_cx_csp_init(&c);

    for (n = 0; n < MAX_HEADERS && tc->hdrs[n] != NULL; n++) {
        len = strlen(tc->hdrs[n]);
        buf[n] = malloc(len ? len : 1);
        _assert_true(buf[n] != NULL, "malloc", file, line);
        memcpy(buf[n], tc->hdrs[n], len);
        ngx_cx_csp_add(&c, buf[n], len);
    }

    nonce = (const unsigned char *) "garbage";
    len = 12345;

    got = ngx_cx_csp_result(&c, &nonce, &len);

    want_len = strlen(tc->nonce);

    ok = (got == tc->want);
    if (want_len == 0) {
        ok = ok && nonce == NULL && len == 0;
    } else {
        ok = ok && nonce != NULL && len == want_len
             && memcmp(nonce, tc->nonce, want_len) == 0;
    }

    inside = (nonce == NULL);
    for (k = 0; k < n && nonce != NULL; k++) {
        if (nonce >= buf[k] && nonce + len <= buf[k] + strlen(tc->hdrs[k])) {
            inside = 1;
        }
    }

    if (!ok || !inside) {
        print_message("%s:%d: case %zu (%s), headers:\n", file, line, i,
                      tc->group);
        for (k = 0; k < n; k++) {
            print_message("    [%s]\n", tc->hdrs[k]);
        }
        print_message("  expected %s nonce=%s, got %s nonce=%.*s (len %zu)%s\n",
                      verdict_name(tc->want),
                      want_len ? tc->nonce : "(none)", verdict_name(got),
                      nonce ? (int) (len > 200 ? 200 : len) : 6,
                      nonce ? (const char *) nonce : "(none)", len,
                      inside ? "" : ", not inside the header values");
    }

    for (k = 0; k < n; k++) {
        free(buf[k]);
    }

    case_int_equal(got, tc->want, i, tc->group, file, line);
    case_int_equal(ok, 1, i, tc->group, file, line);
    case_int_equal(inside, 1, i, tc->group, file, line);
}


/* a case built at run time, named by the test function */

#define CHECK(want, want_nonce, ...)                                        \
    do {                                                                    \
        const csp_case_t  c_ = { __func__, want, want_nonce,                \
                                 { __VA_ARGS__ } };                         \
        check_at(&c_, 0, __FILE__, __LINE__);                               \
    } while (0)


static const csp_case_t  cases[] = {

    /* nothing added at all */
    { "no policy", ALLOW, "", { NULL } },
    /* policies that do not restrict script elements */
    { "no policy", ALLOW, "", { "" } },
    { "no policy", ALLOW, "", { " " } },
    { "no policy", ALLOW, "", { ";" } },
    { "no policy", ALLOW, "", { "," } },
    { "no policy", ALLOW, "", { " ; , ;;" } },
    { "no policy", ALLOW, "", { "img-src 'none'; style-src 'self'; object-src 'none'" } },
    { "no policy", ALLOW, "", { "frame-ancestors 'none'; upgrade-insecure-requests" } },
    { "no policy", ALLOW, "", { "script-src-attr 'none'" } },
    { "no policy", ALLOW, "", { "style-src 'nonce-abc'" } },
    { "no policy", ALLOW, "", { "img-src *", "base-uri 'self'" } },
    /* a directive whose name only starts like one that matters */
    { "no policy", ALLOW, "", { "script-srcx 'none'; default-src-x 'none'" } },
    { "no policy", ALLOW, "", { "x-script-src 'none'" } },

    { "self", ALLOW, "", { "script-src 'self'" } },
    { "self", ALLOW, "", { "script-src 'self' https://cdn.example.com" } },
    { "self", ALLOW, "", { "script-src https://cdn.example.com 'self' 'unsafe-inline'" } },
    { "self", ALLOW, "", { "default-src 'none'; script-src 'self'; img-src *" } },
    { "self", ALLOW, "", { "object-src 'none'; script-src 'self'" } },
    { "self", ALLOW, "", { "script-src-attr 'none'; script-src 'self'" } },

    { "default-src", ALLOW, "", { "default-src 'self'" } },
    { "default-src", ALLOW, "", { "default-src 'self'; img-src *; style-src 'unsafe-inline'" } },
    { "default-src", BLOCK, "", { "default-src 'none'" } },
    { "default-src", BLOCK, "", { "default-src https://example.com" } },
    { "default-src", NONCE, "r4nd0m", { "default-src 'nonce-r4nd0m'" } },
    /* script-src, wherever it is, replaces default-src */
    { "default-src", BLOCK, "", { "default-src 'self'; script-src 'none'" } },
    { "default-src", BLOCK, "", { "script-src 'none'; default-src 'self'" } },
    { "default-src", BLOCK, "", { "default-src 'self'; script-src https://cdn.example.com" } },
    { "default-src", ALLOW, "", { "default-src 'none'; script-src 'self'" } },
    { "default-src", ALLOW, "", { "script-src 'self'; default-src 'none'" } },
    { "default-src", NONCE, "abc", { "default-src 'self'; script-src 'nonce-abc'" } },

    { "elem", BLOCK, "", { "script-src 'self'; script-src-elem 'none'" } },
    { "elem", BLOCK, "", { "script-src-elem 'none'; script-src 'self'" } },
    { "elem", ALLOW, "", { "script-src 'none'; script-src-elem 'self'" } },
    { "elem", ALLOW, "", { "script-src-elem 'self'; script-src 'none'" } },
    { "elem", ALLOW, "", { "default-src 'none'; script-src 'none'; script-src-elem 'self'" } },
    { "elem", BLOCK, "", { "default-src 'self'; script-src 'self'; script-src-elem https://x.example" } },
    { "elem", NONCE, "elem", { "script-src 'self'; script-src-elem 'nonce-elem'" } },
    { "elem", NONCE, "elem", { "script-src 'nonce-src'; script-src-elem 'nonce-elem'" } },
    { "elem", ALLOW, "", { "script-src 'nonce-src'; script-src-elem 'self'" } },
    /* script-src-attr governs attributes, not elements */
    { "elem", BLOCK, "", { "script-src-attr 'self'; script-src 'none'" } },

    { "none", BLOCK, "", { "script-src 'none'" } },
    { "none", BLOCK, "", { "script-src 'none'; img-src 'self'" } },
    { "none", BLOCK, "", { "default-src 'none'; img-src 'self'; style-src 'self'" } },
    /* an empty source list is 'none' */
    { "none", BLOCK, "", { "script-src" } },
    { "none", BLOCK, "", { "script-src ; default-src 'self'" } },
    { "none", BLOCK, "", { "script-src-elem" } },
    /* 'none' does not undo the sources beside it */
    { "none", NONCE, "abc", { "script-src 'none' 'nonce-abc'" } },

    { "hosts", BLOCK, "", { "script-src https://example.com" } },
    { "hosts", BLOCK, "", { "script-src example.com cdn.example.com:443" } },
    { "hosts", BLOCK, "", { "script-src *.example.com" } },
    { "hosts", BLOCK, "", { "script-src https:" } },
    { "hosts", BLOCK, "", { "script-src https: http: data: blob:" } },
    { "hosts", BLOCK, "", { "script-src 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='" } },
    { "hosts", BLOCK, "", { "script-src 'unsafe-inline' 'unsafe-eval'" } },
    { "hosts", BLOCK, "", { "script-src 'unsafe-hashes' 'wasm-unsafe-eval' 'report-sample'" } },
    { "hosts", BLOCK, "", { "script-src selfish.example 'selfx' self" } },
    { "hosts", ALLOW, "", { "script-src https://example.com 'self'" } },

    { "nonce", NONCE, "abc", { "script-src 'nonce-abc'" } },
    { "nonce", NONCE, "abc", { "script-src 'nonce-abc' 'strict-dynamic'" } },
    { "nonce", NONCE, "abc", { "script-src 'strict-dynamic' 'nonce-abc'" } },
    { "nonce", NONCE, "abc", { "script-src 'strict-dynamic' 'nonce-abc' https: 'unsafe-inline'" } },
    { "nonce", NONCE, "abc", { "script-src https://cdn.example.com 'nonce-abc'" } },
    { "nonce", NONCE, "abc", { "script-src 'unsafe-inline' 'nonce-abc'; object-src 'none'" } },
    /* base64 and base64url characters */
    { "nonce", NONCE, "aB3+/9==", { "script-src 'nonce-aB3+/9=='" } },
    { "nonce", NONCE, "aB3-_9", { "script-src 'nonce-aB3-_9'" } },
    { "nonce", NONCE, "x", { "script-src 'nonce-x'" } },
    /* the nonce's case is kept: it is compared byte for byte */
    { "nonce", NONCE, "AbC", { "script-src 'nonce-AbC'" } },
    /* the first usable nonce of a list */
    { "nonce", NONCE, "one", { "script-src 'nonce-one' 'nonce-two'" } },
    /* 'self' already allows the script: a nonce is optional, and known */
    { "nonce", ALLOW, "abc", { "script-src 'self' 'nonce-abc'" } },
    { "nonce", ALLOW, "abc", { "script-src 'nonce-abc' 'self'" } },
    { "nonce", ALLOW, "abc", { "script-src 'nonce-abc' *" } },

    /* 'strict-dynamic' makes 'self', * and hosts ignored: a nonce is needed */
    { "strict-dynamic", BLOCK, "", { "script-src 'self' 'strict-dynamic'" } },
    { "strict-dynamic", BLOCK, "", { "script-src 'strict-dynamic' 'self'" } },
    { "strict-dynamic", BLOCK, "", { "script-src * 'strict-dynamic'" } },
    { "strict-dynamic", BLOCK, "", { "script-src 'self' https: 'unsafe-inline' 'strict-dynamic'" } },
    { "strict-dynamic", BLOCK, "", { "default-src 'self' 'strict-dynamic'" } },
    { "strict-dynamic", NONCE, "xyz", { "script-src 'self' 'strict-dynamic' 'nonce-xyz'" } },
    { "strict-dynamic", NONCE, "xyz", { "script-src 'nonce-xyz' 'self' 'strict-dynamic'" } },
    { "strict-dynamic", NONCE, "r4nd",
      { "script-src 'nonce-r4nd' 'strict-dynamic' https: 'unsafe-inline';"
        " object-src 'none'; base-uri 'none'" } },

    { "policies", NONCE, "abc", { "script-src 'self', script-src 'nonce-abc'" } },
    { "policies", NONCE, "abc", { "script-src 'nonce-abc', script-src 'self'" } },
    { "policies", NONCE, "abc", { "script-src 'self' 'nonce-abc', script-src 'nonce-abc'" } },
    { "policies", BLOCK, "", { "script-src 'self', script-src 'none'" } },
    { "policies", BLOCK, "", { "script-src 'none', script-src 'self'" } },
    { "policies", ALLOW, "", { "script-src 'self', default-src 'self'" } },
    { "policies", ALLOW, "", { "default-src 'self', img-src 'none'" } },
    { "policies", ALLOW, "", { "img-src 'none', script-src 'self'" } },
    { "policies", NONCE, "abc", { "script-src 'nonce-abc', default-src 'self'" } },
    { "policies", NONCE, "same", { "script-src 'nonce-same', script-src 'nonce-same' 'strict-dynamic'" } },
    { "policies", BLOCK, "", { "script-src 'nonce-one', script-src 'nonce-two'" } },
    { "policies", BLOCK, "", { "script-src 'nonce-abc', script-src 'nonce-ABC'" } },
    { "policies", BLOCK, "", { "script-src 'nonce-abc', script-src 'self' 'strict-dynamic'" } },
    { "policies", NONCE, "abc", { "script-src 'self' 'nonce-zzz', script-src 'nonce-abc'" } },
    { "policies", NONCE, "abc", { "  script-src 'self' ,script-src 'nonce-abc' , img-src * " } },
    { "policies", BLOCK, "", { "script-src 'self', script-src 'self', default-src 'none'" } },
    /* an empty policy between commas restricts nothing */
    { "policies", NONCE, "abc", { "script-src 'nonce-abc',, ," } },

    { "headers", NONCE, "same", { "script-src 'nonce-same'", "script-src 'nonce-same'" } },
    { "headers", NONCE, "same",
      { "default-src 'nonce-same'", "script-src-elem 'nonce-same' 'strict-dynamic'" } },
    { "headers", BLOCK, "", { "script-src 'nonce-one'", "script-src 'nonce-two'" } },
    { "headers", BLOCK, "", { "script-src 'nonce-two'", "script-src 'nonce-one'" } },
    { "headers", BLOCK, "", { "script-src 'nonce-abc'", "script-src 'nonce-abcd'" } },
    { "headers", BLOCK, "", { "script-src 'nonce-abcd'", "script-src 'nonce-abc'" } },
    { "headers", ALLOW, "", { "script-src 'self'", "default-src 'self'" } },
    { "headers", NONCE, "abc", { "script-src 'self'", "script-src 'nonce-abc'" } },
    { "headers", NONCE, "abc", { "script-src 'nonce-abc'", "script-src 'self'" } },
    { "headers", NONCE, "abc", { "img-src 'none'", "script-src 'nonce-abc'", "style-src 'self'" } },
    { "headers", BLOCK, "", { "script-src 'self'", "script-src 'none'" } },
    { "headers", BLOCK, "", { "script-src 'none'", "script-src 'self'" } },
    { "headers", BLOCK, "", { "script-src 'none'", "script-src 'nonce-abc'" } },
    { "headers", BLOCK, "", { "script-src 'nonce-abc'", "script-src 'none'" } },
    { "headers", BLOCK, "",
      { "script-src 'nonce-a'", "script-src 'nonce-a'", "script-src 'nonce-b'" } },
    /* a policy that allows by 'self' does not insist on its nonce */
    { "headers", NONCE, "b", { "script-src 'self' 'nonce-a'", "script-src 'nonce-b'" } },
    { "headers", NONCE, "b", { "script-src 'nonce-b'", "script-src 'self' 'nonce-a'" } },
    { "headers", NONCE, "a", { "script-src 'self' 'nonce-a'", "script-src 'nonce-a'" } },
    /* several policies in several headers */
    { "headers", NONCE, "k",
      { "img-src *, script-src 'self'", "script-src 'nonce-k', default-src *" } },
    { "headers", BLOCK, "",
      { "script-src 'self', script-src 'nonce-k'", "script-src 'nonce-j'" } },

    /*
     * A policy that lists two nonces accepts either: when another policy needs
     * the second one, that nonce satisfies both (ngx_cx_csp.h: "'nonce-X' the
     * element is allowed with nonce="X""; only policies that each NEED a
     * different nonce cannot both be met).
     */
    { "common nonce", NONCE, "b", { "script-src 'nonce-a' 'nonce-b'", "script-src 'nonce-b'" } },
    { "common nonce", NONCE, "b", { "script-src 'nonce-b'", "script-src 'nonce-a' 'nonce-b'" } },
    { "common nonce", NONCE, "b", { "script-src 'nonce-a' 'nonce-b', script-src 'nonce-c' 'nonce-b'" } },

    /* a nonce goes into an HTML attribute: only base64(url) characters */
    { "bad nonce", BLOCK, "", { "script-src 'nonce-ab\"c'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-\"><script>alert(1)</script>'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a<b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a>b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a&b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a'b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a`b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a.b'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-caf\xc3\xa9'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a\x01'" } },
    /* a space splits it into two tokens, neither is a nonce source */
    { "bad nonce", BLOCK, "", { "script-src 'nonce-a b'" } },
    /* empty nonce, missing quotes */
    { "bad nonce", BLOCK, "", { "script-src 'nonce-'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce-abc" } },
    { "bad nonce", BLOCK, "", { "script-src nonce-abc" } },
    { "bad nonce", BLOCK, "", { "script-src nonce-abc'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonce'" } },
    { "bad nonce", BLOCK, "", { "script-src 'nonceabc'" } },
    { "bad nonce", BLOCK, "", { "script-src 'noncex-abc'" } },
    /* a bad nonce is never offered, not even as an optional one */
    { "bad nonce", ALLOW, "", { "script-src 'self' 'nonce-a\"b'" } },
    { "bad nonce", ALLOW, "", { "script-src 'self' 'nonce-<x>'" } },
    /* a bad one does not hide a good one after it */
    { "bad nonce", NONCE, "good", { "script-src 'nonce-bad<' 'nonce-good'" } },
    { "bad nonce", NONCE, "good", { "script-src 'nonce-' 'nonce-good'" } },
    { "bad nonce", ALLOW, "good", { "script-src 'nonce-b\"ad' 'self' 'nonce-good'" } },

    { "case", ALLOW, "", { "SCRIPT-SRC 'self'" } },
    { "case", BLOCK, "", { "Script-Src 'none'" } },
    { "case", BLOCK, "", { "DEFAULT-SRC 'none'" } },
    { "case", BLOCK, "", { "Default-Src 'self'; sCrIpT-sRc 'none'" } },
    { "case", NONCE, "x", { "script-src 'self'; Script-Src-Elem 'nonce-x'" } },
    { "case", BLOCK, "", { "SCRIPT-SRC-ELEM 'none'; script-src 'self'" } },
    /* keywords too; the nonce value keeps its case */
    { "case", ALLOW, "", { "script-src 'SELF'" } },
    { "case", ALLOW, "", { "script-src 'Self'" } },
    { "case", NONCE, "AbC", { "script-src 'NONCE-AbC'" } },
    { "case", NONCE, "AbC", { "script-src 'Nonce-AbC'" } },
    { "case", BLOCK, "", { "script-src 'Strict-Dynamic' 'self'" } },
    { "case", BLOCK, "", { "script-src 'NONE'" } },

    { "star", ALLOW, "", { "script-src *" } },
    { "star", ALLOW, "", { "default-src *" } },
    { "star", ALLOW, "", { "default-src 'none'; script-src * 'unsafe-inline'" } },
    { "star", ALLOW, "", { "script-src https: *" } },
    { "star", BLOCK, "", { "script-src * 'strict-dynamic'" } },
    { "star", BLOCK, "", { "script-src-elem 'none'; script-src *" } },
    { "star", BLOCK, "", { "script-src **" } },
    { "star", BLOCK, "", { "script-src '*'" } },
    { "star", BLOCK, "", { "script-src *:*" } },

    { "whitespace", ALLOW, "", { "   script-src    'self'   " } },
    { "whitespace", ALLOW, "", { "script-src\t'self'" } },
    { "whitespace", ALLOW, "", { "\tscript-src\t\t'self'\t" } },
    { "whitespace", ALLOW, "", { "script-src\f'self'" } },
    { "whitespace", ALLOW, "", { "script-src \r\n 'self'" } },
    { "whitespace", BLOCK, "", { "\t default-src \t 'none' \t" } },
    { "whitespace", NONCE, "abc", { "script-src\t'nonce-abc'\t'strict-dynamic'" } },
    { "whitespace", NONCE, "abc", { "  script-src 'nonce-abc'  ;  img-src *  ;  " } },
    { "whitespace", ALLOW, "", { "img-src *;script-src 'self';style-src 'none'" } },
    { "whitespace", ALLOW, "", { ";;;script-src 'self';;;" } },
    { "whitespace", ALLOW, "", { " ; ; script-src 'self' ; ; " } },
    { "whitespace", BLOCK, "", { "script-src-elem\t;\tscript-src 'self'" } },
    { "whitespace", NONCE, "abc", { "script-src 'self'\t,\tscript-src\t'nonce-abc'" } },

    /* the first occurrence of a directive counts, later ones are ignored */
    { "duplicate", BLOCK, "", { "script-src 'none'; script-src 'self'" } },
    { "duplicate", ALLOW, "", { "script-src 'self'; script-src 'none'" } },
    { "duplicate", NONCE, "one", { "script-src 'nonce-one'; script-src 'nonce-two'" } },
    { "duplicate", BLOCK, "", { "default-src 'none'; default-src 'self'" } },
    { "duplicate", ALLOW, "", { "script-src-elem 'self'; script-src-elem 'none'" } },

    /*
     * sandbox (ngx_cx_csp.h): without allow-scripts no script runs at all;
     * with allow-scripts but without allow-same-origin the page has an opaque
     * origin, so the widget's answers (a same-origin JSON POST with the
     * visitor's cookie) could never reach the endpoint.  Both mean BLOCK.
     */
    /* no allow-scripts: nothing runs */
    { "sandbox", BLOCK, "", { "sandbox" } },
    { "sandbox", BLOCK, "", { "sandbox;" } },
    { "sandbox", BLOCK, "", { " sandbox " } },
    { "sandbox", BLOCK, "", { "sandbox allow-forms allow-same-origin" } },
    { "sandbox", BLOCK, "", { "sandbox allow-forms allow-popups allow-modals" } },
    { "sandbox", BLOCK, "", { "script-src 'self'; sandbox" } },
    { "sandbox", BLOCK, "", { "sandbox; script-src 'self'" } },
    { "sandbox", BLOCK, "", { "sandbox allow-same-origin; script-src 'nonce-abc'" } },
    { "sandbox", BLOCK, "", { "default-src *; sandbox allow-top-navigation" } },
    /* a token that only looks like allow-scripts */
    { "sandbox", BLOCK, "", { "sandbox allow-scripts-x allow-same-origin" } },
    { "sandbox", BLOCK, "", { "sandbox xallow-scripts allow-same-origin" } },
    { "sandbox", BLOCK, "", { "sandbox 'allow-scripts' allow-same-origin" } },
    { "sandbox", BLOCK, "", { "sandbox allow-scripts;allow-same-origin" } },
    /* allow-scripts alone: an opaque origin, answers cannot be posted */
    { "sandbox", BLOCK, "", { "sandbox allow-scripts" } },
    { "sandbox", BLOCK, "", { "sandbox allow-scripts allow-forms allow-popups" } },
    { "sandbox", BLOCK, "", { "script-src 'self'; sandbox allow-scripts" } },
    /* scripts and the page's own origin: the script-src rules decide */
    { "sandbox", ALLOW, "", { "sandbox allow-scripts allow-same-origin" } },
    { "sandbox", ALLOW, "", { "sandbox allow-same-origin allow-scripts" } },
    { "sandbox", ALLOW, "", { "sandbox allow-forms allow-scripts allow-popups allow-same-origin" } },
    { "sandbox", ALLOW, "", { "sandbox\tallow-scripts \t allow-same-origin ; img-src *" } },
    { "sandbox", ALLOW, "", { "script-src 'self'; sandbox allow-scripts allow-same-origin" } },
    { "sandbox", NONCE, "abc", { "sandbox allow-scripts allow-same-origin; script-src 'nonce-abc'" } },
    { "sandbox", BLOCK, "", { "sandbox allow-scripts allow-same-origin; script-src 'none'" } },
    /* the directive name and the tokens in any case */
    { "sandbox", BLOCK, "", { "SANDBOX" } },
    { "sandbox", BLOCK, "", { "Sandbox allow-forms" } },
    { "sandbox", BLOCK, "", { "sandbox ALLOW-SCRIPTS" } },
    { "sandbox", ALLOW, "", { "SandBox Allow-Scripts ALLOW-SAME-ORIGIN" } },
    /* the first sandbox directive counts, like any other directive */
    { "sandbox", BLOCK, "", { "sandbox; sandbox allow-scripts allow-same-origin" } },
    { "sandbox", ALLOW, "", { "sandbox allow-scripts allow-same-origin; sandbox" } },
    /* a name that only starts like sandbox is another directive */
    { "sandbox", ALLOW, "", { "sandboxx" } },
    { "sandbox", ALLOW, "", { "x-sandbox" } },
    { "sandbox", ALLOW, "", { "img-src sandbox" } },

    /* a comma starts another policy, and every policy must allow */
    { "sandbox+", BLOCK, "", { "script-src 'self', sandbox" } },
    { "sandbox+", BLOCK, "", { "sandbox, script-src 'self'" } },
    { "sandbox+", BLOCK, "", { "script-src 'nonce-abc', sandbox allow-scripts" } },
    { "sandbox+", BLOCK, "", { "img-src *, sandbox allow-forms allow-same-origin" } },
    { "sandbox+", ALLOW, "", { "script-src 'self', sandbox allow-scripts allow-same-origin" } },
    { "sandbox+", NONCE, "abc", { "sandbox allow-scripts allow-same-origin, script-src 'nonce-abc'" } },
    /* the tokens of one policy do not carry over into the next */
    { "sandbox+", BLOCK, "", { "sandbox allow-scripts, allow-same-origin" } },
    { "sandbox+", BLOCK, "", { "sandbox allow-same-origin, sandbox allow-scripts" } },
    /* a second header */
    { "sandbox+", BLOCK, "", { "script-src 'self'", "sandbox" } },
    { "sandbox+", BLOCK, "", { "sandbox", "script-src 'self'" } },
    { "sandbox+", BLOCK, "", { "script-src 'nonce-abc'", "sandbox allow-scripts" } },
    { "sandbox+", BLOCK, "", { "default-src 'self'", "sandbox allow-forms allow-same-origin" } },
    { "sandbox+", ALLOW, "", { "script-src 'self'", "sandbox allow-scripts allow-same-origin" } },
    { "sandbox+", NONCE, "abc",
      { "script-src 'nonce-abc'", "Sandbox Allow-Same-Origin Allow-Scripts" } },
    { "sandbox+", BLOCK, "",
      { "sandbox allow-scripts allow-same-origin", "img-src *, sandbox" } },
};


static void
test_cases(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_at(&cases[i], i, __FILE__, __LINE__);
    }
}


static void
test_nonce_length(void **state)
{
    char   policy[NGX_CX_CSP_NONCE_MAX + 64];
    char   nonce[NGX_CX_CSP_NONCE_MAX + 2];

    (void) state;

    /* exactly NGX_CX_CSP_NONCE_MAX: used */
    memset(nonce, 'n', NGX_CX_CSP_NONCE_MAX);
    nonce[NGX_CX_CSP_NONCE_MAX] = '\0';
    snprintf(policy, sizeof(policy), "script-src 'nonce-%s'", nonce);
    CHECK(NONCE, nonce, policy);

    /* one longer: not used */
    memset(nonce, 'n', NGX_CX_CSP_NONCE_MAX + 1);
    nonce[NGX_CX_CSP_NONCE_MAX + 1] = '\0';
    snprintf(policy, sizeof(policy), "script-src 'nonce-%s'", nonce);
    CHECK(BLOCK, "", policy);

    snprintf(policy, sizeof(policy), "script-src 'self' 'nonce-%s'", nonce);
    CHECK(ALLOW, "", policy);

    snprintf(policy, sizeof(policy), "script-src 'nonce-%s' 'nonce-ok'", nonce);
    CHECK(NONCE, "ok", policy);
}


static void
test_nonce_of_a_huge_header(void **state)
{
    size_t   i, n;
    char    *policy;

    (void) state;

    /* many sources before the nonce: a 64 KB header value */
    n = 65536;
    policy = malloc(n + 64);
    assert_non_null(policy);

    strcpy(policy, "script-src");
    for (i = strlen(policy); i + 20 < n; i += 10) {
        memcpy(policy + i, " https://a", 10);
    }
    strcpy(policy + i, " 'nonce-last'");

    CHECK(NONCE, "last", policy);

    free(policy);
}


/* the value is used up to len, not up to a NUL */

static void
test_length_not_nul(void **state)
{
    static const unsigned char  v1[] = "script-src 'self' 'strict-dynamic'";
    static const unsigned char  v2[] = "script-src 'nonce-abcdef'";
    static const unsigned char  v3[] = "script-src 'none', script-src 'self'";

    int                   rc;
    size_t                len;
    ngx_cx_csp_t          c;
    const unsigned char  *nonce;

    (void) state;

    /* "script-src 'self'" */
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, v1, 17);
    rc = ngx_cx_csp_result(&c, &nonce, &len);
    assert_int_equal(rc, ALLOW);
    assert_null(nonce);

    /* "script-src 'nonce-abc" is no nonce source */
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, v2, 21);
    rc = ngx_cx_csp_result(&c, &nonce, &len);
    assert_int_equal(rc, BLOCK);
    assert_null(nonce);

    /* nothing */
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, v3, 0);
    rc = ngx_cx_csp_result(&c, &nonce, &len);
    assert_int_equal(rc, ALLOW);

    /* "script-src 'none'," */
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, v3, 18);
    rc = ngx_cx_csp_result(&c, &nonce, &len);
    assert_int_equal(rc, BLOCK);

    /* the nonce points into the value, at its place */
    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, v2, sizeof(v2) - 1);
    rc = ngx_cx_csp_result(&c, &nonce, &len);
    assert_int_equal(rc, NONCE);
    assert_ptr_equal(nonce, v2 + 18);
    assert_int_equal(len, 6);
}


/* the result can be asked for more than once; init starts afresh */

static void
test_result_and_init(void **state)
{
    static const unsigned char  one[] = "script-src 'nonce-one'";
    static const unsigned char  two[] = "script-src 'nonce-two'";

    size_t                len;
    ngx_cx_csp_t          c;
    const unsigned char  *nonce;

    (void) state;

    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, one, sizeof(one) - 1);
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), NONCE);
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), NONCE);
    assert_ptr_equal(nonce, one + 18);
    assert_int_equal(len, 3);

    ngx_cx_csp_add(&c, two, sizeof(two) - 1);
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), BLOCK);
    assert_null(nonce);
    assert_int_equal(len, 0);

    /* a later policy that allows does not lift the block */
    ngx_cx_csp_add(&c, (const unsigned char *) "script-src *", 12);
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), BLOCK);

    ngx_cx_csp_init(&c);
    ngx_cx_csp_add(&c, two, sizeof(two) - 1);
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), NONCE);
    assert_ptr_equal(nonce, two + 18);
    assert_int_equal(len, 3);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_nonce_length),
        cmocka_unit_test(test_nonce_of_a_huge_header),
        cmocka_unit_test(test_length_not_nul),
        cmocka_unit_test(test_result_and_init),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
