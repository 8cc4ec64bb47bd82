/*
 * Creating the store, in the master before the workers start: the
 * directory, the databases, the secret, the files' owner.  See
 * ngx_http_cx_store.h for the contract, ngx_cx_record.h for the layout.
 */

#include "ngx_http_cx_store.h"
#include <lmdb.h>


static ngx_int_t ngx_http_cx_store_give(ngx_log_t *log, u_char *path,
    ngx_uid_t user, ngx_gid_t group);


MDB_env *
ngx_http_cx_store_env(ngx_log_t *log, ngx_http_cx_main_conf_t *cmcf,
    unsigned flags)
{
    int       rc;
    MDB_env  *env;

    rc = mdb_env_create(&env);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "cx_store: mdb_env_create() failed: %s",
                      mdb_strerror(rc));
        return NULL;
    }

    mdb_env_set_maxdbs(env, NGX_CX_STORE_MAXDBS);
    mdb_env_set_mapsize(env, cmcf->store_max_size);

    rc = mdb_env_open(env, (char *) cmcf->store_path.data, flags, 0600);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "cx_store: cannot open \"%V\": %s",
                      &cmcf->store_path, mdb_strerror(rc));
        mdb_env_close(env);
        return NULL;
    }

    return env;
}


ngx_int_t
ngx_http_cx_store_prepare(ngx_cycle_t *cycle, ngx_http_cx_main_conf_t *cmcf)
{
    int               rc;
    u_char           *p;
    MDB_env          *env;
    MDB_txn          *txn;
    MDB_dbi           meta, responses;
    MDB_val           key, val;
    ngx_core_conf_t  *ccf;
    u_char            secret[NGX_CX_SECRET_LEN];
    ngx_uint_t        i;
    u_char            file[NGX_MAX_PATH];

    static char      *files[] = { "", "/data.mdb", "/lock.mdb" };

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* parents too: "cx_store var/cx" works on a fresh prefix */
    p = ngx_pnalloc(cycle->pool, cmcf->store_path.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(p, cmcf->store_path.data, cmcf->store_path.len + 1);
    (void) ngx_create_full_path(p, 0755);

    if (ngx_create_dir(cmcf->store_path.data, 0700) == NGX_FILE_ERROR
        && ngx_errno != NGX_EEXIST)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "cx_store: cannot create directory \"%V\"",
                      &cmcf->store_path);
        return NGX_ERROR;
    }

    env = ngx_http_cx_store_env(cycle->log, cmcf, MDB_NOTLS);
    if (env == NULL) {
        return NGX_ERROR;
    }

    rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc != 0) {
        goto failed;
    }

    rc = mdb_dbi_open(txn, NGX_CX_DB_META, MDB_CREATE, &meta);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, MDB_CREATE, &responses);
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE, &responses);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        goto failed;
    }

    key.mv_data = NGX_CX_META_SECRET;
    key.mv_size = sizeof(NGX_CX_META_SECRET) - 1;

    rc = mdb_get(txn, meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        if (ngx_http_cx_random(secret, sizeof(secret)) != NGX_OK) {
            mdb_txn_abort(txn);
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "cx_store: no randomness for the secret");
            mdb_env_close(env);
            return NGX_ERROR;
        }

        val.mv_data = secret;
        val.mv_size = sizeof(secret);
        rc = mdb_put(txn, meta, &key, &val, 0);
    }

    if (rc != 0 || val.mv_size < NGX_CX_SECRET_LEN) {
        mdb_txn_abort(txn);
        goto failed;
    }

    if (cmcf->secret.len == 0) {
        /* the key material outlives the transaction */
        cmcf->secret.data = ngx_pnalloc(cycle->pool, val.mv_size);
        if (cmcf->secret.data == NULL) {
            mdb_txn_abort(txn);
            mdb_env_close(env);
            return NGX_ERROR;
        }

        ngx_memcpy(cmcf->secret.data, val.mv_data, val.mv_size);
        cmcf->secret.len = val.mv_size;
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        goto failed;
    }

    mdb_env_close(env);

    /* the directory, then LMDB's two files in it */
    for (i = 0; geteuid() == 0 && i < 3; i++) {
        ngx_snprintf(file, sizeof(file) - 1, "%V%s%Z", &cmcf->store_path,
                     files[i]);
        if (ngx_http_cx_store_give(cycle->log, file, ccf->user, ccf->group)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                  "cx_store: cannot prepare \"%V\": %s",
                  &cmcf->store_path, mdb_strerror(rc));
    mdb_env_close(env);
    return NGX_ERROR;
}


/* Workers run as an unprivileged user; the master creates the files. */

static ngx_int_t
ngx_http_cx_store_give(ngx_log_t *log, u_char *path, ngx_uid_t user,
    ngx_gid_t group)
{
    if (user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return NGX_OK;
    }

    if (chown((char *) path, user, group) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "cx_store: chown(\"%s\") failed", path);
        return NGX_ERROR;
    }

    return NGX_OK;
}
