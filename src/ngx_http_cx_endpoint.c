/*
 * cx_endpoint: the directive, the widget script (<endpoint>w.js) and the
 * answer intake (POST <endpoint>r).
 *
 * Intake treats every byte as hostile and checks in order of cost: method,
 * content type, origin, size, store; then the body is read (at most
 * NGX_HTTP_CX_BODY_MAX bytes, in memory), parsed strictly
 * (ngx_cx_json.h), the token verified (signature, expiry, the visitor's
 * own cookie), the score checked against the survey's scale.  Only then
 * is a write queued; the 204 goes out when the commit is on disk.
 *
 * The size limit is the module's alone, and every refusal is JSON.  nginx's
 * client_max_body_size would refuse a larger Content-Length in its
 * find-config phase, before any handler runs, with its HTML 413 page; so
 * cx_endpoint turns it off in its location (0) and the intake refuses by
 * Content-Length before reading.  A chunked body (or an HTTP/2 one without
 * a length) is read unbuffered, piece by piece, into one buffer of
 * NGX_HTTP_CX_BODY_MAX bytes, and refused as soon as it would overflow it:
 * never more than that buffer and nginx's read buffer are held, nothing
 * goes to a temp file, and a body that never ends is answered at once.
 */

#include "ngx_http_cx.h"
#include "ngx_http_cx_alert.h"
#include "ngx_http_cx_store.h"


typedef struct {
    ngx_http_cx_write_t       write;
    ngx_cx_token_t            token;
    ngx_http_cx_visitor_t     visitor;
    time_t                    now;
    ngx_flag_t                link;       /* the token is a survey link */
} ngx_http_cx_intake_t;


static ngx_int_t ngx_http_cx_widget_send(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_intake(ngx_http_request_t *r);
static void ngx_http_cx_intake_read(ngx_http_request_t *r);
static void ngx_http_cx_intake_read_more(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_intake_collect(ngx_http_request_t *r,
    size_t *added);
static ngx_int_t ngx_http_cx_intake_read_failed(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_cx_intake_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_cx_intake_check(ngx_http_request_t *r,
    u_char *body, size_t len, ngx_http_cx_intake_t *in, const char **err);
static void ngx_http_cx_intake_done(ngx_http_cx_write_t *w);


ngx_int_t
ngx_http_cx_endpoint_handler(ngx_http_request_t *r)
{
    ngx_str_t                  rest;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len) {
        return NGX_HTTP_NOT_FOUND;
    }

    rest.data = r->uri.data + clcf->name.len;
    rest.len = r->uri.len - clcf->name.len;

    if (rest.len == 4 && ngx_strncmp(rest.data, "w.js", 4) == 0) {
        return ngx_http_cx_widget_send(r);
    }

    if (rest.len == 1 && rest.data[0] == 'r') {
        return ngx_http_cx_intake(r);
    }

    /* a survey link's page: ngx_http_cx_link.c */
    if (rest.len > 2 && rest.data[0] == 's' && rest.data[1] == '/') {
        rest.data += 2;
        rest.len -= 2;
        return ngx_http_cx_link_page(r, &rest);
    }

    /* a single-page application's route: ngx_http_cx_spa.c */
    if (rest.len == 1 && rest.data[0] == 'p') {
        return ngx_http_cx_spa(r);
    }

    /* an alert's ack_url: ngx_http_cx_alert_page.c */
    if (rest.len > 2 && rest.data[0] == 'a' && rest.data[1] == '/') {
        rest.data += 2;
        rest.len -= 2;
        return ngx_http_cx_alert_page(r, &rest);
    }

    return NGX_HTTP_NOT_FOUND;
}


static ngx_int_t
ngx_http_cx_widget_send(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *etag;

    static u_char     etag_value[sizeof("\"cx-00000000\"")];
    static size_t     etag_len;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (etag_len == 0) {
        etag_len = ngx_sprintf(etag_value, "\"cx-%08xD\"",
                               ngx_crc32_long(ngx_http_cx_widget.data,
                                              ngx_http_cx_widget.len))
                   - etag_value;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_http_cx_widget.len;
    ngx_str_set(&r->headers_out.content_type,
                "application/javascript; charset=utf-8");
    r->headers_out.content_type_len = sizeof("application/javascript") - 1;

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
#if (nginx_version >= 1023000)
    etag->next = NULL;
#endif
    ngx_str_set(&etag->key, "ETag");
    etag->value.data = etag_value;
    etag->value.len = etag_len;
    r->headers_out.etag = etag;

    /* a day in caches, then revalidated by ETag: updates arrive in time */
    if (ngx_http_cx_header_out(r, "Cache-Control", "public, max-age=86400")
        != NGX_OK
        || ngx_http_cx_header_out(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cx_send_bytes(r, &ngx_http_cx_widget);
}


static ngx_int_t
ngx_http_cx_intake(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                 *ct;
    ngx_http_cx_main_conf_t   *cmcf;

    if (r->method != NGX_HTTP_POST) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_cx_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                 "use POST for answers");
    }

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    /* only JSON: a cross-site JSON POST needs a preflight never granted */
    if (ct == NULL
        || ct->len < sizeof("application/json") - 1
        || ngx_strncasecmp(ct->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) != 0
        || (ct->len > sizeof("application/json") - 1
            && ct->data[sizeof("application/json") - 1] != ';'
            && ct->data[sizeof("application/json") - 1] != ' '))
    {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_cx_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "Content-Type must be application/json");
    }

    if (ngx_http_cx_same_origin(r) != NGX_OK) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_cx_send_error(r, NGX_HTTP_FORBIDDEN,
                                 "cross-site request");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_CX_BODY_MAX) {
        r->keepalive = 0;
        (void) ngx_http_discard_request_body(r);
        return ngx_http_cx_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                 "body too large");
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    if (cmcf->store == NULL || !cmcf->keys_ready) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "store unavailable");
    }

    /* pieces come to ngx_http_cx_intake_read() as they arrive */
    r->request_body_no_buffering = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_cx_intake_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return ngx_http_cx_intake_read_failed(r, rc);
    }

    return NGX_DONE;
}


