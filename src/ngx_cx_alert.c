/*
 * ngx_cx_alert: see ngx_cx_alert.h.
 */

#include <string.h>

#include "ngx_cx_alert.h"
#include "ngx_cx_number.h"


static const char *ngx_cx_when_op(const unsigned char **p,
    const unsigned char *last, unsigned *op);
static int ngx_cx_when_compare(unsigned op, int cmp);


/* ---- conditions ---- */

static const char *
ngx_cx_when_op(const unsigned char **p, const unsigned char *last,
    unsigned *op)
{
    const unsigned char  *s = *p;

    if (s == last) {
        return "needs an operator: = != < <= > >=";
    }

    if (s + 1 < last && s[1] == '=') {
        switch (s[0]) {
        case '!': *op = NGX_CX_OP_NE; break;
        case '<': *op = NGX_CX_OP_LE; break;
        case '>': *op = NGX_CX_OP_GE; break;
        case '=': return "uses \"==\": write \"=\"";
        default:  return "needs an operator: = != < <= > >=";
        }

        *p = s + 2;
        return NULL;
    }

    switch (s[0]) {
    case '=': *op = NGX_CX_OP_EQ; break;
    case '<': *op = NGX_CX_OP_LT; break;
    case '>': *op = NGX_CX_OP_GT; break;
    default:  return "needs an operator: = != < <= > >=";
    }

    *p = s + 1;
    return NULL;
}


int
ngx_cx_when_parse(const unsigned char *s, size_t len, ngx_cx_when_t *w,
    const char **err)
{
    size_t                i;
    const unsigned char  *p, *last, *start;

    memset(w, 0, sizeof(*w));
    last = s + len;

    if (len == 7 && memcmp(s, "comment", 7) == 0) {
        w->what = NGX_CX_WHEN_COMMENT;
        return 0;
    }

    if (len > 5 && memcmp(s, "score", 5) == 0) {
        w->what = NGX_CX_WHEN_SCORE;
        p = s + 5;

    } else if (len > 4 && memcmp(s, "band", 4) == 0) {
        w->what = NGX_CX_WHEN_BAND;
        p = s + 4;

    } else if (len > 5 && memcmp(s, "attr.", 5) == 0) {
        w->what = NGX_CX_WHEN_ATTR;
        start = s + 5;

        for (p = start; p < last && *p != '=' && *p != '!' && *p != '<'
                        && *p != '>'; p++)
        {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
                  || *p == '.'))
            {
                *err = "names an attribute with a character outside "
                       "A-Z a-z 0-9 _ - .";
                return -1;
            }
        }

        if (p == start || (size_t) (p - start) > sizeof(w->key)) {
            *err = "needs an attribute name of 1 to 255 characters, "
                   "such as \"attr.order_total>=100\"";
            return -1;
        }

        w->key_len = p - start;
        memcpy(w->key, start, w->key_len);

    } else {
        *err = "is not a condition: score<=N, score>=N, band=detractor, "
               "comment or attr.NAME>=VALUE";
        return -1;
    }

    *err = ngx_cx_when_op(&p, last, &w->op);
    if (*err) {
        return -1;
    }

    w->value_len = last - p;

    if (w->value_len == 0 || w->value_len > sizeof(w->value)) {
        *err = "needs a value of 1 to 255 bytes after its operator";
        return -1;
    }

    memcpy(w->value, p, w->value_len);
    w->numeric = ngx_cx_number_read((const char *) w->value, w->value_len,
                                    &w->number);

    switch (w->what) {

    case NGX_CX_WHEN_SCORE:
        if (!w->numeric || w->number != (double) (int) w->number
            || w->number < 0 || w->number > 10)
        {
            *err = "compares the score with something other than a whole "
                   "number from 0 to 10";
            return -1;
        }
        break;

    case NGX_CX_WHEN_BAND:
        if (w->op != NGX_CX_OP_EQ && w->op != NGX_CX_OP_NE) {
            *err = "compares a band with other than = or !=";
            return -1;
        }

        for (i = 1; i <= 3; i++) {
            if (w->value_len == strlen(ngx_cx_band_name((int) i))
                && memcmp(w->value, ngx_cx_band_name((int) i), w->value_len)
                   == 0)
            {
                w->band = (int) i;
            }
        }

        if (w->band == 0) {
            *err = "names an unknown band: the bands are detractor, "
                   "passive and promoter";
            return -1;
        }
        break;

    default:
        break;
    }

    return 0;
}


