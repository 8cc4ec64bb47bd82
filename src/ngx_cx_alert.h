/*
 * ngx_cx_alert -- alerts in the store: the conditions of a cx_alert rule,
 * the alert record, and the delivery queue.
 *
 * A rule (cx_alert, ngx_http_cx_alert.c) turns a committed response into an
 * alert, in the same LMDB transaction; the alert is then delivered to its
 * webhook targets, level 0 (notify) at once and each escalation level when
 * its time comes, unless acknowledged first. This file is the pure part:
 * what the conditions mean, and how alerts and pending deliveries are laid
 * out in the store. Pure C99, no allocation, no nginx headers; decoders treat
 * their input as hostile.
 *
 * Conditions ("when" lines), all of which must hold:
 *
 *   score<=N score>=N score<N score>N score=N score!=N
 *                       the answer's score (no answer: never holds)
 *   band=detractor|passive|promoter (also !=)
 *                       the score's band on its survey's scale: NPS 0-6,
 *                       7-8, 9-10; CSAT 1-2, 3, 4-5; CES 1-3, 4-5, 6-7
 *                       (the widget's bands)
 *   comment             a comment has been given
 *   attr.KEY OP VALUE   a hook attribute, OP one of = != < <= > >=; when
 *                       both sides read as numbers (ngx_cx_number) they
 *                       compare as numbers, else = and != compare bytes and
 *                       the order operators never hold. A missing attribute
 *                       holds only for !=.
 *
 * Store layout (databases besides ngx_cx_record.h's):
 *
 *   alerts      key: response id (12) + rule id (u32 big-endian,
 *                    ngx_cx_name_id of the rule's name): 16 bytes, so one
 *                    response gets at most one alert per rule
 *               value: u8 version (1), u8 state, u8 sent (bit per level
 *                    delivered), u8 failed (bit per level given up),
 *                    u8 levels, u64 created_ms, u64 acked_ms,
 *                    u64 resolved_ms (big-endian), u8 rule_len, rule
 *   deliveries  key: u64 due_ms (big-endian) + alert key (16) + u8 level:
 *                    25 bytes, so the sender reads the due ones from the
 *                    front
 *               value: u16 attempts, u64 first_ms (when the first attempt
 *                    was due), big-endian: 10 bytes
 *
 * An alert's id, in URLs and in the webhook-id header, is the base64url of
 * its key (22 characters).
 */

#ifndef NGX_CX_ALERT_H
#define NGX_CX_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_cx_record.h"
#include "ngx_cx_score.h"       /* ngx_cx_band */
#include "ngx_cx_token.h"


#define NGX_CX_DB_ALERTS            "alerts"
#define NGX_CX_DB_DELIVERIES        "deliveries"

#define NGX_CX_ALERT_KEY_LEN        (NGX_CX_RESPONSE_KEY_LEN + 4)
#define NGX_CX_ALERT_ID_LEN         22      /* base64url of the key */

/*
 * An alert's ack_url ends in a link: its key signed (ngx_cx_signed_encode,
 * domain NGX_CX_DOMAIN_ALERT_LINK, the token key), so only links the
 * module made acknowledge anything.
 */
#define NGX_CX_ALERT_LINK_LEN       NGX_CX_SIGNED_LEN(NGX_CX_ALERT_KEY_LEN)
#define NGX_CX_ALERT_VAL_MIN        30
#define NGX_CX_ALERT_VAL_MAX        (NGX_CX_ALERT_VAL_MIN + NGX_CX_NAME_MAX)
#define NGX_CX_DELIVERY_KEY_LEN     (8 + NGX_CX_ALERT_KEY_LEN + 1)
#define NGX_CX_DELIVERY_VAL_LEN     10

/* level 0 notifies, 1.. escalate; the bit masks are 8 bits wide */
#define NGX_CX_ALERT_LEVELS_MAX     8

#define NGX_CX_ALERT_OPEN           0
#define NGX_CX_ALERT_ACKNOWLEDGED   1
#define NGX_CX_ALERT_RESOLVED       2


/* ---- conditions ---- */

#define NGX_CX_WHEN_SCORE           1
#define NGX_CX_WHEN_BAND            2
#define NGX_CX_WHEN_COMMENT         3
#define NGX_CX_WHEN_ATTR            4