/*
 * The body handler of ngx_http_read_client_request_body(): called once
 * with what could be read at once (all of it, or r->reading_body set).
 */

static void
ngx_http_cx_intake_read(ngx_http_request_t *r)
{
    size_t     added;
    ngx_int_t  rc;

    rc = ngx_http_cx_intake_collect(r, &added);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_cx_intake_read_failed(r, rc));
        return;
    }

    if (!r->reading_body) {
        ngx_http_cx_intake_body(r);
        return;
    }

    r->read_event_handler = ngx_http_cx_intake_read_more;

    /* nginx stopped because its buffer was full, not for want of data */
    if (r->connection->read->ready) {
        ngx_http_cx_intake_read_more(r);
    }
}


/* The read event handler while the body is still coming. */

static void
ngx_http_cx_intake_read_more(ngx_http_request_t *r)
{
    size_t     added;
    ngx_int_t  rc;

    for ( ;; ) {
        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ngx_http_finalize_request(r,
                                      ngx_http_cx_intake_read_failed(r, rc));
            return;
        }

        if (ngx_http_cx_intake_collect(r, &added) != NGX_OK) {
            ngx_http_finalize_request(r,
                ngx_http_cx_intake_read_failed(r,
                                        NGX_HTTP_REQUEST_ENTITY_TOO_LARGE));
            return;
        }

        if (rc == NGX_OK) {
            ngx_http_cx_intake_body(r);
            return;
        }

        /*
         * NGX_AGAIN: nginx waits for the socket, or it stopped with a full
         * buffer, which the collect just emptied: then read on now, as no
         * new event may come for data already there.
         */
        if (added == 0 || !r->connection->read->ready) {
            return;
        }
    }
}


/*
 * Moves the body pieces nginx has read since the last call into the
 * answer's buffer and marks them consumed, so that nginx reuses its read
 * buffer.  The answer's buffer is the first link of r->request_body->bufs,
 * tagged as ours: nginx appends new pieces behind it, and the request
 * keeps it without a context of its own.  NGX_OK, or the status to refuse
 * with (413 when the body would be over NGX_HTTP_CX_BODY_MAX).
 */

