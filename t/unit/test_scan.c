/*
 * Unit tests for ngx_cx_scan.
 *
 * Documents are written with an '@' right before the real </body> (the test
 * strips it and expects that offset); a document without '@' has none.
 * Every document is fed whole, one byte per call, split in two at every
 * position, and in pseudo-random chunks; all must agree, and while
 * streaming, ngx_cx_scan_hold_from() must never release a byte of the tag
 * that is found later. Each way must also agree on ngx_cx_scan_meta_csp()
 * at the end (at FOUND, or after the last byte): 0 unless the test says
 * otherwise.
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

#include "ngx_cx_scan.h"


#define NONE  UINT64_MAX
#define MAXDOC  4096


typedef struct {
    unsigned char  buf[MAXDOC];
    size_t         len;
    uint64_t       expect;
} doc_t;


static void
doc_prepare(doc_t *d, const char *marked, size_t mlen)
{
    size_t  i;

    assert_true(mlen < MAXDOC);

    d->len = 0;
    d->expect = NONE;

    for (i = 0; i < mlen; i++) {
        if (marked[i] == '@') {
            assert_true(d->expect == NONE);     /* one marker per document */
            d->expect = d->len;
            continue;
        }
        d->buf[d->len++] = (unsigned char) marked[i];
    }
}


static const char  *cur_doc;
static const char  *cur_mode;
static int          run_csp;    /* ngx_cx_scan_meta_csp() when run() ended */

static void
report(uint64_t got, uint64_t want)
{
    print_error("document: \"%s\"\nmode: %s\nwant %lld, got %lld\n",
                cur_doc, cur_mode,
                want == NONE ? -1LL : (long long) want,
                got == NONE ? -1LL : (long long) got);
}



/* The hold invariants that make streaming safe, checked before FOUND. */

static void
check_hold(const ngx_cx_scan_t *s, uint64_t fed, uint64_t expect)
{
    uint64_t  h;

    h = ngx_cx_scan_hold_from(s);

    if (h > fed || fed - h > 6 || (expect != NONE && h > expect)) {
        print_error("document: \"%s\"\nmode: %s\nfed %llu hold_from %llu "
                    "expect %lld\n", cur_doc, cur_mode,
                    (unsigned long long) fed, (unsigned long long) h,
                    expect == NONE ? -1LL : (long long) expect);
        fail();
    }
}


/*
 * Feed `len` bytes in chunks whose sizes come from `next_chunk`; returns
 * the offset found or NONE. Checks hold invariants after each MORE, and
 * that FOUND comes exactly with the chunk holding the terminator.
 */

typedef size_t (*chunker_t)(size_t done, size_t left, void *arg);

static uint64_t
run(const unsigned char *buf, size_t len, uint64_t expect, chunker_t next,
    void *arg)
{
    int            rc;
    size_t         done, n;
    uint64_t       at, at2;
    ngx_cx_scan_t  s;

    ngx_cx_scan_init(&s);
    done = 0;

    while (done < len) {
        n = next(done, len - done, arg);
        at = NONE;
        rc = ngx_cx_scan_feed(&s, buf + done, n, &at);

        if (rc == NGX_CX_SCAN_FOUND) {
            /* the terminator (6 bytes after '<') lies in this chunk */
            if (!(at + 6 >= done && at + 6 < done + n)) {
                report(at, expect);
                print_error("FOUND in chunk [%zu, %zu)\n", done, done + n);
                fail();
            }

            /* FOUND sticks, whatever is fed next */
            at2 = NONE;
            assert_int_equal(ngx_cx_scan_feed(&s, (const unsigned char *)
                                              "</body>", 7, &at2),
                             NGX_CX_SCAN_FOUND);
            assert_true(at2 == at);
            at2 = NONE;
            assert_int_equal(ngx_cx_scan_feed(&s, NULL, 0, &at2),
                             NGX_CX_SCAN_FOUND);
            assert_true(at2 == at);

            /* and nothing fed after FOUND is looked at for <meta> */
            run_csp = ngx_cx_scan_meta_csp(&s);
            assert_int_equal(ngx_cx_scan_feed(&s, (const unsigned char *)
                                 "<meta http-equiv=content-security-policy>",
                                 41, &at2),
                             NGX_CX_SCAN_FOUND);
            assert_int_equal(ngx_cx_scan_meta_csp(&s), run_csp);
            return at;
        }

        assert_int_equal(rc, NGX_CX_SCAN_MORE);
        assert_true(at == NONE);        /* untouched on MORE */
        done += n;
        check_hold(&s, done, expect);
    }

    assert_true(ngx_cx_scan_hold_from(&s) <= len);
    run_csp = ngx_cx_scan_meta_csp(&s);
    return NONE;
}


static size_t
chunk_whole(size_t done, size_t left, void *arg)
{
    (void) done;
    (void) arg;
    return left;
}

static size_t
chunk_one(size_t done, size_t left, void *arg)
{
    (void) done;
    (void) left;
    (void) arg;
    return 1;
}