#define NGX_CX_OP_EQ                1
#define NGX_CX_OP_NE                2
#define NGX_CX_OP_LT                3
#define NGX_CX_OP_LE                4
#define NGX_CX_OP_GT                5
#define NGX_CX_OP_GE                6

#define NGX_CX_WHEN_VALUE_MAX       255

typedef struct {
    unsigned        what;               /* NGX_CX_WHEN_* */
    unsigned        op;                 /* NGX_CX_OP_* */
    int             band;               /* NGX_CX_BAND_* */
    int             numeric;            /* value reads as a number */
    double          number;
    size_t          key_len;
    size_t          value_len;
    unsigned char   key[NGX_CX_ATTR_KEY_MAX];
    unsigned char   value[NGX_CX_WHEN_VALUE_MAX];
} ngx_cx_when_t;

/*
 * Parses one condition. Returns 0, or -1 with *err set to a sentence that
 * says what is wrong (static text, for nginx -t).
 */
int ngx_cx_when_parse(const unsigned char *s, size_t len, ngx_cx_when_t *w,
    const char **err);

/* 1 when the condition holds for the response rec, else 0. */
int ngx_cx_when_holds(const ngx_cx_when_t *w, const ngx_cx_record_t *rec);


/* ---- alerts ---- */

typedef struct {
    unsigned char   key[NGX_CX_ALERT_KEY_LEN];
    unsigned        state;              /* NGX_CX_ALERT_OPEN .. RESOLVED */
    unsigned        sent;               /* bit per level */
    unsigned        failed;             /* bit per level */
    unsigned        levels;             /* 1 + escalations, at creation */
    uint64_t        created_ms;
    uint64_t        acked_ms;
    uint64_t        resolved_ms;
    ngx_cx_bytes_t  rule;
} ngx_cx_alert_t;

/*
 * For retention, which deletes from the front: the time of an alert's key
 * (its response's issue time) and of a delivery's (when it is due), in unix
 * ms: 0, or -1 when len is not the key's (*ms untouched).
 */
int ngx_cx_alert_key_ms(const unsigned char *key, size_t len, uint64_t *ms);
int ngx_cx_delivery_key_ms(const unsigned char *key, size_t len,
    uint64_t *ms);

void ngx_cx_alert_key(unsigned char key[NGX_CX_ALERT_KEY_LEN],
    const unsigned char response_id[NGX_CX_RESPONSE_KEY_LEN],
    uint32_t rule_id);

/* Writes a's value to dst; returns its length, or 0 when a is invalid. */
size_t ngx_cx_alert_encode(unsigned char dst[NGX_CX_ALERT_VAL_MAX],
    const ngx_cx_alert_t *a);

/* Parses key and value into a (rule points into val). 0, or -1. */
int ngx_cx_alert_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_alert_t *a);

/* "open", "acknowledged", "resolved". */
const char *ngx_cx_alert_state_name(unsigned state);

/*
 * How an alert shows in lists and counts: "failed" when a level's delivery
 * was given up, else "escalated" when an escalation was sent and it is
 * still open, else its state.
 */
const char *ngx_cx_alert_status(const ngx_cx_alert_t *a);


/* ---- deliveries ---- */

typedef struct {
    uint64_t        due_ms;
    unsigned char   alert[NGX_CX_ALERT_KEY_LEN];
    unsigned        level;
    unsigned        attempts;           /* made so far */
    uint64_t        first_ms;
} ngx_cx_delivery_t;

void ngx_cx_delivery_encode(unsigned char key[NGX_CX_DELIVERY_KEY_LEN],
    unsigned char val[NGX_CX_DELIVERY_VAL_LEN], const ngx_cx_delivery_t *d);

int ngx_cx_delivery_decode(const unsigned char *key, size_t klen,
    const unsigned char *val, size_t vlen, ngx_cx_delivery_t *d);

/*
 * After a failed attempt: the wait before the next one, 1 s doubled per
 * attempt made, at most 10 minutes.
 */
uint64_t ngx_cx_delivery_backoff_ms(unsigned attempts);

/*
 * Whether an answer (an HTTP status, 0 for no answer: a network error or
 * a timeout) is worth another attempt: none, 408, 429 and 5xx are; 2xx
 * ends delivery; any other status fails at once.
 */
int ngx_cx_delivery_retryable(unsigned status);


#endif /* NGX_CX_ALERT_H */
