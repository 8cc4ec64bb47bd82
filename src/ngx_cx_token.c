/*
 * Prompt tokens, visitor cookies and their codecs; see ngx_cx_token.h.
 */

#include <string.h>

#include "ngx_cx_token.h"


/* Bounds-checked cursor over a verified payload. */
typedef struct {
    const unsigned char  *pos;
    const unsigned char  *end;
} ngx_cx_reader_t;


static void ngx_cx_signed_mac(const ngx_cx_hmac_key_t *key,
    unsigned char domain, const unsigned char *payload, size_t len,
    unsigned char mac[NGX_CX_SHA256_LEN]);
static void ngx_cx_token_crypt(const ngx_cx_hmac_key_t *key,
    unsigned char version, const ngx_cx_token_t *t, unsigned char *data,
    size_t len);
static unsigned char *ngx_cx_token_payload(unsigned char *buf,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t);
static int ngx_cx_token_parse(const ngx_cx_hmac_key_t *key,
    unsigned char *buf, size_t n, ngx_cx_token_t *t, int link_only);
static int ngx_cx_visitor_valid(const ngx_cx_visitor_t *v);
static int ngx_cx_get(ngx_cx_reader_t *r, void *dst, size_t n);
static int ngx_cx_get_u8(ngx_cx_reader_t *r, unsigned char *v);
static int ngx_cx_get_u16(ngx_cx_reader_t *r, uint16_t *v);
static int ngx_cx_get_u32(ngx_cx_reader_t *r, uint32_t *v);
static unsigned char *ngx_cx_put_u16(unsigned char *p, uint16_t v);
static unsigned char *ngx_cx_put_u32(unsigned char *p, uint32_t v);


static const unsigned char  ngx_cx_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* character -> 6-bit value; 255 marks everything outside the alphabet */
static const unsigned char  ngx_cx_b64url_value[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255
};


size_t
ngx_cx_b64url_encode(unsigned char *dst, const unsigned char *src, size_t len)
{
    unsigned char  *d;
    uint32_t        v;

    d = dst;

    for ( /* void */ ; len >= 3; len -= 3, src += 3) {
        v = ((uint32_t) src[0] << 16) | ((uint32_t) src[1] << 8) | src[2];
        *d++ = ngx_cx_b64url_alphabet[(v >> 18) & 0x3f];
        *d++ = ngx_cx_b64url_alphabet[(v >> 12) & 0x3f];
        *d++ = ngx_cx_b64url_alphabet[(v >> 6) & 0x3f];
        *d++ = ngx_cx_b64url_alphabet[v & 0x3f];
    }

    if (len) {
        v = (uint32_t) src[0] << 16;

        if (len == 2) {
            v |= (uint32_t) src[1] << 8;
        }

        *d++ = ngx_cx_b64url_alphabet[(v >> 18) & 0x3f];
        *d++ = ngx_cx_b64url_alphabet[(v >> 12) & 0x3f];

        if (len == 2) {
            *d++ = ngx_cx_b64url_alphabet[(v >> 6) & 0x3f];
        }
    }

    return (size_t) (d - dst);
}


int
ngx_cx_b64url_decode(unsigned char *dst, size_t dstsize,
    const unsigned char *src, size_t len, size_t *outlen)
{
    size_t    rem, o;
    uint32_t  a, b, c, d;

    rem = len % 4;

    if (rem == 1 || NGX_CX_B64URL_DECODED_LEN(len) > dstsize) {
        return -1;
    }

    /* each quad is read whole before its 3 bytes are written: in-place safe */
    for (o = 0; len >= 4; len -= 4, src += 4) {
        a = ngx_cx_b64url_value[src[0]];
        b = ngx_cx_b64url_value[src[1]];
        c = ngx_cx_b64url_value[src[2]];
        d = ngx_cx_b64url_value[src[3]];

        if ((a | b | c | d) & 0xc0) {
            return -1;
        }

        a = (a << 18) | (b << 12) | (c << 6) | d;
        dst[o++] = (unsigned char) (a >> 16);
        dst[o++] = (unsigned char) (a >> 8);
        dst[o++] = (unsigned char) a;
    }

    if (rem) {
        a = ngx_cx_b64url_value[src[0]];
        b = ngx_cx_b64url_value[src[1]];
        c = (rem == 3) ? ngx_cx_b64url_value[src[2]] : 0;

        /* bits past the last whole byte must be zero, else two spellings decode alike */
        if ((a | b | c) & 0xc0
            || (rem == 2 && (b & 0x0f))
            || (rem == 3 && (c & 0x03)))
        {
            return -1;
        }

        a = (a << 18) | (b << 12) | (c << 6);
        dst[o++] = (unsigned char) (a >> 16);

        if (rem == 3) {
            dst[o++] = (unsigned char) (a >> 8);
        }
    }

    *outlen = o;

    return 0;
}


