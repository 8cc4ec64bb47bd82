/*
 * Creating the store, in the master before the workers start: the
 * directory, the databases, the secret, the files' owner.  See
 * ngx_http_cx_store.h for the contract, ngx_cx_record.h for the layout.
 */

#include "ngx_http_cx_store.h"
#include "ngx_cx_forward.h"
#include "ngx_cx_rollup.h"
#include "ngx_cx_alert.h"
#include <lmdb.h>
#include <grp.h>
#include <pwd.h>
#include <sys/statvfs.h>
#if (NGX_LINUX)
#include <sys/vfs.h>
#endif


/* the user the workers will run as, when it is not the master's */
typedef struct {
    ngx_flag_t   other;
    ngx_uid_t    uid;
    ngx_gid_t    gid;
    const char  *name;
    gid_t        groups[64];
    int          ngroups;
} ngx_http_cx_store_user_t;


static ngx_int_t ngx_http_cx_store_give(ngx_log_t *log, u_char *path,
    ngx_uid_t user, ngx_gid_t group);
static void ngx_http_cx_store_user(ngx_conf_t *cf,
    ngx_http_cx_store_user_t *u);
static ngx_uint_t ngx_http_cx_store_may(ngx_http_cx_store_user_t *u,
    ngx_file_info_t *fi, ngx_uint_t want);
static ngx_int_t ngx_http_cx_store_fail(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf, const char *fmt, ...);


#define NGX_HTTP_CX_FIX_PATH                                                \
    "; point cx_store at a directory that exists or can be created, "       \
    "e.g. \"cx_store /var/lib/nginx/cx;\""


ngx_int_t
ngx_http_cx_store_check(ngx_conf_t *cf, ngx_http_cx_main_conf_t *cmcf)
{
    int                        err;
    u_char                    *last, *p;
    size_t                     len;
    ngx_uint_t                 exists;
    ngx_file_info_t            fi;
    struct statvfs             vfs;
    ngx_http_cx_store_user_t   u;
    u_char                     path[NGX_MAX_PATH], dir[NGX_MAX_PATH];
#if (NGX_LINUX)
    struct statfs              fs;
#endif

    len = cmcf->store_path.len;
    while (len > 1 && cmcf->store_path.data[len - 1] == '/') {
        len--;
    }

    if (len == 0 || len >= NGX_MAX_PATH || cmcf->store_path.data[0] != '/') {
        return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%V\": not a "
                                      "usable path" NGX_HTTP_CX_FIX_PATH,
                                      &cmcf->store_path);
    }

    ngx_cpystrn(path, cmcf->store_path.data, len + 1);

    /* the store itself, or the nearest ancestor that exists */

    ngx_cpystrn(dir, path, len + 1);
    last = dir + len;
    exists = 1;

    for ( ;; ) {
        if (ngx_file_info(dir, &fi) != NGX_FILE_ERROR) {
            break;
        }

        err = ngx_errno;

        if (err != NGX_ENOENT && err != NGX_ENOTDIR) {
            return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": "
                       "cannot look at \"%s\" (%s)" NGX_HTTP_CX_FIX_PATH,
                       path, dir, strerror(err));
        }

        exists = 0;

        for (p = last - 1; p > dir && *p != '/'; p--) { /* void */ }

        last = (p == dir) ? p + 1 : p;
        *last = '\0';
    }

    if (!ngx_is_dir(&fi)) {
        if (exists) {
            return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": it is "
                       "not a directory" NGX_HTTP_CX_FIX_PATH, path);
        }

        return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": cannot "
                   "be created, \"%s\" is not a directory"
                   NGX_HTTP_CX_FIX_PATH, path, dir);
    }

#if (NGX_LINUX)
    /* root may "write" here, yet no directory can be made: proc, sysfs */
    if (statfs((char *) dir, &fs) == 0
        && (fs.f_type == 0x9fa0 || fs.f_type == 0x62656572))
    {
        return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": \"%s\" "
                   "is a virtual file system (proc or sysfs) that holds no "
                   "store" NGX_HTTP_CX_FIX_PATH, path, dir);
    }
