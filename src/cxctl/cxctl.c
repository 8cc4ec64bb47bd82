/*
 * cxctl: command line, store access, and the read-only summaries (stats,
 * report). See cxctl.h for the rules every command follows.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <time.h>

#include "cxctl.h"
#include "ngx_cx_alert.h"
#include "ngx_cx_export.h"
#include "ngx_cx_score.h"
#include "ngx_cx_forward.h"


volatile sig_atomic_t  cxctl_stop;

static const char  cxctl_usage[] =
    "usage: cxctl [--store DIR] COMMAND [OPTIONS]\n"
    "\n"
    "Reads and maintains the ngx_cx response store (an LMDB directory, the\n"
    "cx_store path of nginx.conf) while nginx runs.\n"
    "\n"
    "  --store DIR   the store directory (default: $CX_STORE)\n"
    "  --help        this text; COMMAND --help describes a command\n"
    "\n"
    "commands:\n"
    "  stats                      store size, used space, counts per survey\n"
    "  report [--survey NAME] [--since DAY] [--until DAY]\n"
    "                             score and distribution per survey\n"
    "  export --format csv|ndjson [--excel] [--survey NAME] [--since DAY]\n"
    "         [--until DAY]       every response, to standard output\n"
    "  erase --visitor ID         delete every response and event of a visitor\n"
    "  prune --before DAY [--dry-run]\n"
    "                             delete responses and events older than DAY\n"
    "  alerts [--open]            the alerts of the cx_alert rules\n"
    "  rebuild-rollups            build report.json's aggregates again\n"
    "  forward --since DAY [--until DAY]\n"
    "                             queue records for cx_forward (a backfill)\n"
    "  clickhouse-schema [--database NAME]\n"
    "                             the ClickHouse tables' DDL\n"
    "  link --survey NAME --touchpoint NAME [--attr K=V ...] [--expires 14d]\n"
    "                             a survey link for a touchpoint off the site\n"
    "\n"
    "DAY is YYYY-MM-DD (UTC). Exit status: 0 done, 1 store error (or report\n"
    "--survey NAME of a survey the store has no response of), 2 bad arguments\n"
    "(no --store and no CX_STORE is one), 130 interrupted.\n";

static const char  cxctl_usage_stats[] =
    "usage: cxctl [--store DIR] stats\n"
    "\n"
    "Prints the store path, its map size (the cx_store max_size), the bytes\n"
    "in use, the number of responses and journey events, and per survey the\n"
    "responses stored and answered.\n";

static const char  cxctl_usage_report[] =
    "usage: cxctl [--store DIR] report [--survey NAME] [--since DAY]\n"
    "                                  [--until DAY]\n"
    "\n"
    "Prints per survey: type, responses, displayed, answered, dismissed, the\n"
    "score (NPS: %% promoters - %% detractors; CSAT: %% of answers 4-5;\n"
    "CES: mean), NPS groups, and the count per score.\n"
    "\n"
    "  --survey NAME   only that survey\n"
    "  --since DAY     responses received on or after DAY (YYYY-MM-DD, UTC)\n"
    "  --until DAY     responses received on or before DAY\n"
    "\n"
    "With --survey NAME, a store that holds no response of that survey at\n"
    "all (a misspelt name, the wrong store) exits 1 with a message on\n"
    "stderr; responses of it, none in the dates, print \"no responses of\n"
    "survey ...\" and exit 0.\n";


typedef struct {
    unsigned char   *name;
    size_t           len;
    unsigned char    type;
    uint64_t         responses;
    uint64_t         displayed;
    uint64_t         answered;
    uint64_t         dismissed;
    uint64_t         commented;
    ngx_cx_tally_t   tally;
} cxctl_survey_t;

typedef struct {
    cxctl_survey_t  *elts;
    size_t           nelts;
    size_t           nalloc;
    uint64_t         corrupt;
    uint64_t         named;         /* of the --survey, whatever the dates */
} cxctl_surveys_t;


