/*
 * mkstore DIR N — writes N synthetic survey responses into a fresh ngx_cx
 * store, for measuring reports and exports at scale (bench/run).
 *
 * Records are what the module would store: keyed by the prompt id (issue
 * time first), spread over the last 400 days, two touchpoints, NPS scores
 * cycling 0..10, a comment on every 50th.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lmdb.h>

#include "ngx_cx_record.h"


#define MKSTORE_BATCH  50000


static void
fail(const char *what, int rc)
{
    fprintf(stderr, "mkstore: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}


int
main(int argc, char **argv)
{
    int              rc;
    long             n, i, span;
    time_t           now;
    MDB_env         *env;
    MDB_txn         *txn;
    MDB_dbi          dbi, other;
    MDB_val          key, val;
    unsigned char    k[NGX_CX_RESPONSE_KEY_LEN], nonce[8], buf[4096], *end;
    uint32_t         issued;
    ngx_cx_record_t  rec;
    static const char  comment[] = "Delivery was quick, the kettle works.";

    if (argc != 3 || (n = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: mkstore DIR N\n");
        return 2;
    }

    if ((rc = mdb_env_create(&env)) != 0) fail("mdb_env_create", rc);
    mdb_env_set_maxdbs(env, NGX_CX_STORE_MAXDBS);
    mdb_env_set_mapsize(env, (size_t) 8 << 30);

    if ((rc = mdb_env_open(env, argv[1], MDB_NOSYNC, 0600)) != 0) {
        fail(argv[1], rc);
    }

    now = time(NULL);
    span = 400L * 86400;

    memset(&rec, 0, sizeof(rec));
    rec.type = NGX_CX_TYPE_NPS;
    rec.survey.data = (const unsigned char *) "bench_nps";
    rec.survey.len = 9;
    rec.lang.data = (const unsigned char *) "en";
    rec.lang.len = 2;
    rec.path.data = (const unsigned char *) "/checkout/done";
    rec.path.len = 14;

    txn = NULL;

    for (i = 0; i < n; i++) {
        if (txn == NULL) {
            if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) fail("txn", rc);
            rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, MDB_CREATE, &dbi);
            if (rc != 0) {
                fail(NGX_CX_DB_RESPONSES, rc);
            }
            (void) mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE, &other);
            (void) mdb_dbi_open(txn, NGX_CX_DB_META, MDB_CREATE, &other);
        }

        /* time-ordered keys, as the module makes them; the nonce counts */
        issued = (uint32_t) (now - span + (span * i) / n);
        memset(nonce, 0, 4);
        nonce[4] = i >> 24; nonce[5] = i >> 16; nonce[6] = i >> 8; nonce[7] = i;
        ngx_cx_response_key(k, issued, nonce);

        rec.flags = NGX_CX_REC_DISPLAYED | NGX_CX_REC_ANSWERED;
        rec.issued_at_ms = (uint64_t) issued * 1000;
        rec.displayed_at_ms = rec.issued_at_ms + 3000;
        rec.answered_at_ms = rec.issued_at_ms + 9000;
        rec.score = (int) (i % 11);
        rec.stage = (i & 1) ? 3 : 2;
        rec.touchpoint.data = (const unsigned char *) ((i & 1) ? "purchase" : "browse");
        rec.touchpoint.len = (i & 1) ? 8 : 6;
        memcpy(rec.visitor, k, sizeof(rec.visitor));
        rec.comment.len = 0;

        if (i % 50 == 0) {
            rec.flags |= NGX_CX_REC_COMMENTED;
            rec.commented_at_ms = rec.answered_at_ms + 5000;
            rec.comment.data = (const unsigned char *) comment;
            rec.comment.len = sizeof(comment) - 1;
        }

        end = ngx_cx_record_encode(buf, &rec);

        key.mv_data = k;
        key.mv_size = sizeof(k);
        val.mv_data = buf;
        val.mv_size = end - buf;

        if ((rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND)) != 0) fail("put", rc);

        if ((i + 1) % MKSTORE_BATCH == 0 || i + 1 == n) {
            if ((rc = mdb_txn_commit(txn)) != 0) fail("commit", rc);
            txn = NULL;
        }
    }

    mdb_env_sync(env, 1);
    mdb_env_close(env);

    printf("%ld responses written to %s\n", n, argv[1]);

    return 0;
}
