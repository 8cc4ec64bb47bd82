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

#include "ngx_cx_csp.h"


#define ALLOW  NGX_CX_CSP_ALLOW
#define NONCE  NGX_CX_CSP_NONCE
#define BLOCK  NGX_CX_CSP_BLOCK

#define MAX_HEADERS  4


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
 * Feeds the headers (a NULL-terminated list, one ngx_cx_csp_add() each) and
 * checks the verdict and the nonce: want_nonce NULL means none (NULL, 0).
 * A given nonce must point into one of the header values.
 */

static void
check_at(const char *const *hdrs, int want, const char *want_nonce,
    const char *file, int line)
{
    int                   got, ok, inside;
    size_t                i, n, len, want_len;
    unsigned char        *buf[MAX_HEADERS];
    ngx_cx_csp_t          c;
    const unsigned char  *nonce;

    ngx_cx_csp_init(&c);

    for (n = 0; hdrs[n] != NULL; n++) {
        _assert_true(n < MAX_HEADERS, "n < MAX_HEADERS", file, line);
        len = strlen(hdrs[n]);
        buf[n] = malloc(len ? len : 1);
        _assert_true(buf[n] != NULL, "malloc", file, line);
        memcpy(buf[n], hdrs[n], len);
        ngx_cx_csp_add(&c, buf[n], len);
    }

    nonce = (const unsigned char *) "garbage";
    len = 12345;

    got = ngx_cx_csp_result(&c, &nonce, &len);

    want_len = want_nonce ? strlen(want_nonce) : 0;

    ok = (got == want);
    if (want_nonce == NULL) {
        ok = ok && nonce == NULL && len == 0;
    } else {
        ok = ok && nonce != NULL && len == want_len
             && memcmp(nonce, want_nonce, want_len) == 0;
    }

    inside = (nonce == NULL);
    for (i = 0; i < n && nonce != NULL; i++) {
        if (nonce >= buf[i] && nonce + len <= buf[i] + strlen(hdrs[i])) {
            inside = 1;
        }
    }

    if (!ok || !inside) {
        print_message("%s:%d: headers:\n", file, line);
        for (i = 0; i < n; i++) {
            print_message("    [%s]\n", hdrs[i]);
        }
        print_message("  expected %s nonce=%s, got %s nonce=%.*s (len %zu)%s\n",
                      verdict_name(want), want_nonce ? want_nonce : "(none)",
                      verdict_name(got),
                      nonce ? (int) (len > 200 ? 200 : len) : 6,
                      nonce ? (const char *) nonce : "(none)", len,
                      inside ? "" : ", not inside the header values");
    }

    for (i = 0; i < n; i++) {
        free(buf[i]);
    }

    _assert_int_equal(got, want, file, line);
    _assert_true(ok, "the nonce", file, line);
    _assert_true(inside, "the nonce points into a header value", file, line);
}


#define CHECK(want, want_nonce, ...)                                        \
    do {                                                                    \
        const char *const  hdrs_[] = { __VA_ARGS__, NULL };                 \
        check_at(hdrs_, want, want_nonce, __FILE__, __LINE__);             \
    } while (0)


static void
test_no_policy(void **state)
{
    ngx_cx_csp_t          c;
    const unsigned char  *nonce;
    size_t                len;

    (void) state;

    /* nothing added at all */
    ngx_cx_csp_init(&c);
    nonce = (const unsigned char *) "x";
    len = 1;
    assert_int_equal(ngx_cx_csp_result(&c, &nonce, &len), ALLOW);
    assert_null(nonce);
    assert_int_equal(len, 0);

    /* policies that do not restrict script elements */
    CHECK(ALLOW, NULL, "");
    CHECK(ALLOW, NULL, " ");
    CHECK(ALLOW, NULL, ";");
    CHECK(ALLOW, NULL, ",");
    CHECK(ALLOW, NULL, " ; , ;;");
    CHECK(ALLOW, NULL, "img-src 'none'; style-src 'self'; object-src 'none'");
    CHECK(ALLOW, NULL, "frame-ancestors 'none'; upgrade-insecure-requests");
    CHECK(ALLOW, NULL, "script-src-attr 'none'");
    CHECK(ALLOW, NULL, "style-src 'nonce-abc'");
    CHECK(ALLOW, NULL, "img-src *", "base-uri 'self'");
    /* a directive whose name only starts like one that matters */
    CHECK(ALLOW, NULL, "script-srcx 'none'; default-src-x 'none'");
    CHECK(ALLOW, NULL, "x-script-src 'none'");
}