static void cxctl_on_signal(int sig);
static int cxctl_cmd_stats(int argc, char **argv, const char *store_opt);
static int cxctl_cmd_report(int argc, char **argv, const char *store_opt);
static int cxctl_tally(cxctl_store_t *st, const cxctl_filter_t *f,
    cxctl_surveys_t *out);
static cxctl_survey_t *cxctl_survey(cxctl_surveys_t *s,
    const ngx_cx_record_t *rec);
static void cxctl_surveys_free(cxctl_surveys_t *s);
static int cxctl_survey_cmp(const void *a, const void *b);
static void cxctl_print_name(FILE *out, const unsigned char *p, size_t len);
static int cxctl_flush(void);


typedef struct {
    const char   *name;
    int         (*run)(int argc, char **argv, const char *store_opt);
    const char   *usage;
} cxctl_command_t;

static const cxctl_command_t  cxctl_commands[] = {
    { "stats",  cxctl_cmd_stats,  cxctl_usage_stats },
    { "report", cxctl_cmd_report, cxctl_usage_report },
    { "export", cxctl_cmd_export, cxctl_usage_export },
    { "erase",  cxctl_cmd_erase,  cxctl_usage_erase },
    { "prune",  cxctl_cmd_prune,  cxctl_usage_prune },
    { "alerts", cxctl_cmd_alerts, cxctl_usage_alerts },
    { "rebuild-rollups", cxctl_cmd_rebuild, cxctl_usage_rebuild },
    { "clickhouse-schema", cxctl_cmd_schema, cxctl_usage_schema },
    { "forward", cxctl_cmd_forward, cxctl_usage_forward },
    { "link",   cxctl_cmd_link,   cxctl_usage_link },
    { NULL, NULL, NULL }
};


int
main(int argc, char **argv)
{
    int                      i, j, rc;
    const char              *store_opt;
    struct sigaction         sa;
    const cxctl_command_t   *cmd;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = cxctl_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    store_opt = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cxctl_usage, stdout);
            return cxctl_flush();
        }

        rc = cxctl_opt(argc, argv, &i, "--store", &store_opt);
        if (rc < 0) {
            return CXCTL_EXIT_USAGE;
        }

        if (rc > 0) {
            continue;
        }

        if (argv[i][0] == '-') {
            cxctl_error("unknown option \"%s\" (see cxctl --help)", argv[i]);
            return CXCTL_EXIT_USAGE;
        }

        break;
    }

    if (i == argc) {
        cxctl_error("no command given (see cxctl --help)");
        return CXCTL_EXIT_USAGE;
    }

    for (cmd = cxctl_commands; cmd->name; cmd++) {
        if (strcmp(argv[i], cmd->name) == 0) {
            break;
        }
    }

    if (cmd->name == NULL) {
        cxctl_error("unknown command \"%s\" (see cxctl --help)", argv[i]);
        return CXCTL_EXIT_USAGE;
    }

    for (j = i + 1; j < argc; j++) {
        if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
            fputs(cmd->usage, stdout);
            return cxctl_flush();
        }
    }

    return cmd->run(argc - i - 1, argv + i + 1, store_opt);
}


static void
cxctl_on_signal(int sig)
{
    (void) sig;
    cxctl_stop = 1;
}


void
cxctl_error(const char *fmt, ...)
{
    va_list  ap;

    fputs("cxctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


/* A full disk or a closed pipe must not look like a complete output. */

static int
cxctl_flush(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cxctl_error("cannot write the output: %s", strerror(errno));
        return CXCTL_EXIT_FAIL;
    }

    return CXCTL_EXIT_OK;
}


int
cxctl_opt(int argc, char **argv, int *i, const char *name,
    const char **value)
{
    size_t  n;

    n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0) {
        return 0;
    }

    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }

    if (argv[*i][n] != '\0') {
        return 0;
    }

    if (*i + 1 >= argc) {
        cxctl_error("%s needs a value", name);
        return -1;
    }

    (*i)++;
    *value = argv[*i];
    return 1;
}


