/*
 * Unit tests for src/ngx_cx_forward.c: the outbox's entries and the rows
 * forwarded to ClickHouse.
 *
 *   - outbox values: a response's or an alert's reference and a journey
 *     event with its extras, asserted byte for byte, round trip through
 *     ngx_cx_outbox_parse(); every malformed or truncated value is refused.
 *     Each value parsed sits in a heap block of exactly its length
 *     (dup_exact), so under -fsanitize=address an over-read is reported;
 *   - the JSONEachRow lines of responses, events and alerts, asserted whole;
 *     their worst cases (every byte escaping to 6) are written into heap
 *     blocks of exactly the advertised maximum, so an overflow is reported
 *     too;
 *   - the schema: database names, the DDL statements and snprintf's
 *     contract, the table names, and that each row's members are its
 *     table's columns, in order.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <cmocka.h>

#include "unit_util.h"

#include "ngx_cx_forward.h"
#include "ngx_cx_device.h"
#include "ngx_cx_json.h"


/* ---- fixtures ---- */

/* 2025-01-10T12:00:00Z */
#define T0  1736510400000ULL

static const unsigned char  resp_id[NGX_CX_RESPONSE_KEY_LEN] =
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0xff };

#define ID_HEX       "000102030405060708090aff"

#define VISITOR_BYTES                                                         \
    "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab"
#define VISITOR_HEX  "a0a1a2a3a4a5a6a7a8a9aaab"

/* the alert of resp_id under the rule id 0xdeadbeef */
#define RULE_ID      0xdeadbeef
#define ALERT_HEX    ID_HEX "deadbeef"

/* the event key ngx_cx_journey_key(T0, 0x01020304, 5) */
#define EVKEY_BYTES                                                           \
    "\x00\x00\x01\x94\x50\x15\xe6\x00" "\x01\x02\x03\x04" "\x00\x00\x00\x05"
#define EVKEY_HEX    "000001945015e600" "01020304" "00000005"

/* where an event entry's extras start: kind byte, key */
#define EXTRAS       (1 + NGX_CX_JOURNEY_KEY_LEN)

#define NELTS(a)     (sizeof(a) / sizeof((a)[0]))


/*
 * Byte fields of the records, each in a heap block of exactly its length;
 * the teardown frees them.
 */

#define MAX_FIELDS  32

static void  *fields[MAX_FIELDS];
static int    nfields;

static ngx_cx_bytes_t
field(const void *p, size_t len)
{
    ngx_cx_bytes_t  b;

    assert_true(nfields < MAX_FIELDS);

    fields[nfields] = dup_exact(p, len);
    b.data = len ? fields[nfields] : NULL;
    b.len = len;
    nfields++;

    return b;
}

#define FIELD(lit)  field((lit), sizeof(lit) - 1)

/* len copies of the byte c */
static ngx_cx_bytes_t
field_fill(int c, size_t len)
{
    ngx_cx_bytes_t   b;
    unsigned char   *p;

    p = malloc(len);
    assert_non_null(p);
    memset(p, c, len);
    b = field(p, len);
    free(p);

    return b;
}


static int
teardown(void **state)
{
    (void) state;

    while (nfields) {
        free(fields[--nfields]);
    }

    return 0;
}


/* the attributes blob of pairs = {key, value, key, value, ..., NULL} */
static ngx_cx_bytes_t
attrs_field(const char *const *pairs)
{
    size_t          len, n;
    unsigned char   blob[512];

    for (len = 0; pairs[0] != NULL; pairs += 2) {
        n = ngx_cx_attrs_put(blob + len, sizeof(blob) - len, pairs[0],
                             strlen(pairs[0]), pairs[1], strlen(pairs[1]));
        assert_int_not_equal(n, 0);
        len += n;
    }

    return field(blob, len);
}

/* ATTRS("k1", "v1", "k2", "v2", ...) */
#define ATTRS(...)                                                            \
    attrs_field((const char *const []) { __VA_ARGS__, NULL })


static void
event_key(unsigned char key[NGX_CX_JOURNEY_KEY_LEN])
{
    ngx_cx_journey_key(key, T0, 0x01020304, 5);
    assert_memory_equal(key, EVKEY_BYTES, NGX_CX_JOURNEY_KEY_LEN);
}


/* a first visit to "checkout" from "cart" an hour before, no purchase */
static void
visit_event(ngx_cx_journey_t *ev)
{
    memset(ev, 0, sizeof(*ev));

    ev->at_ms = T0;                     /* the key's, as decoded */
    memcpy(ev->visitor, VISITOR_BYTES, NGX_CX_VISITOR_ID_LEN);
    ev->kind = 1;
    ev->stage = 3;
    ev->name_len = 8;
    memcpy(ev->name, "checkout", 8);

    ev->from_len = 4;
    memcpy(ev->from, "cart", 4);
    ev->from_seconds = 3600;
    ev->purchase_seconds = -1;
    ev->first_arrival = 1;
}


/* an offer of the survey "nps1": no extras */
static void
offer_event(ngx_cx_journey_t *ev)
{
    memset(ev, 0, sizeof(*ev));

    ev->at_ms = T0;
    memcpy(ev->visitor, VISITOR_BYTES, NGX_CX_VISITOR_ID_LEN);
    ev->kind = 2;
    ev->name_len = 4;
    memcpy(ev->name, "nps1", 4);
    ev->purchase_seconds = -1;
}


static void
assert_event_equal(const ngx_cx_journey_t *a, const ngx_cx_journey_t *b)
{
    assert_true(a->at_ms == b->at_ms);
    assert_memory_equal(a->visitor, b->visitor, NGX_CX_VISITOR_ID_LEN);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->name_len, b->name_len);
    assert_memory_equal(a->name, b->name, a->name_len);
    assert_int_equal(a->from_len, b->from_len);
    assert_memory_equal(a->from, b->from, a->from_len);
    assert_int_equal(a->from_seconds, b->from_seconds);
    assert_true(a->purchase_seconds == b->purchase_seconds);
    assert_int_equal(a->first_arrival, b->first_arrival);
}


/* an answered, commented NPS response with a previous score */
static void
full_record(ngx_cx_record_t *r)
{
    memset(r, 0, sizeof(*r));

    r->flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED
               | NGX_CX_REC_COMMENTED;
    r->issued_at_ms = T0 - 60000;
    r->displayed_at_ms = T0 - 30000;
    r->answered_at_ms = T0 + 999;
    r->commented_at_ms = T0 + 5000;
    r->score = 9;
    r->has_previous = 1;
    r->previous_score = 6;
    r->type = NGX_CX_TYPE_NPS;
    r->stage = 2;
    memcpy(r->visitor, VISITOR_BYTES, sizeof(r->visitor));

    r->survey = FIELD("nps1");
    r->touchpoint = FIELD("browse");
    r->lang = FIELD("fr");
    r->device = NGX_CX_DEVICE_MOBILE;
    r->path = FIELD("/panier?x=1&y=2");
    r->comment = FIELD("Tr\xc3\xa8s bien \xf0\x9f\x91\x8d");  /* 👍 */
    r->attrs = ATTRS("plan", "pro", "ref", "say \"hi\" <b>");
    r->attr_numbers = 0x2;              /* not a JSON number: still 1 */
    r->followup = FIELD("Pourquoi ?");
}


/* a prompt only issued: nothing happened to it yet */
static void
issued_record(ngx_cx_record_t *r)
{
    memset(r, 0, sizeof(*r));

    r->issued_at_ms = T0;
    r->score = 4;                       /* not answered: ignored */
    r->previous_score = 7;              /* has_previous 0: ignored */
    r->type = NGX_CX_TYPE_CSAT;
    memcpy(r->visitor, VISITOR_BYTES, sizeof(r->visitor));

    r->survey = FIELD("csat2");
    r->touchpoint = FIELD("home");
    r->path = FIELD("/");
}


