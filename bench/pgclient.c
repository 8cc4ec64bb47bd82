/*
 * pgclient -- the same answers into PostgreSQL: one INSERT a request.
 *
 *   pgclient [-c conns] [-d seconds] [-w seconds] [-n max] [-s] conninfo
 *
 * What a team would otherwise put behind a feedback endpoint: a table of
 * answers in PostgreSQL, one INSERT per answer, each committed on its own
 * (autocommit; the server's synchronous_commit decides when the commit
 * returns).  `conns` connections each run one INSERT, wait for its
 * result, and run the next at once: a closed loop, the concurrency
 * exactly `conns`, like intakeload's against nginx.  The rows have the
 * shape of an ngx_cx response: the prompt's id and the visitor's (random),
 * survey, touchpoint, stage, language, page path, event (display, then
 * the same prompt's answer with a score, as the widget sends them), the
 * device class, when the prompt was issued and when the row was written.
 * The statement is prepared once per connection, so the server parses
 * nothing per answer.
 *
 * -s creates the table first (dropping any) and exits.  Timing and the
 * printed line are intakeload's:
 *   conns C answers N seconds S rps R p50_ms P50 p99_ms P99 max_ms M
 * Exits 1 on any error.
 *
 * C over libpq's asynchronous calls, one thread, epoll; bounded in time
 * and count.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_util.h"

#define MAX_CONNS  256


typedef struct {
    PGconn   *pg;
    double    sent;
    long      k;                     /* the request's number */
} conn_t;


static conn_t    conns[MAX_CONNS];
static long      next_request, max_requests;
static unsigned  seed = 42;

static const char  *schema =
    "SET client_min_messages = warning;"
    "DROP TABLE IF EXISTS answers;"
    "CREATE TABLE answers ("
    "  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  prompt_id   bytea NOT NULL,"
    "  visitor     bytea NOT NULL,"
    "  survey      text NOT NULL,"
    "  touchpoint  text NOT NULL,"
    "  stage       smallint NOT NULL,"
    "  lang        text NOT NULL,"
    "  path        text NOT NULL,"
    "  event       text NOT NULL,"
    "  score       smallint,"
    "  comment     text,"
    "  device      smallint,"
    "  issued_at   timestamptz NOT NULL,"
    "  created_at  timestamptz NOT NULL DEFAULT now());"
    /* what a report asks: a survey's answers over a time range */
    "CREATE INDEX answers_survey_time ON answers (survey, created_at);";

static const char  *insert =
    "INSERT INTO answers (prompt_id, visitor, survey, touchpoint, stage,"
    " lang, path, event, score, device, issued_at)"
    " VALUES (decode($1, 'hex'), decode($2, 'hex'), $3, $4, $5, $6, $7, $8,"
    " $9, $10, now() - interval '3 seconds')";


static void
fail(const char *what, PGconn *pg)
{
    fprintf(stderr, "pgclient: %s%s%s\n", what, pg ? ": " : "",
            pg ? PQerrorMessage(pg) : "");
    exit(1);
}


static void
hex(char *out, int bytes)
{
    static const char  digits[] = "0123456789abcdef";

    while (bytes--) {
        seed = seed * 1103515245 + 12345;
        *out++ = digits[(seed >> 16) & 15];
        *out++ = digits[(seed >> 20) & 15];
    }

    *out = '\0';
}


/* The next display or answer; 0 when -n requests are sent. */

static int
send_insert(conn_t *c)
{
    long                k;
    char                score[8];
    const char         *values[10];
    static char         prompt[25], visitor[33];

    if (next_request >= max_requests) {
        return 0;
    }

    k = next_request++;

    /* a display starts a prompt; its answer follows with the same ids */
    if (k % 2 == 0) {
        hex(prompt, 12);
        hex(visitor, 16);
    }

    snprintf(score, sizeof(score), "%ld", (k / 2) % 11);

    values[0] = prompt;
    values[1] = visitor;
    values[2] = "bench_nps";
    values[3] = "home";
    values[4] = "1";
    values[5] = "en";
    values[6] = "/index.html";
    values[7] = (k % 2 == 0) ? "display" : "answer";
    values[8] = (k % 2 == 0) ? NULL : score;
    values[9] = (k % 2 == 0) ? NULL : "1";

    c->k = k;
    c->sent = now();

    if (!PQsendQueryPrepared(c->pg, "insert", 10, values, NULL, NULL, 0)) {
        fail("PQsendQueryPrepared", c->pg);
    }

    return 1;
}


