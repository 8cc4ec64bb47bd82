/*
 * ngx_http_cx.h — the shared vocabulary of the nginx side of ngx_cx.
 *
 * The module is split by concern; this header holds what they share:
 * the configuration structures (built at configuration time, read-only
 * afterwards), the per-request context, and the entry points each file
 * offers the others.
 *
 *   ngx_cx_module.c            the command table, configuration life cycle,
 *                              process hooks: wiring
 *   src/ngx_http_cx_survey.c   the cx_survey block
 *   src/ngx_http_cx_survey_lang.c  its texts, pre-rendered per language
 *                              (its parts: src/ngx_http_cx_survey.h)
 *   src/ngx_http_cx_visitor.c  the signed visitor cookie (cx_cookie),
 *                              randomness
 *   src/ngx_http_cx_keys.c     cx_secret_file, the keys derived from it
 *   src/ngx_http_cx_prompt.c   cx_touchpoint, cx_prompt; deciding a prompt
 *                              and building its snippet
 *   src/ngx_http_cx_filter.c   header and body filters (the injection)
 *   src/ngx_http_cx_response.c the response-header rules of the injection
 *   src/ngx_http_cx_filecache.c  where </body> is in static files
 *   src/ngx_http_cx_endpoint.c cx_endpoint: widget script, answer intake
 *   src/ngx_http_cx_store.c    LMDB, and commits off the event loop
 *   src/ngx_http_cx_store_init.c  the store's set-up in the master
 *   src/ngx_http_cx_store_conf.c  cx_store, cx_thread_pool
 *   src/ngx_http_cx_lua_conf.c the Lua directives (hooks: ngx_http_cx_lua.c)
 *   src/ngx_http_cx_report.c   the cx_report location: routing, dashboard
 *                              (its parts: src/ngx_http_cx_report.h)
 *   src/ngx_http_cx_variables.c $cx_visitor, $cx_touchpoint, $cx_prompt
 *   src/ngx_http_cx_headers.c  finding and adding headers
 *
 * Pure C parts (no nginx types, unit tested) are the ngx_cx_*.h headers.
 */

#ifndef _NGX_HTTP_CX_H_INCLUDED_
#define _NGX_HTTP_CX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_cx_sha256.h"
#include "ngx_cx_token.h"
#include "ngx_cx_scan.h"
#include "ngx_cx_record.h"
#include "ngx_cx_score.h"
#include "ngx_cx_device.h"


#define NGX_HTTP_CX_DEFAULT_STORE      "cx_data"
#define NGX_HTTP_CX_DEFAULT_MAP_SIZE   (1024 * 1024 * 1024)
#define NGX_HTTP_CX_DEFAULT_COOKIE     "cx"
#define NGX_HTTP_CX_DEFAULT_MAX_AGE    (400 * 86400)
#define NGX_HTTP_CX_DEFAULT_TOKEN_TTL  86400
#define NGX_HTTP_CX_COMMENT_MAX        2000
#define NGX_HTTP_CX_BODY_MAX           16384
#define NGX_HTTP_CX_SECRET_MIN         32


#define ngx_http_cx_isdigit(c)   ((c) >= '0' && (c) <= '9')
#define ngx_http_cx_isalpha(c)   (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
#define ngx_http_cx_isalnum(c)   (ngx_http_cx_isdigit(c) || ngx_http_cx_isalpha(c))


/* bytes after </body> kept in memory for cached static files */
#define NGX_HTTP_CX_FILECACHE_TAIL     256


/* survey text kinds */
#define NGX_HTTP_CX_TEXT_QUESTION      1
#define NGX_HTTP_CX_TEXT_FOLLOWUP      2
#define NGX_HTTP_CX_TEXT_LABELS        3
#define NGX_HTTP_CX_TEXT_THANKS        4

/* follow-up bands: a score's (ngx_cx_score.h), or any */
#define NGX_HTTP_CX_BAND_ANY           0
#define NGX_HTTP_CX_BAND_DETRACTOR     NGX_CX_BAND_DETRACTOR
#define NGX_HTTP_CX_BAND_PASSIVE       NGX_CX_BAND_PASSIVE
#define NGX_HTTP_CX_BAND_PROMOTER      NGX_CX_BAND_PROMOTER


