/*
 * ngx_cx_export -- see ngx_cx_export.h.
 */

#include <string.h>

#include "ngx_cx_export.h"
#include "ngx_cx_json.h"
#include "ngx_cx_score.h"
#include "ngx_cx_token.h"


/*
 * Output is gathered here so the callback sees a few large pieces per row
 * instead of one per field, which matters for nginx buffer chains.
 */
#define NGX_CX_EXPORT_BUF_SIZE   2048

/*
 * JSON strings are escaped this many input bytes at a time, into a stack
 * buffer of 6 times that (ngx_cx_json_escape_len's bound), so a field of any
 * length needs no allocation.
 */
#define NGX_CX_EXPORT_CHUNK      256

#define NGX_CX_EXPORT_ID_LEN     12

#define NGX_CX_EXPORT_CSV_HEADER                                              \
    "id,received_at,survey,type,touchpoint,stage,score,comment,visitor,"     \
    "lang,path,attributes,displayed,answered,dismissed,previous_score,"      \
    "received_at_utc,band,followup"

#define NGX_CX_EXPORT_BOM        "\xef\xbb\xbf"

/* an attribute's value, as a row's column holds it */
#define NGX_CX_EXPORT_UNSET      0
#define NGX_CX_EXPORT_TEXT       1
#define NGX_CX_EXPORT_NUMBER     2


typedef struct {
    ngx_cx_export_write_pt   write;
    void                    *data;
    int                      error;
    size_t                   len;
    unsigned char            buf[NGX_CX_EXPORT_BUF_SIZE];
} ngx_cx_export_out_t;


static void ngx_cx_export_init(ngx_cx_export_out_t *o,
    ngx_cx_export_write_pt write, void *data);
static int ngx_cx_export_done(ngx_cx_export_out_t *o);
static void ngx_cx_export_flush(ngx_cx_export_out_t *o);
static void ngx_cx_export_put(ngx_cx_export_out_t *o, const void *p,
    size_t len);
static void ngx_cx_export_str(ngx_cx_export_out_t *o, const char *s);
static void ngx_cx_export_int(ngx_cx_export_out_t *o, int v);
static void ngx_cx_export_hex(ngx_cx_export_out_t *o, const unsigned char *p);
static void ngx_cx_export_iso(ngx_cx_export_out_t *o,
    const ngx_cx_record_t *rec, int sheet);
static const char *ngx_cx_export_band(const ngx_cx_record_t *rec);
static int ngx_cx_export_number(const ngx_cx_record_t *rec, unsigned pair,
    ngx_cx_bytes_t val);
static int ngx_cx_export_column(const ngx_cx_export_columns_t *cols,
    const unsigned char *key, size_t len, unsigned *at);
static int ngx_cx_export_formula(unsigned char c);
static int ngx_cx_export_pct_needed(unsigned char c);
static void ngx_cx_export_csv_cell(ngx_cx_export_out_t *o,
    ngx_cx_bytes_t s);
static void ngx_cx_export_csv_attrs(ngx_cx_export_out_t *o,
    ngx_cx_bytes_t attrs);
static void ngx_cx_export_csv_columns(ngx_cx_export_out_t *o,
    const ngx_cx_export_columns_t *cols, const ngx_cx_record_t *rec);
static void ngx_cx_export_csv_text(ngx_cx_export_out_t *o,
    const unsigned char *p, size_t len, int quoted, int pct);
static void ngx_cx_export_json_string(ngx_cx_export_out_t *o,
    const unsigned char *p, size_t len);
static int ngx_cx_export_attr_overridden(ngx_cx_bytes_t rest,
    ngx_cx_bytes_t key);


static const unsigned char  ngx_cx_export_replacement[] = "\xef\xbf\xbd";


