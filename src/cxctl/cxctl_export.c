/*
 * cxctl export: every response as CSV (RFC 4180) or NDJSON, streamed.
 *
 * One read transaction walks the responses in key order (that is, by issue
 * time) and each record is written as soon as it is decoded: memory stays
 * constant whatever the store holds (the only buffer grows to the longest
 * field once). The export is a consistent snapshot: answers committed after
 * it started are not in it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cxctl.h"
#include "ngx_cx_json.h"
#include "ngx_cx_score.h"


const char  cxctl_usage_export[] =
    "usage: cxctl [--store DIR] export --format csv|ndjson [--survey NAME]\n"
    "                                  [--since DAY] [--until DAY]\n"
    "\n"
    "Writes every response to standard output, oldest prompt first.\n"
    "\n"
    "  --format csv     RFC 4180: header row, CRLF line ends, UTF-8; a cell\n"
    "                   starting with = + - @ TAB or CR gets a leading ' so\n"
    "                   spreadsheets do not run it as a formula\n"
    "  --format ndjson  one JSON object per line\n"
    "  --survey NAME    only that survey\n"
    "  --since DAY      received on or after DAY (YYYY-MM-DD, UTC)\n"
    "  --until DAY      received on or before DAY\n"
    "\n"
    "Fields: id, received_at (UTC: answered, else displayed, dismissed or\n"
    "issued), survey, type, touchpoint, stage, score (empty/null when not\n"
    "answered), comment, visitor, lang, path, attributes (CSV: key=value\n"
    "pairs joined by &, with %, & and = percent-encoded; NDJSON: an object),\n"
    "displayed, answered, dismissed (CSV: 1 or 0; NDJSON: true or false).\n";


#define CXCTL_CSV_HEADER                                                      \
    "id,received_at,survey,type,touchpoint,stage,score,comment,visitor,"     \
    "lang,path,attributes,displayed,answered,dismissed\r\n"


typedef struct {
    unsigned char  *data;
    size_t          len;
    size_t          cap;
} cxctl_buf_t;


static int cxctl_export_walk(cxctl_store_t *st, const cxctl_filter_t *f,
    int ndjson);
static int cxctl_csv_record(FILE *out, const unsigned char *id,
    const ngx_cx_record_t *rec, cxctl_buf_t *buf);
static void cxctl_csv_cell(FILE *out, const unsigned char *p, size_t len);
static void cxctl_csv_utf8(FILE *out, const unsigned char *p, size_t len,
    int quoted);
static int cxctl_ndjson_record(FILE *out, const unsigned char *id,
    const ngx_cx_record_t *rec, cxctl_buf_t *buf);
static int cxctl_json_string(FILE *out, const unsigned char *p, size_t len,
    cxctl_buf_t *buf);
static int cxctl_buf_reserve(cxctl_buf_t *b, size_t n);
static int cxctl_attr_overridden(ngx_cx_bytes_t rest, ngx_cx_bytes_t key);


int
cxctl_cmd_export(int argc, char **argv, const char *store_opt)
{
    int              i, r, ndjson, rc;
    const char      *value, *format;
    cxctl_store_t    st;
    cxctl_filter_t   f;

    memset(&f, 0, sizeof(f));
    format = NULL;

    for (i = 0; i < argc; i++) {
        if ((r = cxctl_opt(argc, argv, &i, "--store", &value)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }
            store_opt = value;

        } else if ((r = cxctl_opt(argc, argv, &i, "--format", &value)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }
            format = value;

        } else if ((r = cxctl_opt(argc, argv, &i, "--survey", &value)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }
            f.survey = value;
            f.survey_len = strlen(value);

        } else if ((r = cxctl_opt(argc, argv, &i, "--since", &value)) != 0) {
            if (r < 0 || cxctl_parse_day(&f, "--since", value, 0) != 0) {
                return CXCTL_EXIT_USAGE;
            }

        } else if ((r = cxctl_opt(argc, argv, &i, "--until", &value)) != 0) {
            if (r < 0 || cxctl_parse_day(&f, "--until", value, 1) != 0) {
                return CXCTL_EXIT_USAGE;
            }

        } else {
            cxctl_error("export: unexpected argument \"%s\" (see cxctl export "
                        "--help)", argv[i]);
            return CXCTL_EXIT_USAGE;
        }
    }

    if (format == NULL) {
        cxctl_error("export: --format csv or --format ndjson is required");
        return CXCTL_EXIT_USAGE;
    }

    if (strcmp(format, "csv") == 0) {
        ndjson = 0;

    } else if (strcmp(format, "ndjson") == 0) {
        ndjson = 1;

    } else {
        cxctl_error("export: unknown format \"%s\": use csv or ndjson",
                    format);
        return CXCTL_EXIT_USAGE;
    }

    if (cxctl_open(&st, store_opt, 0) != 0) {
        return CXCTL_EXIT_FAIL;
    }

    rc = cxctl_export_walk(&st, &f, ndjson);

    cxctl_store_close(&st);

    return rc;
}


static int
cxctl_export_walk(cxctl_store_t *st, const cxctl_filter_t *f, int ndjson)
{
    int               rc, result;
    MDB_txn          *txn;
    MDB_val           key, val;
    MDB_cursor       *cur;
    cxctl_buf_t       buf;
    uint64_t          corrupt;
    ngx_cx_record_t   rec;
    static char       obuf[65536];

    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

    memset(&buf, 0, sizeof(buf));
    corrupt = 0;
    result = CXCTL_EXIT_OK;

    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    mdb_strerror(rc));
        return CXCTL_EXIT_FAIL;
    }

    rc = mdb_cursor_open(txn, st->responses, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    mdb_strerror(rc));
        return CXCTL_EXIT_FAIL;
    }

    if (!ndjson) {
        fputs(CXCTL_CSV_HEADER, stdout);
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (cxctl_stop) {
            cxctl_error("interrupted: the output is incomplete");
            result = CXCTL_EXIT_STOPPED;
            break;
        }

        if (key.mv_size != NGX_CX_PROMPT_ID_LEN
            || ngx_cx_record_decode(val.mv_data, val.mv_size, &rec) != 0)
        {
            corrupt++;
            continue;
        }

        if (!cxctl_filter_match(f, &rec)) {
            continue;
        }

        if ((ndjson ? cxctl_ndjson_record(stdout, key.mv_data, &rec, &buf)
                    : cxctl_csv_record(stdout, key.mv_data, &rec, &buf))
            != 0)
        {
            cxctl_error("out of memory");
            result = CXCTL_EXIT_FAIL;
            break;
        }

        /* a reader gone away (| head) ends the walk, not the process */
        if (ferror(stdout)) {
            break;
        }
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(buf.data);

    if (result == CXCTL_EXIT_OK && rc != 0 && rc != MDB_NOTFOUND) {
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    mdb_strerror(rc));
        result = CXCTL_EXIT_FAIL;
    }

    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) {
            cxctl_error("cannot write the output: %s", strerror(errno));
        }
        return CXCTL_EXIT_FAIL;
    }

    if (corrupt) {
        cxctl_error("warning: %llu unreadable responses skipped",
                    (unsigned long long) corrupt);
    }

    return result;
}


