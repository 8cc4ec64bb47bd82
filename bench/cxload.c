/*
 * cxload -- interleaved HTTP load: what does variant B cost next to A?
 *
 *   cxload [-c conns] [-d seconds] [-s slice_ms] [-u path] [-H header]
 *          port port ...
 *   cxload -T tokens [-T tokens ...] [options] -u <endpoint>r port ...
 *
 * wrk measures one server at a time, and on a shared VM the machine's
 * speed moves by 10% and more between runs of a few seconds, which drowns
 * a cost of a few percent.  cxload keeps `conns` keep-alive connections to
 * each port on 127.0.0.1 and loads one port at a time in short slices (100
 * ms), cycling through the ports, in reverse order every other cycle, for
 * `seconds` in all: each port sees the same machine, a tenth of a second
 * apart.  A slice ends when its time is up and its requests in flight have
 * been answered, and its time counts to the end of the last answer, so no
 * response and no moment is counted twice.
 *
 * Prints one line per port:
 *   port P rps R responses N seconds S ratio M q1 Q1 q3 Q3 cycles C
 * R is the port's responses per second over all its slices; M (Q1, Q3) the
 * median (quartiles) over the cycles of the port's rate divided by the first
 * port's rate in the same cycle (1 for the first port).  Exits 1 on any
 * error (a status other than 200, a closed connection, a stall of 5 s).
 *
 * -H adds one header line to every GET, the same for every port: a
 * returning visitor's "Cookie: cx=..." (bench/run's proxied step).
 *
 * With -T (once per port, in the ports' order) the requests are answers:
 * POST path {"token":T,"event":"display"}, then the same token's
 * {"event":"answer","score":S}, with the visitor's cookie (cx=C), for each
 * line "T C" of the port's file in turn (bench/harvest.lua collects them
 * from prompted pages), and the status expected is 204: the intake of
 * ngx_cx, whose every request is a store commit.  Running out of tokens is
 * an error.
 *
 * Plain C, Linux (epoll); bounded in time; talks to loopback only.
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

#define MAX_PORTS   8
#define MAX_CONNS   256
#define MAX_CYCLES  100000
#define LINE_MAX_   8192

enum { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILER };

typedef struct {
    int     fd;
    int     port;            /* index into the ports */
    int     busy;            /* a request is in flight */
    int     state;
    int     status;
    int     chunked;
    long    remaining;       /* body or chunk bytes still to come */
    size_t  line_len;        /* bytes in line (headers, chunk-size line) */
    char    line[LINE_MAX_];
} conn_t;

static conn_t   conns[MAX_PORTS * MAX_CONNS];
static int      nconns, ep;
static int      ports[MAX_PORTS], nports;
static char     request[1024];
static size_t   request_len;
static char    *path = "/index.html";
static char    *header;          /* -H: one more header line, or NULL */

/* -T: each port's tokens and cookies, and the next request's number */
typedef struct {
    char   **token;
    char   **cookie;
    long     n;
    long     next;
} tokens_t;

static tokens_t  tokens[MAX_PORTS];
static int       ntokens;
static double   ratios[MAX_PORTS][MAX_CYCLES];


static void
fail(const char *what)
{
    fprintf(stderr, "cxload: %s%s%s\n", what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    exit(1);
}


static void
open_conn(conn_t *c)
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
    sin.sin_port = htons((unsigned short) ports[c->port]);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* blocking connect: loopback answers at once, and it is set-up time */
    if (connect(c->fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        fail("connect");
    }

    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fail("epoll_ctl");
    }

    c->busy = 0;
}


static void
load_tokens(tokens_t *t, const char *file)
{
    FILE    *f;
    char     line[2048], tok[1024], cookie[1024];
    long     room;

    f = fopen(file, "r");
    if (f == NULL) {
        fail(file);
    }

    room = 0;

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%1023s %1023s", tok, cookie) != 2) {
            continue;
        }

        if (t->n == room) {
            room = room ? room * 2 : 65536;
            t->token = realloc(t->token, room * sizeof(char *));
            t->cookie = realloc(t->cookie, room * sizeof(char *));
            if (t->token == NULL || t->cookie == NULL) {
                fail("realloc");
            }
        }

        t->token[t->n] = strdup(tok);
        t->cookie[t->n] = strdup(cookie);
        if (t->token[t->n] == NULL || t->cookie[t->n] == NULL) {
            fail("strdup");
        }
        t->n++;
    }

    fclose(f);
}


