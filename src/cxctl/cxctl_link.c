/*
 * cxctl link: a survey link for a touchpoint off the site (README: Survey
 * links), made as <report>link makes it: signed with the token key that
 * nginx derives from its secret (the store's, or --secret-file, the
 * cx_secret_file), so every node sharing the secret serves it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cxctl.h"
#include "ngx_cx_json.h"
#include "ngx_cx_score.h"
#include "ngx_cx_sha256.h"


#define CXCTL_LINK_TTL      (14 * 86400)
#define CXCTL_LINK_TTL_MAX  (366 * 86400)
#define CXCTL_SECRET_MAX    4096


const char  cxctl_usage_link[] =
    "usage: cxctl [--store DIR] link --survey NAME --touchpoint NAME\n"
    "           [--stage STAGE] [--attr KEY=VALUE ...] [--expires 14d]\n"
    "           [--secret-file FILE] [--base /cx/]\n"
    "\n"
    "Prints a survey link: <base>s/<link>, where base is the cx_endpoint\n"
    "location (default /cx/; give the site's origin too, e.g.\n"
    "https://shop.example/cx/). The link's page asks SURVEY, counted at the\n"
    "touchpoint (and STAGE; without --stage, the stage of the location that\n"
    "declares the touchpoint, if any). It takes one answer and expires after\n"
    "--expires (s, m, h or d; at most 366d). --attr stores KEY=VALUE with the\n"
    "answer (keys: letters, digits, _; 256 bytes in all), hidden in the link.\n"
    "The key comes from --secret-file (nginx's cx_secret_file), else from\n"
    "the store's own secret.\n";


static int cxctl_link_ttl(const char *s, long *ttl);
static int cxctl_link_attr(ngx_cx_token_t *t, const char *arg);
static int cxctl_link_secret(const char *file, const char *store_opt,
    unsigned char *secret, size_t *len);
static int cxctl_random(unsigned char *buf, size_t len);


int
cxctl_cmd_link(int argc, char **argv, const char *store_opt)
{
    int               i, rc;
    long              ttl;
    size_t            n, secret_len;
    const char       *survey, *touchpoint, *stage, *expires, *file, *base;
    const char       *attr;
    time_t            now;
    ngx_cx_token_t    t;
    ngx_cx_hmac_key_t key;
    unsigned char     secret[CXCTL_SECRET_MAX], k[32];
    unsigned char     link[NGX_CX_LINK_MAX];

    survey = touchpoint = stage = expires = file = NULL;
    base = "/cx/";
    memset(&t, 0, sizeof(t));

    for (i = 0; i < argc; i++) {
        if ((rc = cxctl_opt(argc, argv, &i, "--store", &store_opt)) != 0
            || (rc = cxctl_opt(argc, argv, &i, "--survey", &survey)) != 0
            || (rc = cxctl_opt(argc, argv, &i, "--touchpoint", &touchpoint))
               != 0
            || (rc = cxctl_opt(argc, argv, &i, "--stage", &stage)) != 0
            || (rc = cxctl_opt(argc, argv, &i, "--expires", &expires)) != 0
            || (rc = cxctl_opt(argc, argv, &i, "--secret-file", &file)) != 0
            || (rc = cxctl_opt(argc, argv, &i, "--base", &base)) != 0)
        {
            if (rc < 0) {
                return CXCTL_EXIT_USAGE;
            }
            continue;
        }

        rc = cxctl_opt(argc, argv, &i, "--attr", &attr);
        if (rc < 0) {
            return CXCTL_EXIT_USAGE;
        }

        if (rc == 0) {
            return cxctl_unexpected("link", argv[i]);
        }

        if (cxctl_link_attr(&t, attr) != 0) {
            cxctl_error("--attr \"%s\": KEY=VALUE with a key of 1 to 64 "
                        "letters, digits or _, a value of printable UTF-8, "
                        "256 bytes in all", attr);
            return CXCTL_EXIT_USAGE;
        }
    }

    if (survey == NULL
        || !ngx_cx_name_valid((const unsigned char *) survey, strlen(survey)))
    {
        cxctl_error("--survey NAME is needed (letters, digits, _, - and ., "
                    "1 to 64)");
        return CXCTL_EXIT_USAGE;
    }

    if (touchpoint == NULL
        || !ngx_cx_name_valid((const unsigned char *) touchpoint,
                              strlen(touchpoint)))
    {
        cxctl_error("--touchpoint NAME is needed (letters, digits, _, - and "
                    "., 1 to 64)");
        return CXCTL_EXIT_USAGE;
    }

    if (stage) {
        t.stage = (unsigned char) ngx_cx_stage_from_name(stage,
                                                         strlen(stage));
        if (t.stage == 0) {
            cxctl_error("--stage \"%s\": one of awareness, consideration, "
                        "purchase, usage, loyalty, advocacy", stage);
            return CXCTL_EXIT_USAGE;
        }
    }

    ttl = CXCTL_LINK_TTL;

    if (expires && cxctl_link_ttl(expires, &ttl) != 0) {
        cxctl_error("--expires \"%s\": a time from 1s to 366d, e.g. 14d",
                    expires);
        return CXCTL_EXIT_USAGE;
    }

    rc = cxctl_link_secret(file, store_opt, secret, &secret_len);
    if (rc != CXCTL_EXIT_OK) {
        return rc;
    }

    /* the token key, as nginx derives it (ngx_http_cx_keys.c) */
    ngx_cx_hmac_sha256(secret, secret_len, "ngx_cx token v1",
                       sizeof("ngx_cx token v1") - 1, k);
    ngx_cx_hmac_key_init(&key, k, sizeof(k));
    memset(secret, 0, sizeof(secret));
    memset(k, 0, sizeof(k));

    t.survey_len = (unsigned char) strlen(survey);
    memcpy(t.survey, survey, t.survey_len);
    t.touchpoint_len = (unsigned char) strlen(touchpoint);
    memcpy(t.touchpoint, touchpoint, t.touchpoint_len);

    now = time(NULL);
    t.issued_at = (uint32_t) now;

    if (cxctl_random(t.visitor, sizeof(t.visitor)) != 0
        || cxctl_random(t.nonce, sizeof(t.nonce)) != 0)
    {
        cxctl_error("no random bytes: %s", strerror(errno));
        return CXCTL_EXIT_FAIL;
    }

    n = ngx_cx_link_encode(link, sizeof(link), &key, &t,
                           (uint32_t) (now + ttl));
    if (n == 0) {
        cxctl_error("the link could not be made");
        return CXCTL_EXIT_FAIL;
    }

    printf("%s%ss/%.*s\n", base,
           base[0] && base[strlen(base) - 1] == '/' ? "" : "/",
           (int) n, link);

    return fflush(stdout) == 0 ? CXCTL_EXIT_OK : CXCTL_EXIT_FAIL;
}