/* 1 when the connection's INSERT has its result; exits on an error */

static int
insert_done(conn_t *c)
{
    PGresult  *res;

    if (!PQconsumeInput(c->pg)) {
        fail("PQconsumeInput", c->pg);
    }

    if (PQisBusy(c->pg)) {
        return 0;
    }

    while ((res = PQgetResult(c->pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fail("INSERT", c->pg);
        }
        PQclear(res);
    }

    return 1;
}


int
main(int argc, char **argv)
{
    int                 opt, nconns = 16, setup = 0, ep, i, n, inflight;
    long                counted;
    double              seconds = 5, warmup = 1, t0, t1, t, last;
    unsigned           *lat;
    conn_t             *c;
    PGresult           *res;
    struct epoll_event  ev, evs[MAX_CONNS];

    max_requests = 10000000;

    while ((opt = getopt(argc, argv, "c:d:w:n:s")) != -1) {
        switch (opt) {
        case 'c': nconns = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'n': max_requests = atol(optarg); break;
        case 's': setup = 1; break;
        default:  goto usage;
        }
    }

    if (argc - optind != 1 || nconns < 1 || nconns > MAX_CONNS
        || seconds <= 0 || seconds > 600 || warmup < 0 || warmup > 60
        || max_requests < 1 || max_requests > 100000000)
    {
        goto usage;
    }

    if (setup) {
        conns[0].pg = PQconnectdb(argv[optind]);
        if (PQstatus(conns[0].pg) != CONNECTION_OK) {
            fail("connect", conns[0].pg);
        }

        res = PQexec(conns[0].pg, schema);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fail("creating the table", conns[0].pg);
        }

        PQclear(res);
        PQfinish(conns[0].pg);
        return 0;
    }

    lat = malloc(max_requests * sizeof(unsigned));
    if (lat == NULL) {
        fail("malloc", NULL);
    }

    ep = epoll_create1(0);
    if (ep < 0) {
        fail("epoll_create1", NULL);
    }

    for (i = 0; i < nconns; i++) {
        c = &conns[i];

        c->pg = PQconnectdb(argv[optind]);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            fail("connect", c->pg);
        }

        res = PQprepare(c->pg, "insert", insert, 10, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fail("PREPARE", c->pg);
        }
        PQclear(res);

        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, PQsocket(c->pg), &ev) != 0) {
            fail("epoll_ctl", NULL);
        }
    }

    inflight = 0;
    for (i = 0; i < nconns; i++) {
        inflight += send_insert(&conns[i]);
    }

    t0 = now() + warmup;
    t1 = t0 + seconds;
    last = t0;
    counted = 0;

    while (inflight) {
        n = epoll_wait(ep, evs, MAX_CONNS, 1000);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail("epoll_wait", NULL);
        }

        if (n == 0 && now() > t1 + 5) {
            fail("no result for 5 s", NULL);
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (!insert_done(c)) {
                continue;
            }

            t = now();

            /* a request counts when sent and answered in the window */
            if (c->sent >= t0 && t <= t1) {
                lat[counted++] = (unsigned) ((t - c->sent) * 1e6);
                last = t;
            }

            if (t >= t1 || !send_insert(c)) {
                inflight--;
            }
        }
    }

    /* ended early (-n used up): the window ends with the last */
    t = (last < t1 - 0.05 ? last : t1) - t0;

    if (counted == 0 || t <= 0) {
        fail("nothing measured: a larger -n, or a longer -d", NULL);
    }

    qsort(lat, (size_t) counted, sizeof(unsigned), cmp_u32);

    printf("conns %d answers %ld seconds %.2f rps %.1f p50_ms %.3f "
           "p99_ms %.3f max_ms %.3f\n",
           nconns, counted, t, counted / t,
           lat[counted / 2] / 1000.0, lat[(counted * 99) / 100] / 1000.0,
           lat[counted - 1] / 1000.0);

    for (i = 0; i < nconns; i++) {
        PQfinish(conns[i].pg);
    }

    return 0;

usage:
    fprintf(stderr, "usage: pgclient [-c conns] [-d seconds] [-w seconds] "
                    "[-n max] [-s] conninfo\n");
    return 2;
}