int
ngx_cx_export_csv_header(ngx_cx_export_write_pt write, void *data,
    const ngx_cx_export_columns_t *cols, unsigned flags)
{
    unsigned             i;
    ngx_cx_bytes_t       name;
    ngx_cx_export_out_t  o;
    unsigned char        buf[sizeof("attr_") - 1 + NGX_CX_ATTR_KEY_MAX];

    ngx_cx_export_init(&o, write, data);

    if (flags & NGX_CX_EXPORT_EXCEL) {
        ngx_cx_export_str(&o, NGX_CX_EXPORT_BOM);
    }

    ngx_cx_export_str(&o, NGX_CX_EXPORT_CSV_HEADER);

    /* "attr_" first: a key never makes its column name a formula */
    for (i = 0; cols && i < cols->n; i++) {
        memcpy(buf, "attr_", 5);
        memcpy(buf + 5, cols->key[i], cols->len[i]);
        name.data = buf;
        name.len = 5 + (size_t) cols->len[i];

        ngx_cx_export_put(&o, ",", 1);
        ngx_cx_export_csv_cell(&o, name);
    }

    ngx_cx_export_put(&o, "\r\n", 2);

    return ngx_cx_export_done(&o);
}


int
ngx_cx_export_csv(ngx_cx_export_write_pt write, void *data,
    const unsigned char id[12], const ngx_cx_record_t *rec,
    const ngx_cx_export_columns_t *cols)
{
    ngx_cx_export_out_t  o;

    ngx_cx_export_init(&o, write, data);

    ngx_cx_export_hex(&o, id);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_iso(&o, rec, 0);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->survey);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_str(&o, ngx_cx_type_name(rec->type));
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->touchpoint);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_str(&o, ngx_cx_stage_name(rec->stage));
    ngx_cx_export_put(&o, ",", 1);

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        ngx_cx_export_int(&o, rec->score);
    }

    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->comment);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_hex(&o, rec->visitor);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->lang);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->path);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_attrs(&o, rec->attrs);

    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_DISPLAYED) ? ",1" : ",0");
    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_ANSWERED) ? ",1" : ",0");
    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_DISMISSED) ? ",1" : ",0");
    ngx_cx_export_put(&o, ",", 1);

    if (rec->has_previous) {
        ngx_cx_export_int(&o, rec->previous_score);
    }

    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_iso(&o, rec, 1);
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_str(&o, ngx_cx_export_band(rec));
    ngx_cx_export_put(&o, ",", 1);
    ngx_cx_export_csv_cell(&o, rec->followup);

    if (cols && cols->n) {
        ngx_cx_export_csv_columns(&o, cols, rec);
    }

    ngx_cx_export_put(&o, "\r\n", 2);

    return ngx_cx_export_done(&o);
}


int
ngx_cx_export_ndjson(ngx_cx_export_write_pt write, void *data,
    const unsigned char id[12], const ngx_cx_record_t *rec)
{
    int                  first;
    unsigned             pair;
    const char          *band;
    ngx_cx_bytes_t       cursor, key, val;
    ngx_cx_export_out_t  o;

    ngx_cx_export_init(&o, write, data);

    ngx_cx_export_str(&o, "{\"id\":\"");
    ngx_cx_export_hex(&o, id);
    ngx_cx_export_str(&o, "\",\"received_at\":\"");
    ngx_cx_export_iso(&o, rec, 0);
    ngx_cx_export_str(&o, "\",\"survey\":");
    ngx_cx_export_json_string(&o, rec->survey.data, rec->survey.len);
    ngx_cx_export_str(&o, ",\"type\":\"");
    ngx_cx_export_str(&o, ngx_cx_type_name(rec->type));
    ngx_cx_export_str(&o, "\",\"touchpoint\":");
    ngx_cx_export_json_string(&o, rec->touchpoint.data, rec->touchpoint.len);
    ngx_cx_export_str(&o, ",\"stage\":\"");
    ngx_cx_export_str(&o, ngx_cx_stage_name(rec->stage));
    ngx_cx_export_str(&o, "\",\"score\":");

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        ngx_cx_export_int(&o, rec->score);
    } else {
        ngx_cx_export_str(&o, "null");
    }

    ngx_cx_export_str(&o, ",\"comment\":");
    ngx_cx_export_json_string(&o, rec->comment.data, rec->comment.len);
    ngx_cx_export_str(&o, ",\"visitor\":\"");
    ngx_cx_export_hex(&o, rec->visitor);
    ngx_cx_export_str(&o, "\",\"lang\":");
    ngx_cx_export_json_string(&o, rec->lang.data, rec->lang.len);
    ngx_cx_export_str(&o, ",\"path\":");
    ngx_cx_export_json_string(&o, rec->path.data, rec->path.len);

    /* a JSON object must not repeat a key: the last one wins */
    ngx_cx_export_str(&o, ",\"attributes\":{");
    first = 1;
    cursor = rec->attrs;

    for (pair = 0; ngx_cx_attrs_next(&cursor, &key, &val) == 1; pair++) {
        if (ngx_cx_export_attr_overridden(cursor, key)) {
            continue;
        }

        if (!first) {
            ngx_cx_export_put(&o, ",", 1);
        }
        first = 0;

        ngx_cx_export_json_string(&o, key.data, key.len);
        ngx_cx_export_put(&o, ":", 1);

        if (ngx_cx_export_number(rec, pair, val)) {
            ngx_cx_export_put(&o, val.data, val.len);

        } else {
            ngx_cx_export_json_string(&o, val.data, val.len);
        }
    }

    ngx_cx_export_str(&o, "},\"displayed\":");
    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_DISPLAYED)
                          ? "true" : "false");
    ngx_cx_export_str(&o, ",\"answered\":");
    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_ANSWERED)
                          ? "true" : "false");
    ngx_cx_export_str(&o, ",\"dismissed\":");
    ngx_cx_export_str(&o, (rec->flags & NGX_CX_REC_DISMISSED)
                          ? "true" : "false");
    ngx_cx_export_str(&o, ",\"previous_score\":");

    if (rec->has_previous) {
        ngx_cx_export_int(&o, rec->previous_score);

    } else {
        ngx_cx_export_str(&o, "null");
    }

    band = ngx_cx_export_band(rec);

    if (band[0]) {
        ngx_cx_export_str(&o, ",\"band\":\"");
        ngx_cx_export_str(&o, band);
        ngx_cx_export_str(&o, "\",\"followup\":");

    } else {
        ngx_cx_export_str(&o, ",\"band\":null,\"followup\":");
    }

    ngx_cx_export_json_string(&o, rec->followup.data, rec->followup.len);
    ngx_cx_export_put(&o, "}\n", 2);

    return ngx_cx_export_done(&o);
}