typedef struct ngx_http_cx_store_s  ngx_http_cx_store_t;
typedef struct ngx_http_cx_hook_s   ngx_http_cx_hook_t;


typedef struct {
    ngx_uint_t                kind;       /* NGX_HTTP_CX_TEXT_* */
    ngx_uint_t                band;       /* follow-ups only */
    ngx_str_t                 lang;       /* lowercase tag; empty: default */
    ngx_str_t                 text;
    ngx_str_t                 text2;      /* labels: the high end */
} ngx_http_cx_text_t;


/* One language's texts, rendered once as JSON members (no braces). */
typedef struct {
    ngx_str_t                 lang;
    ngx_str_t                 json;
} ngx_http_cx_rendering_t;


typedef struct {
    ngx_str_t                 name;
    ngx_uint_t                type;       /* NGX_CX_TYPE_* */
    ngx_str_t                 lang;       /* language of untagged texts */
    ngx_flag_t                lang_set;
    time_t                    every;
    ngx_int_t                 target;     /* tenths of the score's unit;
                                             NGX_CONF_UNSET: none */
    ngx_uint_t                position;   /* NGX_HTTP_CX_POSITION_* */
    u_char                    color[8];   /* "#rrggbb", or "" */
    ngx_str_t                 title;      /* the dashboard's name, or none */
    ngx_array_t               texts;      /* ngx_http_cx_text_t */
    ngx_array_t               renderings; /* ngx_http_cx_rendering_t, [0]: default */
    u_char                   *file;
    ngx_uint_t                line;
} ngx_http_cx_survey_t;


typedef struct {
    ngx_str_t                 endpoint;   /* URI of the cx_endpoint location */
    ngx_array_t              *touchpoints;  /* ngx_http_cx_loc_conf_t *: this
                                               server's cx_touchpoint
                                               locations, for <endpoint>p */
} ngx_http_cx_srv_conf_t;


/* the snippet's fixed parts around the token, per survey language */
typedef struct {
    ngx_str_t                 head;
    ngx_str_t                 tail;
} ngx_http_cx_snippet_t;


/* cx_survey position */
#define NGX_HTTP_CX_POSITION_RIGHT   0      /* bottom-right, the default */
#define NGX_HTTP_CX_POSITION_LEFT    1
#define NGX_HTTP_CX_POSITION_CENTER  2

/* cx_prompt trigger=: when the widget shows, after the delay */
#define NGX_HTTP_CX_TRIGGER_LOAD    0       /* at once */
#define NGX_HTTP_CX_TRIGGER_EXIT    1
#define NGX_HTTP_CX_TRIGGER_SCROLL  2
#define NGX_HTTP_CX_TRIGGER_IDLE    3

typedef struct {
    ngx_str_t                 survey_name;
    ngx_http_cx_survey_t     *survey;     /* resolved at postconfiguration */
    uint32_t                  survey_id;  /* ngx_cx_name_id(name) */
    ngx_uint_t                sample;     /* per 10000 */
    ngx_msec_t                delay;
    ngx_uint_t                trigger;    /* NGX_HTTP_CX_TRIGGER_* */
    ngx_uint_t                trigger_at; /* scroll: %; idle: ms */
    ngx_array_t              *after;      /* uint32_t touchpoint ids, all needed */
    ngx_array_t              *after_names;  /* ngx_str_t, checked at the end */
    ngx_uint_t                min_visits;
    ngx_http_complex_value_t *cond;       /* if=: true unless "" or "0" */
    ngx_http_cx_srv_conf_t   *srv;
    ngx_http_cx_snippet_t    *parts;      /* one per survey rendering */
    u_char                   *file;
    ngx_uint_t                line;
} ngx_http_cx_prompt_t;


