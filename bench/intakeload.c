/*
 * intakeload -- closed-loop answers against one port: how many a second,
 * and how long each waits for its 204.
 *
 *   intakeload -T tokens [-o first] [-r] [-c conns] [-d seconds]
 *              [-w seconds] [-u path] [-n max] port
 *
 * `conns` keep-alive connections to 127.0.0.1:port each send one request,
 * wait for its whole response, and send the next at once (a closed loop:
 * the concurrency is exactly `conns`, as with a database client's
 * connections).  The requests are cxload -T's: for each line "T C" of the
 * tokens file (bench/harvest.lua) POST path {"token":T,"event":"display"}
 * then {"token":T,"event":"answer","score":S} with the cookie cx=C, which
 * is what the widget sends, from the token of line `first` (0: the first
 * line) on; each token is sent once, so another run must start past the
 * tokens this one used (the line printed says how many), except with -r,
 * which goes round the file again (for a server that stores nothing).
 * Every response must be a 204: for ngx_cx's
 * <endpoint>r that is an answer committed and fsynced; pointed at a bare
 * "return 204" location, the same bytes measure nginx alone.
 *
 * The first `-w` seconds (default 1) warm up and are not counted; then
 * `-d` seconds (default 5) are measured, or fewer when `-n` requests (or
 * the tokens) run out first.  Prints one line:
 *   conns C answers N seconds S rps R p50_ms P50 p99_ms P99 max_ms M
 *   tokens U
 * Latency is from the request's send to its response's last byte.  Exits
 * 1 on any error: another status, a closed connection, no answer for 5 s.
 *
 * Plain C, Linux (epoll); bounded in time and count; loopback only.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_CONNS   256
#define HEAD_MAX    8192


typedef struct {
    int       fd;
    double    sent;
    size_t    len;                   /* bytes of the response head so far */
    char      head[HEAD_MAX];
} conn_t;


static conn_t    conns[MAX_CONNS];
static char    **token, **cookie;
static long      ntokens, first, next_request;
static int       reuse;
static char     *path = "/cx/r";


static void
fail(const char *what)
{
    fprintf(stderr, "intakeload: %s%s%s\n", what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    exit(1);
}


static void
load_tokens(const char *file)
{
    FILE  *f;
    char   line[2048], tok[1024], ck[1024];
    long   room;

    f = fopen(file, "r");
    if (f == NULL) {
        fail(file);
    }

    room = 0;

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%1023s %1023s", tok, ck) != 2) {
            continue;
        }

        if (ntokens == room) {
            room = room ? room * 2 : 65536;
            token = realloc(token, room * sizeof(char *));
            cookie = realloc(cookie, room * sizeof(char *));
            if (token == NULL || cookie == NULL) {
                fail("realloc");
            }
        }

        token[ntokens] = strdup(tok);
        cookie[ntokens] = strdup(ck);
        if (token[ntokens] == NULL || cookie[ntokens] == NULL) {
            fail("strdup");
        }
        ntokens++;
    }

    fclose(f);
}


static void
open_conn(conn_t *c, int port, int ep)
{
    int                 one = 1;
    struct sockaddr_in  sin;
    struct epoll_event  ev;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) {
        fail("socket");
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(c->fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        fail("connect");
    }

    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fail("epoll_ctl");
    }
}


/* The next token's display or answer; 0 when the tokens are used up. */

static int
send_request(conn_t *c)
{
    int      blen;
    long     k;
    char     body[1200], req[2048];
    size_t   len;
    ssize_t  n;

    k = next_request;

    if (first + k / 2 >= ntokens && !reuse) {
        return 0;
    }

    next_request++;
    k = 2 * ((first + k / 2) % ntokens) + k % 2;

    if (k % 2 == 0) {
        blen = snprintf(body, sizeof(body),
                        "{\"token\":\"%s\",\"event\":\"display\"}",
                        token[k / 2]);
    } else {
        blen = snprintf(body, sizeof(body),
                        "{\"token\":\"%s\",\"event\":\"answer\","
                        "\"score\":%ld}", token[k / 2], (k / 2) % 11);
    }

    len = (size_t) snprintf(req, sizeof(req),
                            "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "User-Agent: intakeload\r\n"
                            "Content-Type: application/json\r\n"
                            "Cookie: cx=%s\r\n"
                            "Content-Length: %d\r\n\r\n%s",
                            path, cookie[k / 2], blen, body);
    if (len >= sizeof(req)) {
        errno = 0;
        fail("a token or cookie too long");
    }

    c->sent = now();
    c->len = 0;

    /* small enough for an empty socket buffer: sent whole or not at all */
    n = send(c->fd, req, len, MSG_NOSIGNAL);
    if (n != (ssize_t) len) {
        fail("send");
    }

    return 1;
}


/* 1 when c->head holds a whole 204 response; exits on anything else */