static ngx_int_t
ngx_http_cx_intake_collect(ngx_http_request_t *r, size_t *added)
{
    size_t                    n;
    ngx_buf_t                *acc, *b;
    ngx_chain_t              *head, *cl;
    ngx_http_request_body_t  *rb;

    *added = 0;
    rb = r->request_body;

    if (rb == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    head = rb->bufs;

    if (head && head->buf->tag == (ngx_buf_tag_t) &ngx_http_cx_module) {
        acc = head->buf;
        cl = head->next;

    } else {
        /*
         * A body of a Content-Length (refused above NGX_HTTP_CX_BODY_MAX)
         * gets just that: an answer is a few hundred bytes, which the
         * request's pool holds without an allocation of its own.  A
         * chunked body's content_length_n is nginx's running count, not a
         * bound: it gets the limit.
         */
        n = (!r->headers_in.chunked && r->headers_in.content_length_n > 0)
            ? (size_t) ngx_min(r->headers_in.content_length_n,
                               NGX_HTTP_CX_BODY_MAX)
            : NGX_HTTP_CX_BODY_MAX;

        acc = ngx_create_temp_buf(r->pool, n);
        head = ngx_alloc_chain_link(r->pool);

        if (acc == NULL || head == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        acc->tag = (ngx_buf_tag_t) &ngx_http_cx_module;
        head->buf = acc;
        cl = rb->bufs;
    }

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b)) {
            if (ngx_buf_size(b) != 0) {
                /* in a file: never with unbuffered reading, but not ours */
                return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            continue;
        }

        n = b->last - b->pos;

        if (n > (size_t) (acc->end - acc->last)) {
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        acc->last = ngx_cpymem(acc->last, b->pos, n);
        b->pos = b->last;
        *added += n;
    }

    head->next = NULL;
    rb->bufs = head;

    return NGX_OK;
}


/*
 * A body refused or not read: 413 and a malformed chunked body get their
 * JSON error (nginx's own page is HTML); a timeout, a client gone or an
 * internal error are finished as nginx does.
 */

static ngx_int_t
ngx_http_cx_intake_read_failed(ngx_http_request_t *r, ngx_int_t rc)
{
    if (r->connection->error || r->connection->timedout) {
        return rc;
    }

    switch (rc) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cx: answer refused (413): body too large");
        r->keepalive = 0;
        r->lingering_close = 1;
        r->read_event_handler = ngx_http_block_reading;
        return ngx_http_cx_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "body too large");

    case NGX_HTTP_BAD_REQUEST:
        r->keepalive = 0;
        r->lingering_close = 1;
        r->read_event_handler = ngx_http_block_reading;
        return ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "malformed request body");

    default:
        return rc;
    }
}


/*
 * A browser names the page's origin on a POST; it must be this host.
 * Sec-Fetch-Site: cross-site is refused outright.  No Origin at all
 * (old browsers, scripts) passes here: the token and cookie still decide.
 * A browser sends each of the two headers once at most; a request with
 * two Origin or two Sec-Fetch-Site headers is forged or mangled on the
 * way.  Checking only the first would let a foreign second one through,
 * and a proxy in front may have judged the other one: such a request is
 * refused whatever the values.
 */

