/*
 * cxctl alerts: the alerts of the store, newest first, each with its
 * response, in one read transaction (a consistent snapshot).
 */

#include <string.h>

#include "cxctl.h"
#include "ngx_cx_alert.h"
#include "ngx_cx_score.h"


const char  cxctl_usage_alerts[] =
    "usage: cxctl [--store DIR] alerts [--open]\n"
    "\n"
    "Lists the alerts of the cx_alert rules, newest response first: the\n"
    "alert's id (as in the report location's alerts/ID/ack), its status\n"
    "(open, escalated, acknowledged, resolved, or failed when a delivery was\n"
    "given up), the rule, when it was created (UTC), and the response's\n"
    "survey, score and comment (cut at 40 characters).\n"
    "\n"
    "  --open   only the alerts nobody has acknowledged or resolved yet\n";


static void cxctl_alerts_print(const ngx_cx_alert_t *a,
    const ngx_cx_record_t *rec);
static void cxctl_alerts_text(const unsigned char *p, size_t len,
    size_t max);


int
cxctl_cmd_alerts(int argc, char **argv, const char *store_opt)
{
    int              i, r, rc, open_only;
    size_t           n;
    MDB_txn         *txn;
    MDB_dbi          alerts;
    MDB_val          key, val, rkey, rval;
    MDB_cursor      *cur;
    const char      *value;
    cxctl_store_t    st;
    ngx_cx_alert_t   a;
    ngx_cx_record_t  rec;

    open_only = 0;

    for (i = 0; i < argc; i++) {
        if ((r = cxctl_opt(argc, argv, &i, "--store", &value)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }
            store_opt = value;
            continue;
        }

        if (strcmp(argv[i], "--open") == 0) {
            open_only = 1;
            continue;
        }

        return cxctl_unexpected("alerts", argv[i]);
    }

    if ((rc = cxctl_open(&st, store_opt, 0)) != CXCTL_EXIT_OK) {
        return rc;
    }

    rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        cxctl_error("cannot read store \"%s\": %s", st.path,
                    mdb_strerror(rc));
        cxctl_store_close(&st);
        return CXCTL_EXIT_FAIL;
    }

    n = 0;

    /* a store from before alerts has no such database: no alerts */
    rc = mdb_dbi_open(txn, NGX_CX_DB_ALERTS, 0, &alerts);

    if (rc == 0) {
        rc = mdb_cursor_open(txn, alerts, &cur);
    }

    if (rc == 0) {
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
             rc == 0 && !cxctl_stop;
             rc = mdb_cursor_get(cur, &key, &val, MDB_PREV))
        {
            if (ngx_cx_alert_decode(key.mv_data, key.mv_size, val.mv_data,
                                    val.mv_size, &a)
                != 0
                || (open_only && a.state != NGX_CX_ALERT_OPEN))
            {
                continue;
            }

            if (n++ == 0) {
                printf("%-22s  %-12s  %-20s  %-20s  %-16s %5s  %s\n", "id",
                       "status", "alert", "created", "survey", "score",
                       "comment");
            }

            rkey.mv_data = a.key;
            rkey.mv_size = NGX_CX_RESPONSE_KEY_LEN;

            if (mdb_get(txn, st.responses, &rkey, &rval) == 0
                && ngx_cx_response_decode(rkey.mv_data, rkey.mv_size,
                                          rval.mv_data, rval.mv_size, &rec)
                   == 0)
            {
                cxctl_alerts_print(&a, &rec);

            } else {
                cxctl_alerts_print(&a, NULL);
            }
        }

        mdb_cursor_close(cur);
    }

    mdb_txn_abort(txn);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        cxctl_error("cannot read store \"%s\": %s", st.path,
                    mdb_strerror(rc));
        cxctl_store_close(&st);
        return CXCTL_EXIT_FAIL;
    }

    if (n == 0) {
        printf(open_only ? "no open alerts\n" : "no alerts\n");
    }

    cxctl_store_close(&st);

    if (cxctl_stop) {
        return CXCTL_EXIT_STOPPED;
    }

    return fflush(stdout) == 0 ? CXCTL_EXIT_OK : CXCTL_EXIT_FAIL;
}


static void
cxctl_alerts_print(const ngx_cx_alert_t *a, const ngx_cx_record_t *rec)
{
    char           created[NGX_CX_ISO8601_SIZE];
    unsigned char  id[NGX_CX_ALERT_ID_LEN];

    (void) ngx_cx_b64url_encode(id, a->key, NGX_CX_ALERT_KEY_LEN);
    (void) ngx_cx_iso8601(created, a->created_ms);

    printf("%.*s  %-12s  ", NGX_CX_ALERT_ID_LEN, (const char *) id,
           ngx_cx_alert_status(a));
    cxctl_alerts_text(a->rule.data, a->rule.len, 20);
    printf("  %-20s  ", created);

    if (rec == NULL) {
        printf("%-16s %5s  %s\n", "(erased)", "", "");
        return;
    }

    cxctl_alerts_text(rec->survey.data, rec->survey.len, 16);

    if (rec->flags & NGX_CX_REC_ANSWERED) {
        printf(" %5d  ", rec->score);
    } else {
        printf(" %5s  ", "-");
    }

    cxctl_alerts_text(rec->comment.data, rec->comment.len, 40);
    printf("\n");
}


/*
 * Text from the store, padded to max columns (bytes) or cut there with
 * "...": control bytes become '?', so a comment cannot move the terminal.
 */

static void
cxctl_alerts_text(const unsigned char *p, size_t len, size_t max)
{
    size_t  i, n;

    n = len > max ? max - 3 : len;

    /* never cut a UTF-8 sequence in two */
    while (n < len && n > 0 && (p[n] & 0xc0) == 0x80) {
        n--;
    }

    for (i = 0; i < n; i++) {
        putchar(p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i]);
    }

    if (n < len) {
        fputs("...", stdout);
        n += 3;
    }

    for ( /* void */ ; n < max && max != 40; n++) {
        putchar(' ');
    }
}
