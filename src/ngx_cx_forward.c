/*
 * ngx_cx_forward -- see ngx_cx_forward.h.
 */

#include <stdio.h>
#include <string.h>

#include "ngx_cx_forward.h"
#include "ngx_cx_json.h"
#include "ngx_cx_score.h"
#include "ngx_cx_device.h"


/* ---- the outbox ---- */

static void
ngx_cx_forward_put_be(unsigned char *p, uint64_t v, unsigned n)
{
    while (n--) {
        p[n] = (unsigned char) v;
        v >>= 8;
    }
}


static uint64_t
ngx_cx_forward_get_be(const unsigned char *p, unsigned n)
{
    uint64_t  v = 0;

    while (n--) {
        v = (v << 8) | *p++;
    }

    return v;
}


size_t
ngx_cx_outbox_ref(unsigned char dst[NGX_CX_OUTBOX_VAL_MAX], int kind,
    const unsigned char *key, size_t klen)
{
    if (klen > NGX_CX_OUTBOX_VAL_MAX - 1) {
        return 0;
    }

    dst[0] = (unsigned char) kind;
    memcpy(dst + 1, key, klen);

    return 1 + klen;
}


size_t
ngx_cx_outbox_event(unsigned char dst[NGX_CX_OUTBOX_VAL_MAX],
    const unsigned char key[NGX_CX_JOURNEY_KEY_LEN],
    const ngx_cx_journey_t *ev)
{
    size_t          n, len;
    unsigned char  *p;

    if (ev->from_len > NGX_CX_NAME_MAX) {
        return 0;
    }

    p = dst;
    *p++ = NGX_CX_OUTBOX_EVENT;
    memcpy(p, key, NGX_CX_JOURNEY_KEY_LEN);
    p += NGX_CX_JOURNEY_KEY_LEN;

    ngx_cx_forward_put_be(p, ev->from_seconds, 4);
    ngx_cx_forward_put_be(p + 4, (uint64_t) ev->purchase_seconds, 8);
    p[12] = ev->first_arrival == NGX_CX_JOURNEY_UNKNOWN
            ? NGX_CX_JOURNEY_UNKNOWN : ev->first_arrival ? 1 : 0;
    p[13] = ev->from_len;
    p += 14;
    memcpy(p, ev->from, ev->from_len);
    p += ev->from_len;

    n = ngx_cx_journey_encode(p, ev);
    if (n == 0) {
        return 0;
    }

    len = (size_t) (p - dst) + n;

    return len;
}


void
ngx_cx_outbox_batch_add(unsigned char *dst, size_t *len,
    const unsigned char *val, size_t vlen)
{
    if (*len == 0) {
        dst[(*len)++] = NGX_CX_OUTBOX_EVENTS;
    }

    dst[*len] = (unsigned char) (vlen >> 8);
    dst[*len + 1] = (unsigned char) vlen;
    memcpy(dst + *len + 2, val, vlen);
    *len += 2 + vlen;
}


int
ngx_cx_outbox_batch_next(const unsigned char *batch, size_t len,
    size_t *pos, const unsigned char **val, size_t *vlen)
{
    size_t  n;

    if (*pos == 0) {
        if (len < 1 || batch[0] != NGX_CX_OUTBOX_EVENTS) {
            return -1;
        }
        *pos = 1;
    }

    if (*pos == len) {
        return 0;
    }

    if (len - *pos < 2) {
        return -1;
    }

    n = ((size_t) batch[*pos] << 8) | batch[*pos + 1];

    if (n == 0 || n > NGX_CX_OUTBOX_VAL_MAX || len - *pos - 2 < n) {
        return -1;
    }

    *val = batch + *pos + 2;
    *vlen = n;
    *pos += 2 + n;

    return 1;
}