/* ---- CSV ---- */

static int
cxctl_csv_record(FILE *out, const unsigned char *id,
    const ngx_cx_record_t *rec, cxctl_buf_t *buf)
{
    size_t           i;
    ngx_cx_bytes_t   cursor, key, val;
    const char      *stage;
    char             iso[NGX_CX_ISO8601_SIZE];
    unsigned char    hex[2 * NGX_CX_VISITOR_ID_LEN + 1];
    static const char  enc[] = "0123456789ABCDEF";

    ngx_cx_hex(hex, id, NGX_CX_PROMPT_ID_LEN);
    fwrite(hex, 1, 2 * NGX_CX_PROMPT_ID_LEN, out);

    ngx_cx_iso8601(iso, cxctl_received_at(rec));
    fprintf(out, ",%s,", iso);

    cxctl_csv_cell(out, rec->survey.data, rec->survey.len);
    fprintf(out, ",%s,", ngx_cx_type_name(rec->type));
    cxctl_csv_cell(out, rec->touchpoint.data, rec->touchpoint.len);

    stage = cxctl_stage_names[rec->stage <= NGX_CX_STAGE_MAX ? rec->stage : 0];
    fprintf(out, ",%s,", stage);

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        fprintf(out, "%d", rec->score);
    }

    fputc(',', out);
    cxctl_csv_cell(out, rec->comment.data, rec->comment.len);

    ngx_cx_hex(hex, rec->visitor, NGX_CX_VISITOR_ID_LEN);
    fputc(',', out);
    fwrite(hex, 1, 2 * NGX_CX_VISITOR_ID_LEN, out);
    fputc(',', out);

    cxctl_csv_cell(out, rec->lang.data, rec->lang.len);
    fputc(',', out);
    cxctl_csv_cell(out, rec->path.data, rec->path.len);
    fputc(',', out);

    /*
     * key=value&key=value, form-encoded just enough (% & = and control
     * bytes) that the pairs split back unambiguously. 3 bytes per input
     * byte plus the separators bound the result.
     */
    buf->len = 0;
    if (cxctl_buf_reserve(buf, 3 * rec->attrs.len + 1) != 0) {
        return -1;
    }

    cursor = rec->attrs;

    while (ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
        if (buf->len) {
            buf->data[buf->len++] = '&';
        }

        for (i = 0; i < key.len + 1 + val.len; i++) {
            unsigned char  c;

            if (i == key.len) {
                buf->data[buf->len++] = '=';
                continue;
            }

            c = i < key.len ? key.data[i] : val.data[i - key.len - 1];

            if (c == '%' || c == '&' || c == '=' || c < 0x20 || c == 0x7f) {
                buf->data[buf->len++] = '%';
                buf->data[buf->len++] = enc[c >> 4];
                buf->data[buf->len++] = enc[c & 0x0f];
            } else {
                buf->data[buf->len++] = c;
            }
        }
    }

    cxctl_csv_cell(out, buf->data, buf->len);

    fprintf(out, ",%d,%d,%d\r\n",
            (rec->flags & NGX_CX_REC_DISPLAYED) != 0,
            (rec->flags & NGX_CX_REC_ANSWERED) != 0,
            (rec->flags & NGX_CX_REC_DISMISSED) != 0);

    return 0;
}