static void
test_script_src_self(void **state)
{
    (void) state;

    CHECK(ALLOW, NULL, "script-src 'self'");
    CHECK(ALLOW, NULL, "script-src 'self' https://cdn.example.com");
    CHECK(ALLOW, NULL, "script-src https://cdn.example.com 'self' 'unsafe-inline'");
    CHECK(ALLOW, NULL, "default-src 'none'; script-src 'self'; img-src *");
    CHECK(ALLOW, NULL, "object-src 'none'; script-src 'self'");
    CHECK(ALLOW, NULL, "script-src-attr 'none'; script-src 'self'");
}


static void
test_default_src(void **state)
{
    (void) state;

    CHECK(ALLOW, NULL, "default-src 'self'");
    CHECK(ALLOW, NULL, "default-src 'self'; img-src *; style-src 'unsafe-inline'");
    CHECK(BLOCK, NULL, "default-src 'none'");
    CHECK(BLOCK, NULL, "default-src https://example.com");
    CHECK(NONCE, "r4nd0m", "default-src 'nonce-r4nd0m'");

    /* script-src, wherever it is, replaces default-src */
    CHECK(BLOCK, NULL, "default-src 'self'; script-src 'none'");
    CHECK(BLOCK, NULL, "script-src 'none'; default-src 'self'");
    CHECK(BLOCK, NULL, "default-src 'self'; script-src https://cdn.example.com");
    CHECK(ALLOW, NULL, "default-src 'none'; script-src 'self'");
    CHECK(ALLOW, NULL, "script-src 'self'; default-src 'none'");
    CHECK(NONCE, "abc", "default-src 'self'; script-src 'nonce-abc'");
}


static void
test_script_src_elem_precedence(void **state)
{
    (void) state;

    CHECK(BLOCK, NULL, "script-src 'self'; script-src-elem 'none'");
    CHECK(BLOCK, NULL, "script-src-elem 'none'; script-src 'self'");
    CHECK(ALLOW, NULL, "script-src 'none'; script-src-elem 'self'");
    CHECK(ALLOW, NULL, "script-src-elem 'self'; script-src 'none'");
    CHECK(ALLOW, NULL, "default-src 'none'; script-src 'none'; script-src-elem 'self'");
    CHECK(BLOCK, NULL, "default-src 'self'; script-src 'self'; script-src-elem https://x.example");
    CHECK(NONCE, "elem", "script-src 'self'; script-src-elem 'nonce-elem'");
    CHECK(NONCE, "elem", "script-src 'nonce-src'; script-src-elem 'nonce-elem'");
    CHECK(ALLOW, NULL, "script-src 'nonce-src'; script-src-elem 'self'");
    /* script-src-attr governs attributes, not elements */
    CHECK(BLOCK, NULL, "script-src-attr 'self'; script-src 'none'");
}


static void
test_none(void **state)
{
    (void) state;

    CHECK(BLOCK, NULL, "script-src 'none'");
    CHECK(BLOCK, NULL, "script-src 'none'; img-src 'self'");
    CHECK(BLOCK, NULL, "default-src 'none'; img-src 'self'; style-src 'self'");
    /* an empty source list is 'none' */
    CHECK(BLOCK, NULL, "script-src");
    CHECK(BLOCK, NULL, "script-src ; default-src 'self'");
    CHECK(BLOCK, NULL, "script-src-elem");
    /* 'none' does not undo the sources beside it */
    CHECK(NONCE, "abc", "script-src 'none' 'nonce-abc'");
}