static int
ngx_cx_when_compare(unsigned op, int cmp)
{
    switch (op) {
    case NGX_CX_OP_EQ: return cmp == 0;
    case NGX_CX_OP_NE: return cmp != 0;
    case NGX_CX_OP_LT: return cmp < 0;
    case NGX_CX_OP_LE: return cmp <= 0;
    case NGX_CX_OP_GT: return cmp > 0;
    case NGX_CX_OP_GE: return cmp >= 0;
    default:           return 0;
    }
}


int
ngx_cx_when_holds(const ngx_cx_when_t *w, const ngx_cx_record_t *rec)
{
    int             found, answered;
    double          n;
    ngx_cx_bytes_t  cursor, key, val, last;

    answered = (rec->flags & NGX_CX_REC_ANSWERED) != 0;

    switch (w->what) {

    case NGX_CX_WHEN_COMMENT:
        return rec->comment.len > 0;

    case NGX_CX_WHEN_SCORE:
        if (!answered) {
            return 0;
        }

        n = (double) rec->score;
        return ngx_cx_when_compare(w->op, (n > w->number) - (n < w->number));

    case NGX_CX_WHEN_BAND:
        if (!answered) {
            return 0;
        }

        return ngx_cx_when_compare(w->op,
                                   ngx_cx_band(rec->type, rec->score)
                                   != w->band);

    case NGX_CX_WHEN_ATTR:
        cursor = rec->attrs;
        found = 0;
        last.data = NULL;
        last.len = 0;

        /* the last of a repeated key wins, as in the exports */
        while (ngx_cx_attrs_next(&cursor, &key, &val) == 1) {
            if (key.len == w->key_len
                && memcmp(key.data, w->key, key.len) == 0)
            {
                found = 1;
                last = val;
            }
        }

        if (!found) {
            return w->op == NGX_CX_OP_NE;
        }

        if (w->numeric
            && ngx_cx_number_read((const char *) last.data, last.len, &n))
        {
            return ngx_cx_when_compare(w->op,
                                       (n > w->number) - (n < w->number));
        }

        if (w->op != NGX_CX_OP_EQ && w->op != NGX_CX_OP_NE) {
            return 0;
        }

        return ngx_cx_when_compare(w->op,
                                   !(last.len == w->value_len
                                     && (last.len == 0
                                         || memcmp(last.data, w->value,
                                                   last.len) == 0)));

    default:
        return 0;
    }
}


/* ---- alerts ---- */

int
ngx_cx_alert_key_ms(const unsigned char *key, size_t len, uint64_t *ms)
{
    return ngx_cx_key_time(key, len, NGX_CX_ALERT_KEY_LEN, 4, 1000, ms);
}


int
ngx_cx_delivery_key_ms(const unsigned char *key, size_t len, uint64_t *ms)
{
    return ngx_cx_key_time(key, len, NGX_CX_DELIVERY_KEY_LEN, 8, 1, ms);
}


void
ngx_cx_alert_key(unsigned char key[NGX_CX_ALERT_KEY_LEN],
    const unsigned char response_id[NGX_CX_RESPONSE_KEY_LEN],
    uint32_t rule_id)
{
    memcpy(key, response_id, NGX_CX_RESPONSE_KEY_LEN);
    ngx_cx_put_be(key + NGX_CX_RESPONSE_KEY_LEN, rule_id, 4);
}


size_t
ngx_cx_alert_encode(unsigned char dst[NGX_CX_ALERT_VAL_MAX],
    const ngx_cx_alert_t *a)
{
    if (a->state > NGX_CX_ALERT_RESOLVED || a->sent > 0xff
        || a->failed > 0xff || a->levels == 0
        || a->levels > NGX_CX_ALERT_LEVELS_MAX
        || a->rule.len > NGX_CX_NAME_MAX
        || (a->rule.len && a->rule.data == NULL))
    {
        return 0;
    }

    dst[0] = 1;
    dst[1] = (unsigned char) a->state;
    dst[2] = (unsigned char) a->sent;
    dst[3] = (unsigned char) a->failed;
    dst[4] = (unsigned char) a->levels;
    ngx_cx_put_be(dst + 5, a->created_ms, 8);
    ngx_cx_put_be(dst + 13, a->acked_ms, 8);
    ngx_cx_put_be(dst + 21, a->resolved_ms, 8);
    dst[29] = (unsigned char) a->rule.len;

    if (a->rule.len) {
        memcpy(dst + NGX_CX_ALERT_VAL_MIN, a->rule.data, a->rule.len);
    }

    return NGX_CX_ALERT_VAL_MIN + a->rule.len;
}