static int
response_done(conn_t *c)
{
    c->head[c->len] = '\0';

    /* an error's JSON body may come in the same read: the head is enough */
    if (strstr(c->head, "\r\n\r\n") == NULL) {
        return 0;
    }

    if (strncmp(c->head, "HTTP/1.1 204 ", 13) != 0) {
        errno = 0;
        fprintf(stderr, "intakeload: expected a 204, got:\n%s\n", c->head);
        fail("a status other than 204");
    }

    /* a 204 has no body: a keep-alive response ends with its head */
    if (memcmp(c->head + c->len - 4, "\r\n\r\n", 4) != 0) {
        errno = 0;
        fail("bytes after a 204");
    }

    return 1;
}


int
main(int argc, char **argv)
{
    int                 opt, nconns = 16, port, ep, i, n, inflight;
    long                max = 10000000, counted, room;
    char                buf[HEAD_MAX];
    double              seconds = 5, warmup = 1, start, t0, t1, t, last;
    ssize_t             got;
    unsigned           *lat;
    conn_t             *c;
    const char         *tokens = NULL;
    struct epoll_event  evs[MAX_CONNS];

    while ((opt = getopt(argc, argv, "c:d:w:u:n:o:rT:")) != -1) {
        switch (opt) {
        case 'T': tokens = optarg; break;
        case 'o': first = atol(optarg); break;
        case 'r': reuse = 1; break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'u': path = optarg; break;
        case 'n': max = atol(optarg); break;
        default:  goto usage;
        }
    }

    if (argc - optind != 1 || tokens == NULL || nconns < 1
        || nconns > MAX_CONNS || seconds <= 0 || seconds > 600
        || warmup < 0 || warmup > 60 || max < 1 || first < 0 || path[0] != '/'
        || strlen(path) > 512)
    {
        goto usage;
    }

    port = atoi(argv[optind]);
    if (port < 1 || port > 65535) {
        goto usage;
    }

    load_tokens(tokens);

    if (ntokens == 0 || (first >= ntokens && !reuse)) {
        errno = 0;
        fail("no tokens left in the file");
    }

    room = (reuse || max < 2 * (ntokens - first)) ? max
                                                  : 2 * (ntokens - first);
    lat = malloc((room + 1) * sizeof(unsigned));
    if (lat == NULL) {
        fail("malloc");
    }

    ep = epoll_create1(0);
    if (ep < 0) {
        fail("epoll_create1");
    }

    for (i = 0; i < nconns; i++) {
        open_conn(&conns[i], port, ep);
    }

    inflight = 0;
    for (i = 0; i < nconns; i++) {
        inflight += send_request(&conns[i]);
    }

    start = now();
    t0 = start + warmup;
    t1 = t0 + seconds;
    last = t0;
    counted = 0;

    while (inflight) {
        n = epoll_wait(ep, evs, MAX_CONNS, 1000);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail("epoll_wait");
        }

        t = now();

        if (n == 0 && t > t1 + 5) {
            errno = 0;
            fail("no answer for 5 s");
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            got = recv(c->fd, buf, sizeof(buf), 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                errno = got ? errno : 0;
                fail("the server closed a connection");
            }

            if (c->len + (size_t) got >= HEAD_MAX) {
                errno = 0;
                fail("response head too long");
            }

            memcpy(c->head + c->len, buf, (size_t) got);
            c->len += (size_t) got;

            if (!response_done(c)) {
                continue;
            }

            t = now();

            /* a request counts when sent and answered in the window */
            if (c->sent >= t0 && t <= t1 && counted < room) {
                lat[counted++] = (unsigned) ((t - c->sent) * 1e6);
                last = t;
            }

            if (t >= t1 || counted >= max
                || !send_request(c))
            {
                inflight--;
            }
        }
    }

    /* ended early (tokens or -n used up): the window ends with the last */
    t = (last < t1 - 0.05 ? last : t1) - t0;

    if (counted == 0 || t <= 0) {
        errno = 0;
        fail("nothing measured: more tokens, or a longer -d");
    }

    qsort(lat, (size_t) counted, sizeof(unsigned), cmp_u32);

    printf("conns %d answers %ld seconds %.2f rps %.1f p50_ms %.3f "
           "p99_ms %.3f max_ms %.3f tokens %ld\n",
           nconns, counted, t, counted / t,
           lat[counted / 2] / 1000.0, lat[(counted * 99) / 100] / 1000.0,
           lat[counted - 1] / 1000.0, (next_request + 1) / 2);

    for (i = 0; i < nconns; i++) {
        close(conns[i].fd);
    }

    return 0;

usage:
    fprintf(stderr, "usage: intakeload -T tokens [-o first] [-r] [-c conns] "
                    "[-d seconds] [-w seconds] [-u path] [-n max] port\n");
    return 2;
}