int
ngx_cx_outbox_parse(const unsigned char *val, size_t len, int *kind,
    const unsigned char **ref, size_t *ref_len, ngx_cx_journey_t *ev)
{
    size_t                from_len;
    const unsigned char  *p, *end;

    if (len < 1) {
        return -1;
    }

    *kind = val[0];
    p = val + 1;
    end = val + len;

    switch (val[0]) {

    case NGX_CX_OUTBOX_RESPONSE:
        if (len != 1 + NGX_CX_RESPONSE_KEY_LEN) {
            return -1;
        }
        *ref = p;
        *ref_len = NGX_CX_RESPONSE_KEY_LEN;
        return 0;

    case NGX_CX_OUTBOX_ALERT:
        if (len != 1 + NGX_CX_ALERT_KEY_LEN) {
            return -1;
        }
        *ref = p;
        *ref_len = NGX_CX_ALERT_KEY_LEN;
        return 0;

    case NGX_CX_OUTBOX_ERASE:
        if (len != 1 + NGX_CX_VISITOR_ID_LEN) {
            return -1;
        }
        *ref = p;
        *ref_len = NGX_CX_VISITOR_ID_LEN;
        return 0;

    case NGX_CX_OUTBOX_EVENT:
        if (end - p < NGX_CX_JOURNEY_KEY_LEN + 14) {
            return -1;
        }

        *ref = p;
        *ref_len = NGX_CX_JOURNEY_KEY_LEN;
        p += NGX_CX_JOURNEY_KEY_LEN;

        from_len = p[13];
        if (from_len > NGX_CX_NAME_MAX
            || (size_t) (end - p) < 14 + from_len)
        {
            return -1;
        }

        if (ngx_cx_journey_decode(*ref, NGX_CX_JOURNEY_KEY_LEN,
                                  p + 14 + from_len,
                                  (size_t) (end - p) - 14 - from_len, ev)
            != 0)
        {
            return -1;
        }

        ev->from_seconds = (uint32_t) ngx_cx_forward_get_be(p, 4);
        ev->purchase_seconds = (int64_t) ngx_cx_forward_get_be(p + 4, 8);
        ev->first_arrival = p[12];
        ev->from_len = (unsigned char) from_len;
        memcpy(ev->from, p + 14, from_len);
        return 0;

    default:
        return -1;
    }
}


/* ---- rows ---- */

static unsigned char *
ngx_cx_forward_cpy(unsigned char *p, const char *s)
{
    size_t  n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}


static unsigned char *
ngx_cx_forward_u64(unsigned char *p, uint64_t v)
{
    unsigned char  tmp[20], *t = tmp + sizeof(tmp);

    do {
        *--t = (unsigned char) ('0' + v % 10);
        v /= 10;
    } while (v);

    memcpy(p, t, (size_t) (tmp + sizeof(tmp) - t));
    return p + (tmp + sizeof(tmp) - t);
}


static unsigned char *
ngx_cx_forward_i64(unsigned char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return ngx_cx_forward_u64(p, (uint64_t) 0 - (uint64_t) v);
    }

    return ngx_cx_forward_u64(p, (uint64_t) v);
}


static unsigned char *
ngx_cx_forward_hex(unsigned char *p, const unsigned char *b, size_t n)
{
    static const char  digits[] = "0123456789abcdef";

    while (n--) {
        *p++ = (unsigned char) digits[*b >> 4];
        *p++ = (unsigned char) digits[*b++ & 0xf];
    }

    return p;
}


/* ,"name":"escaped" (the first member writes its own '{') */
static unsigned char *
ngx_cx_forward_str(unsigned char *p, const char *name,
    const unsigned char *s, size_t len)
{
    p = ngx_cx_forward_cpy(p, name);
    *p++ = '"';
    if (len) {
        p = ngx_cx_json_escape(p, s, len);
    }
    *p++ = '"';

    return p;
}


static unsigned char *
ngx_cx_forward_num(unsigned char *p, const char *name, uint64_t v)
{
    p = ngx_cx_forward_cpy(p, name);
    return ngx_cx_forward_u64(p, v);
}


size_t
ngx_cx_forward_response_max(const ngx_cx_record_t *rec, size_t node_len)
{
    /* names and numbers: under 600 bytes; text: 6 bytes per byte at most;
     * an attribute pair: its quotes and commas */
    return 1024 + 6 * (rec->survey.len + rec->touchpoint.len + rec->lang.len
                       + rec->path.len + rec->comment.len + rec->attrs.len
                       + rec->followup.len + node_len)
           + 6 * rec->attrs.len;
}