/* ---- outbox: references ---- */

static void
test_outbox_ref(void **state)
{
    int                   kind;
    size_t                n, ref_len;
    unsigned char         key[NGX_CX_ALERT_KEY_LEN];
    unsigned char         val[NGX_CX_OUTBOX_VAL_MAX], *copy;
    ngx_cx_journey_t      ev;
    const unsigned char  *ref;

    (void) state;

    /* a response: 'R' and its 12-byte id */
    n = ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_RESPONSE, resp_id,
                          NGX_CX_RESPONSE_KEY_LEN);
    assert_int_equal(n, 13);
    assert_memory_equal(val, "R" "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"
                             "\x0a\xff", 13);

    copy = dup_exact(val, n);
    kind = 0;
    ref = NULL;
    ref_len = 0;
    assert_int_equal(ngx_cx_outbox_parse(copy, n, &kind, &ref, &ref_len, &ev),
                     0);
    assert_int_equal(kind, 'R');
    assert_ptr_equal(ref, copy + 1);
    assert_int_equal(ref_len, NGX_CX_RESPONSE_KEY_LEN);
    assert_memory_equal(ref, resp_id, NGX_CX_RESPONSE_KEY_LEN);
    free(copy);

    /* an alert: 'A' and its 16-byte key */
    ngx_cx_alert_key(key, resp_id, RULE_ID);
    n = ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_ALERT, key, sizeof(key));
    assert_int_equal(n, 17);
    assert_memory_equal(val, "A" "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"
                             "\x0a\xff" "\xde\xad\xbe\xef", 17);

    copy = dup_exact(val, n);
    kind = 0;
    ref = NULL;
    ref_len = 0;
    assert_int_equal(ngx_cx_outbox_parse(copy, n, &kind, &ref, &ref_len, &ev),
                     0);
    assert_int_equal(kind, 'A');
    assert_ptr_equal(ref, copy + 1);
    assert_int_equal(ref_len, NGX_CX_ALERT_KEY_LEN);
    assert_memory_equal(ref, key, NGX_CX_ALERT_KEY_LEN);
    free(copy);

    /* a key longer than a value holds is not written */
    copy = calloc(1, NGX_CX_OUTBOX_VAL_MAX);
    assert_non_null(copy);
    assert_int_equal(ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_RESPONSE, copy,
                                       NGX_CX_OUTBOX_VAL_MAX), 0);
    free(copy);
}


/* an erasure: 'X' and the visitor id */
static void
test_outbox_erase(void **state)
{
    int                   kind;
    size_t                n, ref_len;
    unsigned char         val[NGX_CX_OUTBOX_VAL_MAX], *copy;
    ngx_cx_journey_t      ev;
    const unsigned char  *ref;
    static const unsigned char  visitor[NGX_CX_VISITOR_ID_LEN] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
    };

    (void) state;

    n = ngx_cx_outbox_ref(val, NGX_CX_OUTBOX_ERASE, visitor, sizeof(visitor));
    assert_int_equal(n, 1 + NGX_CX_VISITOR_ID_LEN);
    assert_int_equal(val[0], 'X');

    copy = dup_exact(val, n);
    assert_int_equal(ngx_cx_outbox_parse(copy, n, &kind, &ref, &ref_len, &ev),
                     0);
    assert_int_equal(kind, NGX_CX_OUTBOX_ERASE);
    assert_int_equal(ref_len, NGX_CX_VISITOR_ID_LEN);
    assert_ptr_equal(ref, copy + 1);
    assert_memory_equal(ref, visitor, sizeof(visitor));
    free(copy);
}


/* a commit's events in one 'B' entry: added, walked, every truncation refused */
static void
test_outbox_batch(void **state)
{
    int                   rc;
    size_t                len, pos, vlen, n, cut;
    unsigned char        *batch, *copy, val[NGX_CX_OUTBOX_VAL_MAX];
    unsigned char         key[NGX_CX_JOURNEY_KEY_LEN];
    ngx_cx_journey_t      ev;
    const unsigned char  *v;

    (void) state;

    batch = malloc(NGX_CX_OUTBOX_BATCH_MAX);
    assert_non_null(batch);

    /* the most events, each the longest */
    len = 0;
    memset(&ev, 0, sizeof(ev));
    ev.kind = 1;
    ev.name_len = NGX_CX_NAME_MAX;
    memset(ev.name, 'n', NGX_CX_NAME_MAX);
    ev.from_len = NGX_CX_NAME_MAX;
    memset(ev.from, 'f', NGX_CX_NAME_MAX);

    for (n = 0; n < NGX_CX_OUTBOX_BATCH; n++) {
        memset(key, (int) n, sizeof(key));
        vlen = ngx_cx_outbox_event(val, key, &ev);
        assert_int_equal(vlen, NGX_CX_OUTBOX_VAL_MAX);
        ngx_cx_outbox_batch_add(batch, &len, val, vlen);
    }

    assert_int_equal(len, NGX_CX_OUTBOX_BATCH_MAX);
    assert_int_equal(batch[0], 'B');

    copy = dup_exact(batch, len);
    pos = 0;
    n = 0;
    while ((rc = ngx_cx_outbox_batch_next(copy, len, &pos, &v, &vlen)) == 1) {
        assert_int_equal(vlen, NGX_CX_OUTBOX_VAL_MAX);
        assert_int_equal(v[0], 'E');
        assert_int_equal(v[1], (unsigned char) n);     /* its key */
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, NGX_CX_OUTBOX_BATCH);
    free(copy);

    /* cut anywhere inside an event: -1 once there, never an over-read */
    for (cut = 1; cut < 2 + 2 * NGX_CX_OUTBOX_VAL_MAX; cut++) {
        copy = dup_exact(batch, cut);
        pos = 0;
        while ((rc = ngx_cx_outbox_batch_next(copy, cut, &pos, &v, &vlen))
               == 1)
        {
            /* whole events before the cut */
        }
        assert_int_equal(rc, (cut - 1) % (2 + NGX_CX_OUTBOX_VAL_MAX) == 0
                             ? 0 : -1);
        free(copy);
    }

    /* not a 'B' entry, and a zero length */
    batch[0] = 'E';
    pos = 0;
    assert_int_equal(ngx_cx_outbox_batch_next(batch, len, &pos, &v, &vlen), -1);
    batch[0] = 'B';
    batch[1] = 0;
    batch[2] = 0;
    pos = 0;
    assert_int_equal(ngx_cx_outbox_batch_next(batch, len, &pos, &v, &vlen), -1);

    free(batch);
}