typedef struct {
    ngx_str_t                 store_path;
    size_t                    store_max_size;
    u_char                   *store_file;  /* where cx_store is, or NULL */
    ngx_uint_t                store_line;
    ngx_str_t                 secret_file;
    ngx_str_t                 secret;     /* from cx_secret_file, or the store */

    ngx_str_t                 cookie_name;
    ngx_str_t                 cookie_attrs;   /* "; Max-Age=..; Path=/; ..." */
    time_t                    cookie_max_age;
    ngx_str_t                 cookie_domain;
    ngx_uint_t                cookie_samesite;
    ngx_flag_t                cookie_secure;

    time_t                    token_ttl;
    size_t                    comment_max;
    time_t                    quiet_period;
    time_t                    retention;  /* 0: keep everything */
    ngx_flag_t                respect_gpc;
    ngx_flag_t                test_clock; /* X-CX-Test-Now sets the time */

    ngx_array_t               surveys;    /* ngx_http_cx_survey_t */
    ngx_array_t               prompts;    /* ngx_http_cx_prompt_t *, to check */
    ngx_array_t               touchpoints;  /* ngx_http_cx_touchpoint_t:
                                               after=, the cookie's ids */

    ngx_cx_hmac_key_t         token_key;
    ngx_cx_hmac_key_t         cookie_key;
    uint32_t                  sample_seed;
    ngx_flag_t                keys_ready;

    ngx_str_t                 thread_pool_name;
    ngx_thread_pool_t        *thread_pool;

    ngx_array_t               hooks;      /* ngx_http_cx_hook_t *, to load */
    ngx_array_t               lua_paths;  /* ngx_str_t: where require looks */
    ngx_uint_t                lua_budget;
    size_t                    lua_memory;
    ngx_msec_t                lua_time;

    ngx_array_t               alerts;     /* ngx_http_cx_alert_t */
    ngx_uint_t                alert_concurrency;
    time_t                    alert_retry_for;
    ngx_str_t                 alert_trusted;  /* CA file, or "": system */
    ngx_str_t                 alert_link;     /* <endpoint> URL, or "" */
    void                     *alert_sender;   /* worker 0's, or NULL */

    struct ngx_http_cx_forward_s  *forward;   /* cx_forward, or NULL */
    ngx_str_t                 node;       /* cx_node, or the host name */
    void                     *forward_sender; /* worker 0's, or NULL */
    u_char                   *report_clickhouse_file;  /* the first cx_report
                                                  source=clickhouse */
    ngx_uint_t                report_clickhouse_line;

    ngx_http_cx_store_t      *store;      /* this worker's, or NULL */
    ngx_flag_t                used;       /* any cx directive seen */
} ngx_http_cx_main_conf_t;


/* A touchpoint some location declares, and its id in the cookie. */
typedef struct {
    ngx_str_t                 name;
    uint32_t                  id;             /* ngx_cx_name_id(name) */
    ngx_uint_t                stage;          /* its location's */
} ngx_http_cx_touchpoint_t;


typedef struct {
    ngx_str_t                 touchpoint;
    uint32_t                  touchpoint_id;
    ngx_uint_t                stage;
    ngx_array_t              *prompts;    /* ngx_http_cx_prompt_t * */
    ngx_http_cx_hook_t       *hook;       /* cx_target_by_lua_file */
    ngx_hash_t                types;
    ngx_array_t              *types_keys;
    ngx_http_core_loc_conf_t *endpoint_clcf;  /* a cx_endpoint location's */
    ngx_flag_t                report_clickhouse;  /* cx_report source= */
} ngx_http_cx_loc_conf_t;


/* What a visitor's cookie holds. */
typedef struct {
    ngx_cx_visitor_t          v;
    ngx_flag_t                is_new;
} ngx_http_cx_visitor_t;


/*
 * Per-request state, created for responses of touchpoint and prompt
 * locations; the scanner part is used only when a prompt is injected.
 */