static uint64_t
ngx_cx_forward_version(const ngx_cx_record_t *rec)
{
    uint64_t  v = rec->issued_at_ms;

    if (rec->displayed_at_ms > v) {
        v = rec->displayed_at_ms;
    }
    if (rec->answered_at_ms > v) {
        v = rec->answered_at_ms;
    }
    if (rec->commented_at_ms > v) {
        v = rec->commented_at_ms;
    }
    if (rec->dismissed_at_ms > v) {
        v = rec->dismissed_at_ms;
    }

    return v;
}


unsigned char *
ngx_cx_forward_response(unsigned char *dst,
    const unsigned char id[NGX_CX_RESPONSE_KEY_LEN],
    const ngx_cx_record_t *rec, const unsigned char *node, size_t node_len)
{
    int             pass;
    unsigned        pair;
    const char     *s;
    unsigned char  *p;
    ngx_cx_bytes_t  cur, key, val;

    p = ngx_cx_forward_cpy(dst, "{\"id\":\"");
    p = ngx_cx_forward_hex(p, id, NGX_CX_RESPONSE_KEY_LEN);
    *p++ = '"';
    p = ngx_cx_forward_str(p, ",\"node\":", node, node_len);
    p = ngx_cx_forward_num(p, ",\"version\":", ngx_cx_forward_version(rec));
    p = ngx_cx_forward_num(p, ",\"issued_at_ms\":", rec->issued_at_ms);
    p = ngx_cx_forward_num(p, ",\"received_at_ms\":",
                           rec->answered_at_ms ? rec->answered_at_ms
                           : rec->displayed_at_ms ? rec->displayed_at_ms
                           : rec->dismissed_at_ms ? rec->dismissed_at_ms
                           : rec->issued_at_ms);
    p = ngx_cx_forward_num(p, ",\"displayed_at_ms\":", rec->displayed_at_ms);
    p = ngx_cx_forward_num(p, ",\"answered_at_ms\":", rec->answered_at_ms);
    p = ngx_cx_forward_num(p, ",\"commented_at_ms\":", rec->commented_at_ms);
    p = ngx_cx_forward_num(p, ",\"dismissed_at_ms\":", rec->dismissed_at_ms);

    p = ngx_cx_forward_str(p, ",\"survey\":", rec->survey.data,
                           rec->survey.len);
    s = ngx_cx_type_name(rec->type);
    p = ngx_cx_forward_str(p, ",\"type\":", (const unsigned char *) s,
                           strlen(s));
    p = ngx_cx_forward_str(p, ",\"touchpoint\":", rec->touchpoint.data,
                           rec->touchpoint.len);
    s = ngx_cx_stage_name(rec->stage);
    p = ngx_cx_forward_str(p, ",\"stage\":", (const unsigned char *) s,
                           strlen(s));

    p = ngx_cx_forward_cpy(p, ",\"score\":");
    if (rec->flags & NGX_CX_REC_ANSWERED) {
        p = ngx_cx_forward_i64(p, rec->score);
    } else {
        p = ngx_cx_forward_cpy(p, "null");
    }

    p = ngx_cx_forward_cpy(p, ",\"previous_score\":");
    if (rec->has_previous) {
        p = ngx_cx_forward_i64(p, rec->previous_score);
    } else {
        p = ngx_cx_forward_cpy(p, "null");
    }

    p = ngx_cx_forward_str(p, ",\"comment\":", rec->comment.data,
                           rec->comment.len);
    p = ngx_cx_forward_str(p, ",\"followup\":", rec->followup.data,
                           rec->followup.len);
    p = ngx_cx_forward_cpy(p, ",\"visitor\":\"");
    p = ngx_cx_forward_hex(p, rec->visitor, sizeof(rec->visitor));
    *p++ = '"';
    p = ngx_cx_forward_str(p, ",\"lang\":", rec->lang.data, rec->lang.len);
    s = ngx_cx_device_name(rec->device);
    p = ngx_cx_forward_str(p, ",\"device\":", (const unsigned char *) s,
                           strlen(s));
    p = ngx_cx_forward_str(p, ",\"path\":", rec->path.data, rec->path.len);

    /* the pairs in blob order, repeated keys kept (as the CSV export) */
    for (pass = 0; pass < 2; pass++) {
        p = ngx_cx_forward_cpy(p, pass ? "],\"attr_values\":["
                                       : ",\"attr_keys\":[");
        cur = rec->attrs;

        while (ngx_cx_attrs_next(&cur, &key, &val) == 1) {
            if (p[-1] != '[') {
                *p++ = ',';
            }
            *p++ = '"';
            if (pass == 0 && key.len) {
                p = ngx_cx_json_escape(p, key.data, key.len);
            } else if (pass == 1 && val.len) {
                p = ngx_cx_json_escape(p, val.data, val.len);
            }
            *p++ = '"';
        }
    }

    /* which values the hook gave as numbers (ngx_cx_record.h) */
    p = ngx_cx_forward_cpy(p, "],\"attr_numeric\":[");
    cur = rec->attrs;

    for (pair = 0; ngx_cx_attrs_next(&cur, &key, &val) == 1; pair++) {
        if (pair) {
            *p++ = ',';
        }
        *p++ = (pair < 64 && (rec->attr_numbers & ((uint64_t) 1 << pair)))
               ? '1' : '0';
    }
    *p++ = ']';

    p = ngx_cx_forward_num(p, ",\"displayed\":",
                           (rec->flags & NGX_CX_REC_DISPLAYED) != 0);
    p = ngx_cx_forward_num(p, ",\"answered\":",
                           (rec->flags & NGX_CX_REC_ANSWERED) != 0);
    p = ngx_cx_forward_num(p, ",\"commented\":",
                           (rec->flags & NGX_CX_REC_COMMENTED) != 0);
    p = ngx_cx_forward_num(p, ",\"dismissed\":",
                           (rec->flags & NGX_CX_REC_DISMISSED) != 0);

    return ngx_cx_forward_cpy(p, "}\n");
}