static void
test_outbox_ref_refused(void **state)
{
    static const struct {
        int          kind;
        size_t       len;               /* the value's, kind byte included */
        const char  *name;
    } cases[] = {
        { -1,  0,  "empty" },
        { 'R', 1,  "R alone" },
        { 'R', 12, "R, 11-byte id" },
        { 'R', 14, "R, 13-byte id" },
        { 'R', 17, "R, an alert key" },
        { 'A', 1,  "A alone" },
        { 'A', 13, "A, a response id" },
        { 'A', 16, "A, 15-byte key" },
        { 'A', 18, "A, 17-byte key" },
        { 'E', 1,  "E alone" },
        { 'E', 17, "E, a key only" },
        { 'Z', 13, "unknown kind Z" },
        { 'X', 12, "an erasure one byte short" },
        { 'X', 14, "an erasure one byte long" },
        { 'r', 13, "lowercase r" },
        { 'a', 17, "lowercase a" },
        { 0,   13, "kind NUL" },
        { 0xff, 17, "kind 0xff" },
    };

    int                   kind;
    size_t                i, ref_len;
    unsigned char         val[32], *copy;
    ngx_cx_journey_t      ev;
    const unsigned char  *ref;

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        memset(val, 0x5a, sizeof(val));
        if (cases[i].len) {
            val[0] = (unsigned char) cases[i].kind;
        }

        copy = dup_exact(val, cases[i].len);
        assert_case_int_equal(ngx_cx_outbox_parse(copy, cases[i].len, &kind,
                                                  &ref, &ref_len, &ev),
                              -1, i, cases[i].name);
        free(copy);
    }
}


/* ---- outbox: events ---- */

/* encodes ev, checks that it parses back to ev; returns the value's length */
static size_t
event_round_trip(const ngx_cx_journey_t *ev, unsigned char *val)
{
    int                   kind;
    size_t                n, ref_len;
    unsigned char         key[NGX_CX_JOURNEY_KEY_LEN], *copy;
    ngx_cx_journey_t      got;
    const unsigned char  *ref;

    event_key(key);

    n = ngx_cx_outbox_event(val, key, ev);
    assert_true(n > EXTRAS + 14);
    assert_true(n <= NGX_CX_OUTBOX_VAL_MAX);
    assert_int_equal(val[0], 'E');
    assert_memory_equal(val + 1, key, NGX_CX_JOURNEY_KEY_LEN);
    assert_int_equal(n, EXTRAS + 14 + ev->from_len + NGX_CX_JOURNEY_VAL_MIN
                        + ev->name_len);

    copy = dup_exact(val, n);
    memset(&got, 0x5a, sizeof(got));
    kind = 0;
    ref = NULL;
    ref_len = 0;

    assert_int_equal(ngx_cx_outbox_parse(copy, n, &kind, &ref, &ref_len, &got),
                     0);
    assert_int_equal(kind, 'E');
    assert_ptr_equal(ref, copy + 1);
    assert_int_equal(ref_len, NGX_CX_JOURNEY_KEY_LEN);
    assert_memory_equal(ref, key, NGX_CX_JOURNEY_KEY_LEN);
    assert_event_equal(&got, ev);
    free(copy);

    return n;
}


static void
test_outbox_event(void **state)
{
    size_t            n;
    unsigned char     val[NGX_CX_OUTBOX_VAL_MAX], *big;
    ngx_cx_journey_t  ev;

    static const char  visit[] =
        "E" EVKEY_BYTES
        "\x00\x00\x0e\x10"                      /* from_seconds 3600 */
        "\xff\xff\xff\xff\xff\xff\xff\xff"      /* purchase_seconds -1 */
        "\x01"                                  /* first_arrival */
        "\x04" "cart"                           /* from */
        "\x01\x03" VISITOR_BYTES "\x08" "checkout";

    (void) state;

    /* every extra, a purchase still to come */
    visit_event(&ev);
    n = event_round_trip(&ev, val);
    assert_int_equal(n, sizeof(visit) - 1);
    assert_memory_equal(val, visit, sizeof(visit) - 1);

    /* a purchase 0x123456789a s after the first visit (all 8 bytes), the
     * largest from_seconds, not a first arrival */
    ev.purchase_seconds = 0x123456789a;
    ev.from_seconds = 0xfffffffe;
    ev.first_arrival = 0;
    n = event_round_trip(&ev, val);
    assert_int_equal(n, sizeof(visit) - 1);
    assert_memory_equal(val + EXTRAS, "\xff\xff\xff\xfe"
                                      "\x00\x00\x00\x12\x34\x56\x78\x9a"
                                      "\x00" "\x04", 14);
    assert_memory_equal(val + EXTRAS + 14, visit + EXTRAS + 14,
                        n - EXTRAS - 14);

    /* the most negative purchase_seconds survives the unsigned bytes */
    ev.purchase_seconds = INT64_MIN;
    n = event_round_trip(&ev, val);
    assert_memory_equal(val + EXTRAS + 4, "\x80\0\0\0\0\0\0\0", 8);

    /* first_arrival is a flag: any nonzero is written as 1 */
    ev.first_arrival = 7;
    n = ngx_cx_outbox_event(val, (const unsigned char *) EVKEY_BYTES, &ev);
    assert_int_equal(n, sizeof(visit) - 1);
    assert_int_equal(val[EXTRAS + 12], 1);

    /* no extras: an offer */
    offer_event(&ev);
    n = event_round_trip(&ev, val);
    assert_int_equal(n, EXTRAS + 14 + NGX_CX_JOURNEY_VAL_MIN + 4);
    assert_memory_equal(val + EXTRAS, "\x00\x00\x00\x00"
                                      "\xff\xff\xff\xff\xff\xff\xff\xff"
                                      "\x00" "\x00"
                                      "\x02\x00" VISITOR_BYTES "\x04" "nps1",
                        n - EXTRAS);

    /* the longest name and from: exactly NGX_CX_OUTBOX_VAL_MAX, written
     * into a block of that size */
    visit_event(&ev);
    ev.name_len = NGX_CX_NAME_MAX;
    memset(ev.name, 0xff, NGX_CX_NAME_MAX);
    ev.from_len = NGX_CX_NAME_MAX;
    memset(ev.from, 0xfe, NGX_CX_NAME_MAX);

    big = malloc(NGX_CX_OUTBOX_VAL_MAX);
    assert_non_null(big);
    n = event_round_trip(&ev, big);
    assert_int_equal(n, NGX_CX_OUTBOX_VAL_MAX);
    free(big);

    /* a name or a from too long: not encoded */
    visit_event(&ev);
    ev.from_len = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_outbox_event(val,
                                         (const unsigned char *) EVKEY_BYTES,
                                         &ev), 0);
    visit_event(&ev);
    ev.name_len = NGX_CX_NAME_MAX + 1;
    assert_int_equal(ngx_cx_outbox_event(val,
                                         (const unsigned char *) EVKEY_BYTES,
                                         &ev), 0);
}


/* every shorter copy of an event's value, and one byte more, is refused */
static void
assert_truncations_refused(const ngx_cx_journey_t *ev)
{
    int                   kind;
    size_t                n, len, ref_len;
    unsigned char         val[NGX_CX_OUTBOX_VAL_MAX + 1], *copy;
    ngx_cx_journey_t      got;
    const unsigned char  *ref;

    len = ngx_cx_outbox_event(val, (const unsigned char *) EVKEY_BYTES, ev);
    assert_true(len > 0);

    for (n = 0; n < len; n++) {
        copy = dup_exact(val, n);
        assert_case_int_equal(ngx_cx_outbox_parse(copy, n, &kind, &ref,
                                                  &ref_len, &got),
                              -1, n, "truncated");
        free(copy);
    }

    val[len] = 0;
    copy = dup_exact(val, len + 1);
    assert_int_equal(ngx_cx_outbox_parse(copy, len + 1, &kind, &ref, &ref_len,
                                         &got), -1);
    free(copy);
}


static void
test_outbox_event_truncated(void **state)
{
    ngx_cx_journey_t  ev;

    (void) state;

    visit_event(&ev);
    assert_truncations_refused(&ev);

    offer_event(&ev);
    assert_truncations_refused(&ev);

    visit_event(&ev);
    ev.name_len = NGX_CX_NAME_MAX;
    memset(ev.name, 'n', NGX_CX_NAME_MAX);
    ev.from_len = NGX_CX_NAME_MAX;
    memset(ev.from, 'f', NGX_CX_NAME_MAX);
    assert_truncations_refused(&ev);
}