static void
test_hosts_schemes_hashes(void **state)
{
    (void) state;

    CHECK(BLOCK, NULL, "script-src https://example.com");
    CHECK(BLOCK, NULL, "script-src example.com cdn.example.com:443");
    CHECK(BLOCK, NULL, "script-src *.example.com");
    CHECK(BLOCK, NULL, "script-src https:");
    CHECK(BLOCK, NULL, "script-src https: http: data: blob:");
    CHECK(BLOCK, NULL, "script-src 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='");
    CHECK(BLOCK, NULL, "script-src 'unsafe-inline' 'unsafe-eval'");
    CHECK(BLOCK, NULL, "script-src 'unsafe-hashes' 'wasm-unsafe-eval' 'report-sample'");
    CHECK(BLOCK, NULL, "script-src selfish.example 'selfx' self");
    CHECK(ALLOW, NULL, "script-src https://example.com 'self'");
}


static void
test_nonce(void **state)
{
    (void) state;

    CHECK(NONCE, "abc", "script-src 'nonce-abc'");
    CHECK(NONCE, "abc", "script-src 'nonce-abc' 'strict-dynamic'");
    CHECK(NONCE, "abc", "script-src 'strict-dynamic' 'nonce-abc'");
    CHECK(NONCE, "abc", "script-src 'strict-dynamic' 'nonce-abc' https: 'unsafe-inline'");
    CHECK(NONCE, "abc", "script-src https://cdn.example.com 'nonce-abc'");
    CHECK(NONCE, "abc", "script-src 'unsafe-inline' 'nonce-abc'; object-src 'none'");

    /* base64 and base64url characters */
    CHECK(NONCE, "aB3+/9==", "script-src 'nonce-aB3+/9=='");
    CHECK(NONCE, "aB3-_9", "script-src 'nonce-aB3-_9'");
    CHECK(NONCE, "x", "script-src 'nonce-x'");

    /* the nonce's case is kept: it is compared byte for byte */
    CHECK(NONCE, "AbC", "script-src 'nonce-AbC'");

    /* the first usable nonce of a list */
    CHECK(NONCE, "one", "script-src 'nonce-one' 'nonce-two'");

    /* 'self' already allows the script: a nonce is optional, and known */
    CHECK(ALLOW, "abc", "script-src 'self' 'nonce-abc'");
    CHECK(ALLOW, "abc", "script-src 'nonce-abc' 'self'");
    CHECK(ALLOW, "abc", "script-src 'nonce-abc' *");
}


static void
test_self_with_strict_dynamic(void **state)
{
    (void) state;

    /* 'strict-dynamic' makes 'self', * and hosts ignored: a nonce is needed */
    CHECK(BLOCK, NULL, "script-src 'self' 'strict-dynamic'");
    CHECK(BLOCK, NULL, "script-src 'strict-dynamic' 'self'");
    CHECK(BLOCK, NULL, "script-src * 'strict-dynamic'");
    CHECK(BLOCK, NULL, "script-src 'self' https: 'unsafe-inline' 'strict-dynamic'");
    CHECK(BLOCK, NULL, "default-src 'self' 'strict-dynamic'");
    CHECK(NONCE, "xyz", "script-src 'self' 'strict-dynamic' 'nonce-xyz'");
    CHECK(NONCE, "xyz", "script-src 'nonce-xyz' 'self' 'strict-dynamic'");
    CHECK(NONCE, "r4nd", "script-src 'nonce-r4nd' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'");
}