unsigned char *
ngx_cx_forward_event(unsigned char *dst,
    const unsigned char key[NGX_CX_JOURNEY_KEY_LEN],
    const ngx_cx_journey_t *ev, const unsigned char *node, size_t node_len)
{
    const char     *s;
    unsigned char  *p;

    p = ngx_cx_forward_cpy(dst, "{\"id\":\"");
    p = ngx_cx_forward_hex(p, key, NGX_CX_JOURNEY_KEY_LEN);
    *p++ = '"';
    p = ngx_cx_forward_str(p, ",\"node\":", node, node_len);

    /* a backfilled event (cxctl forward) never replaces the one sent live,
     * which knew what the cookie said */
    p = ngx_cx_forward_num(p, ",\"version\":",
                           ev->first_arrival != NGX_CX_JOURNEY_UNKNOWN);
    p = ngx_cx_forward_num(p, ",\"at_ms\":", ev->at_ms);

    s = ev->kind == 1 ? "visit" : ev->kind == 2 ? "offer" : "other";
    p = ngx_cx_forward_str(p, ",\"kind\":", (const unsigned char *) s,
                           strlen(s));
    p = ngx_cx_forward_cpy(p, ",\"visitor\":\"");
    p = ngx_cx_forward_hex(p, ev->visitor, NGX_CX_VISITOR_ID_LEN);
    *p++ = '"';
    s = ngx_cx_stage_name(ev->stage);
    p = ngx_cx_forward_str(p, ",\"stage\":", (const unsigned char *) s,
                           strlen(s));
    p = ngx_cx_forward_str(p, ",\"name\":", ev->name, ev->name_len);
    p = ngx_cx_forward_str(p, ",\"from_touchpoint\":", ev->from, ev->from_len);
    p = ngx_cx_forward_num(p, ",\"from_seconds\":", ev->from_seconds);
    p = ngx_cx_forward_num(p, ",\"first_arrival\":",
                           ev->first_arrival != 0
                           && ev->first_arrival != NGX_CX_JOURNEY_UNKNOWN);
    p = ngx_cx_forward_cpy(p, ",\"purchase_seconds\":");
    p = ngx_cx_forward_i64(p, ev->purchase_seconds);

    return ngx_cx_forward_cpy(p, "}\n");
}


static unsigned
ngx_cx_forward_bits(unsigned v)
{
    unsigned  n = 0;

    while (v) {
        n += v & 1;
        v >>= 1;
    }

    return n;
}


size_t
ngx_cx_forward_alert_max(const ngx_cx_alert_t *a, size_t node_len)
{
    return 512 + 6 * (a->rule.len + node_len);
}