void
ngx_cx_hex(unsigned char *dst, const unsigned char *src, size_t len)
{
    static const unsigned char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0x0f];
    }
}


size_t
ngx_cx_signed_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, unsigned char domain,
    const unsigned char *payload, size_t len)
{
    size_t         n;
    unsigned char  mac[NGX_CX_SHA256_LEN];

    /* keeps NGX_CX_SIGNED_LEN(len) from wrapping around */
    if (len > SIZE_MAX / 2 || NGX_CX_SIGNED_LEN(len) > dstsize) {
        return 0;
    }

    ngx_cx_signed_mac(key, domain, payload, len, mac);

    n = ngx_cx_b64url_encode(dst, payload, len);
    dst[n++] = '.';
    n += ngx_cx_b64url_encode(dst + n, mac, NGX_CX_MAC_LEN);

    return n;
}


int
ngx_cx_signed_decode(const ngx_cx_hmac_key_t *key, unsigned char domain,
    const unsigned char *src, size_t len, unsigned char *payload,
    size_t payloadsize, size_t *payload_len)
{
    size_t                plen, n;
    unsigned char         mac[NGX_CX_MAC_LEN], expect[NGX_CX_SHA256_LEN];
    const unsigned char  *dot;

    if (len == 0) {
        return -1;
    }

    dot = memchr(src, '.', len);

    if (dot == NULL) {
        return -1;
    }

    plen = (size_t) (dot - src);

    if (len - plen - 1 != NGX_CX_B64URL_LEN(NGX_CX_MAC_LEN)
        || ngx_cx_b64url_decode(mac, sizeof(mac), dot + 1,
                                NGX_CX_B64URL_LEN(NGX_CX_MAC_LEN), &n) != 0
        || n != NGX_CX_MAC_LEN)
    {
        return -1;
    }

    if (ngx_cx_b64url_decode(payload, payloadsize, src, plen, &n) != 0) {
        return -1;
    }

    ngx_cx_signed_mac(key, domain, payload, n, expect);

    if (!ngx_cx_ct_equal(mac, expect, NGX_CX_MAC_LEN)) {
        if (n) {
            memset(payload, 0, n);
        }

        return -1;
    }

    *payload_len = n;

    return 0;
}


size_t
ngx_cx_token_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t)
{
    unsigned char  buf[NGX_CX_TOKEN_PAYLOAD_MAX], *p;

    p = ngx_cx_token_payload(buf, key, t);
    if (p == NULL) {
        return 0;
    }

    return ngx_cx_signed_encode(dst, dstsize, key, NGX_CX_DOMAIN_TOKEN, buf,
                                (size_t) (p - buf));
}


size_t
ngx_cx_link_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_token_t *t, uint32_t expires)
{
    unsigned char  buf[NGX_CX_TOKEN_PAYLOAD_MAX + 4], *p;

    p = ngx_cx_token_payload(buf, key, t);
    if (p == NULL) {
        return 0;
    }

    p = ngx_cx_put_u32(p, expires);

    return ngx_cx_signed_encode(dst, dstsize, key, NGX_CX_DOMAIN_LINK, buf,
                                (size_t) (p - buf));
}