typedef struct {
    time_t                    now;
    ngx_http_cx_visitor_t     visitor;
    ngx_str_t                 snippet;
    ngx_http_cx_prompt_t     *prompt;     /* the cx_prompt line that passed */
    ngx_http_cx_survey_t     *survey;     /* offered (a hook may change it) */
    u_char                   *attrs;      /* a hook's attributes, encoded */
    size_t                    attrs_len;
    unsigned                  attr_numbers;   /* which were numbers */
    ngx_str_t                 route;      /* <endpoint>p: the page's path;
                                             else unset, the request's */

    ngx_cx_scan_t             scan;
    uint64_t                  fed;        /* stream offset of the next byte */
    uint64_t                  hold_at;    /* stream offset of hold[0] */
    size_t                    hold_len;
    u_char                    hold[8];
    u_char                    tail[8];    /* last bytes of the last buffer */
    size_t                    tail_len;

    ngx_chain_t              *free;       /* the filter's own buffers */
    ngx_chain_t              *busy;       /* ... not yet sent on */
    off_t                     unsent;     /* page bytes still to come, when
                                             its length was known (sized) */
    ngx_buf_t                 end;        /* the page's last_buf, sent with
                                             its last byte */

    struct stat               st;         /* the file, to cache its scan */

    unsigned                  done:1;     /* nothing more to look for */
    unsigned                  inject:1;   /* a prompt was decided */
    unsigned                  injected:1;
    unsigned                  drawn:1;    /* a sample= draw was made */
    unsigned                  cache_put:1;
    unsigned                  json:1;     /* snippet: the prompt JSON only */
    unsigned                  preview:1;  /* ?cx_preview=: nothing counted */
    unsigned                  sized:1;
    unsigned                  ended:1;    /* last_buf sent with the last byte */
} ngx_http_cx_ctx_t;


/* A small static file kept whole; see ngx_http_cx_filecache.c. */
typedef struct {
    ngx_uint_t                refs;
    size_t                    size;
    u_char                    data[1];
} ngx_http_cx_file_body_t;


/* A static file's scan result, see ngx_http_cx_filecache.c. */
typedef struct {
    off_t                     tag_at;     /* -1: no </body> */
    u_char                   *tail;       /* from tag_at to the end */
    size_t                    tail_len;   /* 0: not kept */
    ngx_http_cx_file_body_t  *body;       /* the whole file, or NULL */
} ngx_http_cx_file_hit_t;


/* A journey event, written to the store behind the request. */
#define NGX_HTTP_CX_EVENT_VISIT   1       /* name: the touchpoint */
#define NGX_HTTP_CX_EVENT_OFFER   2       /* name: the survey */

/* at_ms, visitor, kind, stage, name_len, name: see ngx_cx_record.h */
typedef ngx_cx_journey_t  ngx_http_cx_event_t;


extern ngx_module_t  ngx_http_cx_module;
extern ngx_str_t     ngx_http_cx_widget;
extern ngx_str_t     ngx_http_cx_dashboard;



/* ngx_http_cx_headers.c */
/* the first request header with that name (any case), or NULL */
ngx_table_elt_t *ngx_http_cx_header_in(ngx_http_request_t *r,
    const char *name, size_t len);
/* at most one such header: NGX_OK, *found NULL if absent; NGX_DECLINED
 * (and *found NULL) when there are several */
/* every header of a list in turn: start with part = &list.part, i = 0;
 * NULL after the last */
ngx_table_elt_t *ngx_http_cx_headers_next(ngx_list_part_t **part,
    ngx_uint_t *i);
ngx_int_t ngx_http_cx_header_in_once(ngx_http_request_t *r,
    const char *name, size_t len, ngx_table_elt_t **found);
/* a request cookie's value: NGX_OK, or NGX_DECLINED when absent */
ngx_int_t ngx_http_cx_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);
/* sends body (static memory) after the headers set; HEAD: headers only */
ngx_int_t ngx_http_cx_send_bytes(ngx_http_request_t *r, ngx_str_t *body);
/* a JSON answer of the module's own: status, application/json, no-store */
ngx_int_t ngx_http_cx_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);

/*
 * A page of the module's own (the dashboard, an alert's page): 200, HTML,
 * its Content-Security-Policy, never cached, no referrer, no sniffing.
 */