/*
 * An event value with a from_len byte of from_len followed by that many
 * bytes, so that only the byte's own value can refuse it; parsed from a
 * block of exactly its length.
 */
static int
parse_with_from_len(unsigned from_len, ngx_cx_journey_t *got)
{
    int                   kind, rc;
    size_t                n, ref_len;
    unsigned char         val[EXTRAS + 14 + 255 + NGX_CX_JOURNEY_VAL_MAX];
    unsigned char        *copy;
    const unsigned char  *ref;

    n = 0;
    val[n++] = 'E';
    memcpy(val + n, EVKEY_BYTES, NGX_CX_JOURNEY_KEY_LEN);
    n += NGX_CX_JOURNEY_KEY_LEN;

    memset(val + n, 0, 12);             /* from_seconds, purchase_seconds */
    n += 12;
    val[n++] = 1;                       /* first_arrival */
    val[n++] = (unsigned char) from_len;
    memset(val + n, 'f', from_len);
    n += from_len;

    val[n++] = 1;                       /* kind */
    val[n++] = 0;                       /* stage */
    memcpy(val + n, VISITOR_BYTES, NGX_CX_VISITOR_ID_LEN);
    n += NGX_CX_VISITOR_ID_LEN;
    val[n++] = 0;                       /* name_len */

    copy = dup_exact(val, n);
    rc = ngx_cx_outbox_parse(copy, n, &kind, &ref, &ref_len, got);
    free(copy);

    return rc;
}


static void
test_outbox_event_from_len(void **state)
{
    ngx_cx_journey_t  got;

    (void) state;

    /* the well-formed neighbour: 64 is the longest from */
    memset(&got, 0, sizeof(got));
    assert_int_equal(parse_with_from_len(NGX_CX_NAME_MAX, &got), 0);
    assert_int_equal(got.from_len, NGX_CX_NAME_MAX);
    assert_int_equal(got.from[NGX_CX_NAME_MAX - 1], 'f');
    assert_int_equal(got.name_len, 0);

    /* over 64: refused (ev->from holds 64 bytes) */
    assert_int_equal(parse_with_from_len(NGX_CX_NAME_MAX + 1, &got), -1);
    assert_int_equal(parse_with_from_len(128, &got), -1);
    assert_int_equal(parse_with_from_len(255, &got), -1);
}


/* ---- rows ---- */

/*
 * Checks a row: one line, LF-ended, of printable ASCII (what the escaper
 * promises), within max bytes.
 */
static void
assert_row(const unsigned char *row, size_t len, size_t max)
{
    size_t  i;

    if (len > max) {
        print_error("the row has %zu bytes, over its maximum %zu\n", len, max);
        fail();
    }

    assert_true(len >= 3);
    assert_int_equal(row[0], '{');
    assert_memory_equal(row + len - 2, "}\n", 2);

    for (i = 0; i < len - 1; i++) {
        if (row[i] < 0x20 || row[i] > 0x7e) {
            print_error("byte %zu of the row is 0x%02x\n", i, row[i]);
            fail();
        }
    }
}


/* the row (dst, end) into out, NUL-terminated, when out is not NULL */
static size_t
row_copy(const unsigned char *dst, const unsigned char *end, size_t max,
    char *out, size_t out_size)
{
    size_t  n = (size_t) (end - dst);

    assert_row(dst, n, max);

    if (out) {
        assert_true(n < out_size);
        memcpy(out, dst, n);
        out[n] = '\0';
    }

    return n;
}


/* rec's row, written into a block of exactly forward_response_max() bytes */
static size_t
response_row(const ngx_cx_record_t *rec, const void *node, size_t node_len,
    char *out, size_t out_size)
{
    size_t          max, n;
    unsigned char  *dst, *end;

    max = ngx_cx_forward_response_max(rec, node_len);
    dst = malloc(max);
    assert_non_null(dst);

    end = ngx_cx_forward_response(dst, resp_id, rec, node, node_len);
    n = row_copy(dst, end, max, out, out_size);

    free(dst);
    return n;
}


/* ev's row, written into a block of exactly NGX_CX_FORWARD_EVENT_MAX bytes */
static size_t
event_row(const ngx_cx_journey_t *ev, const void *node, size_t node_len,
    char *out, size_t out_size)
{
    size_t          n;
    unsigned char  *dst, *end;

    dst = malloc(NGX_CX_FORWARD_EVENT_MAX);
    assert_non_null(dst);

    end = ngx_cx_forward_event(dst, (const unsigned char *) EVKEY_BYTES, ev,
                               node, node_len);
    n = row_copy(dst, end, NGX_CX_FORWARD_EVENT_MAX, out, out_size);

    free(dst);
    return n;
}


/* a's row, written into a block of exactly forward_alert_max() bytes */
static size_t
alert_row(const ngx_cx_alert_t *a, const void *node, size_t node_len,
    char *out, size_t out_size)
{
    size_t          max, n;
    unsigned char  *dst, *end;

    max = ngx_cx_forward_alert_max(a, node_len);
    dst = malloc(max);
    assert_non_null(dst);

    end = ngx_cx_forward_alert(dst, a, node, node_len);
    n = row_copy(dst, end, max, out, out_size);

    free(dst);
    return n;
}


static void
assert_line(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        print_error("expected: %s\ngot:      %s\n", want, got);
        fail();
    }
}


/* the unsigned number after "name": in a row */
static uint64_t
row_u64(const char *row, const char *name)
{
    char         pat[64], *end;
    const char  *p;
    uint64_t     v;

    snprintf(pat, sizeof(pat), ",\"%s\":", name);
    p = strstr(row, pat);
    assert_non_null(p);
    p += strlen(pat);

    assert_true(*p >= '0' && *p <= '9');
    v = strtoull(p, &end, 10);
    assert_true(*end == ',' || *end == '}');

    return v;
}


/* ---- rows: responses ---- */

static void
test_response_full(void **state)
{
    char             row[2048];
    ngx_cx_record_t  r;

    (void) state;

    full_record(&r);
    response_row(&r, "eu-1", 4, row, sizeof(row));

    assert_line(row,
        "{\"id\":\"" ID_HEX "\",\"node\":\"eu-1\","
        "\"version\":1736510405000,"
        "\"issued_at_ms\":1736510340000,"
        "\"received_at_ms\":1736510400999,"
        "\"displayed_at_ms\":1736510370000,"
        "\"answered_at_ms\":1736510400999,"
        "\"commented_at_ms\":1736510405000,"
        "\"dismissed_at_ms\":0,"
        "\"survey\":\"nps1\",\"type\":\"nps\",\"touchpoint\":\"browse\","
        "\"stage\":\"consideration\",\"score\":9,\"previous_score\":6,"
        "\"comment\":\"Tr\\u00e8s bien \\ud83d\\udc4d\","
        "\"followup\":\"Pourquoi ?\","
        "\"visitor\":\"" VISITOR_HEX "\",\"lang\":\"fr\",\"device\":\"mobile\","
        "\"path\":\"/panier?x=1\\u0026y=2\","
        "\"attr_keys\":[\"plan\",\"ref\"],"
        "\"attr_values\":[\"pro\",\"say \\\"hi\\\" \\u003cb\\u003e\"],"
        "\"attr_numeric\":[0,1],"
        "\"displayed\":1,\"answered\":1,\"commented\":1,\"dismissed\":0}\n");
}


