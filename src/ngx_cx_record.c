/*
 * ngx_cx_record -- see ngx_cx_record.h for the format and the contract.
 */

#include <string.h>

#include "ngx_cx_record.h"
#include "ngx_cx_device.h"


#define NGX_CX_REC_FIXED_SIZE   (5 + 12)
/* ngx_cx_record.h: extensions */
#define NGX_CX_REC_EXT_PREVIOUS 1
#define NGX_CX_REC_EXT_FOLLOWUP 2
#define NGX_CX_REC_EXT_NUMBERS  3
#define NGX_CX_REC_EXT_DEVICE   4
#define NGX_CX_MS_PER_DAY       86400000ULL

/* days from 1970-01-01 to 10000-01-01: the first instant we do not format */
#define NGX_CX_DAYS_TO_Y10K     2932897ULL


static size_t ngx_cx_varint_size(uint64_t v);
static unsigned char *ngx_cx_put_varint(unsigned char *p, uint64_t v);
static inline int ngx_cx_get_varint(const unsigned char **pp,
    const unsigned char *end, uint64_t *v);
static unsigned char *ngx_cx_put_bytes(unsigned char *p,
    const ngx_cx_bytes_t *b);
static int ngx_cx_get_bytes(const unsigned char **pp,
    const unsigned char *end, ngx_cx_bytes_t *b);
static int ngx_cx_record_score_ok(unsigned char type, int score);
static int ngx_cx_attrs_valid(ngx_cx_bytes_t blob);
static void ngx_cx_civil_from_days(uint64_t days, unsigned *y, unsigned *m,
    unsigned *d);
static uint64_t ngx_cx_days_from_civil(unsigned y, unsigned m, unsigned d);
static char *ngx_cx_put_digits(char *p, unsigned v, int n);


int
ngx_cx_record_valid(const ngx_cx_record_t *r)
{
    const ngx_cx_bytes_t  *f[7];
    int                    i;

    if (r->flags & ~(unsigned) NGX_CX_REC_ALL_FLAGS) {
        return 0;
    }

    if (r->stage > NGX_CX_STAGE_MAX || r->device > NGX_CX_DEVICE_MAX) {
        return 0;
    }

    if (r->type < NGX_CX_TYPE_NPS || r->type > NGX_CX_TYPE_CES) {
        return 0;
    }

    if ((r->flags & NGX_CX_REC_ANSWERED)
        && !ngx_cx_record_score_ok(r->type, r->score))
    {
        return 0;
    }

    if (r->has_previous > 1
        || (r->has_previous
            && !ngx_cx_record_score_ok(r->type, r->previous_score)))
    {
        return 0;
    }

    f[0] = &r->survey;
    f[1] = &r->touchpoint;
    f[2] = &r->lang;
    f[3] = &r->path;
    f[4] = &r->comment;
    f[5] = &r->attrs;
    f[6] = &r->followup;

    for (i = 0; i < 7; i++) {
        if (f[i]->len > 0 && f[i]->data == NULL) {
            return 0;
        }
    }

    return ngx_cx_attrs_valid(r->attrs);
}


size_t
ngx_cx_record_size(const ngx_cx_record_t *r)
{
    return NGX_CX_REC_FIXED_SIZE
           + ngx_cx_varint_size(r->issued_at_ms)
           + ngx_cx_varint_size(r->displayed_at_ms)
           + ngx_cx_varint_size(r->answered_at_ms)
           + ngx_cx_varint_size(r->commented_at_ms)
           + ngx_cx_varint_size(r->dismissed_at_ms)
           + ngx_cx_varint_size(r->survey.len) + r->survey.len
           + ngx_cx_varint_size(r->touchpoint.len) + r->touchpoint.len
           + ngx_cx_varint_size(r->lang.len) + r->lang.len
           + ngx_cx_varint_size(r->path.len) + r->path.len
           + ngx_cx_varint_size(r->comment.len) + r->comment.len
           + ngx_cx_varint_size(r->attrs.len) + r->attrs.len
           + (r->has_previous ? 3 : 0)
           + (r->followup.len ? 1 + ngx_cx_varint_size(r->followup.len)
                                + r->followup.len : 0)
           + (r->attr_numbers ? 2 + ngx_cx_varint_size(r->attr_numbers) : 0)
           + (r->device ? 3 : 0);
}