#endif

    if (statvfs((char *) dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": \"%s\" "
                   "is on a read-only file system" NGX_HTTP_CX_FIX_PATH,
                   path, dir);
    }

    ngx_http_cx_store_user(cf, &u);

    if (!exists) {
        /* the master creates it (and gives it to the worker user) */
        if (access((char *) dir, W_OK|X_OK) != 0) {
            err = ngx_errno;
            return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": "
                       "cannot be created in \"%s\" (%s); create it "
                       "beforehand, writable by the user nginx's workers "
                       "run as, or choose a writable place",
                       path, dir, strerror(err));
        }

    } else if (!u.other && access((char *) path, R_OK|W_OK|X_OK) != 0) {
        /* no user switch: nobody will give it to the workers */
        err = ngx_errno;
        return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": not "
                   "writable by the user nginx runs as (%s); make it so "
                   "(chown or chmod) or choose another directory",
                   path, strerror(err));
    }

    if (!u.other) {
        return NGX_OK;
    }

    /* the worker user must be able to reach it: every existing ancestor */

    for (p = path + 1; p <= path + len; p++) {
        if (p < path + len && *p != '/') {
            continue;
        }

        if (p == path + len) {
            break;                      /* the store: given to the workers */
        }

        ngx_memcpy(dir, path, p - path);
        dir[p - path] = '\0';

        if (ngx_file_info(dir, &fi) == NGX_FILE_ERROR) {
            break;                      /* created 0755 from here on */
        }

        if (!ngx_http_cx_store_may(&u, &fi, 1)) {
            return ngx_http_cx_store_fail(cf, cmcf, "cx_store \"%s\": the "
                       "worker user \"%s\" cannot reach it, \"%s\" (owner "
                       "uid %d, mode %c%c%c%c) is not searchable by that "
                       "user; allow it (e.g. \"chmod o+x %s\") or move the "
                       "store", path, u.name, dir, (int) fi.st_uid,
                       '0' + (int) ((fi.st_mode >> 9) & 7),
                       '0' + (int) ((fi.st_mode >> 6) & 7),
                       '0' + (int) ((fi.st_mode >> 3) & 7),
                       '0' + (int) (fi.st_mode & 7), dir);
        }
    }

    return NGX_OK;
}


/* As ngx_core_module will decide: "user", else NGX_USER when root. */

static void
ngx_http_cx_store_user(ngx_conf_t *cf, ngx_http_cx_store_user_t *u)
{
    struct group     *gr;
    struct passwd    *pw;
    ngx_core_conf_t  *ccf;

    ngx_memzero(u, sizeof(ngx_http_cx_store_user_t));

    if (geteuid() != 0) {
        return;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        u->uid = ccf->user;
        u->gid = ccf->group;
        u->name = ccf->username;

    } else {
        pw = getpwnam(NGX_USER);
        if (pw == NULL) {
            return;                     /* nginx itself will say so */
        }

        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        u->name = NGX_USER;

        gr = getgrnam(NGX_GROUP);
        if (gr) {
            u->gid = gr->gr_gid;
        }
    }

    if (u->uid == 0 || u->name == NULL) {
        return;
    }

    u->other = 1;
    u->ngroups = sizeof(u->groups) / sizeof(u->groups[0]);

    if (getgrouplist(u->name, u->gid, u->groups, &u->ngroups) == -1) {
        u->groups[0] = u->gid;
        u->ngroups = 1;
    }
}


/* want: the "rwx" bits, 4 2 1, as for "other" */

static ngx_uint_t
ngx_http_cx_store_may(ngx_http_cx_store_user_t *u, ngx_file_info_t *fi,
    ngx_uint_t want)
{
    int  i;

    if (fi->st_uid == u->uid) {
        return ((fi->st_mode >> 6) & want) == want;
    }

    for (i = 0; i < u->ngroups; i++) {
        if (fi->st_gid == u->groups[i]) {
            return ((fi->st_mode >> 3) & want) == want;
        }
    }

    return (fi->st_mode & want) == want;
}


