/*
 * cx_forward and cx_node, checked at nginx -t, and the outbox's writes:
 * see ngx_http_cx_forward.h.
 */

#include "ngx_http_cx_forward.h"


static ngx_int_t ngx_http_cx_forward_password(ngx_conf_t *cf,
    ngx_http_cx_forward_t *fw, ngx_str_t *user, ngx_str_t *file);


/*
 * cx_forward clickhouse URL database=NAME [user=NAME] [password_file=FILE]
 *            [batch=N] [interval=TIME];
 */

char *
ngx_http_cx_forward_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    char                   *err;
    ngx_str_t              *value, user, password_file, s;
    ngx_int_t               n;
    ngx_uint_t              i;
    ngx_msec_t              ms;
    ngx_http_cx_forward_t  *fw;

    if (cmcf->forward) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len != sizeof("clickhouse") - 1
        || ngx_strncmp(value[1].data, "clickhouse", value[1].len) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_forward: unknown destination \"%V\" (the one "
                           "there is: clickhouse)", &value[1]);
        return NGX_CONF_ERROR;
    }

    fw = ngx_pcalloc(cf->pool, sizeof(ngx_http_cx_forward_t));
    if (fw == NULL) {
        return NGX_CONF_ERROR;
    }

    fw->batch = NGX_HTTP_CX_FORWARD_BATCH;
    fw->interval = NGX_HTTP_CX_FORWARD_INTERVAL;
    fw->file = cf->conf_file->file.name.data;
    fw->line = cf->conf_file->line;

    err = ngx_http_cx_target_parse(cf, &value[2], &fw->target);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_forward: \"%V\" %s", &value[2], err);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&user);
    ngx_str_null(&password_file);

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "database=", 9) == 0) {
            fw->database.data = value[i].data + 9;
            fw->database.len = value[i].len - 9;

            if (!ngx_cx_forward_db_valid(fw->database.data,
                                         fw->database.len))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_forward: database name \"%V\" must "
                                   "be letters, digits and \"_\" (at most "
                                   "64, not starting with a digit)",
                                   &fw->database);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            user.data = value[i].data + 5;
            user.len = value[i].len - 5;

            if (user.len == 0 || ngx_strlchr(user.data, user.data + user.len,
                                             ':'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_forward: user \"%V\" must not be "
                                   "empty nor hold \":\"", &user);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            password_file.data = value[i].data + 14;
            password_file.len = value[i].len - 14;
            continue;
        }

        if (ngx_strncmp(value[i].data, "batch=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n < 1 || n > 100000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_forward: \"%V\": batch must be a "
                                   "number from 1 to 100000", &value[i]);
                return NGX_CONF_ERROR;
            }

            fw->batch = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;
            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 3600000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "cx_forward: \"%V\": interval must be a "
                                   "time from 1ms to 1h, e.g. 1s or 500ms",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            fw->interval = ms;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_forward: unknown parameter \"%V\" (database=, "
                           "user=, password_file=, batch=, interval=)",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (fw->database.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_forward: database=NAME is missing (the "
                           "ClickHouse database the tables go in, created "
                           "when missing)");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cx_forward_password(cf, fw, &user, &password_file)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cmcf->forward = fw;
    cmcf->used = 1;

    return NGX_CONF_OK;
}


/*
 * The credentials go in an Authorization: Basic header, which ClickHouse's
 * HTTP interface reads: not in the URL, which may be logged on the way.
 */