static void
test_several_policies_in_one_header(void **state)
{
    (void) state;

    CHECK(NONCE, "abc", "script-src 'self', script-src 'nonce-abc'");
    CHECK(NONCE, "abc", "script-src 'nonce-abc', script-src 'self'");
    CHECK(NONCE, "abc", "script-src 'self' 'nonce-abc', script-src 'nonce-abc'");
    CHECK(BLOCK, NULL, "script-src 'self', script-src 'none'");
    CHECK(BLOCK, NULL, "script-src 'none', script-src 'self'");
    CHECK(ALLOW, NULL, "script-src 'self', default-src 'self'");
    CHECK(ALLOW, NULL, "default-src 'self', img-src 'none'");
    CHECK(ALLOW, NULL, "img-src 'none', script-src 'self'");
    CHECK(NONCE, "abc", "script-src 'nonce-abc', default-src 'self'");
    CHECK(NONCE, "same", "script-src 'nonce-same', script-src 'nonce-same' 'strict-dynamic'");
    CHECK(BLOCK, NULL, "script-src 'nonce-one', script-src 'nonce-two'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc', script-src 'nonce-ABC'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc', script-src 'self' 'strict-dynamic'");
    CHECK(NONCE, "abc", "script-src 'self' 'nonce-zzz', script-src 'nonce-abc'");
    CHECK(NONCE, "abc", "  script-src 'self' ,script-src 'nonce-abc' , img-src * ");
    CHECK(BLOCK, NULL, "script-src 'self', script-src 'self', default-src 'none'");
    /* an empty policy between commas restricts nothing */
    CHECK(NONCE, "abc", "script-src 'nonce-abc',, ,");
}


static void
test_several_headers(void **state)
{
    (void) state;

    CHECK(NONCE, "same", "script-src 'nonce-same'", "script-src 'nonce-same'");
    CHECK(NONCE, "same", "default-src 'nonce-same'",
          "script-src-elem 'nonce-same' 'strict-dynamic'");
    CHECK(BLOCK, NULL, "script-src 'nonce-one'", "script-src 'nonce-two'");
    CHECK(BLOCK, NULL, "script-src 'nonce-two'", "script-src 'nonce-one'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc'", "script-src 'nonce-abcd'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abcd'", "script-src 'nonce-abc'");
    CHECK(ALLOW, NULL, "script-src 'self'", "default-src 'self'");
    CHECK(NONCE, "abc", "script-src 'self'", "script-src 'nonce-abc'");
    CHECK(NONCE, "abc", "script-src 'nonce-abc'", "script-src 'self'");
    CHECK(NONCE, "abc", "img-src 'none'", "script-src 'nonce-abc'", "style-src 'self'");
    CHECK(BLOCK, NULL, "script-src 'self'", "script-src 'none'");
    CHECK(BLOCK, NULL, "script-src 'none'", "script-src 'self'");
    CHECK(BLOCK, NULL, "script-src 'none'", "script-src 'nonce-abc'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc'", "script-src 'none'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a'", "script-src 'nonce-a'", "script-src 'nonce-b'");

    /* a policy that allows by 'self' does not insist on its nonce */
    CHECK(NONCE, "b", "script-src 'self' 'nonce-a'", "script-src 'nonce-b'");
    CHECK(NONCE, "b", "script-src 'nonce-b'", "script-src 'self' 'nonce-a'");
    CHECK(NONCE, "a", "script-src 'self' 'nonce-a'", "script-src 'nonce-a'");

    /* several policies in several headers */
    CHECK(NONCE, "k", "img-src *, script-src 'self'", "script-src 'nonce-k', default-src *");
    CHECK(BLOCK, NULL, "script-src 'self', script-src 'nonce-k'", "script-src 'nonce-j'");
}


/*
 * A policy that lists two nonces accepts either: when another policy needs
 * the second one, that nonce satisfies both (ngx_cx_csp.h: "'nonce-X' the
 * element is allowed with nonce="X""; only policies that each NEED a
 * different nonce cannot both be met).
 */

static void
test_nonce_common_to_both_policies(void **state)
{
    (void) state;

    CHECK(NONCE, "b", "script-src 'nonce-a' 'nonce-b'", "script-src 'nonce-b'");
    CHECK(NONCE, "b", "script-src 'nonce-b'", "script-src 'nonce-a' 'nonce-b'");
    CHECK(NONCE, "b", "script-src 'nonce-a' 'nonce-b', script-src 'nonce-c' 'nonce-b'");
}