static size_t
chunk_split(size_t done, size_t left, void *arg)
{
    size_t  at = *(size_t *) arg;

    if (done < at) {
        return at - done;
    }
    return left;
}

static size_t
chunk_random(size_t done, size_t left, void *arg)
{
    size_t    n;
    uint32_t  *seed = arg;

    (void) done;
    *seed = *seed * 1103515245u + 12345u;
    n = 1 + (*seed >> 16) % 9;
    return n < left ? n : left;
}


/*
 * Feeds d in chunks from next as the mode says, and expects the offset
 * want and, unless csp is negative, that <meta> CSP flag; a failure names
 * the document, the mode and, for two chunks, where they split.
 */

static void
expect_run(const doc_t *d, const char *mode, chunker_t next, void *arg,
    uint64_t want, int csp)
{
    uint64_t  got;

    cur_mode = mode;
    got = run(d->buf, d->len, d->expect, next, arg);

    if (got == want && (csp < 0 || run_csp == csp)) {
        return;
    }

    report(got, want);

    if (csp >= 0) {
        print_error("meta_csp %d, want %d\n", run_csp, csp);
    }

    if (next == chunk_split) {
        print_error("split at %zu\n", *(size_t *) arg);
    }

    fail();
}


/* Check the </body> offset and the <meta> CSP flag every way of feeding. */

static void
check_doc_csp(const char *marked, size_t mlen, int csp)
{
    size_t    k;
    uint32_t  seed, st;
    doc_t     d;

    doc_prepare(&d, marked, mlen);
    cur_doc = marked;

    expect_run(&d, "whole", chunk_whole, NULL, d.expect, csp);
    expect_run(&d, "one byte per call", chunk_one, NULL, d.expect, csp);

    for (k = 0; k <= d.len; k++) {
        expect_run(&d, "two chunks", chunk_split, &k, d.expect, csp);
    }

    for (seed = 1; seed <= 8; seed++) {
        st = seed;
        expect_run(&d, "random chunks", chunk_random, &st, d.expect, csp);
    }
}

static void
check_doc_len(const char *marked, size_t mlen)
{
    check_doc_csp(marked, mlen, 0);
}

static void
check_doc(const char *marked)
{
    check_doc_len(marked, strlen(marked));
}

static void
check_csp_docs(const char *const *docs, size_t n, int csp)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        check_doc_csp(docs[i], strlen(docs[i]), csp);
    }
}

#define CHECK_CSP_DOCS(a, csp)                                               \
    check_csp_docs(a, sizeof(a) / sizeof(a[0]), csp)

static void
check_docs(const char *const *docs, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        check_doc(docs[i]);
    }
}

#define CHECK_DOCS(a)  check_docs(a, sizeof(a) / sizeof(a[0]))


/* ---- the cases ---------------------------------------------------- */