/*
 * One text cell. A leading = + - @ TAB or CR makes spreadsheets evaluate
 * the cell (CSV injection), so it is prefixed with a single quote, which they
 * show as text. Quoted when it holds a comma, quote, CR or LF (RFC 4180).
 */

static void
cxctl_csv_cell(FILE *out, const unsigned char *p, size_t len)
{
    int     quoted;
    size_t  i;

    quoted = 0;

    for (i = 0; i < len; i++) {
        if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n') {
            quoted = 1;
            break;
        }
    }

    if (quoted) {
        fputc('"', out);
    }

    if (len && (p[0] == '=' || p[0] == '+' || p[0] == '-' || p[0] == '@'
                || p[0] == '\t' || p[0] == '\r'))
    {
        fputc('\'', out);
    }

    cxctl_csv_utf8(out, p, len, quoted);

    if (quoted) {
        fputc('"', out);
    }
}


/* Writes p as UTF-8, doubling quotes when quoted; a byte that does not start
 * a valid UTF-8 sequence (attributes are any bytes) becomes U+FFFD. */

static void
cxctl_csv_utf8(FILE *out, const unsigned char *p, size_t len, int quoted)
{
    size_t  i, n;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            if (p[i] == '"' && quoted) {
                fputc('"', out);
            }
            fputc(p[i], out);
            continue;
        }

        n = p[i] >= 0xc2 && p[i] <= 0xdf ? 2
            : p[i] >= 0xe0 && p[i] <= 0xef ? 3
            : p[i] >= 0xf0 && p[i] <= 0xf4 ? 4 : 0;

        if (n == 0 || n > len - i || !ngx_cx_utf8_valid(p + i, n, NULL)) {
            fputs("\xef\xbf\xbd", out);
            n = 1;
            continue;
        }

        fwrite(p + i, 1, n, out);
    }
}


/* ---- NDJSON ---- */