int
cxctl_filter_opt(int argc, char **argv, int *i, const char **store_opt,
    cxctl_filter_t *f)
{
    int          r;
    const char  *value;

    if ((r = cxctl_opt(argc, argv, i, "--store", store_opt)) != 0) {
        return r;
    }

    if ((r = cxctl_opt(argc, argv, i, "--survey", &value)) != 0) {
        if (r > 0) {
            f->survey = value;
            f->survey_len = strlen(value);
        }
        return r;
    }

    if ((r = cxctl_opt(argc, argv, i, "--since", &value)) != 0) {
        return (r < 0 || cxctl_parse_day(f, "--since", value, 0) != 0) ? -1 : 1;
    }

    if ((r = cxctl_opt(argc, argv, i, "--until", &value)) != 0) {
        return (r < 0 || cxctl_parse_day(f, "--until", value, 1) != 0) ? -1 : 1;
    }

    return 0;
}


int
cxctl_parse_day(cxctl_filter_t *f, const char *opt, const char *value,
    int is_until)
{
    uint64_t  ms;

    if (ngx_cx_parse_ymd((const unsigned char *) value, strlen(value), &ms)
        != 0)
    {
        cxctl_error("%s \"%s\": expected a date YYYY-MM-DD", opt, value);
        return -1;
    }

    if (is_until) {
        f->until_ms = ms + CXCTL_DAY_MS;
    } else {
        f->since_ms = ms;
    }

    if (f->until_ms && f->since_ms >= f->until_ms) {
        cxctl_error("--until is before --since");
        return -1;
    }

    return 0;
}


int
cxctl_filter_match(const cxctl_filter_t *f, const ngx_cx_record_t *rec)
{
    uint64_t  at;

    if (f->survey
        && (rec->survey.len != f->survey_len
            || memcmp(rec->survey.data, f->survey, f->survey_len) != 0))
    {
        return 0;
    }

    at = ngx_cx_export_time(rec);

    if (at < f->since_ms) {
        return 0;
    }

    if (f->until_ms && at >= f->until_ms) {
        return 0;
    }

    return 1;
}


int
cxctl_open(cxctl_store_t *st, const char *store_opt, int writable)
{
    const char  *path;

    path = store_opt;

    if (path == NULL) {
        path = getenv("CX_STORE");
    }

    if (path == NULL || path[0] == '\0') {
        cxctl_error("no store given: use --store DIR or set CX_STORE to the "
                    "cx_store directory of nginx.conf");
        return CXCTL_EXIT_USAGE;
    }

    return cxctl_store_open(st, path, writable) == 0 ? CXCTL_EXIT_OK
                                                    : CXCTL_EXIT_FAIL;
}


const char *
cxctl_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}


int
cxctl_unexpected(const char *command, const char *arg)
{
    cxctl_error("%s: unexpected argument \"%s\" (see cxctl %s --help)",
                command, arg, command);
    return CXCTL_EXIT_USAGE;
}