/* A version 3 token's payload into buf; its end, or NULL (a bad length). */

static unsigned char *
ngx_cx_token_payload(unsigned char *buf, const ngx_cx_hmac_key_t *key,
    const ngx_cx_token_t *t)
{
    unsigned char  *p;

    if (t->survey_len > NGX_CX_NAME_MAX
        || t->touchpoint_len > NGX_CX_NAME_MAX
        || t->lang_len > NGX_CX_LANG_MAX
        || t->path_len > NGX_CX_PATH_MAX
        || t->attrs_len > NGX_CX_ATTRS_MAX
        || t->stage > NGX_CX_STAGE_MAX)
    {
        return NULL;
    }

    p = buf;
    *p++ = NGX_CX_TOKEN_VERSION;
    p = ngx_cx_put_u32(p, t->issued_at);
    memcpy(p, t->visitor, NGX_CX_VISITOR_ID_LEN);
    p += NGX_CX_VISITOR_ID_LEN;
    memcpy(p, t->nonce, sizeof(t->nonce));
    p += sizeof(t->nonce);
    *p++ = t->stage;

    *p++ = t->survey_len;
    memcpy(p, t->survey, t->survey_len);
    p += t->survey_len;

    *p++ = t->touchpoint_len;
    memcpy(p, t->touchpoint, t->touchpoint_len);
    p += t->touchpoint_len;

    *p++ = t->lang_len;
    memcpy(p, t->lang, t->lang_len);
    p += t->lang_len;

    p = ngx_cx_put_u16(p, t->path_len);
    memcpy(p, t->path, t->path_len);
    p += t->path_len;

    p = ngx_cx_put_u16(p, t->attrs_len);
    memcpy(p, t->attrs, t->attrs_len);
    ngx_cx_token_crypt(key, NGX_CX_TOKEN_VERSION, t, p, t->attrs_len);
    p += t->attrs_len;

    return p;
}


int
ngx_cx_token_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_token_t *t)
{
    size_t         n;
    unsigned char  buf[NGX_CX_TOKEN_PAYLOAD_MAX];

    memset(t, 0, sizeof(*t));

    if (len > NGX_CX_TOKEN_MAX
        || ngx_cx_signed_decode(key, NGX_CX_DOMAIN_TOKEN, src, len, buf,
                                sizeof(buf), &n) != 0)
    {
        return -1;
    }

    return ngx_cx_token_parse(key, buf, n, t, 0);
}


int
ngx_cx_link_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_token_t *t, uint32_t *expires)
{
    size_t         n;
    unsigned char  buf[NGX_CX_TOKEN_PAYLOAD_MAX + 4];

    memset(t, 0, sizeof(*t));

    if (len > NGX_CX_LINK_MAX
        || ngx_cx_signed_decode(key, NGX_CX_DOMAIN_LINK, src, len, buf,
                                sizeof(buf), &n) != 0
        || n < 4)
    {
        return -1;
    }

    if (ngx_cx_token_parse(key, buf, n - 4, t, 1) != 0) {
        return -1;
    }

    *expires = (uint32_t) buf[n - 4] << 24 | (uint32_t) buf[n - 3] << 16
               | (uint32_t) buf[n - 2] << 8 | buf[n - 1];

    return 0;
}


/*
 * Parses a genuine payload (its MAC verified) into *t and decrypts the
 * attrs; a link (link_only) must be of the current version.
 */

