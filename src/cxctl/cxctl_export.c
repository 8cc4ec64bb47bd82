/*
 * cxctl export: every response as CSV (RFC 4180) or NDJSON, streamed.
 *
 * One read transaction walks the responses in key order (that is, by issue
 * time) and each record is written as soon as it is decoded: memory stays
 * constant whatever the store holds. The export is a consistent snapshot:
 * answers committed after it started are not in it. A CSV walks the
 * records twice in that transaction: first for the attribute keys, whose
 * attr_ columns the header names. The rows themselves are formatted by
 * ngx_cx_export.h, the same code nginx serves responses.csv and
 * responses.ndjson with.
 */

#include <errno.h>
#include <string.h>

#include "cxctl.h"
#include "ngx_cx_export.h"


const char  cxctl_usage_export[] =
    "usage: cxctl [--store DIR] export --format csv|ndjson [--excel]\n"
    "                                  [--survey NAME] [--since DAY]\n"
    "                                  [--until DAY]\n"
    "\n"
    "Writes every response to standard output, oldest prompt first.\n"
    "\n"
    "  --format csv     RFC 4180: header row, CRLF line ends, UTF-8; a cell\n"
    "                   starting with = + - @ TAB or CR gets a leading ' so\n"
    "                   spreadsheets do not run it as a formula\n"
    "  --format ndjson  one JSON object per line\n"
    "  --excel          CSV for Excel: a UTF-8 byte order mark first, so\n"
    "                   Excel reads the text as UTF-8\n"
    "  --survey NAME    only that survey\n"
    "  --since DAY      received on or after DAY (YYYY-MM-DD, UTC)\n"
    "  --until DAY      received on or before DAY\n"
    "\n"
    "Fields: id, received_at (UTC, ISO 8601: answered, else displayed,\n"
    "dismissed or issued), survey, type, touchpoint, stage, score\n"
    "(empty/null when not answered), comment, visitor, lang (the language\n"
    "the visitor was shown), path, attributes (CSV: key=value pairs joined\n"
    "by &, with %, & and = percent-encoded; NDJSON: an object, numbers the\n"
    "hook gave as numbers), displayed, answered, dismissed (CSV: 1 or 0;\n"
    "NDJSON: true or false), previous_score (the visitor's answer to the\n"
    "survey before this one; empty/null when none), then\n"
    "received_at_utc (CSV only: \"2026-01-10 12:00:00\", UTC, the form\n"
    "spreadsheets read as a date), band (detractor, passive or promoter;\n"
    "empty/null when not answered), followup (the follow-up question\n"
    "asked after the answer), and in CSV one attr_KEY column per attribute\n"
    "key of the exported responses, sorted.\n";


static int cxctl_export_walk(cxctl_store_t *st, const cxctl_filter_t *f,
    int ndjson, unsigned flags);
static int cxctl_export_write(void *data, const unsigned char *p,
    size_t len);


int
cxctl_cmd_export(int argc, char **argv, const char *store_opt)
{
    int              i, r, ndjson, rc;
    unsigned         flags;
    const char      *value, *format;
    cxctl_store_t    st;
    cxctl_filter_t   f;

    memset(&f, 0, sizeof(f));
    format = NULL;
    flags = 0;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--excel") == 0) {
            flags |= NGX_CX_EXPORT_EXCEL;

        } else if ((r = cxctl_opt(argc, argv, &i, "--format", &value)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }
            format = value;

        } else if ((r = cxctl_filter_opt(argc, argv, &i, &store_opt, &f)) != 0)
        {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }

        } else {
            return cxctl_unexpected("export", argv[i]);
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

    if (ndjson && (flags & NGX_CX_EXPORT_EXCEL)) {
        cxctl_error("export: --excel is for --format csv");
        return CXCTL_EXIT_USAGE;
    }

    if ((rc = cxctl_open(&st, store_opt, 0)) != CXCTL_EXIT_OK) {
        return rc;
    }

    rc = cxctl_export_walk(&st, &f, ndjson, flags);

    cxctl_store_close(&st);

    return rc;
}


static int
cxctl_export_walk(cxctl_store_t *st, const cxctl_filter_t *f, int ndjson,
    unsigned flags)
{
    int                             rc, result;
    MDB_txn                        *txn;
    MDB_val                         key, val;
    MDB_cursor                     *cur;
    uint64_t                        corrupt;
    ngx_cx_record_t                 rec;
    static char                     obuf[65536];
    static ngx_cx_export_columns_t  cols;

    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

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

    /* a CSV's first walk: the attr_ columns of the rows it will write */
    ngx_cx_export_columns_init(&cols);

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && !ndjson && !cxctl_stop;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                   val.mv_size, &rec)
            == 0
            && cxctl_filter_match(f, &rec))
        {
            ngx_cx_export_columns_add(&cols, &rec);
        }
    }

    /* a failed write shows in ferror(stdout), reported after the walk */
    if (!ndjson) {
        (void) ngx_cx_export_csv_header(cxctl_export_write, stdout, &cols,
                                        flags);
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

        if (ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                   val.mv_size, &rec)
            != 0)
        {
            corrupt++;
            continue;
        }

        if (!cxctl_filter_match(f, &rec)) {
            continue;
        }

        /* a reader gone away (| head) ends the walk, not the process */
        if ((ndjson ? ngx_cx_export_ndjson(cxctl_export_write, stdout,
                                           key.mv_data, &rec)
                    : ngx_cx_export_csv(cxctl_export_write, stdout,
                                        key.mv_data, &rec, &cols))
            != 0)
        {
            break;
        }
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);

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
        cxctl_error("warning: %llu unreadable %s skipped",
                    (unsigned long long) corrupt,
                    cxctl_plural(corrupt, "response", "responses"));
    }

    return result;
}


static int
cxctl_export_write(void *data, const unsigned char *p, size_t len)
{
    return fwrite(p, 1, len, data) == len ? 0 : -1;
}