int
cxctl_store_open(cxctl_store_t *st, const char *path, int writable)
{
    int           rc, dead;
    MDB_txn      *txn;
    struct stat   sb;

    memset(st, 0, sizeof(*st));
    st->path = path;

    /* LMDB would create a missing data file; a typo must not make a store */
    if (stat(path, &sb) != 0) {
        cxctl_error("cannot open store \"%s\": %s", path, strerror(errno));
        return -1;
    }

    if (!S_ISDIR(sb.st_mode)) {
        cxctl_error("cannot open store \"%s\": not a directory", path);
        return -1;
    }

    rc = mdb_env_create(&st->env);
    if (rc != 0) {
        cxctl_error("mdb_env_create(): %s", mdb_strerror(rc));
        return -1;
    }

    /*
     * No mdb_env_set_mapsize(): the environment then takes the map size
     * nginx recorded (cx_store max_size), so cxctl never shrinks or grows it.
     */
    mdb_env_set_maxdbs(st->env, NGX_CX_STORE_MAXDBS);

    rc = mdb_env_open(st->env, path,
                      MDB_NOTLS | (writable ? 0 : MDB_RDONLY), 0600);
    if (rc != 0) {
        if (rc == ENOENT) {
            cxctl_error("cannot open store \"%s\": no data.mdb there (is it "
                        "the cx_store directory, and has nginx started with "
                        "it?)", path);
        } else {
            /* even readers write their slot into lock.mdb */
            cxctl_error("cannot open store \"%s\": %s%s", path,
                        mdb_strerror(rc),
                        rc == EACCES ? " (run cxctl as root or as the nginx "
                                       "worker user)" : "");
        }
        mdb_env_close(st->env);
        st->env = NULL;
        return -1;
    }

    /* slots of readers killed earlier would pin old pages */
    dead = 0;
    (void) mdb_reader_check(st->env, &dead);

    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NGX_CX_DB_RESPONSES, 0, &st->responses);
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_EVENTS, 0, &st->events);
        }
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NGX_CX_DB_META, 0, &st->meta);
        }
        if (rc == 0) {
            /* a store nginx has not opened since alerts came: none yet */
            st->has_alerts = (mdb_dbi_open(txn, NGX_CX_DB_ALERTS, 0,
                                           &st->alerts) == 0);
            st->has_rollups = (mdb_dbi_open(txn, NGX_CX_DB_ROLLUPS, 0,
                                            &st->rollups) == 0);
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }

    if (rc != 0) {
        cxctl_error("cannot open store \"%s\": %s", path,
                    rc == MDB_NOTFOUND ? "not an ngx_cx store (no responses "
                                         "or events database)"
                                       : mdb_strerror(rc));
        mdb_env_close(st->env);
        st->env = NULL;
        return -1;
    }

    return 0;
}


void
cxctl_store_close(cxctl_store_t *st)
{
    if (st->env) {
        mdb_env_close(st->env);
        st->env = NULL;
    }
}


/* ---- stats ---- */

/* A counter of the meta database: 0 when absent; an error when unreadable. */

static int
cxctl_counter(MDB_txn *txn, cxctl_store_t *st, const char *name,
    uint64_t *value)
{
    int      rc;
    MDB_val  key, val;

    *value = 0;

    key.mv_data = (void *) name;
    key.mv_size = strlen(name);

    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == 0 && ngx_cx_counter_decode(val.mv_data, val.mv_size, value) != 0)
    {
        return MDB_CORRUPTED;
    }

    return rc;
}


