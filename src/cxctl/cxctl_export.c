/*
 * cxctl export: every response as CSV (RFC 4180) or NDJSON, streamed.
 *
 * One read transaction walks the responses in key order (that is, by issue
 * time) and each record is written as soon as it is decoded: memory stays
 * constant whatever the store holds. The export is a consistent snapshot:
 * answers committed after it started are not in it. The rows themselves are
 * formatted by ngx_cx_export.h, the same code nginx serves responses.csv and
 * responses.ndjson with.
 */

#include <errno.h>
#include <string.h>

#include "cxctl.h"
#include "ngx_cx_export.h"


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
    "displayed, answered, dismissed (CSV: 1 or 0; NDJSON: true or false),\n"
    "previous_score (the visitor's answer to the survey before this one;\n"
    "empty/null when none).\n";


static int cxctl_export_walk(cxctl_store_t *st, const cxctl_filter_t *f,
    int ndjson);
static int cxctl_export_write(void *data, const unsigned char *p,
    size_t len);


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
        if ((r = cxctl_opt(argc, argv, &i, "--format", &value)) != 0) {
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

    if ((rc = cxctl_open(&st, store_opt, 0)) != CXCTL_EXIT_OK) {
        return rc;
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
    uint64_t          corrupt;
    ngx_cx_record_t   rec;
    static char       obuf[65536];

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

    /* a failed write shows in ferror(stdout), reported after the walk */
    if (!ndjson) {
        (void) ngx_cx_export_csv_header(cxctl_export_write, stdout);
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
                                        key.mv_data, &rec))
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