uint64_t
ngx_cx_export_time(const ngx_cx_record_t *rec)
{
    if (rec->answered_at_ms) {
        return rec->answered_at_ms;
    }

    if (rec->displayed_at_ms) {
        return rec->displayed_at_ms;
    }

    if (rec->dismissed_at_ms) {
        return rec->dismissed_at_ms;
    }

    return rec->issued_at_ms;
}


/* ---- the attr_ columns ---- */

void
ngx_cx_export_columns_init(ngx_cx_export_columns_t *cols)
{
    cols->n = 0;
    cols->dropped = 0;
}


void
ngx_cx_export_columns_add(ngx_cx_export_columns_t *cols,
    const ngx_cx_record_t *rec)
{
    ngx_cx_bytes_t  cursor, key, val;

    cursor = rec->attrs;

    while (ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
        ngx_cx_export_columns_add_key(cols, key.data, key.len);
    }
}


void
ngx_cx_export_columns_add_key(ngx_cx_export_columns_t *cols,
    const unsigned char *key, size_t len)
{
    unsigned  at;

    if (len == 0 || len > NGX_CX_ATTR_KEY_MAX
        || ngx_cx_export_column(cols, key, len, &at))
    {
        return;
    }

    if (cols->n == NGX_CX_EXPORT_COLUMNS) {
        cols->dropped = 1;

        /* the greatest goes: this one, or the last column */
        if (at == cols->n) {
            return;
        }

        cols->n--;
    }

    /* rare (a key not seen before): a plain shift is fine */
    memmove(cols->key[at + 1], cols->key[at],
            (size_t) (cols->n - at) * NGX_CX_ATTR_KEY_MAX);
    memmove(&cols->len[at + 1], &cols->len[at], cols->n - at);

    memcpy(cols->key[at], key, len);
    cols->len[at] = (unsigned char) len;
    cols->n++;
}


/* 1 and *at the column of key, or 0 and *at where it would go. */