static int
cxctl_cmd_stats(int argc, char **argv, const char *store_opt)
{
    int               i, rc, r, ready;
    size_t            k;
    MDB_txn          *txn;
    MDB_stat          ms, rs, es, ros, obs;
    MDB_dbi           outbox;
    MDB_cursor       *cur;
    MDB_val           ok, ov;
    uint64_t          oldest_ms;
    MDB_envinfo       info;
    cxctl_store_t     st;
    cxctl_filter_t    f;
    cxctl_surveys_t   s;
    uint64_t          used, dropped;

    for (i = 0; i < argc; i++) {
        r = cxctl_opt(argc, argv, &i, "--store", &store_opt);

        if (r == 0) {
            return cxctl_unexpected("stats", argv[i]);
        }

        if (r < 0) {
            return CXCTL_EXIT_USAGE;
        }
    }

    if ((rc = cxctl_open(&st, store_opt, 0)) != CXCTL_EXIT_OK) {
        return rc;
    }

    ready = 0;
    ros.ms_entries = 0;

    rc = mdb_env_info(st.env, &info);
    if (rc == 0) {
        rc = mdb_env_stat(st.env, &ms);
    }

    if (rc == 0) {
        rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
        if (rc == 0) {
            rc = mdb_stat(txn, st.responses, &rs);
            if (rc == 0) {
                rc = mdb_stat(txn, st.events, &es);
            }
            if (rc == 0) {
                rc = cxctl_counter(txn, &st, NGX_CX_META_DROPPED, &dropped);
            }
            if (rc == 0 && st.has_rollups) {
                rc = mdb_stat(txn, st.rollups, &ros);
            }
            if (rc == 0) {
                rc = ngx_cx_rollup_ready(txn, st.meta, &ready);
            }
            /* the outbox: a store nginx has not opened since has none */
            obs.ms_entries = 0;
            oldest_ms = 0;
            if (rc == 0
                && mdb_dbi_open(txn, NGX_CX_DB_OUTBOX, 0, &outbox) == 0)
            {
                rc = mdb_stat(txn, outbox, &obs);
                if (rc == 0 && obs.ms_entries
                    && mdb_cursor_open(txn, outbox, &cur) == 0)
                {
                    if (mdb_cursor_get(cur, &ok, &ov, MDB_FIRST) == 0) {
                        (void) ngx_cx_journey_key_ms(ok.mv_data, ok.mv_size,
                                                     &oldest_ms);
                    }
                    mdb_cursor_close(cur);
                }
            }
            mdb_txn_abort(txn);
        }
    }

    if (rc != 0) {
        cxctl_error("cannot read store \"%s\": %s", st.path, mdb_strerror(rc));
        cxctl_store_close(&st);
        return CXCTL_EXIT_FAIL;
    }

    memset(&f, 0, sizeof(f));
    if (cxctl_tally(&st, &f, &s) != 0) {
        cxctl_store_close(&st);
        return cxctl_stop ? CXCTL_EXIT_STOPPED : CXCTL_EXIT_FAIL;
    }

    /* pages 0 and 1 are the meta pages; last_pgno is the highest in use */
    used = ((uint64_t) info.me_last_pgno + 1) * ms.ms_psize;

    printf("store       %s\n", st.path);
    printf("map size    %llu bytes (%.1f MiB)\n",
           (unsigned long long) info.me_mapsize,
           (double) info.me_mapsize / 1048576.0);
    printf("used        %llu bytes (%.1f MiB, %.1f%%)\n",
           (unsigned long long) used, (double) used / 1048576.0,
           info.me_mapsize ? 100.0 * (double) used / (double) info.me_mapsize
                           : 0.0);
    printf("page size   %u\n", ms.ms_psize);
    printf("readers     %u of %u slots\n", info.me_numreaders,
           info.me_maxreaders);
    printf("responses   %llu\n", (unsigned long long) rs.ms_entries);
    printf("events      %llu\n", (unsigned long long) es.ms_entries);
    printf("dropped     %llu %s (journey events counted but not stored)\n",
           (unsigned long long) dropped,
           cxctl_plural(dropped, "event", "events"));

    if (obs.ms_entries) {
        printf("outbox      %llu %s for ClickHouse, oldest %llds ago\n",
               (unsigned long long) obs.ms_entries,
               cxctl_plural(obs.ms_entries, "entry", "entries"),
               oldest_ms ? (long long) (time(NULL) - (time_t) (oldest_ms / 1000))
                         : 0LL);
    } else {
        printf("outbox      empty (cx_forward: everything sent, or off)\n");
    }

    if (ready && st.has_rollups) {
        printf("rollups     %llu rows (report.json's aggregates)\n",
               (unsigned long long) ros.ms_entries);
    } else {
        printf("rollups     not built (nginx builds them when it starts; or "
               "cxctl rebuild-rollups)\n");
    }
    if (s.corrupt) {
        printf("unreadable  %llu %s\n", (unsigned long long) s.corrupt,
               cxctl_plural(s.corrupt, "response", "responses"));
    }

    if (s.nelts) {
        printf("\n%-24s %-5s %10s %10s\n", "survey", "type", "responses",
               "answered");
        for (k = 0; k < s.nelts; k++) {
            cxctl_print_name(stdout, s.elts[k].name, s.elts[k].len);
            printf("%*s %-5s %10llu %10llu\n",
                   s.elts[k].len < 24 ? (int) (24 - s.elts[k].len) : 0, "",
                   ngx_cx_type_name(s.elts[k].type),
                   (unsigned long long) s.elts[k].responses,
                   (unsigned long long) s.elts[k].answered);
        }
    }

    cxctl_surveys_free(&s);
    cxctl_store_close(&st);

    return cxctl_flush();
}


/* ---- report ---- */