unsigned char *
ngx_cx_record_encode(unsigned char *dst, const ngx_cx_record_t *r)
{
    unsigned char  *p;

    p = dst;

    *p++ = NGX_CX_RECORD_VERSION;
    *p++ = (unsigned char) r->flags;
    *p++ = r->type;
    *p++ = r->stage;
    *p++ = (r->flags & NGX_CX_REC_ANSWERED) ? (unsigned char) r->score : 0;

    memcpy(p, r->visitor, 12);
    p += 12;

    p = ngx_cx_put_varint(p, r->issued_at_ms);
    p = ngx_cx_put_varint(p, r->displayed_at_ms);
    p = ngx_cx_put_varint(p, r->answered_at_ms);
    p = ngx_cx_put_varint(p, r->commented_at_ms);
    p = ngx_cx_put_varint(p, r->dismissed_at_ms);

    p = ngx_cx_put_bytes(p, &r->survey);
    p = ngx_cx_put_bytes(p, &r->touchpoint);
    p = ngx_cx_put_bytes(p, &r->lang);
    p = ngx_cx_put_bytes(p, &r->path);
    p = ngx_cx_put_bytes(p, &r->comment);
    p = ngx_cx_put_bytes(p, &r->attrs);

    if (r->has_previous) {
        *p++ = NGX_CX_REC_EXT_PREVIOUS;
        *p++ = 1;
        *p++ = (unsigned char) r->previous_score;
    }

    if (r->followup.len) {
        *p++ = NGX_CX_REC_EXT_FOLLOWUP;
        p = ngx_cx_put_bytes(p, &r->followup);
    }

    if (r->attr_numbers) {
        *p++ = NGX_CX_REC_EXT_NUMBERS;
        *p++ = (unsigned char) ngx_cx_varint_size(r->attr_numbers);
        p = ngx_cx_put_varint(p, r->attr_numbers);
    }

    if (r->device) {
        *p++ = NGX_CX_REC_EXT_DEVICE;
        *p++ = 1;
        *p++ = r->device;
    }

    return p;
}