static void
test_invalid_nonce_characters(void **state)
{
    (void) state;

    /* a nonce goes into an HTML attribute: only base64(url) characters */
    CHECK(BLOCK, NULL, "script-src 'nonce-ab\"c'");
    CHECK(BLOCK, NULL, "script-src 'nonce-\"><script>alert(1)</script>'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a<b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a>b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a&b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a'b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a`b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a.b'");
    CHECK(BLOCK, NULL, "script-src 'nonce-caf\xc3\xa9'");
    CHECK(BLOCK, NULL, "script-src 'nonce-a\x01'");
    /* a space splits it into two tokens, neither is a nonce source */
    CHECK(BLOCK, NULL, "script-src 'nonce-a b'");
    /* empty nonce, missing quotes */
    CHECK(BLOCK, NULL, "script-src 'nonce-'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc");
    CHECK(BLOCK, NULL, "script-src nonce-abc");
    CHECK(BLOCK, NULL, "script-src nonce-abc'");
    CHECK(BLOCK, NULL, "script-src 'nonce'");
    CHECK(BLOCK, NULL, "script-src 'nonceabc'");
    CHECK(BLOCK, NULL, "script-src 'noncex-abc'");

    /* a bad nonce is never offered, not even as an optional one */
    CHECK(ALLOW, NULL, "script-src 'self' 'nonce-a\"b'");
    CHECK(ALLOW, NULL, "script-src 'self' 'nonce-<x>'");

    /* a bad one does not hide a good one after it */
    CHECK(NONCE, "good", "script-src 'nonce-bad<' 'nonce-good'");
    CHECK(NONCE, "good", "script-src 'nonce-' 'nonce-good'");
    CHECK(ALLOW, "good", "script-src 'nonce-b\"ad' 'self' 'nonce-good'");
}


static void
test_case_insensitive_names(void **state)
{
    (void) state;

    CHECK(ALLOW, NULL, "SCRIPT-SRC 'self'");
    CHECK(BLOCK, NULL, "Script-Src 'none'");
    CHECK(BLOCK, NULL, "DEFAULT-SRC 'none'");
    CHECK(BLOCK, NULL, "Default-Src 'self'; sCrIpT-sRc 'none'");
    CHECK(NONCE, "x", "script-src 'self'; Script-Src-Elem 'nonce-x'");
    CHECK(BLOCK, NULL, "SCRIPT-SRC-ELEM 'none'; script-src 'self'");

    /* keywords too; the nonce value keeps its case */
    CHECK(ALLOW, NULL, "script-src 'SELF'");
    CHECK(ALLOW, NULL, "script-src 'Self'");
    CHECK(NONCE, "AbC", "script-src 'NONCE-AbC'");
    CHECK(NONCE, "AbC", "script-src 'Nonce-AbC'");
    CHECK(BLOCK, NULL, "script-src 'Strict-Dynamic' 'self'");
    CHECK(BLOCK, NULL, "script-src 'NONE'");
}


static void
test_star(void **state)
{
    (void) state;

    CHECK(ALLOW, NULL, "script-src *");
    CHECK(ALLOW, NULL, "default-src *");
    CHECK(ALLOW, NULL, "default-src 'none'; script-src * 'unsafe-inline'");
    CHECK(ALLOW, NULL, "script-src https: *");
    CHECK(BLOCK, NULL, "script-src * 'strict-dynamic'");
    CHECK(BLOCK, NULL, "script-src-elem 'none'; script-src *");
    CHECK(BLOCK, NULL, "script-src **");
    CHECK(BLOCK, NULL, "script-src '*'");
    CHECK(BLOCK, NULL, "script-src *:*");
}