static int
ngx_cx_token_parse(const ngx_cx_hmac_key_t *key, unsigned char *buf,
    size_t n, ngx_cx_token_t *t, int link_only)
{
    unsigned char    version;
    ngx_cx_reader_t  r;

    r.pos = buf;
    r.end = buf + n;

    if (ngx_cx_get_u8(&r, &version) != 0
        || version < 1 || version > 3
        || (link_only && version != NGX_CX_TOKEN_VERSION)
        || ngx_cx_get_u32(&r, &t->issued_at) != 0
        || ngx_cx_get(&r, t->visitor, NGX_CX_VISITOR_ID_LEN) != 0
        || ngx_cx_get(&r, t->nonce, sizeof(t->nonce)) != 0
        || ngx_cx_get_u8(&r, &t->stage) != 0
        || t->stage > NGX_CX_STAGE_MAX

        || ngx_cx_get_u8(&r, &t->survey_len) != 0
        || t->survey_len > NGX_CX_NAME_MAX
        || ngx_cx_get(&r, t->survey, t->survey_len) != 0

        || ngx_cx_get_u8(&r, &t->touchpoint_len) != 0
        || t->touchpoint_len > NGX_CX_NAME_MAX
        || ngx_cx_get(&r, t->touchpoint, t->touchpoint_len) != 0

        || ngx_cx_get_u8(&r, &t->lang_len) != 0
        || t->lang_len > NGX_CX_LANG_MAX
        || ngx_cx_get(&r, t->lang, t->lang_len) != 0

        || ngx_cx_get_u16(&r, &t->path_len) != 0
        || t->path_len > NGX_CX_PATH_MAX
        || ngx_cx_get(&r, t->path, t->path_len) != 0

        || (version >= 2
            && (ngx_cx_get_u16(&r, &t->attrs_len) != 0
                || t->attrs_len > NGX_CX_ATTRS_MAX
                || ngx_cx_get(&r, t->attrs, t->attrs_len) != 0))

        || r.pos != r.end)
    {
        memset(t, 0, sizeof(*t));
        return -1;
    }

    /* the MAC was verified above: only genuine ciphertext is decrypted */
    ngx_cx_token_crypt(key, version, t, t->attrs, t->attrs_len);

    return 0;
}


void
ngx_cx_token_prompt_id(const ngx_cx_token_t *t,
    unsigned char id[NGX_CX_PROMPT_ID_LEN])
{
    ngx_cx_put_u32(id, t->issued_at);
    memcpy(id + 4, t->nonce, sizeof(t->nonce));
}


uint32_t
ngx_cx_name_id(const unsigned char *name, size_t len)
{
    uint32_t  h;

    h = 0x811c9dc5;

    while (len--) {
        h ^= *name++;
        h *= 0x01000193;
    }

    return h ? h : 1;
}