ngx_int_t ngx_http_cx_send_page(ngx_http_request_t *r, const char *policy,
    ngx_str_t *body);

/* A POST from this site (Origin, Sec-Fetch-Site), or from no browser. */
ngx_int_t ngx_http_cx_same_origin(ngx_http_request_t *r);
/* adds a response header; name static, value from the request's pool */
ngx_int_t ngx_http_cx_header_add(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len);
/* adds a response header; name and value must outlive the request */
ngx_int_t ngx_http_cx_header_out(ngx_http_request_t *r, const char *name,
    const char *value);

/* ngx_http_cx_survey.c */
char *ngx_http_cx_survey_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* checks a cx_survey or cx_touchpoint name; logs why it is refused */
ngx_int_t ngx_http_cx_conf_name(ngx_conf_t *cf, const char *directive,
    ngx_str_t *name);
ngx_http_cx_survey_t *ngx_http_cx_survey_find(ngx_http_cx_main_conf_t *cmcf,
    u_char *name, size_t len);

/* ngx_http_cx_survey_lang.c */
ngx_int_t ngx_http_cx_survey_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);
ngx_http_cx_rendering_t *ngx_http_cx_survey_pick(ngx_http_request_t *r,
    ngx_http_cx_survey_t *survey);
/*
 * The follow-up question the widget asks after an answer in band
 * (NGX_HTTP_CX_BAND_*) of a prompt rendered in lang, as w.js chooses it
 * from the rendering; NULL when there is none.
 */
ngx_str_t *ngx_http_cx_survey_followup(ngx_http_cx_survey_t *survey,
    ngx_str_t *lang, ngx_uint_t band);

/* ngx_http_cx_visitor.c */
char *ngx_http_cx_cookie_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_cx_visitor_init_main_conf(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);
time_t ngx_http_cx_now(ngx_http_request_t *r);
ngx_int_t ngx_http_cx_gpc(ngx_http_request_t *r);
ngx_int_t ngx_http_cx_random(void *buf, size_t len);
ngx_int_t ngx_http_cx_visitor_get(ngx_http_request_t *r,
    ngx_http_cx_main_conf_t *cmcf, time_t now, ngx_http_cx_visitor_t *visitor);
ngx_int_t ngx_http_cx_visitor_peek(ngx_http_request_t *r,
    ngx_http_cx_main_conf_t *cmcf, ngx_cx_visitor_t *v);
ngx_int_t ngx_http_cx_visitor_set_cookie(ngx_http_request_t *r,
    ngx_http_cx_main_conf_t *cmcf, ngx_http_cx_visitor_t *visitor);

/* ngx_http_cx_keys.c */
char *ngx_http_cx_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_cx_conf_read_key(ngx_conf_t *cf, ngx_str_t *path,
    size_t max, ngx_str_t *key);
ngx_int_t ngx_http_cx_keys_init(ngx_log_t *log, ngx_http_cx_main_conf_t *cmcf);

/* ngx_http_cx_prompt.c */
char *ngx_http_cx_touchpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_cx_prompt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_cx_prompt_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);
ngx_int_t ngx_http_cx_prompt_decide(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_str_t *nonce, ngx_http_cx_ctx_t *ctx);
ngx_int_t ngx_http_cx_prompt_fixed(ngx_http_request_t *r,
    ngx_http_cx_survey_t *survey, ngx_str_t *token, ngx_flag_t preview,
    ngx_str_t *nonce, ngx_http_cx_ctx_t *ctx);
void ngx_http_cx_event(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *name, ngx_uint_t stage);
/* A touchpoint visit: counted in the cookie, and queued as an event that
 * carries the journey (the touchpoint before, the first purchase visit). */
void ngx_http_cx_visit(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_http_cx_loc_conf_t *lcf);

/* ngx_http_cx_variables.c */
ngx_int_t ngx_http_cx_add_variables(ngx_conf_t *cf);

/* ngx_http_cx_filecache.c */
ngx_int_t ngx_http_cx_filecache_get(ngx_fd_t fd, struct stat *st,
    ngx_http_cx_file_hit_t *hit);