static void
test_response_issued(void **state)
{
    char             row[2048];
    ngx_cx_record_t  r;

    (void) state;

    issued_record(&r);
    response_row(&r, NULL, 0, row, sizeof(row));

    assert_line(row,
        "{\"id\":\"" ID_HEX "\",\"node\":\"\","
        "\"version\":1736510400000,"
        "\"issued_at_ms\":1736510400000,"
        "\"received_at_ms\":1736510400000,"
        "\"displayed_at_ms\":0,\"answered_at_ms\":0,"
        "\"commented_at_ms\":0,\"dismissed_at_ms\":0,"
        "\"survey\":\"csat2\",\"type\":\"csat\",\"touchpoint\":\"home\","
        "\"stage\":\"\",\"score\":null,\"previous_score\":null,"
        "\"comment\":\"\",\"followup\":\"\","
        "\"visitor\":\"" VISITOR_HEX "\",\"lang\":\"\",\"device\":\"\","
        "\"path\":\"/\",\"attr_keys\":[],\"attr_values\":[],"
        "\"attr_numeric\":[],"
        "\"displayed\":0,\"answered\":0,\"commented\":0,\"dismissed\":0}\n");
}


/* a score and a previous score of 0 are numbers, not null */
static void
test_response_zero_scores(void **state)
{
    char             row[2048];
    ngx_cx_record_t  r;

    (void) state;

    full_record(&r);
    r.score = 0;
    r.previous_score = 0;
    response_row(&r, "eu-1", 4, row, sizeof(row));

    assert_non_null(strstr(row, ",\"score\":0,\"previous_score\":0,"));
}


/* the pairs in blob order, repeated keys and empty values kept */
static void
test_response_attrs(void **state)
{
    char             row[2048];
    ngx_cx_record_t  r;

    (void) state;

    issued_record(&r);
    r.attrs = ATTRS("q", "1", "e", "", "q", "2");
    response_row(&r, NULL, 0, row, sizeof(row));

    assert_non_null(strstr(row, ",\"attr_keys\":[\"q\",\"e\",\"q\"],"
                                "\"attr_values\":[\"1\",\"\",\"2\"],"
                                "\"attr_numeric\":[0,0,0],"));

    /* a number's digit; past the 64th pair, none is */
    r.attr_numbers = 0x5;
    response_row(&r, NULL, 0, row, sizeof(row));
    assert_non_null(strstr(row, ",\"attr_numeric\":[1,0,1],"));
}


/*
 * version: the latest of the five times; received_at_ms: answered, else
 * displayed, else dismissed, else issued (never commented).
 */
static void
test_response_times(void **state)
{
    static const struct {
        uint64_t     issued, displayed, answered, commented, dismissed;
        uint64_t     version, received;
        const char  *name;
    } cases[] = {
        { 100, 0,   0,   0,   0,   100, 100, "issued" },
        { 100, 200, 0,   0,   0,   200, 200, "displayed" },
        { 100, 0,   0,   0,   300, 300, 300, "dismissed, not displayed" },
        { 100, 200, 0,   0,   300, 300, 200, "displayed, then dismissed" },
        { 100, 0,   300, 0,   0,   300, 300, "answered, not displayed" },
        { 100, 200, 300, 0,   0,   300, 300, "displayed, answered" },
        { 100, 200, 300, 400, 0,   400, 300, "commented" },
        { 500, 200, 300, 400, 0,   500, 300, "issued last (clock)" },
        { 100, 900, 300, 0,   0,   900, 300, "displayed last" },
        { 100, 200, 0,   0,   950, 950, 200, "dismissed last" },
        { 0,   0,   0,   0,   0,   0,   0,   "none" },
        { UINT64_MAX, 0, 0, 0, 0,  UINT64_MAX, UINT64_MAX, "largest" },
        { 1, 2, UINT64_MAX, 3, 4,  UINT64_MAX, UINT64_MAX, "largest answer" },
    };

    char             row[2048];
    size_t           i;
    ngx_cx_record_t  r;

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        issued_record(&r);
        r.issued_at_ms = cases[i].issued;
        r.displayed_at_ms = cases[i].displayed;
        r.answered_at_ms = cases[i].answered;
        r.commented_at_ms = cases[i].commented;
        r.dismissed_at_ms = cases[i].dismissed;

        response_row(&r, NULL, 0, row, sizeof(row));

        assert_case_int_equal(row_u64(row, "version"), cases[i].version, i,
                              cases[i].name);
        assert_case_int_equal(row_u64(row, "received_at_ms"),
                              cases[i].received, i, cases[i].name);
        assert_case_int_equal(row_u64(row, "issued_at_ms"), cases[i].issued,
                              i, cases[i].name);
        assert_case_int_equal(row_u64(row, "commented_at_ms"),
                              cases[i].commented, i, cases[i].name);

        teardown(NULL);
    }

    /* UINT64_MAX is written in full */
    issued_record(&r);
    r.issued_at_ms = UINT64_MAX;
    response_row(&r, NULL, 0, row, sizeof(row));
    assert_non_null(strstr(row, ",\"version\":18446744073709551615,"));
}


/* a field of len bytes that each escape to 6 (checked) */
static ngx_cx_bytes_t
field_6x(int c, size_t len)
{
    ngx_cx_bytes_t  b = field_fill(c, len);

    assert_int_equal(ngx_cx_json_escape_len(b.data, b.len), 6 * len);
    return b;
}


/* the largest numbers and names, every text byte escaping to 6 bytes */
static void
worst_record(ngx_cx_record_t *r)
{
    size_t          i, len;
    unsigned char  *blob, *p;

    memset(r, 0, sizeof(*r));

    r->flags = NGX_CX_REC_ALL_FLAGS;
    r->issued_at_ms = UINT64_MAX;
    r->displayed_at_ms = UINT64_MAX;
    r->answered_at_ms = UINT64_MAX;
    r->commented_at_ms = UINT64_MAX;
    r->dismissed_at_ms = UINT64_MAX;
    r->score = INT_MIN;
    r->has_previous = 1;
    r->previous_score = INT_MIN;
    r->type = 0;                        /* "unknown" */
    r->stage = 2;                       /* "consideration" */
    memset(r->visitor, 0xff, sizeof(r->visitor));

    r->survey = field_6x(0x01, 1000);   /* control: \u0001 */
    r->touchpoint = field_6x(0xff, 1000);   /* never UTF-8: \ufffd */
    r->lang = field_6x(0x7f, 300);      /* DEL: \u007f */
    r->path = field_6x(0x80, 2000);     /* lone continuation: \ufffd */
    r->comment = field_6x(0xf0, 4000);  /* cut 4-byte starts: \ufffd */

    /* many pairs of a 1-byte key and an empty value (4 bytes, 12 out),
     * then the longest key with a long value */
    blob = malloc(8192);
    assert_non_null(blob);
    p = blob;
    len = 8192;

    for (i = 0; i < 400; i++) {
        assert_int_equal(ngx_cx_attrs_put(p, len, "\x01", 1, "", 0), 4);
        p += 4;
        len -= 4;
    }

    {
        char  k[NGX_CX_ATTR_KEY_MAX], v[3000];

        memset(k, 0xff, sizeof(k));
        memset(v, '<', sizeof(v));
        assert_int_not_equal(ngx_cx_attrs_put(p, len, k, sizeof(k), v,
                                              sizeof(v)), 0);
        p += 3 + sizeof(k) + sizeof(v);
    }

    r->attrs = field(blob, (size_t) (p - blob));
    free(blob);
}