int
ngx_cx_name_valid(const unsigned char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_CX_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9')
              || name[i] == '_' || name[i] == '-' || name[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


void
ngx_cx_visitor_move(ngx_cx_visitor_t *v, uint32_t tp_id, unsigned stage,
    uint32_t now)
{
    v->last_tp = tp_id;
    v->last_at = now;

    if (stage >= 1 && stage <= 7) {
        v->stages |= (uint8_t) (1u << stage);
    }
}


void
ngx_cx_visitor_visit(ngx_cx_visitor_t *v, uint32_t tp_id)
{
    unsigned            i, min;
    ngx_cx_tp_count_t  *tp;

    if (v->visits != UINT32_MAX) {
        v->visits++;
    }

    if (tp_id == 0) {
        return;
    }

    for (i = 0; i < v->ntp && i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        if (v->tp[i].id == tp_id) {
            if (v->tp[i].visits != UINT16_MAX) {
                v->tp[i].visits++;
            }

            return;
        }
    }

    if (v->ntp < NGX_CX_STATE_TOUCHPOINTS) {
        tp = &v->tp[v->ntp++];

    } else {
        min = 0;

        for (i = 1; i < NGX_CX_STATE_TOUCHPOINTS; i++) {
            if (v->tp[i].visits < v->tp[min].visits) {
                min = i;
            }
        }

        tp = &v->tp[min];
    }

    tp->id = tp_id;
    tp->visits = 1;
}


unsigned
ngx_cx_visitor_tp_visits(const ngx_cx_visitor_t *v, uint32_t tp_id)
{
    unsigned  i;

    if (tp_id == 0) {
        return 0;
    }

    for (i = 0; i < v->ntp && i < NGX_CX_STATE_TOUCHPOINTS; i++) {
        if (v->tp[i].id == tp_id) {
            return v->tp[i].visits;
        }
    }

    return 0;
}


const ngx_cx_survey_mark_t *
ngx_cx_visitor_mark_get(const ngx_cx_visitor_t *v, uint32_t survey_id)
{
    unsigned  i;

    if (survey_id == 0) {
        return NULL;
    }

    for (i = 0; i < v->nsv && i < NGX_CX_STATE_SURVEYS; i++) {
        if (v->sv[i].id == survey_id) {
            return &v->sv[i];
        }
    }

    return NULL;
}


void
ngx_cx_visitor_mark(ngx_cx_visitor_t *v, uint32_t survey_id, uint32_t at,
    int score, unsigned event)
{
    unsigned               i, oldest;
    ngx_cx_survey_mark_t  *sv;

    if (event == NGX_CX_MARK_DISMISSED) {
        score = -1;

    } else if (event != NGX_CX_MARK_ANSWERED || score < 0 || score > 10) {
        return;
    }

    if (survey_id == 0) {
        return;
    }

    sv = NULL;

    for (i = 0; i < v->nsv && i < NGX_CX_STATE_SURVEYS; i++) {
        if (v->sv[i].id == survey_id) {
            sv = &v->sv[i];
            break;
        }
    }

    if (sv == NULL) {
        if (v->nsv < NGX_CX_STATE_SURVEYS) {
            sv = &v->sv[v->nsv++];

        } else {
            oldest = 0;

            for (i = 1; i < NGX_CX_STATE_SURVEYS; i++) {
                if (v->sv[i].at < v->sv[oldest].at) {
                    oldest = i;
                }
            }

            sv = &v->sv[oldest];
        }

        sv->id = survey_id;
    }

    sv->at = at;
    sv->score = (int8_t) score;
    sv->event = (uint8_t) event;
}


size_t
ngx_cx_visitor_encode(unsigned char *dst, size_t dstsize,
    const ngx_cx_hmac_key_t *key, const ngx_cx_visitor_t *v)
{
    unsigned       i;
    unsigned char  buf[NGX_CX_VISITOR_PAYLOAD_MAX], *p;

    if (ngx_cx_visitor_valid(v) != 0) {
        return 0;
    }

    p = buf;
    *p++ = NGX_CX_VISITOR_VERSION;
    memcpy(p, v->id, NGX_CX_VISITOR_ID_LEN);
    p += NGX_CX_VISITOR_ID_LEN;
    p = ngx_cx_put_u32(p, v->first_seen);
    p = ngx_cx_put_u32(p, v->visits);
    p = ngx_cx_put_u32(p, v->last_display);

    *p++ = v->ntp;

    for (i = 0; i < v->ntp; i++) {
        p = ngx_cx_put_u32(p, v->tp[i].id);
        p = ngx_cx_put_u16(p, v->tp[i].visits);
    }

    *p++ = v->nsv;

    for (i = 0; i < v->nsv; i++) {
        p = ngx_cx_put_u32(p, v->sv[i].id);
        p = ngx_cx_put_u32(p, v->sv[i].at);
        *p++ = (unsigned char) v->sv[i].score;
        *p++ = v->sv[i].event;
    }

    p = ngx_cx_put_u32(p, v->last_tp);
    p = ngx_cx_put_u32(p, v->last_at);
    *p++ = v->stages;

    return ngx_cx_signed_encode(dst, dstsize, key, NGX_CX_DOMAIN_COOKIE, buf,
                                (size_t) (p - buf));
}


int
ngx_cx_visitor_decode(const ngx_cx_hmac_key_t *key, const unsigned char *src,
    size_t len, ngx_cx_visitor_t *v)
{
    size_t           n;
    unsigned         i;
    unsigned char    buf[NGX_CX_VISITOR_PAYLOAD_MAX], version, score;
    ngx_cx_reader_t  r;

    memset(v, 0, sizeof(*v));

    if (len > NGX_CX_COOKIE_MAX
        || ngx_cx_signed_decode(key, NGX_CX_DOMAIN_COOKIE, src, len, buf,
                                sizeof(buf), &n) != 0)
    {
        return -1;
    }

    r.pos = buf;
    r.end = buf + n;

    /* every version ever issued starts with these fields */
    if (ngx_cx_get_u8(&r, &version) != 0
        || version < 1 || version > 3
        || ngx_cx_get(&r, v->id, NGX_CX_VISITOR_ID_LEN) != 0
        || ngx_cx_get_u32(&r, &v->first_seen) != 0)
    {
        goto failed;
    }

    if (version == 1) {
        if (r.pos != r.end) {
            goto failed;
        }

        return 0;
    }

    if (ngx_cx_get_u32(&r, &v->visits) != 0
        || ngx_cx_get_u32(&r, &v->last_display) != 0
        || ngx_cx_get_u8(&r, &v->ntp) != 0
        || v->ntp > NGX_CX_STATE_TOUCHPOINTS)
    {
        goto failed;
    }

    for (i = 0; i < v->ntp; i++) {
        if (ngx_cx_get_u32(&r, &v->tp[i].id) != 0
            || ngx_cx_get_u16(&r, &v->tp[i].visits) != 0)
        {
            goto failed;
        }
    }

    if (ngx_cx_get_u8(&r, &v->nsv) != 0
        || v->nsv > NGX_CX_STATE_SURVEYS)
    {
        goto failed;
    }

    for (i = 0; i < v->nsv; i++) {
        if (ngx_cx_get_u32(&r, &v->sv[i].id) != 0
            || ngx_cx_get_u32(&r, &v->sv[i].at) != 0
            || ngx_cx_get_u8(&r, &score) != 0
            || ngx_cx_get_u8(&r, &v->sv[i].event) != 0)
        {
            goto failed;
        }

        v->sv[i].score = (int8_t) (score < 0x80 ? score : score - 256);
    }

    if (version >= 3
        && (ngx_cx_get_u32(&r, &v->last_tp) != 0
            || ngx_cx_get_u32(&r, &v->last_at) != 0
            || ngx_cx_get_u8(&r, &v->stages) != 0))
    {
        goto failed;
    }

    if (r.pos != r.end || ngx_cx_visitor_valid(v) != 0) {
        goto failed;
    }

    return 0;

failed:

    memset(v, 0, sizeof(*v));

    return -1;
}


/*
 * The table rules shared by encoder and decoder, so that every state the
 * encoder writes decodes, and the lookups never meet an ambiguous table.
 */
static int
ngx_cx_visitor_valid(const ngx_cx_visitor_t *v)
{
    unsigned                     i, j;
    const ngx_cx_survey_mark_t  *sv;

    if (v->ntp > NGX_CX_STATE_TOUCHPOINTS || v->nsv > NGX_CX_STATE_SURVEYS) {
        return -1;
    }

    for (i = 0; i < v->ntp; i++) {
        if (v->tp[i].id == 0 || v->tp[i].visits == 0) {
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (v->tp[j].id == v->tp[i].id) {
                return -1;
            }
        }
    }

    for (i = 0; i < v->nsv; i++) {
        sv = &v->sv[i];

        if (sv->id == 0) {
            return -1;
        }

        if (!(sv->event == NGX_CX_MARK_ANSWERED
              && sv->score >= 0 && sv->score <= 10)
            && !(sv->event == NGX_CX_MARK_DISMISSED && sv->score == -1))
        {
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (v->sv[j].id == sv->id) {
                return -1;
            }
        }
    }

    return 0;
}


/*
 * HMAC over domain || payload, streamed through the precomputed states so
 * the payload is not copied just to prepend one byte.
 */
static void
ngx_cx_signed_mac(const ngx_cx_hmac_key_t *key, unsigned char domain,
    const unsigned char *payload, size_t len,
    unsigned char mac[NGX_CX_SHA256_LEN])
{
    ngx_cx_sha256_t  ctx;

    ctx = key->inner;
    ngx_cx_sha256_update(&ctx, &domain, 1);
    ngx_cx_sha256_update(&ctx, payload, len);
    ngx_cx_sha256_final(&ctx, mac);

    ctx = key->outer;
    ngx_cx_sha256_update(&ctx, mac, NGX_CX_SHA256_LEN);
    ngx_cx_sha256_final(&ctx, mac);
}


/*
 * XOR `len` bytes of `data` with the token's keystream (see ngx_cx_token.h);
 * encrypts and decrypts alike. Every block's input shares the 26-byte
 * prefix, absorbed once after the key's block; with the counter it fits in
 * one compression, and version 2's HMAC adds the outer one.
 */
static void
ngx_cx_token_crypt(const ngx_cx_hmac_key_t *key, unsigned char version,
    const ngx_cx_token_t *t, unsigned char *data, size_t len)
{
    size_t           i, n;
    unsigned char    prefix[2 + 4 + NGX_CX_VISITOR_ID_LEN + 8], counter;
    unsigned char    block[NGX_CX_SHA256_LEN];
    ngx_cx_sha256_t  base, ctx;

    if (len == 0) {
        return;
    }

    prefix[0] = NGX_CX_DOMAIN_KEYSTREAM;
    prefix[1] = version;
    ngx_cx_put_u32(prefix + 2, t->issued_at);
    memcpy(prefix + 6, t->visitor, NGX_CX_VISITOR_ID_LEN);
    memcpy(prefix + 6 + NGX_CX_VISITOR_ID_LEN, t->nonce, sizeof(t->nonce));

    base = (version >= 3) ? key->stream : key->inner;
    ngx_cx_sha256_update(&base, prefix, sizeof(prefix));

    /* len <= NGX_CX_ATTRS_MAX, so the counter stays below 8 */
    for (counter = 0; len; counter++) {
        ctx = base;
        ngx_cx_sha256_update(&ctx, &counter, 1);
        ngx_cx_sha256_final(&ctx, block);

        if (version < 3) {
            ctx = key->outer;
            ngx_cx_sha256_update(&ctx, block, NGX_CX_SHA256_LEN);
            ngx_cx_sha256_final(&ctx, block);
        }

        n = len < NGX_CX_SHA256_LEN ? len : NGX_CX_SHA256_LEN;

        for (i = 0; i < n; i++) {
            data[i] ^= block[i];
        }

        data += n;
        len -= n;
    }

    /* keystream and the key-derived states must not outlive the call */
    ngx_cx_wipe(block, sizeof(block));
    ngx_cx_wipe(&base, sizeof(base));
    ngx_cx_wipe(&ctx, sizeof(ctx));
}


static int
ngx_cx_get(ngx_cx_reader_t *r, void *dst, size_t n)
{
    if ((size_t) (r->end - r->pos) < n) {
        return -1;
    }

    memcpy(dst, r->pos, n);
    r->pos += n;

    return 0;
}


static int
ngx_cx_get_u8(ngx_cx_reader_t *r, unsigned char *v)
{
    return ngx_cx_get(r, v, 1);
}


static int
ngx_cx_get_u16(ngx_cx_reader_t *r, uint16_t *v)
{
    unsigned char  b[2];

    if (ngx_cx_get(r, b, 2) != 0) {
        return -1;
    }

    *v = (uint16_t) ((b[0] << 8) | b[1]);

    return 0;
}


static int
ngx_cx_get_u32(ngx_cx_reader_t *r, uint32_t *v)
{
    unsigned char  b[4];

    if (ngx_cx_get(r, b, 4) != 0) {
        return -1;
    }

    *v = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16)
         | ((uint32_t) b[2] << 8) | b[3];

    return 0;
}


static unsigned char *
ngx_cx_put_u16(unsigned char *p, uint16_t v)
{
    *p++ = (unsigned char) (v >> 8);
    *p++ = (unsigned char) v;

    return p;
}


static unsigned char *
ngx_cx_put_u32(unsigned char *p, uint32_t v)
{
    *p++ = (unsigned char) (v >> 24);
    *p++ = (unsigned char) (v >> 16);
    *p++ = (unsigned char) (v >> 8);
    *p++ = (unsigned char) v;

    return p;
}