static void
test_whitespace(void **state)
{
    (void) state;

    CHECK(ALLOW, NULL, "   script-src    'self'   ");
    CHECK(ALLOW, NULL, "script-src\t'self'");
    CHECK(ALLOW, NULL, "\tscript-src\t\t'self'\t");
    CHECK(ALLOW, NULL, "script-src\f'self'");
    CHECK(ALLOW, NULL, "script-src \r\n 'self'");
    CHECK(BLOCK, NULL, "\t default-src \t 'none' \t");
    CHECK(NONCE, "abc", "script-src\t'nonce-abc'\t'strict-dynamic'");
    CHECK(NONCE, "abc", "  script-src 'nonce-abc'  ;  img-src *  ;  ");
    CHECK(ALLOW, NULL, "img-src *;script-src 'self';style-src 'none'");
    CHECK(ALLOW, NULL, ";;;script-src 'self';;;");
    CHECK(ALLOW, NULL, " ; ; script-src 'self' ; ; ");
    CHECK(BLOCK, NULL, "script-src-elem\t;\tscript-src 'self'");
    CHECK(NONCE, "abc", "script-src 'self'\t,\tscript-src\t'nonce-abc'");
}


static void
test_duplicate_directive(void **state)
{
    (void) state;

    /* the first occurrence of a directive counts, later ones are ignored */
    CHECK(BLOCK, NULL, "script-src 'none'; script-src 'self'");
    CHECK(ALLOW, NULL, "script-src 'self'; script-src 'none'");
    CHECK(NONCE, "one", "script-src 'nonce-one'; script-src 'nonce-two'");
    CHECK(BLOCK, NULL, "default-src 'none'; default-src 'self'");
    CHECK(ALLOW, NULL, "script-src-elem 'self'; script-src-elem 'none'");
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
    CHECK(BLOCK, NULL, policy);

    snprintf(policy, sizeof(policy), "script-src 'self' 'nonce-%s'", nonce);
    CHECK(ALLOW, NULL, policy);

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


/*
 * sandbox (ngx_cx_csp.h): without allow-scripts no script runs at all;
 * with allow-scripts but without allow-same-origin the page has an opaque
 * origin, so the widget's answers (a same-origin JSON POST with the
 * visitor's cookie) could never reach the endpoint.  Both mean BLOCK.
 */

static void
test_sandbox(void **state)
{
    (void) state;

    /* no allow-scripts: nothing runs */
    CHECK(BLOCK, NULL, "sandbox");
    CHECK(BLOCK, NULL, "sandbox;");
    CHECK(BLOCK, NULL, " sandbox ");
    CHECK(BLOCK, NULL, "sandbox allow-forms allow-same-origin");
    CHECK(BLOCK, NULL, "sandbox allow-forms allow-popups allow-modals");
    CHECK(BLOCK, NULL, "script-src 'self'; sandbox");
    CHECK(BLOCK, NULL, "sandbox; script-src 'self'");
    CHECK(BLOCK, NULL, "sandbox allow-same-origin; script-src 'nonce-abc'");
    CHECK(BLOCK, NULL, "default-src *; sandbox allow-top-navigation");

    /* a token that only looks like allow-scripts */
    CHECK(BLOCK, NULL, "sandbox allow-scripts-x allow-same-origin");
    CHECK(BLOCK, NULL, "sandbox xallow-scripts allow-same-origin");
    CHECK(BLOCK, NULL, "sandbox 'allow-scripts' allow-same-origin");
    CHECK(BLOCK, NULL, "sandbox allow-scripts;allow-same-origin");

    /* allow-scripts alone: an opaque origin, answers cannot be posted */
    CHECK(BLOCK, NULL, "sandbox allow-scripts");
    CHECK(BLOCK, NULL, "sandbox allow-scripts allow-forms allow-popups");
    CHECK(BLOCK, NULL, "script-src 'self'; sandbox allow-scripts");

    /* scripts and the page's own origin: the script-src rules decide */
    CHECK(ALLOW, NULL, "sandbox allow-scripts allow-same-origin");
    CHECK(ALLOW, NULL, "sandbox allow-same-origin allow-scripts");
    CHECK(ALLOW, NULL, "sandbox allow-forms allow-scripts allow-popups allow-same-origin");
    CHECK(ALLOW, NULL, "sandbox\tallow-scripts \t allow-same-origin ; img-src *");
    CHECK(ALLOW, NULL, "script-src 'self'; sandbox allow-scripts allow-same-origin");
    CHECK(NONCE, "abc", "sandbox allow-scripts allow-same-origin; script-src 'nonce-abc'");
    CHECK(BLOCK, NULL, "sandbox allow-scripts allow-same-origin; script-src 'none'");

    /* the directive name and the tokens in any case */
    CHECK(BLOCK, NULL, "SANDBOX");
    CHECK(BLOCK, NULL, "Sandbox allow-forms");
    CHECK(BLOCK, NULL, "sandbox ALLOW-SCRIPTS");
    CHECK(ALLOW, NULL, "SandBox Allow-Scripts ALLOW-SAME-ORIGIN");

    /* the first sandbox directive counts, like any other directive */
    CHECK(BLOCK, NULL, "sandbox; sandbox allow-scripts allow-same-origin");
    CHECK(ALLOW, NULL, "sandbox allow-scripts allow-same-origin; sandbox");

    /* a name that only starts like sandbox is another directive */
    CHECK(ALLOW, NULL, "sandboxx");
    CHECK(ALLOW, NULL, "x-sandbox");
    CHECK(ALLOW, NULL, "img-src sandbox");
}


static void
test_sandbox_in_another_policy(void **state)
{
    (void) state;

    /* a comma starts another policy, and every policy must allow */
    CHECK(BLOCK, NULL, "script-src 'self', sandbox");
    CHECK(BLOCK, NULL, "sandbox, script-src 'self'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc', sandbox allow-scripts");
    CHECK(BLOCK, NULL, "img-src *, sandbox allow-forms allow-same-origin");
    CHECK(ALLOW, NULL, "script-src 'self', sandbox allow-scripts allow-same-origin");
    CHECK(NONCE, "abc", "sandbox allow-scripts allow-same-origin, script-src 'nonce-abc'");
    /* the tokens of one policy do not carry over into the next */
    CHECK(BLOCK, NULL, "sandbox allow-scripts, allow-same-origin");
    CHECK(BLOCK, NULL, "sandbox allow-same-origin, sandbox allow-scripts");

    /* a second header */
    CHECK(BLOCK, NULL, "script-src 'self'", "sandbox");
    CHECK(BLOCK, NULL, "sandbox", "script-src 'self'");
    CHECK(BLOCK, NULL, "script-src 'nonce-abc'", "sandbox allow-scripts");
    CHECK(BLOCK, NULL, "default-src 'self'", "sandbox allow-forms allow-same-origin");
    CHECK(ALLOW, NULL, "script-src 'self'", "sandbox allow-scripts allow-same-origin");
    CHECK(NONCE, "abc", "script-src 'nonce-abc'", "Sandbox Allow-Same-Origin Allow-Scripts");
    CHECK(BLOCK, NULL, "sandbox allow-scripts allow-same-origin", "img-src *, sandbox");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_no_policy),
        cmocka_unit_test(test_script_src_self),
        cmocka_unit_test(test_default_src),
        cmocka_unit_test(test_script_src_elem_precedence),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_hosts_schemes_hashes),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_self_with_strict_dynamic),
        cmocka_unit_test(test_several_policies_in_one_header),
        cmocka_unit_test(test_several_headers),
        cmocka_unit_test(test_nonce_common_to_both_policies),
        cmocka_unit_test(test_invalid_nonce_characters),
        cmocka_unit_test(test_case_insensitive_names),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_duplicate_directive),
        cmocka_unit_test(test_nonce_length),
        cmocka_unit_test(test_nonce_of_a_huge_header),
        cmocka_unit_test(test_length_not_nul),
        cmocka_unit_test(test_result_and_init),
        cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_sandbox_in_another_policy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