unsigned char *
ngx_cx_forward_alert(unsigned char *dst, const ngx_cx_alert_t *a,
    const unsigned char *node, size_t node_len)
{
    const char     *s;
    uint64_t        version;
    unsigned char  *p;

    version = a->created_ms;
    if (a->acked_ms > version) {
        version = a->acked_ms;
    }
    if (a->resolved_ms > version) {
        version = a->resolved_ms;
    }

    /* the sent and failed bits (a bit per level, at most 8 each) change
     * without a time of their own, and are only ever set */
    version = version * 64 + ngx_cx_forward_bits(a->sent & 0xff)
              + ngx_cx_forward_bits(a->failed & 0xff);

    p = ngx_cx_forward_cpy(dst, "{\"id\":\"");
    p = ngx_cx_forward_hex(p, a->key, NGX_CX_ALERT_KEY_LEN);
    p = ngx_cx_forward_cpy(p, "\",\"response_id\":\"");
    p = ngx_cx_forward_hex(p, a->key, NGX_CX_RESPONSE_KEY_LEN);
    *p++ = '"';
    p = ngx_cx_forward_str(p, ",\"node\":", node, node_len);
    p = ngx_cx_forward_num(p, ",\"version\":", version);
    p = ngx_cx_forward_str(p, ",\"rule\":", a->rule.data, a->rule.len);
    s = ngx_cx_alert_state_name(a->state);
    p = ngx_cx_forward_str(p, ",\"state\":", (const unsigned char *) s,
                           strlen(s));
    p = ngx_cx_forward_num(p, ",\"created_ms\":", a->created_ms);
    p = ngx_cx_forward_num(p, ",\"acked_ms\":", a->acked_ms);
    p = ngx_cx_forward_num(p, ",\"resolved_ms\":", a->resolved_ms);
    p = ngx_cx_forward_num(p, ",\"levels\":", a->levels);
    p = ngx_cx_forward_num(p, ",\"sent\":", a->sent);
    p = ngx_cx_forward_num(p, ",\"failed\":", a->failed);

    return ngx_cx_forward_cpy(p, "}\n");
}


/* ---- the schema ---- */

int
ngx_cx_forward_db_valid(const unsigned char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > 64 || (name[0] >= '0' && name[0] <= '9')) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


const char *
ngx_cx_forward_table(unsigned table)
{
    static const char  *names[] = { "responses", "events", "alerts" };

    return table < NGX_CX_FORWARD_TABLES ? names[table] : "";
}


/*
 * The version column picks the row a merge keeps; the sorting key must not
 * change over a record's life, hence the issue day (not received_at, which
 * moves from display to answer) and the event's own time.
 */

static const char  *ngx_cx_forward_schema[] = {

    "CREATE DATABASE IF NOT EXISTS %.*s",

    "CREATE TABLE IF NOT EXISTS %.*s.responses (\n"
    "    id String,\n"
    "    node String,\n"
    "    version UInt64,\n"
    "    issued_at_ms UInt64,\n"
    "    received_at_ms UInt64,\n"
    "    displayed_at_ms UInt64,\n"
    "    answered_at_ms UInt64,\n"
    "    commented_at_ms UInt64,\n"
    "    dismissed_at_ms UInt64,\n"
    "    survey String,\n"
    "    type String,\n"
    "    touchpoint String,\n"
    "    stage String,\n"
    "    score Nullable(Int16),\n"
    "    previous_score Nullable(Int16),\n"
    "    comment String,\n"
    "    followup String,\n"
    "    visitor String,\n"
    "    lang String,\n"
    "    device String,\n"
    "    path String,\n"
    "    attr_keys Array(String),\n"
    "    attr_values Array(String),\n"
    "    attr_numeric Array(UInt8),\n"
    "    displayed UInt8,\n"
    "    answered UInt8,\n"
    "    commented UInt8,\n"
    "    dismissed UInt8,\n"
    "    issued_day Date MATERIALIZED toDate(intDiv(issued_at_ms, 1000)),\n"
    "    day Date MATERIALIZED toDate(intDiv(received_at_ms, 1000))\n"
    ") ENGINE = ReplacingMergeTree(version)\n"
    "PARTITION BY toYYYYMM(issued_day)\n"
    "ORDER BY (issued_day, id)",

    "CREATE TABLE IF NOT EXISTS %.*s.events (\n"
    "    id String,\n"
    "    node String,\n"
    "    version UInt8,\n"
    "    at_ms UInt64,\n"
    "    kind String,\n"
    "    visitor String,\n"
    "    stage String,\n"
    "    name String,\n"
    "    from_touchpoint String,\n"
    "    from_seconds UInt32,\n"
    "    first_arrival UInt8,\n"
    "    purchase_seconds Int64,\n"
    "    day Date MATERIALIZED toDate(intDiv(at_ms, 1000))\n"
    ") ENGINE = ReplacingMergeTree(version)\n"
    "PARTITION BY toYYYYMM(day)\n"
    "ORDER BY (day, node, id)",

    "CREATE TABLE IF NOT EXISTS %.*s.alerts (\n"
    "    id String,\n"
    "    response_id String,\n"
    "    node String,\n"
    "    version UInt64,\n"
    "    rule String,\n"
    "    state String,\n"
    "    created_ms UInt64,\n"
    "    acked_ms UInt64,\n"
    "    resolved_ms UInt64,\n"
    "    levels UInt8,\n"
    "    sent UInt8,\n"
    "    failed UInt8,\n"
    "    day Date MATERIALIZED toDate(intDiv(created_ms, 1000))\n"
    ") ENGINE = ReplacingMergeTree(version)\n"
    "PARTITION BY toYYYYMM(day)\n"
    "ORDER BY (day, id)"
};