/* 14d, 12h, 30m, 3600s or 3600: seconds, 1 to 366 days */

static int
cxctl_link_ttl(const char *s, long *ttl)
{
    char  *end;
    long   v, unit;

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno || end == s || v <= 0) {
        return -1;
    }

    unit = 1;

    if (*end == 'd') {
        unit = 86400;
        end++;

    } else if (*end == 'h') {
        unit = 3600;
        end++;

    } else if (*end == 'm') {
        unit = 60;
        end++;

    } else if (*end == 's') {
        end++;
    }

    if (*end != '\0' || v > CXCTL_LINK_TTL_MAX / unit) {
        return -1;
    }

    *ttl = v * unit;

    return 0;
}


/* one --attr KEY=VALUE appended to the link's attributes */

static int
cxctl_link_attr(ngx_cx_token_t *t, const char *arg)
{
    size_t       klen, vlen, i, w;
    const char  *eq, *v;

    eq = strchr(arg, '=');
    if (eq == NULL) {
        return -1;
    }

    klen = (size_t) (eq - arg);
    if (klen == 0 || klen > NGX_CX_NAME_MAX) {
        return -1;
    }

    for (i = 0; i < klen; i++) {
        if (!((arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= 'A' && arg[i] <= 'Z')
              || (arg[i] >= '0' && arg[i] <= '9') || arg[i] == '_'))
        {
            return -1;
        }
    }

    v = eq + 1;
    vlen = strlen(v);

    for (i = 0; i < vlen; i++) {
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f) {
            return -1;
        }
    }

    if (!ngx_cx_utf8_valid((const unsigned char *) v, vlen, NULL)) {
        return -1;
    }

    w = ngx_cx_attrs_put(t->attrs + t->attrs_len,
                         NGX_CX_ATTRS_MAX - t->attrs_len, arg, klen, v, vlen);
    if (w == 0) {
        return -1;
    }

    t->attrs_len = (uint16_t) (t->attrs_len + w);

    return 0;
}


/*
 * The secret: --secret-file's bytes without trailing newlines (as nginx
 * reads cx_secret_file), else the store's "secret" in meta.
 */

static int
cxctl_link_secret(const char *file, const char *store_opt,
    unsigned char *secret, size_t *len)
{
    int            rc;
    FILE          *f;
    size_t         n;
    MDB_txn       *txn;
    MDB_val        k, v;
    cxctl_store_t  st;

    if (file) {
        f = fopen(file, "rb");
        if (f == NULL) {
            cxctl_error("--secret-file %s: %s", file, strerror(errno));
            return CXCTL_EXIT_FAIL;
        }

        n = fread(secret, 1, CXCTL_SECRET_MAX, f);
        rc = ferror(f) || fgetc(f) != EOF;
        fclose(f);

        while (n && (secret[n - 1] == '\n' || secret[n - 1] == '\r')) {
            n--;
        }

        if (rc || n < 32) {
            cxctl_error("--secret-file %s: must hold 32 to 4096 bytes", file);
            return CXCTL_EXIT_FAIL;
        }

        *len = n;
        return CXCTL_EXIT_OK;
    }

    rc = cxctl_open(&st, store_opt, 0);
    if (rc != CXCTL_EXIT_OK) {
        return rc;
    }

    rc = CXCTL_EXIT_FAIL;

    if (mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn) == 0) {
        k.mv_data = NGX_CX_META_SECRET;
        k.mv_size = sizeof(NGX_CX_META_SECRET) - 1;

        if (mdb_get(txn, st.meta, &k, &v) == 0 && v.mv_size >= 32
            && v.mv_size <= CXCTL_SECRET_MAX)
        {
            memcpy(secret, v.mv_data, v.mv_size);
            *len = v.mv_size;
            rc = CXCTL_EXIT_OK;

        } else {
            cxctl_error("%s has no secret of its own (nginx uses "
                        "cx_secret_file): give --secret-file", st.path);
        }

        mdb_txn_abort(txn);
    }

    cxctl_store_close(&st);

    return rc;
}


static int
cxctl_random(unsigned char *buf, size_t len)
{
    FILE    *f;
    size_t   n;

    f = fopen("/dev/urandom", "rb");
    if (f == NULL) {
        return -1;
    }

    n = fread(buf, 1, len, f);
    fclose(f);

    return n == len ? 0 : -1;
}
