/*
 * cxctl rebuild-rollups: report.json's aggregates built again from the
 * stored responses and journey events (ngx_cx_rollup_rebuild).
 *
 * nginx builds them itself when it starts on a store that has none (an
 * upgrade); this command is for doing it by hand, e.g. after restoring a
 * backup made by an older version with mdb_copy.  It runs in one write
 * transaction: nginx's commits wait for it, and a report never sees half
 * of the rows.
 */

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cxctl.h"


const char  cxctl_usage_rebuild[] =
    "usage: cxctl [--store DIR] rebuild-rollups\n"
    "\n"
    "Builds report.json's aggregates (the rollups database) again from every\n"
    "stored response and journey event, in one transaction, and prints how\n"
    "many were read. nginx's answers wait while it runs (a few seconds per\n"
    "million records): run it at a quiet time. Safe while nginx runs.\n";


int
cxctl_cmd_rebuild(int argc, char **argv, const char *store_opt)
{
    int               i, r, rc;
    double            ms;
    MDB_txn          *txn;
    uint64_t          nr, ne;
    cxctl_store_t     st;
    struct timespec   t0, t1;

    for (i = 0; i < argc; i++) {
        r = cxctl_opt(argc, argv, &i, "--store", &store_opt);

        if (r == 0) {
            return cxctl_unexpected("rebuild-rollups", argv[i]);
        }

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }
    }

    if ((rc = cxctl_open(&st, store_opt, 1)) != CXCTL_EXIT_OK) {
        return rc;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);

    rc = mdb_txn_begin(st.env, NULL, 0, &txn);

    if (rc == 0 && !st.has_rollups) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, MDB_CREATE, &st.rollups);
    }

    if (rc == 0) {
        rc = ngx_cx_rollup_rebuild(txn, st.responses, st.events, st.rollups,
                                   st.meta, &nr, &ne);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }

    if (rc != 0) {
        cxctl_error("cannot rebuild the rollups of \"%s\": %s%s", st.path,
                    mdb_strerror(rc),
                    rc == EACCES ? " (run cxctl as root or as the nginx "
                                   "worker user)" : "");
        cxctl_store_close(&st);
        return CXCTL_EXIT_FAIL;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;

    printf("rebuilt the rollups from %llu %s and %llu %s in %.0f ms\n",
           (unsigned long long) nr, cxctl_plural(nr, "response", "responses"),
           (unsigned long long) ne, cxctl_plural(ne, "event", "events"), ms);

    cxctl_store_close(&st);

    return fflush(stdout) == 0 ? CXCTL_EXIT_OK : CXCTL_EXIT_FAIL;
}