/* the responses columns added since the first release, where they go */
static const struct {
    const char  *name;
    const char  *type;
    const char  *after;
} ngx_cx_forward_added[] = {
    { "followup", "String", "comment" },
    { "attr_numeric", "Array(UInt8)", "attr_values" },
    { "device", "String", "lang" }
};


int
ngx_cx_forward_ddl(char *dst, size_t size, const char *db, size_t db_len,
    unsigned which)
{
    if (which >= NGX_CX_FORWARD_DDL_COUNT) {
        return -1;
    }

    return snprintf(dst, size, ngx_cx_forward_schema[which], (int) db_len,
                    db);
}


int
ngx_cx_forward_columns_sql(char *dst, size_t size, const char *db,
    size_t db_len)
{
    return snprintf(dst, size, "SELECT name FROM system.columns WHERE "
                    "database = '%.*s' AND table = 'responses' "
                    "FORMAT TabSeparated", (int) db_len, db);
}


int
ngx_cx_forward_upgrade(char *dst, size_t size, const char *db,
    size_t db_len, const unsigned char *columns, size_t len)
{
    int                   n, total;
    size_t                i, nlen;
    const unsigned char  *p, *end, *eol;

    if (size == 0) {
        return -1;
    }

    dst[0] = '\0';
    total = 0;

    for (i = 0; i < sizeof(ngx_cx_forward_added)
                    / sizeof(ngx_cx_forward_added[0]); i++)
    {
        nlen = strlen(ngx_cx_forward_added[i].name);
        end = columns + len;

        for (p = columns; p < end; p = eol + 1) {
            eol = memchr(p, '\n', (size_t) (end - p));
            if (eol == NULL) {
                eol = end;
            }

            if ((size_t) (eol - p) == nlen
                && memcmp(p, ngx_cx_forward_added[i].name, nlen) == 0)
            {
                break;
            }
        }

        if (p < end) {
            continue;               /* the table has it */
        }

        n = (total == 0)
            ? snprintf(dst, size, "ALTER TABLE %.*s.responses\n"
                       "    ADD COLUMN %s %s AFTER %s", (int) db_len, db,
                       ngx_cx_forward_added[i].name,
                       ngx_cx_forward_added[i].type,
                       ngx_cx_forward_added[i].after)
            : snprintf(dst + total, size - (size_t) total,
                       ",\n    ADD COLUMN %s %s AFTER %s",
                       ngx_cx_forward_added[i].name,
                       ngx_cx_forward_added[i].type,
                       ngx_cx_forward_added[i].after);

        if (n < 0 || (size_t) n >= size - (size_t) total) {
            dst[0] = '\0';
            return -1;
        }

        total += n;
    }

    return total;
}