static void
test_response_max(void **state)
{
    size_t           n;
    unsigned char    node[NGX_CX_NODE_MAX];
    ngx_cx_record_t  r;

    (void) state;

    memset(node, 0x01, sizeof(node));

    /* response_row() writes into a block of exactly the maximum */
    worst_record(&r);
    n = response_row(&r, node, sizeof(node), NULL, 0);
    assert_true(n > 6 * (1000 + 1000 + 300 + 2000 + 4000));

    /* with no text at all the fixed part alone */
    worst_record(&r);
    r.survey.len = 0;
    r.touchpoint.len = 0;
    r.lang.len = 0;
    r.path.len = 0;
    r.comment.len = 0;
    r.attrs.len = 0;
    response_row(&r, node, 0, NULL, 0);

    /* the attributes alone */
    worst_record(&r);
    r.survey.len = 0;
    r.touchpoint.len = 0;
    r.lang.len = 0;
    r.path.len = 0;
    r.comment.len = 0;
    response_row(&r, node, 0, NULL, 0);

    /* one attribute of a 1-byte key, nothing else */
    worst_record(&r);
    r.survey.len = 0;
    r.touchpoint.len = 0;
    r.lang.len = 0;
    r.path.len = 0;
    r.comment.len = 0;
    r.attrs.len = 4;
    response_row(&r, node, sizeof(node), NULL, 0);
}


/* ---- rows: events ---- */

static void
test_event_visit(void **state)
{
    char              row[1024];
    ngx_cx_journey_t  ev;

    (void) state;

    visit_event(&ev);
    ev.purchase_seconds = 259207;
    event_row(&ev, "eu-1", 4, row, sizeof(row));

    assert_line(row,
        "{\"id\":\"" EVKEY_HEX "\",\"node\":\"eu-1\",\"version\":1,"
        "\"at_ms\":1736510400000,\"kind\":\"visit\","
        "\"visitor\":\"" VISITOR_HEX "\",\"stage\":\"purchase\","
        "\"name\":\"checkout\",\"from_touchpoint\":\"cart\","
        "\"from_seconds\":3600,\"first_arrival\":1,"
        "\"purchase_seconds\":259207}\n");
}


static void
test_event_offer(void **state)
{
    char              row[1024];
    ngx_cx_journey_t  ev;

    (void) state;

    offer_event(&ev);
    event_row(&ev, NULL, 0, row, sizeof(row));

    assert_line(row,
        "{\"id\":\"" EVKEY_HEX "\",\"node\":\"\",\"version\":1,"
        "\"at_ms\":1736510400000,\"kind\":\"offer\","
        "\"visitor\":\"" VISITOR_HEX "\",\"stage\":\"\","
        "\"name\":\"nps1\",\"from_touchpoint\":\"\","
        "\"from_seconds\":0,\"first_arrival\":0,"
        "\"purchase_seconds\":-1}\n");

    /* any other kind, and first_arrival as a flag */
    ev.kind = 9;
    ev.first_arrival = 7;
    event_row(&ev, NULL, 0, row, sizeof(row));
    assert_non_null(strstr(row, ",\"kind\":\"other\","));
    assert_non_null(strstr(row, ",\"first_arrival\":1,"));

    /* a backfilled event: not known, and version 0 (a live one wins) */
    ev.first_arrival = NGX_CX_JOURNEY_UNKNOWN;
    event_row(&ev, NULL, 0, row, sizeof(row));
    assert_non_null(strstr(row, ",\"version\":0,"));
    assert_non_null(strstr(row, ",\"first_arrival\":0,"));
}


static void
test_event_max(void **state)
{
    unsigned char     node[NGX_CX_NODE_MAX];
    ngx_cx_journey_t  ev;

    (void) state;

    memset(node, '<', sizeof(node));

    memset(&ev, 0, sizeof(ev));
    ev.at_ms = UINT64_MAX;
    memset(ev.visitor, 0xff, sizeof(ev.visitor));
    ev.kind = 9;                        /* "other" */
    ev.stage = 2;                       /* "consideration" */
    ev.name_len = NGX_CX_NAME_MAX;
    memset(ev.name, 0xff, NGX_CX_NAME_MAX);
    ev.from_len = NGX_CX_NAME_MAX;
    memset(ev.from, 0x01, NGX_CX_NAME_MAX);
    ev.from_seconds = UINT32_MAX;
    ev.first_arrival = 1;
    ev.purchase_seconds = INT64_MIN;

    /* event_row() writes into a block of exactly NGX_CX_FORWARD_EVENT_MAX */
    event_row(&ev, node, sizeof(node), NULL, 0);

    ev.purchase_seconds = INT64_MAX;
    event_row(&ev, node, sizeof(node), NULL, 0);
}


/* ---- rows: alerts ---- */

static void
alert_base(ngx_cx_alert_t *a)
{
    memset(a, 0, sizeof(*a));

    ngx_cx_alert_key(a->key, resp_id, RULE_ID);
    a->state = NGX_CX_ALERT_ACKNOWLEDGED;
    a->sent = 0x03;
    a->failed = 0x04;
    a->levels = 3;
    a->created_ms = T0;
    a->acked_ms = T0 + 60000;
    a->rule = FIELD("low \"nps\"");
}


static void
test_alert_line(void **state)
{
    char            row[1024];
    ngx_cx_alert_t  a;

    (void) state;

    /* version: the last time, times 64, plus the sent and failed bits
     * counted (bits are only ever set) */
    alert_base(&a);
    alert_row(&a, "eu-1", 4, row, sizeof(row));

    assert_line(row,
        "{\"id\":\"" ALERT_HEX "\",\"response_id\":\"" ID_HEX "\","
        "\"node\":\"eu-1\",\"version\":111136669440003,"
        "\"rule\":\"low \\\"nps\\\"\",\"state\":\"acknowledged\","
        "\"created_ms\":1736510400000,\"acked_ms\":1736510460000,"
        "\"resolved_ms\":0,\"levels\":3,\"sent\":3,\"failed\":4}\n");

    /* open, nothing sent yet: the creation time alone */
    a.state = NGX_CX_ALERT_OPEN;
    a.acked_ms = 0;
    a.sent = 0;
    a.failed = 0;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == T0 * 64);
    assert_non_null(strstr(row, ",\"node\":\"\","));
    assert_non_null(strstr(row, ",\"state\":\"open\","));

    /* level 0 sent: later than nothing sent */
    a.sent = 0x01;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == T0 * 64 + 1);

    /* a later level's delivery moves it too (levels 3..7 included) */
    a.levels = 8;
    a.sent = 0x07;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == T0 * 64 + 3);
    a.sent = 0x0f;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == T0 * 64 + 4);
    a.failed = 0x80;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == T0 * 64 + 5);
    a.sent = 0x01;
    a.failed = 0;

    /* resolved after its acknowledgement: the resolution's time */
    a.state = NGX_CX_ALERT_RESOLVED;
    a.acked_ms = T0 + 60000;
    a.resolved_ms = T0 + 120000;
    alert_row(&a, NULL, 0, row, sizeof(row));
    assert_true(row_u64(row, "version") == (T0 + 120000) * 64 + 1);
    assert_true(row_u64(row, "resolved_ms") == T0 + 120000);
    assert_non_null(strstr(row, ",\"state\":\"resolved\","));
}