int
ngx_cx_record_decode(const unsigned char *src, size_t len, ngx_cx_record_t *r)
{
    uint64_t              tag, elen;
    const unsigned char  *p, *end, *e;

    if (src == NULL || len < NGX_CX_REC_FIXED_SIZE
        || src[0] != NGX_CX_RECORD_VERSION)
    {
        return -1;
    }

    p = src + 1;
    end = src + len;

    r->flags = p[0];
    r->type = p[1];
    r->stage = p[2];
    r->score = p[3];
    p += 4;

    if (r->flags & ~(unsigned) NGX_CX_REC_ALL_FLAGS) {
        return -1;
    }

    if (r->stage > NGX_CX_STAGE_MAX) {
        return -1;
    }

    if (r->type < NGX_CX_TYPE_NPS || r->type > NGX_CX_TYPE_CES) {
        return -1;
    }

    if (r->flags & NGX_CX_REC_ANSWERED) {
        if (!ngx_cx_record_score_ok(r->type, r->score)) {
            return -1;
        }

    } else if (r->score != 0) {
        /* the encoder writes 0 there; anything else is a damaged byte */
        return -1;
    }

    memcpy(r->visitor, p, 12);
    p += 12;

    if (ngx_cx_get_varint(&p, end, &r->issued_at_ms) != 0
        || ngx_cx_get_varint(&p, end, &r->displayed_at_ms) != 0
        || ngx_cx_get_varint(&p, end, &r->answered_at_ms) != 0
        || ngx_cx_get_varint(&p, end, &r->commented_at_ms) != 0
        || ngx_cx_get_varint(&p, end, &r->dismissed_at_ms) != 0)
    {
        return -1;
    }

    if (ngx_cx_get_bytes(&p, end, &r->survey) != 0
        || ngx_cx_get_bytes(&p, end, &r->touchpoint) != 0
        || ngx_cx_get_bytes(&p, end, &r->lang) != 0
        || ngx_cx_get_bytes(&p, end, &r->path) != 0
        || ngx_cx_get_bytes(&p, end, &r->comment) != 0
        || ngx_cx_get_bytes(&p, end, &r->attrs) != 0)
    {
        return -1;
    }

    if (!ngx_cx_attrs_valid(r->attrs)) {
        return -1;
    }

    /*
     * Extensions: the ones this version knows must be exactly as it writes
     * them (once each); a later writer's must be well-formed, and are
     * skipped.
     */

    r->has_previous = 0;
    r->previous_score = 0;
    r->followup.data = NULL;
    r->followup.len = 0;
    r->attr_numbers = 0;
    r->device = 0;

    while (p < end) {
        if (ngx_cx_get_varint(&p, end, &tag) != 0
            || ngx_cx_get_varint(&p, end, &elen) != 0
            || elen > (uint64_t) (end - p))
        {
            return -1;
        }

        if (tag == NGX_CX_REC_EXT_PREVIOUS) {
            if (elen != 1 || r->has_previous
                || !ngx_cx_record_score_ok(r->type, p[0]))
            {
                return -1;
            }

            r->has_previous = 1;
            r->previous_score = p[0];

        } else if (tag == NGX_CX_REC_EXT_FOLLOWUP) {
            if (elen == 0 || r->followup.len) {
                return -1;
            }

            r->followup.data = p;
            r->followup.len = (size_t) elen;

        } else if (tag == NGX_CX_REC_EXT_NUMBERS) {
            e = p;

            /* one varint that fills the extension, never 0 */
            if (r->attr_numbers
                || ngx_cx_get_varint(&e, p + elen, &r->attr_numbers) != 0
                || e != p + elen || r->attr_numbers == 0)
            {
                return -1;
            }

        } else if (tag == NGX_CX_REC_EXT_DEVICE) {
            if (elen != 1 || r->device || p[0] == NGX_CX_DEVICE_UNKNOWN
                || p[0] > NGX_CX_DEVICE_MAX)
            {
                return -1;
            }

            r->device = p[0];
        }

        p += elen;
    }

    return 0;
}


/* ---- responses database keys ---- */

void
ngx_cx_response_key(unsigned char key[NGX_CX_RESPONSE_KEY_LEN],
    uint32_t issued_s, const unsigned char nonce[8])
{
    ngx_cx_put_be(key, issued_s, 4);
    memcpy(key + 4, nonce, 8);
}


int
ngx_cx_response_key_ms(const unsigned char *key, size_t len, uint64_t *ms)
{
    return ngx_cx_key_time(key, len, NGX_CX_RESPONSE_KEY_LEN, 4, 1000, ms);
}


int
ngx_cx_key_time(const unsigned char *key, size_t len, size_t key_len,
    int bytes, uint64_t unit_ms, uint64_t *ms)
{
    if (len != key_len) {
        return -1;
    }

    *ms = ngx_cx_get_be(key, bytes) * unit_ms;

    return 0;
}


int
ngx_cx_response_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_record_t *r)
{
    (void) key;         /* any 12 bytes name a response */

    if (klen != NGX_CX_RESPONSE_KEY_LEN) {
        return -1;
    }

    return ngx_cx_record_decode(val, vlen, r);
}


/* ---- the response's state machine ---- */