static int
cxctl_ndjson_record(FILE *out, const unsigned char *id,
    const ngx_cx_record_t *rec, cxctl_buf_t *buf)
{
    int              first;
    ngx_cx_bytes_t   cursor, key, val;
    char             iso[NGX_CX_ISO8601_SIZE];
    unsigned char    hex[2 * NGX_CX_VISITOR_ID_LEN + 1];

    ngx_cx_hex(hex, id, NGX_CX_PROMPT_ID_LEN);
    fputs("{\"id\":\"", out);
    fwrite(hex, 1, 2 * NGX_CX_PROMPT_ID_LEN, out);

    ngx_cx_iso8601(iso, cxctl_received_at(rec));
    fprintf(out, "\",\"received_at\":\"%s\",\"survey\":", iso);

    if (cxctl_json_string(out, rec->survey.data, rec->survey.len, buf) != 0) {
        return -1;
    }

    fprintf(out, ",\"type\":\"%s\",\"touchpoint\":",
            ngx_cx_type_name(rec->type));

    if (cxctl_json_string(out, rec->touchpoint.data, rec->touchpoint.len, buf)
        != 0)
    {
        return -1;
    }

    fprintf(out, ",\"stage\":\"%s\",\"score\":",
            cxctl_stage_names[rec->stage <= NGX_CX_STAGE_MAX ? rec->stage : 0]);

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        fprintf(out, "%d", rec->score);
    } else {
        fputs("null", out);
    }

    fputs(",\"comment\":", out);
    if (cxctl_json_string(out, rec->comment.data, rec->comment.len, buf) != 0) {
        return -1;
    }

    ngx_cx_hex(hex, rec->visitor, NGX_CX_VISITOR_ID_LEN);
    fputs(",\"visitor\":\"", out);
    fwrite(hex, 1, 2 * NGX_CX_VISITOR_ID_LEN, out);
    fputs("\",\"lang\":", out);

    if (cxctl_json_string(out, rec->lang.data, rec->lang.len, buf) != 0) {
        return -1;
    }

    fputs(",\"path\":", out);
    if (cxctl_json_string(out, rec->path.data, rec->path.len, buf) != 0) {
        return -1;
    }

    /* keys may repeat in the blob; the last one wins (ngx_cx_record.h) */
    fputs(",\"attributes\":{", out);
    first = 1;
    cursor = rec->attrs;

    while (ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
        if (cxctl_attr_overridden(cursor, key)) {
            continue;
        }

        if (!first) {
            fputc(',', out);
        }
        first = 0;

        if (cxctl_json_string(out, key.data, key.len, buf) != 0) {
            return -1;
        }
        fputc(':', out);
        if (cxctl_json_string(out, val.data, val.len, buf) != 0) {
            return -1;
        }
    }

    fprintf(out, "},\"displayed\":%s,\"answered\":%s,\"dismissed\":%s}\n",
            (rec->flags & NGX_CX_REC_DISPLAYED) ? "true" : "false",
            (rec->flags & NGX_CX_REC_ANSWERED) ? "true" : "false",
            (rec->flags & NGX_CX_REC_DISMISSED) ? "true" : "false");

    return 0;
}


static int
cxctl_attr_overridden(ngx_cx_bytes_t rest, ngx_cx_bytes_t key)
{
    ngx_cx_bytes_t  k, v;

    while (ngx_cx_attrs_next(&rest, &k, &v) == 1) {
        if (k.len == key.len && memcmp(k.data, key.data, k.len) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
cxctl_json_string(FILE *out, const unsigned char *p, size_t len,
    cxctl_buf_t *buf)
{
    unsigned char  *end;

    if (cxctl_buf_reserve(buf, ngx_cx_json_escape_len(p, len)) != 0) {
        return -1;
    }

    end = len ? ngx_cx_json_escape(buf->data, p, len) : buf->data;

    fputc('"', out);
    fwrite(buf->data, 1, (size_t) (end - buf->data), out);
    fputc('"', out);

    return 0;
}


static int
cxctl_buf_reserve(cxctl_buf_t *b, size_t n)
{
    size_t          cap;
    unsigned char  *p;

    if (b->cap >= n && b->data) {
        return 0;
    }

    cap = b->cap > 256 ? b->cap : 256;
    while (cap < n) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }

    b->data = p;
    b->cap = cap;

    return 0;
}