static void
test_alert_max(void **state)
{
    size_t          n;
    unsigned char   node[NGX_CX_NODE_MAX];
    ngx_cx_alert_t  a;

    (void) state;

    memset(node, 0xff, sizeof(node));

    alert_base(&a);
    memset(a.key, 0xff, sizeof(a.key));
    a.state = NGX_CX_ALERT_ACKNOWLEDGED;
    a.sent = UINT_MAX;
    a.failed = UINT_MAX;
    a.levels = UINT_MAX;
    a.created_ms = UINT64_MAX;
    a.acked_ms = UINT64_MAX;
    a.resolved_ms = UINT64_MAX;
    a.rule = field_6x(0x01, 300);

    /* alert_row() writes into a block of exactly forward_alert_max() */
    n = alert_row(&a, node, sizeof(node), NULL, 0);
    assert_true(n > 6 * (300 + sizeof(node)));

    a.rule.len = 0;
    alert_row(&a, node, 0, NULL, 0);
}


/* ---- the schema ---- */

static void
test_db_valid(void **state)
{
    static const struct {
        const char  *name;
        size_t       len;
        int          valid;
    } cases[] = {
        { "cx",      2, 1 },
        { "cx_2",    4, 1 },
        { "A",       1, 1 },
        { "_cx",     3, 1 },
        { "Cx_Fleet9", 9, 1 },
        { "cx-",     2, 1 },                /* len is the name */
        { "",        0, 0 },
        { "2cx",     3, 0 },
        { "9",       1, 0 },
        { "c-x",     3, 0 },
        { "c.x",     3, 0 },
        { "c x",     3, 0 },
        { "cx ",     3, 0 },
        { "c`x",     3, 0 },
        { "c\"x",    3, 0 },
        { "cx\0",    3, 0 },
        { "c\xc3\xa9", 3, 0 },
    };

    size_t          i;
    unsigned char  *copy, name[NGX_CX_NODE_MAX + 1];

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        copy = dup_exact((const unsigned char *) cases[i].name, cases[i].len);
        assert_case_int_equal(ngx_cx_forward_db_valid(copy, cases[i].len),
                              cases[i].valid, i, cases[i].name);
        free(copy);
    }

    /* 64 bytes at most */
    memset(name, 'd', sizeof(name));

    copy = dup_exact(name, 64);
    assert_int_equal(ngx_cx_forward_db_valid(copy, 64), 1);
    free(copy);

    copy = dup_exact(name, 65);
    assert_int_equal(ngx_cx_forward_db_valid(copy, 65), 0);
    free(copy);
}


static void
test_ddl(void **state)
{
    static const char  *const prefix[NGX_CX_FORWARD_DDL_COUNT] = {
        "CREATE DATABASE IF NOT EXISTS cx",
        "CREATE TABLE IF NOT EXISTS cx.responses (\n",
        "CREATE TABLE IF NOT EXISTS cx.events (\n",
        "CREATE TABLE IF NOT EXISTS cx.alerts (\n",
    };

    int       n;
    char      buf[4096];
    unsigned  which;

    (void) state;

    assert_int_equal(NGX_CX_FORWARD_DDL_COUNT, NGX_CX_FORWARD_TABLES + 1);

    for (which = 0; which < NGX_CX_FORWARD_DDL_COUNT; which++) {
        n = ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, which);
        assert_true(n > 0 && (size_t) n < sizeof(buf));
        assert_int_equal((size_t) n, strlen(buf));

        if (strncmp(buf, prefix[which], strlen(prefix[which])) != 0) {
            print_error("statement %u: %s\n", which, buf);
            fail();
        }
    }

    /* the database alone, nothing after its name */
    n = ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, 0);
    assert_string_equal(buf, "CREATE DATABASE IF NOT EXISTS cx");

    /* the tables are versioned: a row sent twice is kept once */
    for (which = 1; which < NGX_CX_FORWARD_DDL_COUNT; which++) {
        n = ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, which);
        assert_non_null(strstr(buf, ") ENGINE = ReplacingMergeTree"));
    }

    /* db_len is the name: the rest of the string is not read */
    n = ngx_cx_forward_ddl(buf, sizeof(buf), "fleet_2 and more", 7, 2);
    assert_true(n > 0);
    assert_memory_equal(buf, "CREATE TABLE IF NOT EXISTS fleet_2.events (\n",
                        44);

    /* the columns added since the first release, where the CREATE has them */
    n = ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2,
                           NGX_CX_FORWARD_RESPONSES + 1);
    assert_non_null(strstr(buf, "    comment String,\n    followup String,\n"));
    assert_non_null(strstr(buf, "    attr_values Array(String),\n"
                                "    attr_numeric Array(UInt8),\n"));

    /* out of range */
    assert_int_equal(ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, 4), -1);
    assert_int_equal(ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, UINT_MAX),
                     -1);
}


/* a table of an earlier version: the columns it lacks, added */
static void
test_upgrade(void **state)
{
    int   n;
    char  buf[512];

    static const char  old[] = "id\nnode\ncomment\nvisitor\nattr_keys\n"
                               "attr_values\ndisplayed\n";
    static const char  now[] = "id\ncomment\nfollowup\nattr_values\n"
                               "attr_numeric\nlang\ndevice\n";

    (void) state;

    n = ngx_cx_forward_columns_sql(buf, sizeof(buf), "cx", 2);
    assert_int_equal(n, (int) strlen(buf));
    assert_string_equal(buf, "SELECT name FROM system.columns WHERE "
                        "database = 'cx' AND table = 'responses' "
                        "FORMAT TabSeparated");

    n = ngx_cx_forward_upgrade(buf, sizeof(buf), "cx", 2,
                               (const unsigned char *) old, sizeof(old) - 1);
    assert_int_equal(n, (int) strlen(buf));
    assert_string_equal(buf, "ALTER TABLE cx.responses\n"
        "    ADD COLUMN followup String AFTER comment,\n"
        "    ADD COLUMN attr_numeric Array(UInt8) AFTER attr_values,\n"
        "    ADD COLUMN device String AFTER lang");

    /* two of the three; the last line without its LF */
    assert_true(ngx_cx_forward_upgrade(buf, sizeof(buf), "cx", 2,
                                       (const unsigned char *)
                                       "comment\nattr_numeric", 20) > 0);
    assert_string_equal(buf, "ALTER TABLE cx.responses\n"
        "    ADD COLUMN followup String AFTER comment,\n"
        "    ADD COLUMN device String AFTER lang");

    /* a table of this version: nothing; a name's prefix is not the name */
    assert_int_equal(ngx_cx_forward_upgrade(buf, sizeof(buf), "cx", 2,
                                            (const unsigned char *) now,
                                            sizeof(now) - 1), 0);
    assert_string_equal(buf, "");
    assert_true(ngx_cx_forward_upgrade(buf, sizeof(buf), "cx", 2,
                                       (const unsigned char *)
                                       "followup_x\nattr_numeric\n", 24) > 0);

    /* too small */
    assert_int_equal(ngx_cx_forward_upgrade(buf, 20, "cx", 2,
                                            (const unsigned char *) old,
                                            sizeof(old) - 1), -1);
    assert_string_equal(buf, "");
}


/* a buffer too small: the full length returned, as much as fits written */
static void
test_ddl_small_buffer(void **state)
{
    static const size_t  sizes[] = { 1, 2, 10, 33 };

    int        full, n;
    char       buf[4096], *small;
    size_t     i, size;
    unsigned   which;

    (void) state;

    for (which = 0; which < NGX_CX_FORWARD_DDL_COUNT; which++) {
        full = ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, which);
        assert_true(full > 0);

        /* nothing written: only the length */
        assert_int_equal(ngx_cx_forward_ddl(NULL, 0, "cx", 2, which), full);

        for (i = 0; i < NELTS(sizes) + 2; i++) {
            /* the listed sizes, then one short of the NUL, then exact */
            size = i < NELTS(sizes) ? sizes[i]
                   : i == NELTS(sizes) ? (size_t) full : (size_t) full + 1;

            small = malloc(size);
            assert_non_null(small);
            memset(small, 'z', size);

            n = ngx_cx_forward_ddl(small, size, "cx", 2, which);
            assert_case_int_equal(n, full, which, "length");

            if (size > (size_t) full) {
                assert_string_equal(small, buf);
            } else {
                assert_case_int_equal(small[size - 1], '\0', which, "NUL");
                assert_memory_equal(small, buf, size - 1);
            }

            free(small);
        }
    }
}