ngx_cx_apply_e
ngx_cx_record_apply(ngx_cx_record_t *r, const ngx_cx_change_t *ch,
    const char **error)
{
    switch (ch->event) {

    case NGX_CX_EVENT_DISPLAY:
        if (r->flags & NGX_CX_REC_DISPLAYED) {
            return NGX_CX_APPLY_SAME;
        }

        r->flags |= NGX_CX_REC_DISPLAYED;
        r->displayed_at_ms = ch->at_ms;
        return NGX_CX_APPLY_CHANGED;

    case NGX_CX_EVENT_ANSWER:
    case NGX_CX_EVENT_DISMISS:
        if (r->flags & (NGX_CX_REC_ANSWERED|NGX_CX_REC_DISMISSED)) {
            *error = (r->flags & NGX_CX_REC_ANSWERED)
                     ? "already answered" : "already dismissed";
            return NGX_CX_APPLY_CONFLICT;
        }

        if (ch->event == NGX_CX_EVENT_DISMISS) {
            r->flags |= NGX_CX_REC_DISMISSED;
            r->dismissed_at_ms = ch->at_ms;
            return NGX_CX_APPLY_CHANGED;
        }

        r->flags |= NGX_CX_REC_ANSWERED;
        r->answered_at_ms = ch->at_ms;
        r->score = ch->score;

        /* a previous answer on another scale (a changed survey) is not one */
        r->has_previous = ch->has_previous
                          && ngx_cx_record_score_ok(r->type,
                                                    ch->previous_score);
        r->previous_score = r->has_previous ? ch->previous_score : 0;
        r->followup = ch->followup;
        r->device = ch->device;

        return NGX_CX_APPLY_CHANGED;

    case NGX_CX_EVENT_COMMENT:
        if (!(r->flags & NGX_CX_REC_ANSWERED)) {
            *error = "no answer to comment on";
            return NGX_CX_APPLY_CONFLICT;
        }

        if (r->flags & NGX_CX_REC_COMMENTED) {
            *error = "already commented";
            return NGX_CX_APPLY_CONFLICT;
        }

        r->flags |= NGX_CX_REC_COMMENTED;
        r->commented_at_ms = ch->at_ms;
        r->comment = ch->comment;
        return NGX_CX_APPLY_CHANGED;

    default:
        *error = "unknown event";
        return NGX_CX_APPLY_UNKNOWN;
    }
}


ngx_cx_apply_e
ngx_cx_record_update(const unsigned char *old, size_t old_len,
    const ngx_cx_record_t *fresh, const ngx_cx_change_t *ch,
    unsigned char *dst, size_t dst_size, size_t *len, const char **error)
{
    ngx_cx_apply_e   rc;
    ngx_cx_record_t  rec;

    if (old == NULL) {
        rec = *fresh;
        rec.flags = 0;

    } else if (ngx_cx_record_decode(old, old_len, &rec) != 0) {
        *error = "stored record is unreadable";
        return NGX_CX_APPLY_CORRUPT;
    }

    rc = ngx_cx_record_apply(&rec, ch, error);
    if (rc != NGX_CX_APPLY_CHANGED) {
        return rc;
    }

    if (ngx_cx_record_size(&rec) > dst_size) {
        *error = "record too large";
        return NGX_CX_APPLY_TOO_LARGE;
    }

    *len = ngx_cx_record_encode(dst, &rec) - dst;

    return NGX_CX_APPLY_CHANGED;
}


/* ---- journey events ---- */

void
ngx_cx_journey_key(unsigned char key[NGX_CX_JOURNEY_KEY_LEN], uint64_t at_ms,
    uint32_t pid, uint32_t seq)
{
    ngx_cx_put_be(key, at_ms, 8);
    ngx_cx_put_be(key + 8, pid, 4);
    ngx_cx_put_be(key + 12, seq, 4);
}


int
ngx_cx_journey_key_ms(const unsigned char *key, size_t len, uint64_t *at_ms)
{
    return ngx_cx_key_time(key, len, NGX_CX_JOURNEY_KEY_LEN, 8, 1, at_ms);
}


size_t
ngx_cx_journey_encode(unsigned char dst[NGX_CX_JOURNEY_VAL_MAX],
    const ngx_cx_journey_t *ev)
{
    if (ev->name_len > NGX_CX_NAME_MAX) {
        return 0;
    }

    dst[0] = ev->kind;
    dst[1] = ev->stage;
    memcpy(dst + 2, ev->visitor, NGX_CX_VISITOR_ID_LEN);
    dst[2 + NGX_CX_VISITOR_ID_LEN] = ev->name_len;
    memcpy(dst + NGX_CX_JOURNEY_VAL_MIN, ev->name, ev->name_len);

    return NGX_CX_JOURNEY_VAL_MIN + ev->name_len;
}


