/*
 * cx_synclog.c: an LD_PRELOAD shim for t/37-durable.t.  It records, in the
 * order they happen, the calls that make the store durable (fsync,
 * fdatasync, msync) and the HTTP traffic around them (a recv() that reads a
 * request line, a write that starts a response), one line each, to the file
 * named by CX_SYNCLOG:
 *
 *   <monotonic ns> <pid> <tid> sync fdatasync <fd> <path> <return value>
 *   <monotonic ns> <pid> <tid> sync msync - <flags> <return value>
 *   <monotonic ns> <pid> <tid> recv <fd> <request line>
 *   <monotonic ns> <pid> <tid> send <fd> <status line>
 *
 * A sync line is written after the call returns (the data is on disk from
 * then on), a send line before the bytes are handed to the kernel.  The log
 * is opened once, when the master loads the shim (workers, running as
 * another user, inherit the descriptor), and written with one O_APPEND
 * write per line, so lines from threads and processes never interleave.
 *
 * CX_SYNC_DELAY_MS, when set, makes every one of those sync calls sleep
 * that long first: a slow disk, for t/39-journey-load.t, whose store
 * commits then take at least that long.
 *
 * Built by the test itself: cc -shared -fPIC -o synclog.so cx_synclog.c -ldl
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>


static int       logfd = -1;
static unsigned  delay_ms;


__attribute__((constructor))
static void
synclog_init(void)
{
    int          fd;
    const char  *path, *delay;

    delay = getenv("CX_SYNC_DELAY_MS");
    if (delay != NULL) {
        delay_ms = (unsigned) strtoul(delay, NULL, 10);
    }

    path = getenv("CX_SYNCLOG");
    if (path == NULL || *path == '\0') {
        return;
    }

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        return;
    }

    /* clear of 0-2, which nginx redirects when it daemonizes */
    logfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    close(fd);
}


static void
synclog(const char *fmt, ...)
{
    int              n, m, saved;
    char             line[1024];
    va_list          ap;
    struct timespec  ts;

    if (logfd == -1) {
        return;
    }

    saved = errno;
    clock_gettime(CLOCK_MONOTONIC, &ts);

    n = snprintf(line, sizeof(line), "%lld %d %ld ",
                 (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec,
                 (int) getpid(), (long) syscall(SYS_gettid));

    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);

    if (m < 0) {
        m = 0;
    }

    n += (m < (int) sizeof(line) - n - 1) ? m : (int) sizeof(line) - n - 2;
    line[n++] = '\n';

    /* the raw system call: write() itself is wrapped below */
    (void) syscall(SYS_write, logfd, line, (size_t) n);
    errno = saved;
}


static void
fd_path(int fd, char *buf, size_t size)
{
    char     link[64];
    ssize_t  n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, buf, size - 1);
    if (n < 0) {
        n = 0;
    }
    buf[n] = '\0';
}


/* The first line of data, if it looks like HTTP, into out. */

static int
http_line(const void *data, size_t len, const char *prefix, char *out,
    size_t size)
{
    size_t       i, plen;
    const char  *p = data;

    plen = strlen(prefix);
    if (len < plen || memcmp(p, prefix, plen) != 0) {
        return 0;
    }

    for (i = 0; i < len && i < size - 1 && p[i] != '\r' && p[i] != '\n'; i++) {
        out[i] = p[i];
    }
    out[i] = '\0';

    return 1;
}


static int
request_line(const void *data, size_t len, char *out, size_t size)
{
    static const char  *methods[] = { "GET ", "POST ", "HEAD ", NULL };
    int                 i;

    for (i = 0; methods[i]; i++) {
        if (http_line(data, len, methods[i], out, size)) {
            return 1;
        }
    }

    return 0;
}


#define REAL(name)                                                          \
    static __typeof__(name) *real_##name;                                   \
    if (real_##name == NULL) {                                              \
        real_##name = (__typeof__(name) *) dlsym(RTLD_NEXT, #name);         \
    }


static void
slow_disk(void)
{
    struct timespec  ts;

    if (delay_ms) {
        ts.tv_sec = delay_ms / 1000;
        ts.tv_nsec = (long) (delay_ms % 1000) * 1000000L;
        (void) nanosleep(&ts, NULL);
    }
}


/* the real fsync() or fdatasync() on fd, after the delay; logs its path */
static int
sync_fd(int (*real)(int), const char *name, int fd)
{
    int   rc;
    char  path[512];

    slow_disk();
    rc = real(fd);
    fd_path(fd, path, sizeof(path));
    synclog("sync %s %d %s %d", name, fd, path, rc);
    return rc;
}


int
fsync(int fd)
{
    REAL(fsync);
    return sync_fd(real_fsync, "fsync", fd);
}


int
fdatasync(int fd)
{
    REAL(fdatasync);
    return sync_fd(real_fdatasync, "fdatasync", fd);
}


int
msync(void *addr, size_t length, int flags)
{
    int  rc;

    REAL(msync);
    slow_disk();
    rc = real_msync(addr, length, flags);
    synclog("sync msync - %s %d", (flags & MS_SYNC) ? "MS_SYNC" : "MS_ASYNC",
            rc);
    return rc;
}


ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
    char     line[256];
    ssize_t  n;

    REAL(recv);
    n = real_recv(fd, buf, len, flags);
    if (n > 0 && !(flags & MSG_PEEK)
        && request_line(buf, (size_t) n, line, sizeof(line)))
    {
        synclog("recv %d %s", fd, line);
    }
    return n;
}


ssize_t
read(int fd, void *buf, size_t len)
{
    char     line[256];
    ssize_t  n;

    REAL(read);
    n = real_read(fd, buf, len);
    if (n > 0 && request_line(buf, (size_t) n, line, sizeof(line))) {
        synclog("recv %d %s", fd, line);
    }
    return n;
}


static void
log_send(int fd, const void *data, size_t len)
{
    char  line[256];

    if (http_line(data, len, "HTTP/", line, sizeof(line))) {
        synclog("send %d %s", fd, line);
    }
}


ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
    REAL(writev);
    if (iovcnt > 0) {
        log_send(fd, iov[0].iov_base, iov[0].iov_len);
    }
    return real_writev(fd, iov, iovcnt);
}


ssize_t
write(int fd, const void *buf, size_t len)
{
    REAL(write);
    log_send(fd, buf, len);
    return real_write(fd, buf, len);
}


ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
    REAL(send);
    log_send(fd, buf, len);
    return real_send(fd, buf, len, flags);
}


ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    REAL(sendmsg);
    if (msg->msg_iovlen > 0) {
        log_send(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len);
    }
    return real_sendmsg(fd, msg, flags);
}
