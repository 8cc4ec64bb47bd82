/*
 * bench_util.h -- the little the load tools (cxload, intakeload, pgclient)
 * share: a monotonic clock in seconds, and an order for latencies.
 */

#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <time.h>


static inline double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* qsort() of unsigned latencies, smallest first */
static inline int
cmp_u32(const void *a, const void *b)
{
    unsigned  x = *(const unsigned *) a, y = *(const unsigned *) b;

    return (x > y) - (x < y);
}

#endif