static void
test_simple_page(void **state)
{
    static const char *const  docs[] = {
        "<!DOCTYPE html>\n<html><head><title>T</title></head>\n"
        "<body><p>Hello</p>@</body>\n</html>\n",
        "@</body>",
        "x@</body>",
        "<body>@</body>",
        "<p>a < b and c > d</p>@</body>",
        "<@</body>",
        "<<@</body>",
        "a <3 b@</body>",
        "</>@</body>",
        "<p/>@</body>",
        "<img src=x alt=y/>@</body>",
        "<div\nclass=\"a\"\n>@</body>",
        "<a href=/x/y>link</a>@</body>",
        "<p>caf\xc3\xa9 \xff\xfe</p>@</body>",
        "<scripts>@</body>",
        "<script-x>@</body></script-x>",
        "<stylesheet>@</body>",
        "<titles>@</body>",
        "<templates>@</body>",
        "<plaintexts>@</body>",
        "<xmp1>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_no_body(void **state)
{
    static const char *const  docs[] = {
        "",
        "<",
        "</",
        "</b",
        "</body",
        "<div hx-swap=\"outerHTML\"><p>partial</p></div>",
        "<html><body><p>no end tag</p></html>",
        "plain text with no markup at all",
        "< /body>",
        "<\\/body>",
        "&lt;/body&gt;",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_comments(void **state)
{
    static const char *const  docs[] = {
        "<!-- </body> -->@</body>",
        "<!--</body>-->@</body>",
        "<!---->@</body>",
        "<!-->@</body>",
        "<!--->@</body>",
        "<!-- a --!>@</body>",
        "<!-- -- > </body> - -> --!x </body> -->@</body>",
        "<!-- --- </body> --->@</body>",
        "<!-- <!-- </body> -->@</body>",
        "<!-- a -- b </body> c -->@</body>",
        "<!-- unterminated </body>",
        "<!-- ---!>@</body> -->",
        "<!-- -\n- </body> -->@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);

    /* "<!--!-->" is one comment ending at "-->", so the tag after counts */
    check_doc("<!--!--> @</body>");
}

static void
test_bogus_and_doctype(void **state)
{
    static const char *const  docs[] = {
        "<? </body> ?>@</body>",
        "<?php echo '</body'; ?>@</body>",
        "<!x </body>@</body>",
        "<! </body>@</body>",
        "<!>@</body>",
        "<!->@</body>",
        "<!- </body>@</body>",
        "</ </body>@</body>",
        "</1 </body>@</body>",
        "</1</body>@</body>",
        "</?x </body>@</body>",
        "<!DOCTYPE html \"</body \"><html>@</body>",
        "<!doctype html PUBLIC \"-//W3C//DTD </body\" >@</body>",
        "<![CDATA[ </body> ]]>@</body>",
        "<![CDATA[ </body ]]>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);

    /* a DOCTYPE ends at its first '>' */
    check_doc("<!DOCTYPE html>@</body>");
}

static void
test_script(void **state)
{
    static const char *const  docs[] = {
        "<script>var s = \"</body>\";</script>@</body>",
        "<script>var s = '</bo' + 'dy>';</script>@</body>",
        "<script type=\"module\">a='</body>'</script>@</body>",
        "<SCRIPT>x='</body>'</SCRIPT>@</body>",
        "<script>x='</body>'</sCrIpT >@</body>",
        "<script>x='</body>'</script\t>@</body>",
        "<script>x='</body>'</script/>@</body>",
        "<script>a</scriptx></body></script>@</body>",
        "<script>a</scrip></body></script>@</body>",
        "<script>a</ script></body></script>@</body>",
        "<script>a</script>@</body>",
        "<script/>\"</body>\"</script>@</body>",
        "<script src=x />var a=\"</body>\"</script>@</body>",
        "<script src=\"a>b\">'</body>'</script>@</body>",
        "<script>if (a<b && c</d) x='</body>';</script>@</body>",
        "<script>x='</body>'",
        "<script>x='</body>'</script title='</body>'>@</body>",
        "<script>x='</body>'</script data-a=\"></body>\">@</body>",
        /* escape states: <!-- ... --> with an inner <script> </script> */
        "<script><!--\ndocument.write('<script src=a></script>');\n"
        "var x='</body>';\n//--></script>@</body>",
        "<script><!--</script>@</body>",
        "<script><!-- <script> </script> </body> --> </script>@</body>",
        "<script><!-- <scripts> </script>@</body>",
        "<script><!-- <script>--></script>@</body>",
        "<script><!--><script></script>@</body>",
        "<script><!---><script></script>@</body>",
        "<script><!-- - -> <script></script> -- > </body> --></script>"
        "@</body>",
        "<script><! -- <script></script>@</body>",
        "<script><!-- <script/</script> x --></script>@</body>",
        "<script><!-- <script></script/ </body> --></script>@</body>",
        "<script><!-- <script></scriptx></body>--></script>@</body>",
        "<script>a<!b</script>@</body>",
        "<script>a<!-b</script>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_rawtext_rcdata(void **state)
{
    static const char *const  docs[] = {
        "<style>a::after{content:'</body>'}</style>@</body>",
        "<STYLE media=all>/* </body> */</Style>@</body>",
        "<style>x</styl></body></style>@</body>",
        "<textarea></body></textarea>@</body>",
        "<textarea><!-- </textarea>@</body>",
        "<title></body></title>@</body>",
        "<title><script></title>@</body>",
        "<xmp></body></xmp>@</body>",
        "<iframe></body></iframe>@</body>",
        "<noembed></body></noembed>@</body>",
        "<noframes></body></noframes>@</body>",
        "<noscript></body></noscript>@</body>",
        "<noscript><!-- </noscript>@</body>",
        "<style></script></body></style>@</body>",
        "<textarea></title></body></textarea>@</body>",
        "<style><!-- </style>@</body>",
        "<title/></body></title>@</body>",
        "<plaintext></body></plaintext></body>",
        "<PlainText>",
        "<style>x",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_template(void **state)
{
    static const char *const  docs[] = {
        "<template></body></template>@</body>",
        "<template><p></body></p></template>@</body>",
        "<template><template></template></body></template>@</body>",
        "<template><template></body></template></template>@</body>",
        "<TEMPLATE id=t></body></Template >@</body>",
        "</template></template>@</body>",
        "</template><template></body></template>@</body>",
        "<template><script>'</template>'</script></body></template>@</body>",
        "<template><!--</template>--></body></template>@</body>",
        "<template><div title=\"</template>\"></body></template>@</body>",
        "<template></templatex></body></template>@</body>",
        "<template/></body></template>@</body>",
        "<template>no end </body>",
        "<template><style></template></style></body></template>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_attributes(void **state)
{
    static const char *const  docs[] = {
        "<div data-x=\"</body>\">@</body>",
        "<a title='a > </body>'>@</body>",
        "<a title = \"</body>\">@</body>",
        "<a title\n=\n'</body>'>@</body>",
        "<a title=</body>>@</body>",
        "<a title=x</body>@</body>",
        "<a b=\"1\"c=\"</body>\">@</body>",
        "<a b='\"' c=\"'</body>\">@</body>",
        "<a x\"y=\"</body>\">@</body>",
        "<a =\"</body>\">@</body>",
        "<a ==\">\" </body>@</body>",
        "<a \"</body>\">@</body>",
        "<a '</body>'>@</body>",
        "<a b \"</body>\"@</body>",
        "<a b=\"x\"/>@</body>",
        "<a / title=\"</body>\">@</body>",
        "<a title=\"</body>",
        "<div title=\"></body>\"",
        "</div title=\"</body>\">@</body>",
        "</p class='</body>'>@</body>",
        "<a b=>@</body>",
        "<a b= >@</body>",
        "<img src=\"x.png\" alt=\"</body>\"/>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}

static void
test_case_and_whitespace(void **state)
{
    static const char *const  docs[] = {
        "@</BODY>",
        "@</Body >",
        "@</body\t>",
        "@</body\n>",
        "@</body\f>",
        "@</body\r>",
        "@</body >",
        "@</body/>",
        "@</bOdY foo=bar>",
        "@</body title=\"x\">",
        "p@</body   \n\n",
    };

    (void) state;
    CHECK_DOCS(docs);

    /* "@</body" without terminator: not complete yet */
    {
        doc_t  d;

        doc_prepare(&d, "@</body", 7);
        cur_doc = "</body";
        expect_run(&d, "no terminator", chunk_whole, NULL, NONE, -1);
    }
}

static void
test_not_body(void **state)
{
    static const char *const  docs[] = {
        "</bodyx>",
        "</body1>",
        "</bod>",
        "</bodyy >",
        "</b ody>",
        "</body-x>",
        "</body.>",
        "</body\v>",
        "</body\xa0>",
        "</bodY\x01>",
        "</boy>",
        "<body>",
        "< /body>",
        "</body</body>",                /* tag name "body<" */
        "</bodyx>@</body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}

/* The tag names "</body" can hold NUL bytes and still be a tag elsewhere. */
static void
test_nul_bytes(void **state)
{
    static const char  doc[] = "a\0b<p\0>x\0<!--\0</body>-->\0@</body>\0";

    (void) state;
    check_doc_len(doc, sizeof(doc) - 1);
}

static void
test_first_wins(void **state)
{
    static const char *const  docs[] = {
        "<p>a</p>@</body></body>",
        "@</body></BODY>",
        "<!-- </body> -->x@</body>y</body>",
        "<template></body></template>@</body></body>",
    };

    (void) state;
    CHECK_DOCS(docs);
}


/* ---- <meta http-equiv="Content-Security-Policy"> ------------------ */

static void
test_meta_csp(void **state)
{
    static const char *const  docs[] = {
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"script-src 'none'\">\n<title>T</title></head>\n"
        "<body><p>x</p>@</body></html>",
        "<meta http-equiv=\"content-security-policy\" content=\"x\">@</body>",
        "<meta http-equiv='Content-Security-Policy' content='x'>@</body>",
        "<meta http-equiv=Content-Security-Policy content=x>@</body>",
        "<meta http-equiv=content-security-policy>@</body>",
        "<META HTTP-EQUIV=\"CONTENT-SECURITY-POLICY\">@</body>",
        "<MeTa Http-Equiv=\"cOnTeNt-SeCuRiTy-PoLiCy\">@</body>",
        "<meta content=\"default-src 'self'\" "
        "http-equiv=\"Content-Security-Policy\">@</body>",
        "<meta\nhttp-equiv\n=\n\"Content-Security-Policy\"\ncontent=x\n>"
        "@</body>",
        "<meta\thttp-equiv\t=\t'content-security-policy'\t/>@</body>",
        "<meta/http-equiv=\"content-security-policy\">@</body>",
        "<meta http-equiv=\"content-security-policy\"/>@</body>",
        "<meta http-equiv=\"content-security-policy\"content=x>@</body>",
        "<meta async http-equiv=\"content-security-policy\">@</body>",
        "<meta a=b http-equiv=\"content-security-policy\">@</body>",
        "<meta a=\"b\" / http-equiv=\"content-security-policy\">@</body>",
        "<meta data-x='\"' http-equiv=\"content-security-policy\">@</body>",
        "<meta http-equiv=\" Content-Security-Policy\t\">@</body>",
        "<meta http-equiv=' \ncontent-security-policy \r\f'>@</body>",
        "<meta http-equiv=\"refresh\" "
        "http-equiv=\"content-security-policy\">@</body>",
        /* character references are decoded by browsers: fail closed */
        "<meta http-equiv=\"content&#45;security-policy\">@</body>",
        "<meta http-equiv='&#x43;ontent-security-policy'>@</body>",
        "<meta http-equiv=content-security-policy&#x20;>@</body>",
        /* a <meta> in <body> is ignored by browsers, but counts here */
        "<body><p>x</p><meta http-equiv=content-security-policy>@</body>",
        "<!-- c --><meta http-equiv=content-security-policy>@</body>",
        "<script>x</script><meta http-equiv=content-security-policy>"
        "@</body>",
        "<template><meta></template>"
        "<meta http-equiv=content-security-policy>@</body>",
        "<meta http-equiv=content-security-policy>"
        "<meta http-equiv=content-security-policy>@</body>",
        "<a title=\"'\"><meta http-equiv=content-security-policy>@</body>",
        "<meta http-equiv=\"content-security-policy\" title=\"</body>\">"
        "@</body>",
        "<meta http-equiv=\"content-security-policy\" </body>@</body>",
        /* no </body>: the flag is still reported */
        "<meta http-equiv=\"content-security-policy\">",
        "<meta http-equiv=\"content-security-policy\"",
        "<meta http-equiv=content-security-policy ",
    };

    (void) state;
    CHECK_CSP_DOCS(docs, 1);
}

static void
test_meta_not_csp(void **state)
{
    static const char *const  docs[] = {
        "<meta http-equiv=\"refresh\" content=\"5\">@</body>",
        "<meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\">@</body>",
        "<meta http-equiv=\"Content-Security-Policy-Report-Only\" "
        "content=\"x\">@</body>",
        "<meta http-equiv=content-security-policy-report-only>@</body>",
        "<meta charset=utf-8><meta name=viewport content=x>@</body>",
        "<meta http-equiv=\"\">@</body>",
        "<meta http-equiv>@</body>",
        "<meta http-equiv=>@</body>",
        "<meta http-equiv= >@</body>",
        "<meta http-equiv content-security-policy>@</body>",
        "<meta content-security-policy>@</body>",
        "<meta http-equiv=\"content-security-polic\">@</body>",
        "<meta http-equiv=\"content-security-policyx\">@</body>",
        "<meta http-equiv=\"content-security-policy x\">@</body>",
        "<meta http-equiv=\"content security policy\">@</body>",
        "<meta http-equiv=\"content-\nsecurity-policy\">@</body>",
        "<meta http-equiv=\"content_security_policy\">@</body>",
        "<meta http-equiv=\"contentxsecurityxpolicy\">@</body>",
        "<meta http-equiv=\"refresh&amp;content-security-policy\">@</body>",
        "<meta http-equiv=content-security-policy\">@</body>",
        "<meta http-equiv='content-security-policy\"'>@</body>",
        /* the name must be exactly http-equiv */
        "<meta http-equivx=content-security-policy>@</body>",
        "<meta xhttp-equiv=content-security-policy>@</body>",
        "<meta data-http-equiv=content-security-policy>@</body>",
        "<meta http_equiv=content-security-policy>@</body>",
        "<meta httpequiv=content-security-policy>@</body>",
        "<meta http-equi=content-security-policy>@</body>",
        "<meta =http-equiv=content-security-policy>@</body>",
        "<meta \"http-equiv\"=content-security-policy>@</body>",
        "<meta name=\"http-equiv\" content=\"content-security-policy\">"
        "@</body>",
        "<meta name=x content=\"http-equiv=content-security-policy\">"
        "@</body>",
        "<meta name=x content='<meta http-equiv=content-security-policy>'>"
        "@</body>",
        /* other tag names */
        "<metadata http-equiv=\"content-security-policy\">@</body>",
        "<metas http-equiv=content-security-policy>@</body>",
        "<meta-x http-equiv=content-security-policy>@</body>",
        "<met http-equiv=content-security-policy>@</body>",
        "<xmeta http-equiv=content-security-policy>@</body>",
        "<link http-equiv=content-security-policy>@</body>",
        "</meta http-equiv=content-security-policy>@</body>",
        "< meta http-equiv=content-security-policy>@</body>",
        /* not in the data state */
        "<!-- <meta http-equiv=\"content-security-policy\"> -->@</body>",
        "<!--<meta http-equiv=content-security-policy>-->@</body>",
        "<! <meta http-equiv=content-security-policy>@</body>",
        "<? <meta http-equiv=content-security-policy>@</body>",
        "<script>'<meta http-equiv=content-security-policy>'</script>"
        "@</body>",
        "<script><!-- <script><meta http-equiv=content-security-policy>"
        "</script> --></script>@</body>",
        "<style><meta http-equiv=content-security-policy></style>@</body>",
        "<title><meta http-equiv=content-security-policy></title>@</body>",
        "<textarea><meta http-equiv=content-security-policy></textarea>"
        "@</body>",
        "<noscript><meta http-equiv=content-security-policy></noscript>"
        "@</body>",
        "<xmp><meta http-equiv=content-security-policy></xmp>@</body>",
        "<div title=\"<meta http-equiv=content-security-policy>\">@</body>",
        "<div title='<meta http-equiv=\"content-security-policy\">'>"
        "@</body>",
        "<plaintext><meta http-equiv=content-security-policy>",
        /* inside a template */
        "<template><meta http-equiv=\"content-security-policy\"></template>"
        "@</body>",
        "<template><template></template>"
        "<meta http-equiv=content-security-policy></template>@</body>",
        /* after the real </body>: never examined */
        "@</body><meta http-equiv=\"content-security-policy\">",
        "<p>@</body>\n<meta http-equiv=content-security-policy>",
        /* an unfinished value has not ended yet */
        "<meta http-equiv=\"content-security-policy",
        "<meta http-equiv=content-security-policy",
    };

    /* NUL bytes (read as U+FFFD) match nothing */
    static const char  nul1[] =
        "<meta http-equiv=\"content-security-policy\0\">@</body>";
    static const char  nul2[] =
        "<meta http-equiv=\"content-security-policy\0xyz\">@</body>";
    static const char  nul3[] =
        "<meta http-equiv\0=content-security-policy>@</body>";
    static const char  nul4[] =
        "<meta\0 http-equiv=content-security-policy>@</body>";
    static const char  nul5[] =
        "<meta http-equiv=\0content-security-policy>@</body>";

    (void) state;
    CHECK_CSP_DOCS(docs, 0);

    check_doc_csp(nul1, sizeof(nul1) - 1, 0);
    check_doc_csp(nul2, sizeof(nul2) - 1, 0);
    check_doc_csp(nul3, sizeof(nul3) - 1, 0);
    check_doc_csp(nul4, sizeof(nul4) - 1, 0);
    check_doc_csp(nul5, sizeof(nul5) - 1, 0);
}

/*
 * The flag turns on exactly with the byte that ends the value, whatever the
 * split; and while inside a <meta> tag nothing is held back.
 */
static void
test_meta_csp_when(void **state)
{
    static const struct {
        const char  *doc;
        size_t       on;        /* flag is 1 once this many bytes were fed */
    } cases[] = {
        { "ab<meta http-equiv=\"content-security-policy\">", 44 },
        { "ab<meta http-equiv='content-security-policy'>", 44 },
        { "ab<meta http-equiv=content-security-policy>", 43 },
        { "ab<meta http-equiv=content-security-policy x>", 43 },
        { "<meta http-equiv=\"c&\" x>", 21 },
    };

    int            rc;
    size_t         i, k, j, len;
    uint64_t       at;
    ngx_cx_scan_t  s;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = strlen(cases[i].doc);

        /* one byte per call */
        ngx_cx_scan_init(&s);
        assert_int_equal(ngx_cx_scan_meta_csp(&s), 0);
        for (k = 0; k < len; k++) {
            rc = ngx_cx_scan_feed(&s, (const unsigned char *) cases[i].doc
                                  + k, 1, &at);
            assert_int_equal(rc, NGX_CX_SCAN_MORE);
            assert_int_equal(ngx_cx_scan_meta_csp(&s), k + 1 >= cases[i].on);
            if (cases[i].doc[k] != '<') {
                assert_int_equal(ngx_cx_scan_hold_from(&s), k + 1);
            }
        }

        /* a prefix whole, then the rest */
        for (k = 0; k <= len; k++) {
            ngx_cx_scan_init(&s);
            ngx_cx_scan_feed(&s, (const unsigned char *) cases[i].doc, k,
                             &at);
            assert_int_equal(ngx_cx_scan_meta_csp(&s), k >= cases[i].on);
            j = len - k;
            ngx_cx_scan_feed(&s, (const unsigned char *) cases[i].doc + k, j,
                             &at);
            assert_int_equal(ngx_cx_scan_meta_csp(&s), len >= cases[i].on);
        }
    }

    /* the case "a&": '&' cannot rescue a prefix that already failed */
    ngx_cx_scan_init(&s);
    ngx_cx_scan_feed(&s, (const unsigned char *) "<meta http-equiv=\"a&\">",
                     22, &at);
    assert_int_equal(ngx_cx_scan_meta_csp(&s), 0);

    /* init clears it; the state stays as small as documented */
    ngx_cx_scan_init(&s);
    assert_int_equal(ngx_cx_scan_meta_csp(&s), 0);
    assert_int_equal(sizeof(ngx_cx_scan_t), 32);
}

/* The flag and FOUND come from one pass: FOUND with the flag already set. */
static void
test_meta_csp_at_found(void **state)
{
    static const char  doc[] =
        "<html><head><meta http-equiv=\"Content-Security-Policy\" "
        "content=\"script-src 'self'\"></head><body>hi</body></html>";

    int            rc;
    uint64_t       at;
    ngx_cx_scan_t  s;

    (void) state;

    ngx_cx_scan_init(&s);
    at = NONE;
    rc = ngx_cx_scan_feed(&s, (const unsigned char *) doc, sizeof(doc) - 1,
                          &at);
    assert_int_equal(rc, NGX_CX_SCAN_FOUND);
    assert_int_equal(at, strstr(doc, "</body>") - doc);
    assert_int_equal(ngx_cx_scan_meta_csp(&s), 1);
    assert_int_equal(ngx_cx_scan_hold_from(&s), sizeof(doc) - 1);
}


/* ---- hold_from ----------------------------------------------------- */

static uint64_t
hold_after(const char *fed)
{
    uint64_t       at;
    ngx_cx_scan_t  s;

    ngx_cx_scan_init(&s);
    assert_int_equal(ngx_cx_scan_feed(&s, (const unsigned char *) fed,
                                      strlen(fed), &at),
                     NGX_CX_SCAN_MORE);
    return ngx_cx_scan_hold_from(&s);
}

typedef struct {
    const char  *fed;
    uint64_t     hold;
} hold_case_t;

/* one feed of a stream and what it must leave held */
typedef struct {
    const char  *piece;
    int          rc;
    uint64_t     hold;
} feed_step_t;


static void
test_hold_from(void **state)
{
    static const hold_case_t  cases[] = {
        { "abc", 3 },
        { "abc<", 3 },
        { "abc</", 3 },
        { "abc</b", 3 },
        { "abc</bo", 3 },
        { "abc</BOD", 3 },
        { "abc</body", 3 },                             /* 6 bytes held */
        { "abc</bx", 7 },
        { "abc</bodyx", 10 },
        { "abc<a", 5 },
        { "abc<b", 5 },                                 /* a start tag */
        { "abc</d", 6 },
        { "abc<!", 5 },
        { "abc< ", 5 },
        { "<!-- </bo", 9 },
        { "<script>x</bo", 13 },
        { "<a title=\"</bo", 14 },
        { "<template></bo", 14 },
        { "<template></template></bo", 21 },
        { "<<<", 2 },                                   /* the latest '<' */
        { "x</div </bo", 11 },                          /* in attributes */
    };

    /* the candidate survives chunk boundaries and is dropped when broken */
    static const feed_step_t  steps[] = {
        { "ab", NGX_CX_SCAN_MORE, 2 },
        { "<", NGX_CX_SCAN_MORE, 2 },
        { "/", NGX_CX_SCAN_MORE, 2 },
        { "b", NGX_CX_SCAN_MORE, 2 },
        { "o", NGX_CX_SCAN_MORE, 2 },
        { "d", NGX_CX_SCAN_MORE, 2 },
        { "i", NGX_CX_SCAN_MORE, 8 },                   /* "</bodi" */
        { ">", NGX_CX_SCAN_MORE, 9 },
        { "</body", NGX_CX_SCAN_MORE, 9 },
        { ">tail", NGX_CX_SCAN_FOUND, 20 },             /* nothing held */
    };

    size_t         i;
    uint64_t       at;
    ngx_cx_scan_t  s;

    (void) state;

    ngx_cx_scan_init(&s);
    assert_int_equal(ngx_cx_scan_hold_from(&s), 0);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_case_int_equal(hold_after(cases[i].fed), cases[i].hold, i,
                              cases[i].fed);
    }

    ngx_cx_scan_init(&s);

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        at = 12345;
        assert_case_int_equal(ngx_cx_scan_feed(&s, (const unsigned char *)
                                               steps[i].piece,
                                               strlen(steps[i].piece), &at),
                              steps[i].rc, i, steps[i].piece);
        assert_case_int_equal(at, steps[i].rc == NGX_CX_SCAN_FOUND ? 9 : 12345,
                              i, steps[i].piece);
        assert_case_int_equal(ngx_cx_scan_hold_from(&s), steps[i].hold, i,
                              steps[i].piece);
    }

    /* an empty feed changes nothing */
    ngx_cx_scan_init(&s);
    assert_int_equal(ngx_cx_scan_feed(&s, (const unsigned char *) "x</b", 4,
                                      &at), NGX_CX_SCAN_MORE);
    assert_int_equal(ngx_cx_scan_feed(&s, NULL, 0, &at), NGX_CX_SCAN_MORE);
    assert_int_equal(ngx_cx_scan_hold_from(&s), 1);
}


/* ---- size and robustness ------------------------------------------ */

static void
test_huge_input(void **state)
{
    static const char  unit[] =
        "<div class=\"row\"><p>Some text &amp; more, a < b.</p>"
        "<a href=\"/x?a=1&b=2\" title='</body>'>link</a>"
        "<!-- </body> --><script>var s=\"</body>\";</script>"
        "<template><p></body></p></template></div>\n";
    static const char  tail[] = "</body></html>\n";

    int             rc;
    size_t          ulen, total, off, n, chunk;
    uint64_t        at, want;
    unsigned char  *buf;
    ngx_cx_scan_t   s;

    (void) state;

    ulen = sizeof(unit) - 1;
    total = 0;
    buf = malloc(4 * 1024 * 1024 + sizeof(tail));
    assert_non_null(buf);

    while (total + ulen <= 4 * 1024 * 1024) {
        memcpy(buf + total, unit, ulen);
        total += ulen;
    }
    want = total;
    memcpy(buf + total, tail, sizeof(tail) - 1);
    total += sizeof(tail) - 1;

    for (chunk = 4096; chunk <= 4099; chunk += 3) {     /* aligned and not */
        ngx_cx_scan_init(&s);
        rc = NGX_CX_SCAN_MORE;
        at = NONE;

        for (off = 0; off < total; off += n) {
            n = total - off < chunk ? total - off : chunk;
            rc = ngx_cx_scan_feed(&s, buf + off, n, &at);
            if (rc == NGX_CX_SCAN_FOUND) {
                break;
            }
            assert_true(ngx_cx_scan_hold_from(&s) + 6 >= off + n);
        }

        assert_int_equal(rc, NGX_CX_SCAN_FOUND);
        assert_int_equal(at, want);
    }

    /* the same without the tail: nothing, and nothing held */
    ngx_cx_scan_init(&s);
    for (off = 0; off < (size_t) want; off += n) {
        n = want - off < 4096 ? want - off : 4096;
        assert_int_equal(ngx_cx_scan_feed(&s, buf + off, n, &at),
                         NGX_CX_SCAN_MORE);
    }
    assert_int_equal(ngx_cx_scan_hold_from(&s), want);

    free(buf);
}

/*
 * The bytes the scanner skips (text, attribute values, comments, raw text,
 * script) are searched 16 and 32 at a time: runs of every length up to
 * past two blocks, before the byte searched for, with bytes that differ
 * from '<', '"', '\'', '-' and '>' by one bit.  Every document is fed split
 * at every position as well, so the byte searched for is also the last of
 * a chunk and the first of the next.
 */
static void
test_skip_runs(void **state)
{
    static const char *const  templates[] = {
        "<p>%s<b>x</b>%s@</body>",
        "%s< %s@</body>",
        "<a title=\"%s</body>\">%s@</body>",
        "<a title='%s</body>'>%s@</body>",
        "<!--%s</body>-%s-->@</body>",
        "<?%s</body%s>@</body>",
        "<style>%s</body>%s</style>@</body>",
        "<script>%s</body><!--%s</script>@</body>",
        "<p>%s</bod%s",
    };
    static const char  fill[] =
        "Lorem \xbc ipsum;=dolor|\x1c\xfe\xa2,\x7c\xbe amet.";

    size_t  i, n;
    char    run[80], doc[256];

    (void) state;

    for (n = 0; n <= 70; n++) {
        for (i = 0; i < n; i++) {
            run[i] = fill[i % (sizeof(fill) - 1)];
        }
        run[n] = '\0';

        for (i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
            snprintf(doc, sizeof(doc), templates[i], run, run + n / 2);
            check_doc(doc);
        }
    }
}

/*
 * Random documents over an alphabet rich in markup: the result must not
 * depend on how the input is split, and hold invariants must hold. Run under
 * ASan/UBSan this also checks that no byte outside the input is touched.
 */
static void
test_random_consistency(void **state)
{
    static const char *const  atoms[] = {
        "<", ">", "/", "!", "-", "--", "\"", "'", "=", " ", "\t", "?", "x",
        "body", "BODY", "script", "style", "template", "title", "textarea",
        "plaintext", "</body>", "</body", "<!--", "-->", "</script>",
        "<script>", "<template>", "</template>", "<a b=", "\n", "\0",
        "<meta ", "<META/", "http-equiv", "HTTP-EQUIV=", "=",
        "content-security-policy", "Content-Security-Policy\"", "&", "-x"
    };

    int       i, j, natoms, csp, seen;
    char      marked[512];
    size_t    len, alen;
    uint32_t  seed;
    uint64_t  whole;
    doc_t     d;

    (void) state;

    natoms = (int) (sizeof(atoms) / sizeof(atoms[0]));
    seed = 2024;
    seen = 0;

    for (i = 0; i < 1500; i++) {
        len = 0;
        for (j = 0; j < 40; j++) {
            seed = seed * 1103515245u + 12345u;
            alen = strlen(atoms[(seed >> 16) % natoms]);
            if (alen == 0) {
                alen = 1;       /* the NUL atom */
            }
            if (len + alen >= sizeof(marked)) {
                break;
            }
            memcpy(marked + len, atoms[(seed >> 16) % natoms], alen);
            len += alen;
        }

        /* find the answer by feeding whole, then check every other way */
        doc_prepare(&d, marked, len);
        cur_doc = "(random)";
        cur_mode = "whole";
        whole = run(d.buf, d.len, NONE, chunk_whole, NULL);
        csp = run_csp;
        seen += csp;

        d.expect = whole;
        expect_run(&d, "one byte per call", chunk_one, NULL, whole, csp);

        if (i % 10 == 0) {
            size_t  k;

            for (k = 0; k <= d.len; k++) {
                expect_run(&d, "two chunks", chunk_split, &k, whole, csp);
            }
        }

        {
            uint32_t  st = (uint32_t) i;

            expect_run(&d, "random chunks", chunk_random, &st, whole, csp);
        }
    }

    /* the alphabet does produce the pragma now and then, and not always */
    assert_true(seen > 0 && seen < i);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_simple_page),
        cmocka_unit_test(test_no_body),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_bogus_and_doctype),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_rawtext_rcdata),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_case_and_whitespace),
        cmocka_unit_test(test_not_body),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_first_wins),
        cmocka_unit_test(test_meta_csp),
        cmocka_unit_test(test_meta_not_csp),
        cmocka_unit_test(test_meta_csp_when),
        cmocka_unit_test(test_meta_csp_at_found),
        cmocka_unit_test(test_hold_from),
        cmocka_unit_test(test_huge_input),
        cmocka_unit_test(test_skip_runs),
        cmocka_unit_test(test_random_consistency),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