void ngx_http_cx_filecache_put(struct stat *st, off_t tag_at, u_char *tail,
    size_t tail_len, ngx_file_t *file);
ngx_int_t ngx_http_cx_filecache_hold(ngx_pool_t *pool,
    ngx_http_cx_file_body_t *body);
ngx_int_t ngx_http_cx_filecache_send(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx, ngx_buf_t *b, ngx_chain_t ***last);
void ngx_http_cx_filecache_tag(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, off_t tag_at);

/* ngx_http_cx_filter.c; the output helpers serve the file cache too */
ngx_int_t ngx_http_cx_filter_init(ngx_conf_t *cf);
/* appends b to the chain at *last; NGX_ERROR for a NULL b or no memory */
ngx_int_t ngx_http_cx_emit(ngx_http_request_t *r, ngx_chain_t ***last,
    ngx_buf_t *b);
/* a buffer of the filter's own with the snippet; NULL: no memory */
ngx_buf_t *ngx_http_cx_snippet_buf(ngx_http_request_t *r,
    ngx_http_cx_ctx_t *ctx);
/* one of ours for b's first size bytes; b is consumed once they are sent
 * when shadow is b (give NULL when b itself follows in the chain) */
ngx_buf_t *ngx_http_cx_prefix(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx,
    ngx_buf_t *b, off_t size, ngx_buf_t *shadow);
void ngx_http_cx_advance(ngx_buf_t *b, off_t n);
/* the prompt went into the page: marks it, records the offer */
void ngx_http_cx_offered(ngx_http_request_t *r, ngx_http_cx_ctx_t *ctx);

/* ngx_http_cx_response.c */
ngx_int_t ngx_http_cx_response_eligible(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_str_t *nonce);
void ngx_http_cx_response_prepare(ngx_http_request_t *r);
ngx_int_t ngx_http_cx_response_private(ngx_http_request_t *r);

/* ngx_http_cx_endpoint.c */
char *ngx_http_cx_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* the location of cx_endpoint or cx_report: a prefix ending in "/" */
ngx_http_core_loc_conf_t *ngx_http_cx_conf_prefix_location(ngx_conf_t *cf,
    const char *example);
ngx_int_t ngx_http_cx_endpoint_handler(ngx_http_request_t *r);
/* sends {"error":"<error>"} with status; error is a fixed ASCII sentence */
ngx_int_t ngx_http_cx_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error);

/* ngx_http_cx_preview.c: <report>preview, then ?cx_preview= on a page */
ngx_int_t ngx_http_cx_preview_issue(ngx_http_request_t *r);
ngx_http_cx_survey_t *ngx_http_cx_preview_survey(ngx_http_request_t *r);
ngx_int_t ngx_http_cx_preview_prepare(ngx_http_request_t *r,
    ngx_http_cx_loc_conf_t *lcf, ngx_http_cx_survey_t *survey);

/* ngx_http_cx_link.c: survey links, <endpoint>s/<link> and <report>link */
ngx_int_t ngx_http_cx_link_page(ngx_http_request_t *r, ngx_str_t *link);
ngx_int_t ngx_http_cx_link_issue(ngx_http_request_t *r);
ngx_uint_t ngx_http_cx_link_stage(ngx_http_cx_main_conf_t *cmcf,
    ngx_cx_token_t *t);

/* ngx_http_cx_spa.c: <endpoint>p, a single-page application's route */
ngx_int_t ngx_http_cx_spa(ngx_http_request_t *r);

/* ngx_http_cx_report.c */
ngx_int_t ngx_http_cx_report_handler(ngx_http_request_t *r);

/* ngx_http_cx_store_conf.c */
char *ngx_http_cx_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cx_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_cx_store_postconfiguration(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);

/* ngx_http_cx_lua_conf.c */
char *ngx_http_cx_target_by_lua_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cx_lua_package_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cx_lua_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_cx_lua_memory(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_cx_lua_init_main_conf(ngx_conf_t *cf,
    ngx_http_cx_main_conf_t *cmcf);


#endif /* _NGX_HTTP_CX_H_INCLUDED_ */
