/*
 * The secret and the keys derived from it: cx_secret_file reads the secret
 * at configuration time (a bad file fails "nginx -t" at its line); without
 * it the store provides one (ngx_http_cx_store.c).  ngx_http_cx_keys_init()
 * derives the token and cookie keys and the sampling seed once the secret
 * is known.
 */

#include "ngx_http_cx.h"


/*
 * A key file of the configuration (cx_secret_file, an alert's secret=):
 * *path is resolved against nginx.conf's directory, as "include" resolves,
 * and the file read whole into the configuration's pool, without the
 * trailing newline "openssl rand ... > FILE" leaves (not key material).
 * NGX_OK; NGX_DECLINED when it cannot be opened (ngx_errno says why);
 * NGX_ABORT when it is over max bytes or cannot be read.
 */

ngx_int_t
ngx_http_cx_conf_read_key(ngx_conf_t *cf, ngx_str_t *path, size_t max,
    ngx_str_t *key)
{
    u_char           *p, *last;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NGX_DECLINED;
    }

    p = NULL;
    n = -1;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && (size_t) ngx_file_size(&fi) <= max)
    {
        p = ngx_pnalloc(cf->pool, max);
        if (p) {
            n = ngx_read_fd(fd, p, max);
        }
    }

    ngx_close_file(fd);

    if (p == NULL || n < 0) {
        return NGX_ABORT;
    }

    last = p + n;
    while (last > p && (last[-1] == '\n' || last[-1] == '\r')) {
        last--;
    }

    key->data = p;
    key->len = last - p;

    return NGX_OK;
}


/*
 * cx_secret_file FILE: read at once, so that a bad file fails "nginx -t"
 * at its line.
 */

char *
ngx_http_cx_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cx_main_conf_t *cmcf = conf;

    ngx_int_t   rc;
    ngx_str_t  *value;

    if (cmcf->secret_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    cmcf->secret_file = value[1];

    rc = ngx_http_cx_conf_read_key(cf, &cmcf->secret_file, 4096,
                                   &cmcf->secret);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cx_secret_file: cannot open \"%V\"",
                           &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    if (rc == NGX_ABORT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_secret_file: \"%V\" must be a file of 32 to "
                           "4096 bytes", &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cmcf->secret.len < NGX_HTTP_CX_SECRET_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cx_secret_file: \"%V\" holds %uz bytes, at least "
                           "%d are needed (e.g. \"openssl rand -hex 32 > "
                           "%V\")", &cmcf->secret_file, cmcf->secret.len,
                           NGX_HTTP_CX_SECRET_MIN, &cmcf->secret_file);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Separate keys per use, so that no signed value can stand for another. */

ngx_int_t
ngx_http_cx_keys_init(ngx_log_t *log, ngx_http_cx_main_conf_t *cmcf)
{
    u_char  key[32];

    cmcf->keys_ready = 0;

    if (cmcf->secret.len < NGX_HTTP_CX_SECRET_MIN) {
        if (ngx_test_config) {
            return NGX_ERROR;       /* the store was not read: no secret yet */
        }

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "ngx_cx: no secret (neither cx_secret_file nor the "
                      "store): no prompts are offered");
        return NGX_ERROR;
    }

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx token v1", sizeof("ngx_cx token v1") - 1, key);
    ngx_cx_hmac_key_init(&cmcf->token_key, key, sizeof(key));

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx cookie v1", sizeof("ngx_cx cookie v1") - 1,
                       key);
    ngx_cx_hmac_key_init(&cmcf->cookie_key, key, sizeof(key));

    ngx_cx_hmac_sha256(cmcf->secret.data, cmcf->secret.len,
                       "ngx_cx sample v1", sizeof("ngx_cx sample v1") - 1,
                       key);
    cmcf->sample_seed = (uint32_t) key[0] << 24 | key[1] << 16
                        | key[2] << 8 | key[3];

    ngx_explicit_memzero(key, sizeof(key));

    cmcf->keys_ready = 1;

    return NGX_OK;
}