static int
ngx_cx_export_column(const ngx_cx_export_columns_t *cols,
    const unsigned char *key, size_t len, unsigned *at)
{
    int       c;
    size_t    n;
    unsigned  lo, hi, mid;

    lo = 0;
    hi = cols->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        n = cols->len[mid] < len ? cols->len[mid] : len;
        c = memcmp(cols->key[mid], key, n);

        if (c == 0) {
            c = (cols->len[mid] > len) - (cols->len[mid] < len);
        }

        if (c == 0) {
            *at = mid;
            return 1;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    *at = lo;

    return 0;
}


/* ---- output buffer ---- */

static void
ngx_cx_export_init(ngx_cx_export_out_t *o, ngx_cx_export_write_pt write,
    void *data)
{
    o->write = write;
    o->data = data;
    o->error = 0;
    o->len = 0;
}


static int
ngx_cx_export_done(ngx_cx_export_out_t *o)
{
    ngx_cx_export_flush(o);

    return o->error ? -1 : 0;
}


/* Once the callback has said stop, it is never called again. */

static void
ngx_cx_export_flush(ngx_cx_export_out_t *o)
{
    if (!o->error && o->len && o->write(o->data, o->buf, o->len) != 0) {
        o->error = 1;
    }

    o->len = 0;
}


static void
ngx_cx_export_put(ngx_cx_export_out_t *o, const void *p, size_t len)
{
    if (o->error || len == 0) {
        return;
    }

    if (len > sizeof(o->buf) - o->len) {
        ngx_cx_export_flush(o);

        if (len >= sizeof(o->buf)) {
            if (!o->error && o->write(o->data, p, len) != 0) {
                o->error = 1;
            }
            return;
        }
    }

    memcpy(o->buf + o->len, p, len);
    o->len += len;
}


static void
ngx_cx_export_str(ngx_cx_export_out_t *o, const char *s)
{
    ngx_cx_export_put(o, s, strlen(s));
}


static void
ngx_cx_export_int(ngx_cx_export_out_t *o, int v)
{
    unsigned char   tmp[24], *p;
    unsigned long   u;

    /* negated in unsigned arithmetic, so INT_MIN is no overflow */
    u = v < 0 ? 0UL - (unsigned long) v : (unsigned long) v;
    p = tmp + sizeof(tmp);

    do {
        *--p = (unsigned char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    ngx_cx_export_put(o, p, (size_t) (tmp + sizeof(tmp) - p));
}


static void
ngx_cx_export_hex(ngx_cx_export_out_t *o, const unsigned char *p)
{
    unsigned char  hex[2 * NGX_CX_EXPORT_ID_LEN];

    ngx_cx_hex(hex, p, NGX_CX_EXPORT_ID_LEN);
    ngx_cx_export_put(o, hex, sizeof(hex));
}


/*
 * received_at as ISO 8601, or for a spreadsheet (sheet) as
 * "2025-01-10 12:00:00": Excel, LibreOffice and Google Sheets read that as
 * a date and time, and none of them reads the T and the Z.
 */

static void
ngx_cx_export_iso(ngx_cx_export_out_t *o, const ngx_cx_record_t *rec,
    int sheet)
{
    size_t  n;
    char    iso[NGX_CX_ISO8601_SIZE];

    n = ngx_cx_iso8601(iso, ngx_cx_export_time(rec));

    if (sheet) {
        iso[10] = ' ';
        n--;
    }

    ngx_cx_export_put(o, iso, n);
}


static const char *
ngx_cx_export_band(const ngx_cx_record_t *rec)
{
    if (!(rec->flags & NGX_CX_REC_ANSWERED)) {
        return "";
    }

    return ngx_cx_band_name(ngx_cx_band(rec->type, rec->score));
}


/*
 * Whether the value of the pair-th pair is written as a number: the hook
 * gave a number (which Lua may print as "inf" or "nan", not JSON), and the
 * bytes are a JSON number, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * which no spreadsheet runs as a formula.
 */

static int
ngx_cx_export_number(const ngx_cx_record_t *rec, unsigned pair,
    ngx_cx_bytes_t val)
{
    size_t                i, start;
    const unsigned char  *p;

#define ngx_cx_export_digit(c)  ((c) >= '0' && (c) <= '9')

    if (pair >= 64 || !(rec->attr_numbers & ((uint64_t) 1 << pair))) {
        return 0;
    }

    p = val.data;
    i = (val.len && p[0] == '-') ? 1 : 0;

    if (i == val.len) {
        return 0;
    }

    if (p[i] == '0') {
        i++;

    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < val.len && ngx_cx_export_digit(p[i])) {
            i++;
        }

    } else {
        return 0;
    }

    if (i < val.len && p[i] == '.') {
        start = ++i;
        while (i < val.len && ngx_cx_export_digit(p[i])) {
            i++;
        }

        if (i == start) {
            return 0;
        }
    }

    if (i < val.len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < val.len && (p[i] == '+' || p[i] == '-')) {
            i++;
        }

        start = i;
        while (i < val.len && ngx_cx_export_digit(p[i])) {
            i++;
        }

        if (i == start) {
            return 0;
        }
    }

#undef ngx_cx_export_digit

    return i == val.len;
}


/* ---- CSV ---- */

static int
ngx_cx_export_formula(unsigned char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t'
           || c == '\r';
}


/* Attribute bytes that would make key=value&key=value ambiguous, or that a
 * reader's line handling could mangle. */

static int
ngx_cx_export_pct_needed(unsigned char c)
{
    return c == '%' || c == '&' || c == '=' || c < 0x20 || c == 0x7f;
}


static void
ngx_cx_export_csv_cell(ngx_cx_export_out_t *o, ngx_cx_bytes_t s)
{
    int     quoted;
    size_t  i;

    quoted = 0;

    for (i = 0; i < s.len; i++) {
        if (s.data[i] == ',' || s.data[i] == '"' || s.data[i] == '\r'
            || s.data[i] == '\n')
        {
            quoted = 1;
            break;
        }
    }

    if (quoted) {
        ngx_cx_export_put(o, "\"", 1);
    }

    if (s.len && ngx_cx_export_formula(s.data[0])) {
        ngx_cx_export_put(o, "'", 1);
    }

    ngx_cx_export_csv_text(o, s.data, s.len, quoted, 0);

    if (quoted) {
        ngx_cx_export_put(o, "\"", 1);
    }
}


/*
 * The attributes cell is encoded as it streams out, so it is scanned once
 * first for what the cell rules look at: CR and LF are always
 * percent-encoded, so only a comma or a quote forces quoting, and the first
 * output byte is the first key's first byte or the '%' that encodes it.
 */

static void
ngx_cx_export_csv_attrs(ngx_cx_export_out_t *o, ngx_cx_bytes_t attrs)
{
    int             quoted, formula, first;
    size_t          i;
    unsigned char   c;
    ngx_cx_bytes_t  cursor, key, val;

    quoted = 0;
    formula = 0;
    first = 1;
    cursor = attrs;

    while (!quoted && ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
        if (first) {
            c = ngx_cx_export_pct_needed(key.data[0]) ? '%' : key.data[0];
            formula = ngx_cx_export_formula(c);
            first = 0;
        }

        for (i = 0; i < key.len + val.len; i++) {
            c = i < key.len ? key.data[i] : val.data[i - key.len];

            if (c == ',' || c == '"') {
                quoted = 1;
                break;
            }
        }
    }

    if (quoted) {
        ngx_cx_export_put(o, "\"", 1);
    }

    if (formula) {
        ngx_cx_export_put(o, "'", 1);
    }

    first = 1;
    cursor = attrs;

    while (ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
        if (!first) {
            ngx_cx_export_put(o, "&", 1);
        }
        first = 0;

        ngx_cx_export_csv_text(o, key.data, key.len, quoted, 1);
        ngx_cx_export_put(o, "=", 1);
        ngx_cx_export_csv_text(o, val.data, val.len, quoted, 1);
    }

    if (quoted) {
        ngx_cx_export_put(o, "\"", 1);
    }
}


/*
 * The attr_ cells: each pair's value goes to its column (a later pair of
 * the same key over an earlier one), then the columns are written in
 * order, so a row costs a search per pair, not per column.
 */

static void
ngx_cx_export_csv_columns(ngx_cx_export_out_t *o,
    const ngx_cx_export_columns_t *cols, const ngx_cx_record_t *rec)
{
    unsigned        i, at, pair;
    ngx_cx_bytes_t  cursor, key, val;
    ngx_cx_bytes_t  cell[NGX_CX_EXPORT_COLUMNS];
    unsigned char   kind[NGX_CX_EXPORT_COLUMNS];

    memset(kind, NGX_CX_EXPORT_UNSET, cols->n);
    cursor = rec->attrs;

    for (pair = 0; ngx_cx_attrs_next(&cursor, &key, &val) == 1; pair++) {
        if (ngx_cx_export_column(cols, key.data, key.len, &at)) {
            cell[at] = val;
            kind[at] = ngx_cx_export_number(rec, pair, val)
                       ? NGX_CX_EXPORT_NUMBER : NGX_CX_EXPORT_TEXT;
        }
    }

    for (i = 0; i < cols->n; i++) {
        ngx_cx_export_put(o, ",", 1);

        if (kind[i] == NGX_CX_EXPORT_NUMBER) {
            ngx_cx_export_put(o, cell[i].data, cell[i].len);

        } else if (kind[i] == NGX_CX_EXPORT_TEXT) {
            ngx_cx_export_csv_cell(o, cell[i]);
        }
    }
}


/*
 * Writes p as UTF-8: runs of good bytes are copied in one piece, a quote is
 * doubled in a quoted cell, each byte that does not start a valid UTF-8
 * sequence becomes U+FFFD, and with pct the bytes of
 * ngx_cx_export_pct_needed become %XX. Only ASCII is ever rewritten and no
 * ASCII byte is part of a multi-byte sequence, so encoding key and value
 * separately gives the same bytes as encoding the joined cell.
 */

static void
ngx_cx_export_csv_text(ngx_cx_export_out_t *o, const unsigned char *p,
    size_t len, int quoted, int pct)
{
    size_t          i, n, run;
    unsigned char   c, enc[3];
    static const char  digits[] = "0123456789ABCDEF";

    if (len == 0) {
        return;
    }

    run = 0;

    for (i = 0; i < len; i += n) {
        c = p[i];

        if (c < 0x80) {
            n = 1;

            if (pct && ngx_cx_export_pct_needed(c)) {
                ngx_cx_export_put(o, p + run, i - run);
                enc[0] = '%';
                enc[1] = (unsigned char) digits[c >> 4];
                enc[2] = (unsigned char) digits[c & 0x0f];
                ngx_cx_export_put(o, enc, 3);
                run = i + 1;

            } else if (c == '"' && quoted) {
                /* the next run starts at this quote again: it is doubled */
                ngx_cx_export_put(o, p + run, i + 1 - run);
                run = i;
            }

            continue;
        }

        n = c >= 0xc2 && c <= 0xdf ? 2
            : c >= 0xe0 && c <= 0xef ? 3
            : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

        if (n == 0 || n > len - i || !ngx_cx_utf8_valid(p + i, n, NULL)) {
            ngx_cx_export_put(o, p + run, i - run);
            ngx_cx_export_put(o, ngx_cx_export_replacement, 3);
            n = 1;
            run = i + 1;
        }
    }

    ngx_cx_export_put(o, p + run, len - run);
}


/* ---- NDJSON ---- */

/*
 * ngx_cx_json_escape consumes a valid sequence (a lead byte and its
 * continuation bytes) or one invalid byte at a time, so it is at a boundary
 * before every byte that is not a continuation byte (10xxxxxx), and before a
 * continuation byte that has no lead byte in the 3 bytes before it. A chunk
 * is cut at such a place, and escaping chunk by chunk gives exactly the
 * bytes of escaping the whole.
 */

static void
ngx_cx_export_json_string(ngx_cx_export_out_t *o, const unsigned char *p,
    size_t len)
{
    size_t          n, k;
    unsigned char  *end, esc[6 * NGX_CX_EXPORT_CHUNK];

    ngx_cx_export_put(o, "\"", 1);

    while (len) {
        n = len > NGX_CX_EXPORT_CHUNK ? NGX_CX_EXPORT_CHUNK : len;

        if (n < len && (p[n] & 0xc0) == 0x80) {
            for (k = 1; k <= 3; k++) {
                if ((p[n - k] & 0xc0) != 0x80) {
                    n -= k;
                    break;
                }
            }
        }

        end = ngx_cx_json_escape(esc, p, n);
        ngx_cx_export_put(o, esc, (size_t) (end - esc));

        p += n;
        len -= n;
    }

    ngx_cx_export_put(o, "\"", 1);
}


static int
ngx_cx_export_attr_overridden(ngx_cx_bytes_t rest, ngx_cx_bytes_t key)
{
    ngx_cx_bytes_t  k, v;

    while (ngx_cx_attrs_next(&rest, &k, &v) == 1) {
        if (k.len == key.len && memcmp(k.data, key.data, k.len) == 0) {
            return 1;
        }
    }

    return 0;
}