static ngx_int_t
ngx_http_cx_store_fail(ngx_conf_t *cf, ngx_http_cx_main_conf_t *cmcf,
    const char *fmt, ...)
{
    u_char      *p;
    va_list      args;
    ngx_uint_t   level;
    u_char       msg[NGX_MAX_CONF_ERRSTR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    /*
     * "nginx -t" fails; a start or reload goes on without the store (no
     * prompts, answers 503), as for any store that cannot be prepared
     */
    if (!ngx_test_config) {
        p = ngx_slprintf(p, msg + sizeof(msg), "; until then no prompts "
                         "are offered");
    }

    level = ngx_test_config ? NGX_LOG_EMERG : NGX_LOG_ALERT;

    if (cmcf->store_file) {
        ngx_log_error(level, cf->log, 0, "%*s in %s:%ui",
                      (size_t) (p - msg), msg, cmcf->store_file,
                      cmcf->store_line);

    } else {
        ngx_log_error(level, cf->log, 0, "%*s (the default store: "
                      "no cx_store directive)", (size_t) (p - msg), msg);
    }

    return NGX_ERROR;
}


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
    MDB_dbi           meta, responses, events, rollups, other;
    int               ready;
    uint64_t          nresponses, nevents;
    ngx_msec_t        started;
    MDB_val           key, val;
    ngx_core_conf_t  *ccf;
    u_char            secret[NGX_CX_SECRET_LEN];
    ngx_uint_t        i;
    u_char            file[NGX_MAX_PATH];

    /* the alert sender's lock exists once a sender ran (alert_send.c) */
    static char      *files[] = { "", "/data.mdb", "/lock.mdb",
                                  "/alerts.lock" };

    /* "nginx -t" checks (ngx_http_cx_store_check), it creates nothing */
    if (ngx_test_config) {
        return NGX_OK;
    }

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
        rc = mdb_dbi_open(txn, NGX_CX_DB_EVENTS, MDB_CREATE, &events);
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, MDB_CREATE, &rollups);
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_ALERTS, MDB_CREATE, &other);
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_DELIVERIES, MDB_CREATE,
                          &other);
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_OUTBOX, MDB_CREATE, &other);
    }

    /* cxctl erase sends an erasure to ClickHouse once this store forwards */
    if (rc == 0 && cmcf->forward) {
        key.mv_data = NGX_CX_META_FORWARD;
        key.mv_size = sizeof(NGX_CX_META_FORWARD) - 1;
        val.mv_data = "1";
        val.mv_size = 1;
        rc = mdb_put(txn, meta, &key, &val, 0);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        goto failed;
    }

    /*
     * A store written before the rollups (or by another format of them)
     * gets them built once, here, before any worker reads or adds to them:
     * reports are never computed from half of them.
     */
    rc = ngx_cx_rollup_ready(txn, meta, &ready);

    if (rc == 0 && !ready) {
        started = ngx_current_msec;
        ngx_time_update();

        rc = ngx_cx_rollup_rebuild(txn, responses, events, rollups, meta,
                                   &nresponses, &nevents);
        if (rc == 0 && nresponses + nevents) {     /* a new store: quiet */
            ngx_time_update();
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "cx_store: report rollups built from %uL "
                          "responses and %uL journey events in %M ms",
                          nresponses, nevents,
                          ngx_current_msec - started);
        }
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

    /* the directory, then the files in it (all but the last must be) */
    for (i = 0; geteuid() == 0 && i < 4; i++) {
        ngx_snprintf(file, sizeof(file) - 1, "%V%s%Z", &cmcf->store_path,
                     files[i]);

        if (i == 3 && access((char *) file, F_OK) != 0) {
            break;
        }

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