int
ngx_cx_journey_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_journey_t *ev)
{
    size_t  name_len;

    if (ngx_cx_journey_key_ms(key, klen, &ev->at_ms) != 0
        || vlen < NGX_CX_JOURNEY_VAL_MIN)
    {
        return -1;
    }

    name_len = val[2 + NGX_CX_VISITOR_ID_LEN];

    if (name_len > NGX_CX_NAME_MAX
        || vlen != NGX_CX_JOURNEY_VAL_MIN + name_len)
    {
        return -1;
    }

    ev->kind = val[0];
    ev->stage = val[1];
    memcpy(ev->visitor, val + 2, NGX_CX_VISITOR_ID_LEN);
    ev->name_len = (unsigned char) name_len;
    memcpy(ev->name, val + NGX_CX_JOURNEY_VAL_MIN, name_len);

    return 0;
}


const unsigned char *
ngx_cx_journey_visitor(const unsigned char *val, size_t vlen)
{
    if (vlen < 2 + NGX_CX_VISITOR_ID_LEN) {
        return NULL;
    }

    return val + 2;
}


int
ngx_cx_attrs_next(ngx_cx_bytes_t *cursor, ngx_cx_bytes_t *key,
    ngx_cx_bytes_t *val)
{
    size_t                klen, vlen, left;
    const unsigned char  *p;

    if (cursor->len == 0) {
        return 0;
    }

    p = cursor->data;
    left = cursor->len;

    klen = p[0];

    /* 1 + klen + 2 cannot overflow: klen <= 255 */
    if (klen == 0 || left < 1 + klen + 2) {
        return -1;
    }

    vlen = (size_t) p[1 + klen] | ((size_t) p[1 + klen + 1] << 8);

    if (left - (1 + klen + 2) < vlen) {
        return -1;
    }

    key->data = p + 1;
    key->len = klen;
    val->data = p + 1 + klen + 2;
    val->len = vlen;

    cursor->data = p + 1 + klen + 2 + vlen;
    cursor->len = left - (1 + klen + 2 + vlen);

    return 1;
}


size_t
ngx_cx_attrs_put(unsigned char *dst, size_t dstsize, const char *key,
    size_t klen, const char *val, size_t vlen)
{
    size_t  need;

    if (klen == 0 || klen > NGX_CX_ATTR_KEY_MAX || vlen > NGX_CX_ATTR_VAL_MAX)
    {
        return 0;
    }

    need = 1 + klen + 2 + vlen;

    if (dst == NULL || dstsize < need) {
        return 0;
    }

    dst[0] = (unsigned char) klen;
    memcpy(dst + 1, key, klen);
    dst[1 + klen] = (unsigned char) (vlen & 0xff);
    dst[1 + klen + 1] = (unsigned char) (vlen >> 8);

    if (vlen) {
        memcpy(dst + 1 + klen + 2, val, vlen);
    }

    return need;
}


size_t
ngx_cx_attrs_pack(unsigned char *dst, size_t dstsize, ngx_cx_bytes_t blob,
    unsigned numbers)
{
    size_t  extra;

    numbers &= 0xffff;
    extra = numbers ? NGX_CX_ATTRS_PACK_EXTRA : 0;

    if (blob.len > dstsize || dstsize - blob.len < extra) {
        return 0;
    }

    if (numbers) {
        dst[0] = 0;
        dst[1] = (unsigned char) (numbers & 0xff);
        dst[2] = (unsigned char) (numbers >> 8);
    }

    if (blob.len) {
        memmove(dst + extra, blob.data, blob.len);
    }

    return extra + blob.len;
}