int
ngx_cx_alert_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_alert_t *a)
{
    if (klen != NGX_CX_ALERT_KEY_LEN || vlen < NGX_CX_ALERT_VAL_MIN
        || val[0] != 1 || val[1] > NGX_CX_ALERT_RESOLVED
        || val[4] == 0 || val[4] > NGX_CX_ALERT_LEVELS_MAX
        || val[29] > NGX_CX_NAME_MAX
        || vlen != (size_t) NGX_CX_ALERT_VAL_MIN + val[29])
    {
        return -1;
    }

    memcpy(a->key, key, NGX_CX_ALERT_KEY_LEN);
    a->state = val[1];
    a->sent = val[2];
    a->failed = val[3];
    a->levels = val[4];
    a->created_ms = ngx_cx_get_be(val + 5, 8);
    a->acked_ms = ngx_cx_get_be(val + 13, 8);
    a->resolved_ms = ngx_cx_get_be(val + 21, 8);
    a->rule.len = val[29];
    a->rule.data = a->rule.len ? val + NGX_CX_ALERT_VAL_MIN : NULL;

    return 0;
}


const char *
ngx_cx_alert_state_name(unsigned state)
{
    switch (state) {
    case NGX_CX_ALERT_OPEN:         return "open";
    case NGX_CX_ALERT_ACKNOWLEDGED: return "acknowledged";
    case NGX_CX_ALERT_RESOLVED:     return "resolved";
    default:                        return "";
    }
}


const char *
ngx_cx_alert_status(const ngx_cx_alert_t *a)
{
    if (a->failed) {
        return "failed";
    }

    if (a->state == NGX_CX_ALERT_OPEN && (a->sent & ~1u)) {
        return "escalated";
    }

    return ngx_cx_alert_state_name(a->state);
}


/* ---- deliveries ---- */

void
ngx_cx_delivery_encode(unsigned char key[NGX_CX_DELIVERY_KEY_LEN],
    unsigned char val[NGX_CX_DELIVERY_VAL_LEN], const ngx_cx_delivery_t *d)
{
    ngx_cx_put_be(key, d->due_ms, 8);
    memcpy(key + 8, d->alert, NGX_CX_ALERT_KEY_LEN);
    key[8 + NGX_CX_ALERT_KEY_LEN] = (unsigned char) d->level;

    ngx_cx_put_be(val, d->attempts > 0xffff ? 0xffff : d->attempts, 2);
    ngx_cx_put_be(val + 2, d->first_ms, 8);
}


int
ngx_cx_delivery_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_delivery_t *d)
{
    if (klen != NGX_CX_DELIVERY_KEY_LEN || vlen != NGX_CX_DELIVERY_VAL_LEN
        || key[8 + NGX_CX_ALERT_KEY_LEN] >= NGX_CX_ALERT_LEVELS_MAX)
    {
        return -1;
    }

    d->due_ms = ngx_cx_get_be(key, 8);
    memcpy(d->alert, key + 8, NGX_CX_ALERT_KEY_LEN);
    d->level = key[8 + NGX_CX_ALERT_KEY_LEN];
    d->attempts = (unsigned) ngx_cx_get_be(val, 2);
    d->first_ms = ngx_cx_get_be(val + 2, 8);

    return 0;
}


uint64_t
ngx_cx_delivery_backoff_ms(unsigned attempts)
{
    /* 1 s, 2 s, 4 s ... 512 s, then 10 min */
    return attempts >= 10 ? 600000 : (uint64_t) 1000 << attempts;
}


int
ngx_cx_delivery_retryable(unsigned status)
{
    return status == 0 || status == 408 || status == 429
           || (status >= 500 && status <= 599);
}