ngx_int_t
ngx_http_cx_same_origin(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h, *host;

    if (ngx_http_cx_header_in_once(r, "Sec-Fetch-Site",
                                   sizeof("Sec-Fetch-Site") - 1, &h)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (h && h->value.len == sizeof("cross-site") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "cross-site",
                           h->value.len) == 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_cx_header_in_once(r, "Origin", sizeof("Origin") - 1, &h)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (h == NULL) {
        return NGX_OK;
    }

    host = r->headers_in.host;
    if (host == NULL) {
        return NGX_DECLINED;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (last - p > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;

    } else if (last - p > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;

    } else {
        return NGX_DECLINED;    /* "null" and other schemes */
    }

    if ((size_t) (last - p) != host->value.len
        || ngx_strncasecmp(p, host->value.data, host->value.len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* The whole body is in the answer's buffer (ngx_http_cx_intake_collect). */

static void
ngx_http_cx_intake_body(ngx_http_request_t *r)
{
    u_char                   *body;
    size_t                    len;
    ngx_int_t                 rc;
    ngx_buf_t                *acc;
    const char               *err;
    ngx_http_cx_intake_t     *in;
    ngx_http_cx_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    acc = r->request_body->bufs->buf;
    body = acc->pos;
    len = acc->last - acc->pos;

    if (len == 0) {
        ngx_http_finalize_request(r,
            ngx_http_cx_send_error(r, NGX_HTTP_BAD_REQUEST, "malformed JSON"));
        return;
    }

    in = ngx_pcalloc(r->pool, sizeof(ngx_http_cx_intake_t));
    if (in == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_cx_intake_check(r, body, len, in, &err);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cx: answer refused (%i): %s", rc, err);
        ngx_http_finalize_request(r, ngx_http_cx_send_error(r, rc, err));
        return;
    }

    /*
     * A link's dismissal is not kept: the link stays answerable until it
     * expires (its page may be opened again later).
     */
    if (in->link && in->write.event == NGX_CX_EVENT_DISMISS) {
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;
        (void) ngx_http_cx_header_out(r, "Cache-Control", "no-store");
        ngx_http_finalize_request(r, ngx_http_send_header(r));
        return;
    }

    in->write.done = ngx_http_cx_intake_done;
    in->write.data = r;

    if (ngx_http_cx_store_submit(cmcf->store, &in->write) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_cx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "store unavailable"));
        return;
    }

    /* the commit runs in a thread: keep the request until it is done */
    r->main->blocked++;
    r->main->count++;

    ngx_http_finalize_request(r, NGX_DONE);
}


/* NGX_OK, or the HTTP status to refuse with and *err. */

static ngx_int_t
ngx_http_cx_intake_check(ngx_http_request_t *r, u_char *body, size_t len,
    ngx_http_cx_intake_t *in, const char **err)
{
    u_char                      *scratch;
    time_t                       now;
    ngx_str_t                    lang, *followup;
    ngx_table_elt_t             *ua;
    ngx_time_t                  *tp;
    ngx_cx_intake_t              msg;
    ngx_cx_record_t             *fresh;
    uint32_t                     expires;
    ngx_http_cx_survey_t        *survey;
    ngx_http_cx_write_t         *w;
    ngx_http_cx_rendering_t     *rd;
    ngx_http_cx_main_conf_t     *cmcf;
    const ngx_cx_survey_mark_t  *mark;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

    scratch = ngx_pnalloc(r->pool, len);
    if (scratch == NULL) {
        *err = "out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_cx_intake_parse(body, len, scratch, cmcf->comment_max, &msg, err)
        != 0)
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    now = ngx_http_cx_now(r);
    in->now = now;

    /* a page's token, or a survey link (ngx_http_cx_link.c) */
    if (ngx_cx_token_decode(&cmcf->token_key, msg.token, msg.token_len,
                            &in->token)
        == 0)
    {
        if ((time_t) in->token.issued_at + cmcf->token_ttl < now
            || (time_t) in->token.issued_at > now + 300)
        {
            *err = "token expired";
            return NGX_HTTP_FORBIDDEN;
        }

        if (ngx_http_cx_visitor_get(r, cmcf, now, &in->visitor) != NGX_OK
            || in->visitor.is_new
            || ngx_memcmp(in->visitor.v.id, in->token.visitor,
                          NGX_CX_VISITOR_ID_LEN) != 0)
        {
            *err = "token does not belong to this visitor";
            return NGX_HTTP_FORBIDDEN;
        }

    } else if (ngx_cx_link_decode(&cmcf->token_key, msg.token, msg.token_len,
                                  &in->token, &expires)
               == 0)
    {
        /* a link is its respondent's, whoever's browser opens it */
        if ((time_t) expires < now) {
            *err = "link expired";
            return NGX_HTTP_FORBIDDEN;
        }

        in->link = 1;

    } else {
        *err = "invalid token";
        return NGX_HTTP_FORBIDDEN;
    }

    survey = ngx_http_cx_survey_find(cmcf, (u_char *) in->token.survey,
                                     in->token.survey_len);
    if (survey == NULL) {
        *err = "the survey no longer exists";
        return NGX_HTTP_FORBIDDEN;
    }

    if (msg.event == NGX_CX_EVENT_ANSWER
        && !ngx_cx_score_valid((unsigned char) survey->type, msg.score))
    {
        *err = "score out of range";
        return NGX_HTTP_BAD_REQUEST;
    }

    w = &in->write;

    ngx_cx_token_prompt_id(&in->token, w->id);
    w->event = msg.event;
    w->score = (int) msg.score;

    /* a re-survey: the answer the cookie remembers (ngx_cx_record.h) */
    mark = in->link ? NULL
           : ngx_cx_visitor_mark_get(&in->visitor.v,
                                     ngx_cx_name_id((u_char *) in->token.survey,
                                                    in->token.survey_len));
    w->previous = (mark && mark->event == NGX_CX_MARK_ANSWERED)
                  ? mark->score : -1;
    w->comment.data = (u_char *) msg.comment;
    w->comment.len = msg.has_comment ? msg.comment_len : 0;

    /*
     * What the widget asks next, stored with the answer so the export
     * says what the visitor saw even after the texts change.  The page
     * was rendered by the configuration in force now unless nginx was
     * reloaded since (a token lives a day).
     */
    lang.data = (u_char *) in->token.lang;
    lang.len = in->token.lang_len;

    if (in->link) {
        /* a link's page was shown in this browser's language */
        rd = ngx_http_cx_survey_pick(r, survey);
        lang = rd->lang;
    }

    if (msg.event == NGX_CX_EVENT_ANSWER) {
        /* the class of the browser that answers, and nothing else of it */
        ua = r->headers_in.user_agent;
        w->device = (u_char) (ua ? ngx_cx_device_from_ua(ua->value.data,
                                                         ua->value.len)
                                 : NGX_CX_DEVICE_UNKNOWN);

        followup = ngx_http_cx_survey_followup(survey, &lang,
                                               ngx_cx_band((u_char)
                                                           survey->type,
                                                           w->score));
        if (followup) {
            w->followup = *followup;
        }
    }

    /* the test clock (cx_test_clock) has no milliseconds */
    tp = ngx_timeofday();
    w->now_ms = (uint64_t) now * 1000 + (now == tp->sec ? tp->msec : 0);

    fresh = &w->fresh;
    fresh->type = (unsigned char) survey->type;
    fresh->stage = in->token.stage;
    fresh->issued_at_ms = (uint64_t) in->token.issued_at * 1000;
    ngx_memcpy(fresh->visitor, in->token.visitor, NGX_CX_VISITOR_ID_LEN);
    fresh->survey.data = (u_char *) in->token.survey;
    fresh->survey.len = in->token.survey_len;
    fresh->touchpoint.data = (u_char *) in->token.touchpoint;
    fresh->touchpoint.len = in->token.touchpoint_len;
    fresh->lang.data = lang.data;
    fresh->lang.len = lang.len;

    if (in->link) {
        fresh->stage = (unsigned char) ngx_http_cx_link_stage(cmcf,
                                                              &in->token);
    }

    fresh->path.data = (u_char *) in->token.path;
    fresh->path.len = in->token.path_len;

    if (ngx_cx_attrs_unpack(in->token.attrs, in->token.attrs_len,
                            &fresh->attrs, &fresh->attr_numbers)
        != 0)
    {
        *err = "invalid token";
        return NGX_HTTP_FORBIDDEN;
    }

    /* room for the record as stored plus the largest comment it can hold */
    w->room = ngx_http_cx_store_record_room(w) + 64 + 4 * cmcf->comment_max;

    return NGX_OK;
}


static void
ngx_http_cx_intake_done(ngx_http_cx_write_t *w)
{
    uint32_t                   survey_id;
    ngx_int_t                  rc;
    ngx_uint_t                 level;
    ngx_cx_visitor_t          *v;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_cx_intake_t      *in;
    ngx_http_cx_main_conf_t   *cmcf;

    r = w->data;
    c = r->connection;
    in = (ngx_http_cx_intake_t *) w;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    if (w->status == NGX_HTTP_NO_CONTENT && in->link) {
        /* no cookie: the link's respondent is not this browser's visitor */
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;
        (void) ngx_http_cx_header_out(r, "Cache-Control", "no-store");

        rc = ngx_http_send_header(r);

    } else if (w->status == NGX_HTTP_NO_CONTENT) {
        cmcf = ngx_http_get_module_main_conf(r, ngx_http_cx_module);

        /*
         * The cookie learns what happened: a display starts the quiet
         * period, an answer or a dismissal the survey's recontact time.
         */
        v = &in->visitor.v;
        survey_id = ngx_cx_name_id((u_char *) in->token.survey,
                                   in->token.survey_len);

        switch (w->event) {

        case NGX_CX_EVENT_DISPLAY:
            v->last_display = (uint32_t) in->now;
            break;

        case NGX_CX_EVENT_ANSWER:
            ngx_cx_visitor_mark(v, survey_id, (uint32_t) in->now, w->score,
                                NGX_CX_MARK_ANSWERED);
            break;

        case NGX_CX_EVENT_DISMISS:
            ngx_cx_visitor_mark(v, survey_id, (uint32_t) in->now, -1,
                                NGX_CX_MARK_DISMISSED);
            break;

        default:
            break;
        }

        (void) ngx_http_cx_visitor_set_cookie(r, cmcf, &in->visitor);

        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;
        (void) ngx_http_cx_header_out(r, "Cache-Control", "no-store");

        rc = ngx_http_send_header(r);

    } else {
        level = (w->status == NGX_HTTP_CONFLICT) ? NGX_LOG_INFO : NGX_LOG_ERR;
        ngx_log_error(level, c->log, 0, "cx: answer not stored (%i): %s",
                      w->status, w->error);
        rc = ngx_http_cx_send_error(r, w->status, w->error);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_http_cx_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error)
{
    u_char       *p;
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    len = sizeof("{\"error\":\"\"}\n") - 1 + ngx_strlen(error);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the messages are our own fixed ASCII sentences, no escaping needed */
    p = ngx_sprintf(b->pos, "{\"error\":\"%s\"}\n", error);
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_cx_header_out(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_cx_header_out(r, "Allow", "POST") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_cx_header_out(r, "Retry-After", "60") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * cx_endpoint and cx_report serve the URIs under their location, so it
 * must be a prefix location ending in "/"; example is one.  Returns the
 * location's core configuration, or NULL (logged).
 */

ngx_http_core_loc_conf_t *
ngx_http_cx_conf_prefix_location(ngx_conf_t *cf, const char *example)
{
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/'
        || clcf->regex || clcf->named || clcf->exact_match)
    {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V must be in a prefix location ending in "
                           "\"/\", such as \"%s\"", &value[0], example);
        return NULL;
    }

    return clcf;
}


/*
 * cx_endpoint, in a prefix location ending in "/": the server's endpoint,
 * served by ngx_http_cx_endpoint_handler()
 */

char *
ngx_http_cx_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                     c;
    ngx_uint_t                 i;
    ngx_http_cx_srv_conf_t    *cscf;
    ngx_http_cx_main_conf_t   *cmcf;
    ngx_http_core_loc_conf_t  *clcf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_cx_module);

    if (cscf->endpoint.data) {
        return "is duplicate: a server has one cx_endpoint location";
    }

    clcf = ngx_http_cx_conf_prefix_location(cf,
                                            "location /cx/ { cx_endpoint; }");
    if (clcf == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the URI goes into pages as JSON and as an attribute: no escaping */
    for (i = 0; i < clcf->name.len; i++) {
        c = clcf->name.data[i];

        if (!(ngx_http_cx_isalnum(c) || c == '/' || c == '-' || c == '_'
              || c == '.' || c == '~'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cx_endpoint: the location \"%V\" may contain "
                               "only letters, digits and \"/-_.~\"",
                               &clcf->name);
            return NGX_CONF_ERROR;
        }
    }

    /*
     * The module's limit (NGX_HTTP_CX_BODY_MAX) is the only one here: with
     * a limit of its own nginx would refuse a larger Content-Length before
     * the handler runs, with an HTML page where the endpoint promises JSON.
     * Set in this location, client_max_body_size could only mislead; after
     * this directive nginx itself calls it a duplicate.
     */
    if (clcf->client_max_body_size != NGX_CONF_UNSET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "client_max_body_size cannot be set in a "
                           "cx_endpoint location: answers are limited to "
                           "%d bytes by the module",
                           NGX_HTTP_CX_BODY_MAX);
        return NGX_CONF_ERROR;
    }

    clcf->client_max_body_size = 0;

    cscf->endpoint = clcf->name;
    clcf->handler = ngx_http_cx_endpoint_handler;
    ((ngx_http_cx_loc_conf_t *) conf)->endpoint_clcf = clcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cx_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}