int
ngx_cx_attrs_unpack(const unsigned char *src, size_t len,
    ngx_cx_bytes_t *blob, uint64_t *numbers)
{
    *numbers = 0;

    if (len == 0 || src[0] != 0) {
        blob->data = len ? src : NULL;
        blob->len = len;
        return 0;
    }

    if (len < NGX_CX_ATTRS_PACK_EXTRA) {
        return -1;
    }

    *numbers = (uint64_t) src[1] | ((uint64_t) src[2] << 8);
    blob->data = len > NGX_CX_ATTRS_PACK_EXTRA
                 ? src + NGX_CX_ATTRS_PACK_EXTRA : NULL;
    blob->len = len - NGX_CX_ATTRS_PACK_EXTRA;

    return 0;
}


size_t
ngx_cx_iso8601(char out[NGX_CX_ISO8601_SIZE], uint64_t ms)
{
    char      *p;
    uint64_t   days, secs;
    unsigned   y, m, d, sod;

    if (ms >= NGX_CX_DAYS_TO_Y10K * NGX_CX_MS_PER_DAY) {
        ms = NGX_CX_DAYS_TO_Y10K * NGX_CX_MS_PER_DAY - 1;
    }

    secs = ms / 1000;
    days = secs / 86400;
    sod = (unsigned) (secs % 86400);

    ngx_cx_civil_from_days(days, &y, &m, &d);

    p = out;
    p = ngx_cx_put_digits(p, y, 4);
    *p++ = '-';
    p = ngx_cx_put_digits(p, m, 2);
    *p++ = '-';
    p = ngx_cx_put_digits(p, d, 2);
    *p++ = 'T';
    p = ngx_cx_put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = ngx_cx_put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = ngx_cx_put_digits(p, sod % 60, 2);
    *p++ = 'Z';
    *p = '\0';

    return (size_t) (p - out);
}


size_t
ngx_cx_ymd(char out[NGX_CX_YMD_SIZE], uint64_t ms)
{
    char      *p;
    unsigned   y, m, d;

    if (ms >= NGX_CX_DAYS_TO_Y10K * NGX_CX_MS_PER_DAY) {
        ms = NGX_CX_DAYS_TO_Y10K * NGX_CX_MS_PER_DAY - 1;
    }

    ngx_cx_civil_from_days(ms / NGX_CX_MS_PER_DAY, &y, &m, &d);

    p = out;
    p = ngx_cx_put_digits(p, y, 4);
    *p++ = '-';
    p = ngx_cx_put_digits(p, m, 2);
    *p++ = '-';
    p = ngx_cx_put_digits(p, d, 2);
    *p = '\0';

    return (size_t) (p - out);
}


int
ngx_cx_parse_ymd(const unsigned char *s, size_t len, uint64_t *day_start_ms)
{
    static const unsigned char  mdays[13] =
        { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    size_t    i;
    unsigned  y, m, d, leap;

    if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-') {
        return -1;
    }

    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            continue;
        }

        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
    }

    y = (s[0] - '0') * 1000u + (s[1] - '0') * 100u + (s[2] - '0') * 10u
        + (s[3] - '0');
    m = (s[5] - '0') * 10u + (s[6] - '0');
    d = (s[8] - '0') * 10u + (s[9] - '0');

    /* unix ms are unsigned here: nothing before the epoch exists */
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m]) {
        return -1;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m == 2 && d == 29 && !leap) {
        return -1;
    }

    *day_start_ms = ngx_cx_days_from_civil(y, m, d) * NGX_CX_MS_PER_DAY;

    return 0;
}


static size_t
ngx_cx_varint_size(uint64_t v)
{
    size_t  n;

    for (n = 1; v >= 0x80; n++) {
        v >>= 7;
    }

    return n;
}