/* -T: the port's next answer request, into request[] */
static void
intake_request(int port)
{
    int        len;
    long       k;
    char       body[1200];
    tokens_t  *t;

    t = &tokens[port];
    k = t->next++;

    if (k / 2 >= t->n) {
        errno = 0;
        fprintf(stderr, "cxload: port %d: its %ld tokens are used up\n",
                ports[port], t->n);
        fail("tokens used up");
    }

    if (k % 2 == 0) {
        len = snprintf(body, sizeof(body),
                       "{\"token\":\"%s\",\"event\":\"display\"}",
                       t->token[k / 2]);
    } else {
        len = snprintf(body, sizeof(body),
                       "{\"token\":\"%s\",\"event\":\"answer\","
                       "\"score\":%ld}", t->token[k / 2], (k / 2) % 11);
    }

    request_len = (size_t) snprintf(request, sizeof(request),
                                    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "User-Agent: cxload\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Cookie: cx=%s\r\n"
                                    "Content-Length: %d\r\n\r\n%s",
                                    path, t->cookie[k / 2], len, body);

    if (request_len >= sizeof(request)) {
        errno = 0;
        fail("a token or cookie too long");
    }
}


static void
send_request(conn_t *c)
{
    ssize_t  n;

    if (ntokens) {
        intake_request(c->port);
    }

    /* small enough for an empty socket buffer: sent whole or not at all */
    n = send(c->fd, request, request_len, MSG_NOSIGNAL);
    if (n != (ssize_t) request_len) {
        fail("send");
    }

    c->busy = 1;
    c->state = HEAD;
    c->status = 0;
    c->chunked = 0;
    c->remaining = -1;
    c->line_len = 0;
}


/* A complete header block is in c->line: status, framing. */
static void
parse_head(conn_t *c)
{
    char  *p, *end, *eol;

    c->line[c->line_len] = '\0';

    if (strncmp(c->line, "HTTP/1.1 ", 9) != 0) {
        errno = 0;
        fail("not an HTTP/1.1 response");
    }

    c->status = atoi(c->line + 9);

    end = c->line + c->line_len;

    for (p = strstr(c->line, "\r\n") + 2; p < end; p = eol + 2) {
        eol = strstr(p, "\r\n");
        if (eol == NULL) {
            break;
        }

        if (strncasecmp(p, "content-length:", 15) == 0) {
            c->remaining = strtol(p + 15, NULL, 10);

        } else if (strncasecmp(p, "transfer-encoding:", 18) == 0
                   && strstr(p, "chunked") != NULL && strstr(p, "chunked") < eol)
        {
            c->chunked = 1;
        }
    }

    if (c->status == 204 || c->status == 304) {
        c->state = BODY;                /* no body, whatever the headers */
        c->remaining = 0;

    } else if (c->chunked) {
        c->state = CHUNK_SIZE;

    } else if (c->remaining >= 0) {
        c->state = BODY;

    } else {
        errno = 0;
        fail("a response without Content-Length or chunked encoding");
    }

    c->line_len = 0;
}


/* Takes what is left of the current body or chunk, up to `avail` bytes. */
static long
skip(conn_t *c, long avail)
{
    long  take = (avail < c->remaining) ? avail : c->remaining;

    c->remaining -= take;
    return take;
}


/* Appends one byte to the line; true once the line ends in CRLF. */
static int
line_add(conn_t *c, char ch, size_t max, const char *what)
{
    if (c->line_len >= max) {
        errno = 0;
        fail(what);
    }

    c->line[c->line_len++] = ch;

    return c->line_len >= 2 && c->line[c->line_len - 2] == '\r'
           && ch == '\n';
}


/*
 * Consumes n bytes of the response; returns the bytes used when the
 * response is complete, or -1 when it needs more.
 */