static ngx_int_t
ngx_http_cx_forward_password(ngx_conf_t *cf, ngx_http_cx_forward_t *fw,
    ngx_str_t *user, ngx_str_t *file)
{
    u_char      *p;
    ssize_t      n;
    ngx_str_t    plain, password, encoded;
    ngx_file_t   f;
    u_char       buf[256];

    ngx_str_null(&password);

    if (file->data != NULL) {
        if (file->len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_forward: password_file= needs a path");
            return NGX_ERROR;
        }

        if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_memzero(&f, sizeof(ngx_file_t));
        f.name = *file;
        f.log = cf->log;
        f.fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (f.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cx_forward: cannot open password_file \"%V\"",
                               file);
            return NGX_ERROR;
        }

        n = ngx_read_file(&f, buf, sizeof(buf), 0);
        ngx_close_file(f.fd);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cx_forward: cannot read password_file "
                               "\"%V\"", file);
            return NGX_ERROR;
        }

        /* one line: the password; a final newline is not part of it */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }

        if (n == 0 || n == (ssize_t) sizeof(buf)
            || ngx_strlchr(buf, buf + n, '\n') != NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_forward: password_file \"%V\" must hold "
                               "one line, the password (1 to 255 bytes)",
                               file);
            return NGX_ERROR;
        }

        password.data = ngx_pnalloc(cf->pool, n);
        if (password.data == NULL) {
            return NGX_ERROR;
        }

        password.len = n;
        ngx_memcpy(password.data, buf, n);
        ngx_explicit_memzero(buf, sizeof(buf));
    }

    if (user->data == NULL && password.data == NULL) {
        ngx_str_null(&fw->auth);
        return NGX_OK;
    }

    if (user->data == NULL) {
        ngx_str_set(user, "default");
    }

    plain.len = user->len + 1 + password.len;
    plain.data = ngx_pnalloc(cf->pool, plain.len);
    if (plain.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(plain.data, user->data, user->len);
    *p++ = ':';
    ngx_memcpy(p, password.data, password.len);

    encoded.len = ngx_base64_encoded_length(plain.len);
    fw->auth.len = sizeof("Authorization: Basic " CRLF) - 1 + encoded.len;
    fw->auth.data = ngx_pnalloc(cf->pool, fw->auth.len);
    if (fw->auth.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(fw->auth.data, "Authorization: Basic ",
                   sizeof("Authorization: Basic ") - 1);
    encoded.data = p;
    ngx_encode_base64(&encoded, &plain);
    p += encoded.len;
    *p++ = CR; *p = LF;

    ngx_explicit_memzero(plain.data, plain.len);

    return NGX_OK;
}


/* cx_node NAME: what the node column of its records says */

char *
ngx_http_cx_node_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    u_char     *p;
    ngx_str_t  *value;

    if (cmcf->node.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_CX_NODE_MAX) {
        return "needs a name of 1 to 64 bytes";
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
              || *p == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_node \"%V\": a node name is letters, "
                               "digits, \".\", \"-\" and \"_\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    cmcf->node = value[1];

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_cx_forward_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf)
{
    ngx_http_cx_forward_t  *fw;

    if (cmcf->node.data == NULL) {
        /* the host name, as $hostname has it */
        cmcf->node.len = ngx_min(cf->cycle->hostname.len, NGX_CX_NODE_MAX);
        cmcf->node.data = cf->cycle->hostname.data;
    }

    fw = cmcf->forward;

    if (fw == NULL) {
        if (cmcf->report_clickhouse_file) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cx_report source=clickhouse needs cx_forward "
                          "clickhouse URL database=NAME (the ClickHouse the "
                          "fleet forwards to) in %s:%ui",
                          cmcf->report_clickhouse_file,
                          cmcf->report_clickhouse_line);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (cmcf->store_file == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "cx_forward needs cx_store: records wait in the "
                      "store's outbox until ClickHouse has them, in %s:%ui",
                      fw->file, fw->line);
        return NGX_ERROR;
    }

    return ngx_http_cx_target_init(cf, &fw->target, &cmcf->alert_trusted,
                                   fw->file, fw->line);
}


int
ngx_http_cx_outbox_put(ngx_http_cx_outbox_t *ob, MDB_txn *txn,
    uint64_t at_ms, const u_char *val, size_t len)
{
    MDB_val  k, v;
    u_char   key[NGX_CX_OUTBOX_KEY_LEN];

    if (!ob->on || len == 0) {
        return 0;
    }

    ngx_cx_journey_key(key, at_ms, ob->pid, ++ob->seq);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = (void *) val;
    v.mv_size = len;

    return mdb_put(txn, ob->dbi, &k, &v, 0);
}