static int
cxctl_cmd_report(int argc, char **argv, const char *store_opt)
{
    int               i, r, rc, lo, hi, sc;
    size_t            k;
    uint64_t          pro, pas, det;
    cxctl_store_t     st;
    cxctl_filter_t    f;
    cxctl_surveys_t   s;
    cxctl_survey_t   *sv;

    memset(&f, 0, sizeof(f));

    for (i = 0; i < argc; i++) {
        if ((r = cxctl_filter_opt(argc, argv, &i, &store_opt, &f)) != 0) {
            if (r < 0) {
                return CXCTL_EXIT_USAGE;
            }

        } else {
            return cxctl_unexpected("report", argv[i]);
        }
    }

    if ((rc = cxctl_open(&st, store_opt, 0)) != CXCTL_EXIT_OK) {
        return rc;
    }

    if (cxctl_tally(&st, &f, &s) != 0) {
        cxctl_store_close(&st);
        return cxctl_stop ? CXCTL_EXIT_STOPPED : CXCTL_EXIT_FAIL;
    }

    cxctl_store_close(&st);

    /*
     * A survey named but never answered is most often a typo or the wrong
     * store: an empty report with exit 0 would pass for "no answers yet".
     */
    if (f.survey && s.named == 0) {
        cxctl_error("the store has no responses of survey \"%s\"%s",
                    f.survey, s.corrupt ? " (some responses are unreadable)"
                                        : "");
        cxctl_surveys_free(&s);
        return CXCTL_EXIT_FAIL;
    }

    if (s.nelts == 0) {
        if (f.survey) {
            printf("no responses of survey \"%s\" in these dates\n",
                   f.survey);
        } else {
            printf("no responses\n");
        }
    }

    for (k = 0; k < s.nelts; k++) {
        sv = &s.elts[k];

        if (k) {
            putchar('\n');
        }

        printf("survey        ");
        cxctl_print_name(stdout, sv->name, sv->len);
        printf("\ntype          %s\n", ngx_cx_type_name(sv->type));
        printf("responses     %llu\n", (unsigned long long) sv->responses);
        printf("displayed     %llu\n", (unsigned long long) sv->displayed);
        printf("answered      %llu\n", (unsigned long long) sv->answered);
        printf("commented     %llu\n", (unsigned long long) sv->commented);
        printf("dismissed     %llu\n", (unsigned long long) sv->dismissed);

        if (sv->answered == 0) {
            printf("score         -\n");
        } else {
            printf("score         %.1f\n", ngx_cx_tally_score(&sv->tally));
        }

        if (sv->type == NGX_CX_TYPE_NPS) {
            ngx_cx_tally_nps_groups(&sv->tally, &pro, &pas, &det);
            printf("promoters     %llu\npassives      %llu\n"
                   "detractors    %llu\n", (unsigned long long) pro,
                   (unsigned long long) pas, (unsigned long long) det);
        }

        if (ngx_cx_score_range(sv->type, &lo, &hi)) {
            printf("distribution ");
            for (sc = lo; sc <= hi; sc++) {
                printf(" %d:%llu", sc,
                       (unsigned long long) sv->tally.dist[sc]);
            }
            putchar('\n');
        }
    }

    if (s.corrupt) {
        printf("\n%llu unreadable %s skipped\n",
               (unsigned long long) s.corrupt,
               cxctl_plural(s.corrupt, "response", "responses"));
    }

    cxctl_surveys_free(&s);

    return cxctl_flush();
}


/* Walks every response once and counts it into its survey's entry. */