static long
feed(conn_t *c, const char *p, long n)
{
    long  i = 0;

    while (i < n) {

        switch (c->state) {

        case HEAD:
            (void) line_add(c, p[i++], LINE_MAX_ - 1,
                            "response header too long");
            if (c->line_len >= 4
                && memcmp(c->line + c->line_len - 4, "\r\n\r\n", 4) == 0)
            {
                parse_head(c);
                if (c->state == BODY && c->remaining == 0) {
                    return i;
                }
            }
            break;

        case BODY:
            i += skip(c, n - i);
            if (c->remaining == 0) {
                return i;
            }
            break;

        case CHUNK_SIZE:
            if (line_add(c, p[i++], 64, "bad chunk size line")) {
                c->line[c->line_len] = '\0';
                c->remaining = strtol(c->line, NULL, 16);
                c->line_len = 0;
                c->state = c->remaining ? CHUNK_DATA : TRAILER;
            }
            break;

        case CHUNK_DATA:
        case CHUNK_CRLF:
            i += skip(c, n - i);
            if (c->remaining == 0 && c->state == CHUNK_DATA) {
                c->state = CHUNK_CRLF;             /* the CRLF after data */
                c->remaining = 2;
            } else if (c->remaining == 0) {
                c->state = CHUNK_SIZE;
            }
            break;

        case TRAILER:
            /* trailer lines, then an empty line */
            if (line_add(c, p[i++], LINE_MAX_ - 1, "trailer too long")) {
                if (c->line_len == 2) {
                    return i;
                }
                c->line_len = 0;
            }
            break;
        }
    }

    return -1;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


int
main(int argc, char **argv)
{
    int                 opt, per_port = 16, i, k, t, order, cycle, n, inflight;
    long                used, responses[MAX_PORTS] = { 0 }, slice_count;
    double              seconds = 10, slice = 0.1, start, slice_start, end;
    double              spent[MAX_PORTS] = { 0 }, rate[MAX_PORTS];
    char                buf[65536];
    int                 expect;
    ssize_t             got;
    conn_t             *c;
    struct epoll_event  evs[64];

    while ((opt = getopt(argc, argv, "c:d:s:u:T:H:")) != -1) {
        switch (opt) {
        case 'T':
            if (ntokens == MAX_PORTS) {
                goto usage;
            }
            load_tokens(&tokens[ntokens++], optarg);
            break;
        case 'c': per_port = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 's': slice = atof(optarg) / 1000; break;
        case 'u': path = optarg; break;
        case 'H': header = optarg; break;
        default:  goto usage;
        }
    }

    nports = argc - optind;
    if (nports < 1 || nports > MAX_PORTS || per_port < 1
        || per_port > MAX_CONNS || seconds <= 0 || seconds > 600
        || slice < 0.01 || slice > 10 || path[0] != '/' || strlen(path) > 512
        || (ntokens && ntokens != nports)
        || (header && (strlen(header) > 512 || strpbrk(header, "\r\n")
                       || strchr(header, ':') == NULL)))
    {
        goto usage;
    }

    expect = ntokens ? 204 : 200;

    for (i = 0; i < nports; i++) {
        ports[i] = atoi(argv[optind + i]);
        if (ports[i] < 1 || ports[i] > 65535) {
            goto usage;
        }
    }

    request_len = (size_t) snprintf(request, sizeof(request),
                                    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "User-Agent: cxload\r\n%s%s\r\n", path,
                                    header ? header : "",
                                    header ? "\r\n" : "");

    ep = epoll_create1(0);
    if (ep < 0) {
        fail("epoll_create1");
    }

    for (i = 0; i < nports; i++) {
        for (k = 0; k < per_port; k++) {
            conns[nconns].port = i;
            open_conn(&conns[nconns++]);
        }
    }

    start = now();

    for (cycle = 0; cycle < MAX_CYCLES && now() - start < seconds; cycle++) {

        for (order = 0; order < nports; order++) {
            t = (cycle % 2) ? nports - 1 - order : order;

            slice_start = now();
            end = slice_start + slice;
            slice_count = 0;
            inflight = 0;

            for (i = 0; i < nconns; i++) {
                if (conns[i].port == t) {
                    send_request(&conns[i]);
                    inflight++;
                }
            }

            while (inflight) {
                n = epoll_wait(ep, evs, 64, 1000);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    fail("epoll_wait");
                }
                if (now() - end > 5) {
                    errno = 0;
                    fail("no answer for 5 s");
                }

                for (k = 0; k < n; k++) {
                    c = evs[k].data.ptr;

                    got = recv(c->fd, buf, sizeof(buf), 0);
                    if (got <= 0) {
                        if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                            continue;
                        }
                        errno = got ? errno : 0;
                        fail("the server closed a connection");
                    }

                    if (!c->busy) {
                        errno = 0;
                        fail("bytes on an idle connection");
                    }

                    used = feed(c, buf, (long) got);
                    if (used < 0) {
                        continue;
                    }
                    if (used != got) {
                        errno = 0;
                        fail("bytes after the response");
                    }
                    if (c->status != expect) {
                        errno = 0;
                        fprintf(stderr, "cxload: port %d answered %d\n",
                                ports[t], c->status);
                        fail(ntokens ? "a status other than 204"
                                     : "a status other than 200");
                    }

                    slice_count++;
                    c->busy = 0;

                    if (now() < end) {
                        send_request(c);
                    } else {
                        inflight--;
                    }
                }
            }

            slice_start = now() - slice_start;
            spent[t] += slice_start;
            responses[t] += slice_count;
            rate[t] = slice_count / slice_start;
        }

        for (t = 0; t < nports; t++) {
            ratios[t][cycle] = rate[t] / rate[0];
        }
    }

    for (t = 0; t < nports; t++) {
        qsort(ratios[t], (size_t) cycle, sizeof(double), cmp_double);
        printf("port %d rps %.1f responses %ld seconds %.2f ratio %.4f "
               "q1 %.4f q3 %.4f cycles %d\n",
               ports[t], responses[t] / spent[t], responses[t], spent[t],
               ratios[t][cycle / 2], ratios[t][cycle / 4],
               ratios[t][(3 * cycle) / 4], cycle);
    }

    for (i = 0; i < nconns; i++) {
        close(conns[i].fd);
    }

    return 0;

usage:
    fprintf(stderr, "usage: cxload [-c conns] [-d seconds] [-s slice_ms] "
                    "[-u path] [-H header] port port ...\n"
                    "       cxload -T tokens [-T tokens ...] [options] "
                    "-u <endpoint>r port ...\n");
    return 2;
}