/* the members of a row, "id,node,...", as a JSON walk of its object */
static void
row_members(const char *row, char *out, size_t size)
{
    size_t       n, k;
    const char  *p, *q;

    p = row;
    n = 0;
    out[0] = '\0';

    assert_int_equal(*p++, '{');

    for ( ;; ) {
        /* the name */
        assert_int_equal(*p++, '"');
        q = strchr(p, '"');
        assert_non_null(q);
        k = (size_t) (q - p);
        assert_true(n + k + 2 < size);
        if (n) {
            out[n++] = ',';
        }
        memcpy(out + n, p, k);
        n += k;
        out[n] = '\0';
        p = q + 1;
        assert_int_equal(*p++, ':');

        /* the value: a string, an array of strings, or a bare word */
        if (*p == '"' || *p == '[') {
            int  in_str = 0, depth = 0;

            do {
                if (in_str) {
                    if (*p == '\\') {
                        p++;
                    } else if (*p == '"') {
                        in_str = 0;
                    }
                } else if (*p == '"') {
                    in_str = 1;
                } else if (*p == '[') {
                    depth++;
                } else if (*p == ']') {
                    depth--;
                }
                assert_true(*p != '\0');
                p++;
            } while (in_str || depth);

        } else {
            while (*p != ',' && *p != '}') {
                assert_true(*p != '\0');
                p++;
            }
        }

        if (*p == '}') {
            break;
        }

        assert_int_equal(*p++, ',');
    }

    assert_string_equal(p, "}\n");
}


/* the columns a table's row gives: not the MATERIALIZED ones */
static void
ddl_columns(unsigned which, char *out, size_t size)
{
    int          len;
    char         ddl[4096];
    size_t       n, k;
    const char  *p, *eol, *sp;

    len = ngx_cx_forward_ddl(ddl, sizeof(ddl), "cx", 2, which);
    assert_true(len > 0 && (size_t) len < sizeof(ddl));

    n = 0;
    out[0] = '\0';

    for (p = ddl; *p; p = *eol ? eol + 1 : eol) {
        eol = strchr(p, '\n');
        if (eol == NULL) {
            eol = p + strlen(p);
        }

        if (strncmp(p, "    ", 4) != 0) {
            continue;
        }

        p += 4;
        sp = memchr(p, ' ', (size_t) (eol - p));
        assert_non_null(sp);

        if (strstr(sp, "MATERIALIZED") != NULL
            && strstr(sp, "MATERIALIZED") < eol)
        {
            continue;
        }

        k = (size_t) (sp - p);
        assert_true(n + k + 2 < size);
        if (n) {
            out[n++] = ',';
        }
        memcpy(out + n, p, k);
        n += k;
        out[n] = '\0';
    }
}


static void
assert_row_fits_table(const char *row, unsigned which)
{
    char  members[1024], columns[1024];

    row_members(row, members, sizeof(members));
    ddl_columns(which, columns, sizeof(columns));

    if (strcmp(members, columns) != 0) {
        print_error("statement %u\nrow members: %s\ncolumns:     %s\n", which,
                    members, columns);
        fail();
    }
}


static void
test_ddl_columns(void **state)
{
    char              row[2048];
    ngx_cx_alert_t    a;
    ngx_cx_record_t   r;
    ngx_cx_journey_t  ev;

    (void) state;

    full_record(&r);
    response_row(&r, "eu-1", 4, row, sizeof(row));
    assert_row_fits_table(row, NGX_CX_FORWARD_RESPONSES + 1);

    issued_record(&r);
    response_row(&r, NULL, 0, row, sizeof(row));
    assert_row_fits_table(row, NGX_CX_FORWARD_RESPONSES + 1);

    visit_event(&ev);
    event_row(&ev, "eu-1", 4, row, sizeof(row));
    assert_row_fits_table(row, NGX_CX_FORWARD_EVENTS + 1);

    alert_base(&a);
    alert_row(&a, "eu-1", 4, row, sizeof(row));
    assert_row_fits_table(row, NGX_CX_FORWARD_ALERTS + 1);

    /* the walk itself, on the smallest table */
    ddl_columns(NGX_CX_FORWARD_EVENTS + 1, row, sizeof(row));
    assert_string_equal(row, "id,node,version,at_ms,kind,visitor,stage,name,"
                             "from_touchpoint,from_seconds,first_arrival,"
                             "purchase_seconds");
}


static void
test_table_names(void **state)
{
    char      buf[4096], want[64];
    unsigned  t;

    (void) state;

    assert_string_equal(ngx_cx_forward_table(NGX_CX_FORWARD_RESPONSES),
                        "responses");
    assert_string_equal(ngx_cx_forward_table(NGX_CX_FORWARD_EVENTS),
                        "events");
    assert_string_equal(ngx_cx_forward_table(NGX_CX_FORWARD_ALERTS),
                        "alerts");
    assert_string_equal(ngx_cx_forward_table(NGX_CX_FORWARD_TABLES), "");
    assert_string_equal(ngx_cx_forward_table(UINT_MAX), "");

    /* table t is created by statement t + 1 */
    for (t = 0; t < NGX_CX_FORWARD_TABLES; t++) {
        assert_true(ngx_cx_forward_ddl(buf, sizeof(buf), "cx", 2, t + 1) > 0);
        snprintf(want, sizeof(want), "CREATE TABLE IF NOT EXISTS cx.%s (\n",
                 ngx_cx_forward_table(t));
        assert_memory_equal(buf, want, strlen(want));
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_teardown(test_outbox_ref, teardown),
        cmocka_unit_test_teardown(test_outbox_erase, teardown),
        cmocka_unit_test_teardown(test_outbox_batch, teardown),
        cmocka_unit_test_teardown(test_outbox_ref_refused, teardown),
        cmocka_unit_test_teardown(test_outbox_event, teardown),
        cmocka_unit_test_teardown(test_outbox_event_truncated, teardown),
        cmocka_unit_test_teardown(test_outbox_event_from_len, teardown),
        cmocka_unit_test_teardown(test_response_full, teardown),
        cmocka_unit_test_teardown(test_response_issued, teardown),
        cmocka_unit_test_teardown(test_response_zero_scores, teardown),
        cmocka_unit_test_teardown(test_response_attrs, teardown),
        cmocka_unit_test_teardown(test_response_times, teardown),
        cmocka_unit_test_teardown(test_response_max, teardown),
        cmocka_unit_test_teardown(test_event_visit, teardown),
        cmocka_unit_test_teardown(test_event_offer, teardown),
        cmocka_unit_test_teardown(test_event_max, teardown),
        cmocka_unit_test_teardown(test_alert_line, teardown),
        cmocka_unit_test_teardown(test_alert_max, teardown),
        cmocka_unit_test_teardown(test_db_valid, teardown),
        cmocka_unit_test_teardown(test_ddl, teardown),
        cmocka_unit_test_teardown(test_upgrade, teardown),
        cmocka_unit_test_teardown(test_ddl_small_buffer, teardown),
        cmocka_unit_test_teardown(test_ddl_columns, teardown),
        cmocka_unit_test_teardown(test_table_names, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