static int
cxctl_tally(cxctl_store_t *st, const cxctl_filter_t *f, cxctl_surveys_t *out)
{
    int               rc;
    MDB_txn          *txn;
    MDB_val           key, val;
    MDB_cursor       *cur;
    cxctl_survey_t   *sv;
    ngx_cx_record_t   rec;

    memset(out, 0, sizeof(*out));

    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    mdb_strerror(rc));
        return -1;
    }

    rc = mdb_cursor_open(txn, st->responses, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    mdb_strerror(rc));
        return -1;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0 && !cxctl_stop;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (ngx_cx_response_decode(key.mv_data, key.mv_size, val.mv_data,
                                   val.mv_size, &rec)
            != 0)
        {
            out->corrupt++;
            continue;
        }

        if (f->survey && rec.survey.len == f->survey_len
            && memcmp(rec.survey.data, f->survey, f->survey_len) == 0)
        {
            out->named++;
        }

        if (!cxctl_filter_match(f, &rec)) {
            continue;
        }

        sv = cxctl_survey(out, &rec);
        if (sv == NULL) {
            rc = ENOMEM;
            break;
        }

        sv->responses++;
        sv->displayed += (rec.flags & NGX_CX_REC_DISPLAYED) != 0;
        sv->commented += (rec.flags & NGX_CX_REC_COMMENTED) != 0;
        sv->dismissed += (rec.flags & NGX_CX_REC_DISMISSED) != 0;

        if ((rec.flags & NGX_CX_REC_ANSWERED)
            && ngx_cx_tally_add(&sv->tally, rec.score) == 0)
        {
            sv->answered++;
        }
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);

    if (cxctl_stop) {
        cxctl_error("interrupted");
        cxctl_surveys_free(out);
        return -1;
    }

    if (rc != MDB_NOTFOUND) {
        cxctl_error("cannot read store \"%s\": %s", st->path,
                    rc == ENOMEM ? strerror(rc) : mdb_strerror(rc));
        cxctl_surveys_free(out);
        return -1;
    }

    if (out->nelts > 1) {
        qsort(out->elts, out->nelts, sizeof(cxctl_survey_t), cxctl_survey_cmp);
    }

    return 0;
}


/* The entry of rec's survey (a survey redefined with another type gets a
 * second entry: its scores are on another scale). NULL when out of memory. */

static cxctl_survey_t *
cxctl_survey(cxctl_surveys_t *s, const ngx_cx_record_t *rec)
{
    size_t           i, n;
    cxctl_survey_t  *sv;

    for (i = 0; i < s->nelts; i++) {
        sv = &s->elts[i];
        if (sv->type == rec->type && sv->len == rec->survey.len
            && (sv->len == 0
                || memcmp(sv->name, rec->survey.data, sv->len) == 0))
        {
            return sv;
        }
    }

    if (s->nelts == s->nalloc) {
        n = s->nalloc ? 2 * s->nalloc : 16;
        sv = realloc(s->elts, n * sizeof(cxctl_survey_t));
        if (sv == NULL) {
            return NULL;
        }
        s->elts = sv;
        s->nalloc = n;
    }

    sv = &s->elts[s->nelts];
    memset(sv, 0, sizeof(*sv));

    sv->name = malloc(rec->survey.len + 1);
    if (sv->name == NULL) {
        return NULL;
    }

    if (rec->survey.len) {
        memcpy(sv->name, rec->survey.data, rec->survey.len);
    }
    sv->len = rec->survey.len;
    sv->type = rec->type;
    ngx_cx_tally_init(&sv->tally, rec->type);

    s->nelts++;

    return sv;
}


static void
cxctl_surveys_free(cxctl_surveys_t *s)
{
    size_t  i;

    for (i = 0; i < s->nelts; i++) {
        free(s->elts[i].name);
    }

    free(s->elts);
    memset(s, 0, sizeof(*s));
}


static int
cxctl_survey_cmp(const void *a, const void *b)
{
    int                    c;
    size_t                 n;
    const cxctl_survey_t  *x = a, *y = b;

    n = x->len < y->len ? x->len : y->len;
    c = n ? memcmp(x->name, y->name, n) : 0;

    if (c == 0) {
        c = (x->len > y->len) - (x->len < y->len);
    }

    if (c == 0) {
        c = (int) x->type - (int) y->type;
    }

    return c;
}


/* Survey names come from nginx.conf, but a terminal is no place to trust
 * stored bytes: control characters are shown as '?'. */

static void
cxctl_print_name(FILE *out, const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        fputc(p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i], out);
    }
}
