/*
 * cxctl -- the command-line side of the ngx_cx store (README: Reports, cxctl).
 *
 * Reads and edits the LMDB environment nginx writes (ngx_cx_record.h has
 * the layout and the codec for its keys and values) while nginx runs: LMDB lets any number of processes read, and
 * serialises writers through its lock file, so cxctl's write transactions
 * simply queue behind (or ahead of) the workers' commits.
 *
 * Rules every command follows:
 *   - Exit 0 on success, 1 when the store cannot be opened or read or written
 *     (or a report finds nothing of the survey it names), 2 for a usage error
 *     (message on stderr; a missing --store and CX_STORE is one), 130 when
 *     interrupted.
 *   - A read transaction is never left behind: SIGPIPE is ignored and SIGINT
 *     and SIGTERM only raise cxctl_stop, so every walk ends by aborting or
 *     committing its transaction. A killed reader would keep its slot and
 *     pin old pages until nginx's next mdb_reader_check().
 *   - Writes go in batches of short transactions, so nginx's commits (which
 *     wait for the single LMDB writer lock) are delayed by one batch, never by
 *     the whole walk.
 */

#ifndef CXCTL_H
#define CXCTL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <lmdb.h>

#include "ngx_cx_record.h"
#include "ngx_cx_rollup.h"
#include "ngx_cx_token.h"


#define CXCTL_EXIT_OK        0
#define CXCTL_EXIT_FAIL      1
#define CXCTL_EXIT_USAGE     2
#define CXCTL_EXIT_STOPPED   130

#define CXCTL_DAY_MS         86400000ULL


/* An open store: the environment and its two data databases. */
typedef struct {
    const char  *path;
    MDB_env     *env;
    MDB_dbi      responses;
    MDB_dbi      events;
    MDB_dbi      meta;
    MDB_dbi      alerts;
    int          has_alerts;
    MDB_dbi      rollups;
    int          has_rollups;       /* a store nginx opened since rollups */
    uint64_t     before_ms;         /* prune: responses leave the rollups
                                       unless their day goes whole */
} cxctl_store_t;

/* Options shared by the commands that select responses. */
typedef struct {
    const char  *survey;            /* NULL: all */
    size_t       survey_len;
    uint64_t     since_ms;          /* received_at >= since_ms */
    uint64_t     until_ms;          /* received_at < until_ms; 0: no bound */
} cxctl_filter_t;


extern volatile sig_atomic_t  cxctl_stop;


/* cxctl.c */

/* Prints "cxctl: <message>" and a newline on stderr. */
void cxctl_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * Opens the store at path, read-only (MDB_RDONLY) or for writing, and the
 * "responses" and "events" databases. Returns 0, or prints why and returns
 * -1 (the caller exits 1).
 */
int cxctl_store_open(cxctl_store_t *st, const char *path, int writable);
void cxctl_store_close(cxctl_store_t *st);

/*
 * 1 when rec passes the filter, 0 otherwise. Responses are dated by
 * ngx_cx_export_time, like the received_at column of the exports.
 */
int cxctl_filter_match(const cxctl_filter_t *f, const ngx_cx_record_t *rec);

/*
 * Parses the value of --since (is_until 0) or --until (is_until 1) into f.
 * --until names the last day included. Returns 0, or prints why and
 * returns -1.
 */
int cxctl_parse_day(cxctl_filter_t *f, const char *opt, const char *value,
    int is_until);

/*
 * Option parsing helper for "--name VALUE" and "--name=VALUE": when argv[*i]
 * is that option, sets *value, advances *i past what it used and returns 1;
 * returns 0 when argv[*i] is another argument; prints an error and returns -1
 * when the value is missing.
 */
int cxctl_opt(int argc, char **argv, int *i, const char *name,
    const char **value);


/*
 * Opens the store named by --store (store_opt, may be NULL), else by the
 * environment variable CX_STORE. Returns CXCTL_EXIT_OK, or prints why and
 * returns the exit code: CXCTL_EXIT_USAGE when no store is named (a missing
 * argument), CXCTL_EXIT_FAIL when the store cannot be opened.
 */
int cxctl_open(cxctl_store_t *st, const char *store_opt, int writable);

/* "1 response" but "0 responses", "2 responses": the word for n things. */
const char *cxctl_plural(uint64_t n, const char *one, const char *many);

/*
 * Says that command got an argument it does not take, and where its usage
 * is; returns CXCTL_EXIT_USAGE.
 */
int cxctl_unexpected(const char *command, const char *arg);

/*
 * The options report and export share: --store, --survey, --since,
 * --until.  1: argv[*i] (and its value) taken; 0: not one of them;
 * -1: a bad value (already reported).
 */
int cxctl_filter_opt(int argc, char **argv, int *i, const char **store_opt,
    cxctl_filter_t *f);


/*
 * The commands. Each gets the words after its name and the --store given
 * before it (NULL if none; "--store" after the command name overrides it),
 * checks its arguments before opening the store, and returns the exit code.
 */

/* cxctl_export.c */
int cxctl_cmd_export(int argc, char **argv, const char *store_opt);
extern const char  cxctl_usage_export[];

/* cxctl_alerts.c */
int cxctl_cmd_alerts(int argc, char **argv, const char *store_opt);
extern const char  cxctl_usage_alerts[];

/* cxctl_erase.c */
int cxctl_cmd_erase(int argc, char **argv, const char *store_opt);
int cxctl_cmd_prune(int argc, char **argv, const char *store_opt);
extern const char  cxctl_usage_erase[];
extern const char  cxctl_usage_prune[];

/* cxctl_link.c */
int cxctl_cmd_link(int argc, char **argv, const char *store_opt);
extern const char  cxctl_usage_link[];

/* cxctl_rollups.c */
int cxctl_cmd_rebuild(int argc, char **argv, const char *store_opt);
int cxctl_cmd_schema(int argc, char **argv, const char *store_opt);
int cxctl_cmd_forward(int argc, char **argv, const char *store_opt);
extern const char  cxctl_usage_schema[];
extern const char  cxctl_usage_forward[];
extern const char  cxctl_usage_rebuild[];


#endif /* CXCTL_H */