static unsigned char *
ngx_cx_put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) ((v & 0x7f) | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


static inline int
ngx_cx_get_varint(const unsigned char **pp, const unsigned char *end,
    uint64_t *v)
{
    unsigned              shift;
    uint64_t              value;
    unsigned char         b;
    const unsigned char  *p;

    p = *pp;

    /* most varints here are one byte (lengths, flags-free fields) */
    if (p < end && *p < 0x80) {
        *v = *p;
        *pp = p + 1;
        return 0;
    }

    value = 0;

    for (shift = 0; /* void */; shift += 7) {
        if (p == end) {
            return -1;
        }

        b = *p++;

        /* the tenth byte carries bit 63 only and cannot continue */
        if (shift == 63 && b > 1) {
            return -1;
        }

        value |= (uint64_t) (b & 0x7f) << shift;

        if ((b & 0x80) == 0) {
            /* a zero last group means a longer form than needed */
            if (b == 0 && shift != 0) {
                return -1;
            }

            break;
        }
    }

    *pp = p;
    *v = value;

    return 0;
}


static unsigned char *
ngx_cx_put_bytes(unsigned char *p, const ngx_cx_bytes_t *b)
{
    p = ngx_cx_put_varint(p, b->len);

    if (b->len) {
        memcpy(p, b->data, b->len);
        p += b->len;
    }

    return p;
}


static int
ngx_cx_get_bytes(const unsigned char **pp, const unsigned char *end,
    ngx_cx_bytes_t *b)
{
    uint64_t  len;

    if (ngx_cx_get_varint(pp, end, &len) != 0
        || len > (uint64_t) (end - *pp))
    {
        return -1;
    }

    b->data = *pp;
    b->len = (size_t) len;
    *pp += len;

    return 0;
}


static int
ngx_cx_record_score_ok(unsigned char type, int score)
{
    switch (type) {

    case NGX_CX_TYPE_NPS:
        return score >= NGX_CX_NPS_MIN && score <= NGX_CX_NPS_MAX;

    case NGX_CX_TYPE_CSAT:
        return score >= NGX_CX_CSAT_MIN && score <= NGX_CX_CSAT_MAX;

    case NGX_CX_TYPE_CES:
        return score >= NGX_CX_CES_MIN && score <= NGX_CX_CES_MAX;

    default:
        return 0;
    }
}


static int
ngx_cx_attrs_valid(ngx_cx_bytes_t blob)
{
    int             rc;
    ngx_cx_bytes_t  key, val;

    if (blob.len > 0 && blob.data == NULL) {
        return 0;
    }

    while ((rc = ngx_cx_attrs_next(&blob, &key, &val)) == 1) {
        /* void */
    }

    return rc == 0;
}


/*
 * Howard Hinnant's civil_from_days / days_from_civil, restricted to dates
 * from 1970 on so that every intermediate value stays unsigned.
 */

static void
ngx_cx_civil_from_days(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    uint64_t  z, era, doe, yoe, doy, mp;

    z = days + 719468;                  /* days since 0000-03-01 */
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned) (mp < 10 ? mp + 3 : mp - 9);
    *y = (unsigned) (yoe + era * 400 + (*m <= 2));
}


static uint64_t
ngx_cx_days_from_civil(unsigned y, unsigned m, unsigned d)
{
    uint64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static char *
ngx_cx_put_digits(char *p, unsigned v, int n)
{
    int  i;

    for (i = n - 1; i >= 0; i--) {
        p[i] = (char) ('0' + v % 10);
        v /= 10;
    }

    return p + n;
}


/* n bytes of v, most significant first */

void
ngx_cx_put_be(unsigned char *p, uint64_t v, int n)
{
    while (n--) {
        p[n] = (unsigned char) v;
        v >>= 8;
    }
}


uint64_t
ngx_cx_get_be(const unsigned char *p, int n)
{
    uint64_t  v;

    v = 0;

    while (n--) {
        v = v << 8 | *p++;
    }

    return v;
}


void
ngx_cx_counter_encode(unsigned char dst[NGX_CX_COUNTER_LEN], uint64_t value)
{
    ngx_cx_put_be(dst, value, NGX_CX_COUNTER_LEN);
}


int
ngx_cx_counter_decode(const unsigned char *src, size_t len, uint64_t *value)
{
    if (len != NGX_CX_COUNTER_LEN) {
        return -1;
    }

    *value = ngx_cx_get_be(src, NGX_CX_COUNTER_LEN);

    return 0;
}
