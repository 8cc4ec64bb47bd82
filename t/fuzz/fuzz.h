/*
 * Shared by the libFuzzer targets in t/fuzz/: a check that aborts (so
 * libFuzzer records the input as a crash) and a reader of fuzzer bytes.
 */

#ifndef CX_FUZZ_H
#define CX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)


/* Takes bytes off the front of the fuzzer's input; 0 once it is used up. */
typedef struct {
    const uint8_t  *p;
    size_t          left;
} fz_t;

static inline unsigned
fz_byte(fz_t *f)
{
    if (f->left == 0) {
        return 0;
    }
    f->left--;
    return *f->p++;
}

static inline uint32_t
fz_u32(fz_t *f)
{
    uint32_t  v;
    int       i;

    v = 0;
    for (i = 0; i < 4; i++) {
        v = (v << 8) | fz_byte(f);
    }
    return v;
}

/* Up to `max` bytes (the count is fuzzer-chosen) into dst; returns how many. */
static inline size_t
fz_bytes(fz_t *f, unsigned char *dst, size_t max)
{
    size_t  n;

    n = fz_byte(f) % (max + 1);
    if (n > f->left) {
        n = f->left;
    }
    memcpy(dst, f->p, n);
    f->p += n;
    f->left -= n;
    return n;
}

/* A heap copy of exactly n bytes, so that ASan sees any read past them. */
static inline unsigned char *
fz_dup(const uint8_t *p, size_t n)
{
    unsigned char  *d;

    d = malloc(n ? n : 1);
    CHECK(d != NULL);
    if (n) {
        memcpy(d, p, n);
    }
    return d;
}

#endif /* CX_FUZZ_H */
