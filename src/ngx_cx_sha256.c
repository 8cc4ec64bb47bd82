/*
 * SHA-256 and HMAC-SHA256; see ngx_cx_sha256.h for the contract.
 *
 * The block function has two bodies: portable C, and on x86-64 one built on
 * the SHA extensions (SHA-NI), picked once at run time from CPUID so one
 * binary runs on every x86-64 CPU. Everything above the block function is
 * shared, so the two can only differ in the 64 rounds, which the unit test
 * compares directly.
 */

#include <string.h>

#include "ngx_cx_sha256.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NGX_CX_SHA256_SHANI  1
#include <cpuid.h>
#include <immintrin.h>
#endif


#define NGX_CX_ROTR(x, n)  (((x) >> (n)) | ((x) << (32 - (n))))

#define NGX_CX_CH(x, y, z)   (((x) & (y)) ^ (~(x) & (z)))
#define NGX_CX_MAJ(x, y, z)  (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define NGX_CX_BSIG0(x)  (NGX_CX_ROTR(x, 2) ^ NGX_CX_ROTR(x, 13) ^ NGX_CX_ROTR(x, 22))
#define NGX_CX_BSIG1(x)  (NGX_CX_ROTR(x, 6) ^ NGX_CX_ROTR(x, 11) ^ NGX_CX_ROTR(x, 25))
#define NGX_CX_SSIG0(x)  (NGX_CX_ROTR(x, 7) ^ NGX_CX_ROTR(x, 18) ^ ((x) >> 3))
#define NGX_CX_SSIG1(x)  (NGX_CX_ROTR(x, 17) ^ NGX_CX_ROTR(x, 19) ^ ((x) >> 10))


/* absorb `n` consecutive 64-byte blocks at `p` into `state` */
typedef void (*ngx_cx_sha256_blocks_pt)(uint32_t state[8],
    const unsigned char *p, size_t n);

static void ngx_cx_sha256_blocks_c(uint32_t state[8], const unsigned char *p,
    size_t n);
static void ngx_cx_sha256_block_c(uint32_t state[8], const unsigned char *p);

#ifdef NGX_CX_SHA256_SHANI

static void ngx_cx_sha256_blocks_shani(uint32_t state[8],
    const unsigned char *p, size_t n)
    __attribute__((target("sha,sse4.1,ssse3")));
static void ngx_cx_sha256_blocks_first(uint32_t state[8],
    const unsigned char *p, size_t n);
static ngx_cx_sha256_blocks_pt ngx_cx_sha256_pick(void);

/*
 * Starts at the detecting function, which replaces itself with the chosen
 * one on the first call. Racing first calls all detect and store the same
 * value, and relaxed atomics keep each load and store whole, so no lock is
 * needed.
 */
static ngx_cx_sha256_blocks_pt  ngx_cx_sha256_blocks_impl =
    ngx_cx_sha256_blocks_first;

#define ngx_cx_sha256_blocks(state, p, n)                                    \
    (__atomic_load_n(&ngx_cx_sha256_blocks_impl, __ATOMIC_RELAXED))(state, p, n)

#else

#define ngx_cx_sha256_blocks  ngx_cx_sha256_blocks_c

#endif


static const uint32_t  ngx_cx_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


void
ngx_cx_sha256_init(ngx_cx_sha256_t *ctx)
{
    ctx->state[0] = 0x6a09e667;
    ctx->state[1] = 0xbb67ae85;
    ctx->state[2] = 0x3c6ef372;
    ctx->state[3] = 0xa54ff53a;
    ctx->state[4] = 0x510e527f;
    ctx->state[5] = 0x9b05688c;
    ctx->state[6] = 0x1f83d9ab;
    ctx->state[7] = 0x5be0cd19;
    ctx->total = 0;
}


void
ngx_cx_sha256_update(ngx_cx_sha256_t *ctx, const void *p, size_t len)
{
    size_t                used, n;
    const unsigned char  *in;

    if (len == 0) {
        return;
    }

    in = p;
    used = (size_t) (ctx->total % NGX_CX_SHA256_BLOCK_LEN);
    ctx->total += len;

    if (used) {
        n = NGX_CX_SHA256_BLOCK_LEN - used;

        if (len < n) {
            memcpy(ctx->block + used, in, len);
            return;
        }

        memcpy(ctx->block + used, in, n);
        ngx_cx_sha256_blocks(ctx->state, ctx->block, 1);
        in += n;
        len -= n;
    }

    /*
     * Whole blocks straight from the caller's memory, no copy, in one call
     * so SHA-NI loads and shuffles the state once per run, not per block.
     */
    n = len / NGX_CX_SHA256_BLOCK_LEN;

    if (n) {
        ngx_cx_sha256_blocks(ctx->state, in, n);
        in += n * NGX_CX_SHA256_BLOCK_LEN;
        len -= n * NGX_CX_SHA256_BLOCK_LEN;
    }

    if (len) {
        memcpy(ctx->block, in, len);
    }
}


void
ngx_cx_sha256_final(ngx_cx_sha256_t *ctx, unsigned char out[32])
{
    int       i;
    size_t    used;
    uint64_t  bits;

    used = (size_t) (ctx->total % NGX_CX_SHA256_BLOCK_LEN);
    bits = ctx->total << 3;

    ctx->block[used++] = 0x80;

    if (used > NGX_CX_SHA256_BLOCK_LEN - 8) {
        memset(ctx->block + used, 0, NGX_CX_SHA256_BLOCK_LEN - used);
        ngx_cx_sha256_blocks(ctx->state, ctx->block, 1);
        used = 0;
    }

    memset(ctx->block + used, 0, NGX_CX_SHA256_BLOCK_LEN - 8 - used);

    for (i = 0; i < 8; i++) {
        ctx->block[NGX_CX_SHA256_BLOCK_LEN - 1 - i] = (unsigned char) (bits >> (8 * i));
    }

    ngx_cx_sha256_blocks(ctx->state, ctx->block, 1);

    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char) (ctx->state[i] >> 24);
        out[4 * i + 1] = (unsigned char) (ctx->state[i] >> 16);
        out[4 * i + 2] = (unsigned char) (ctx->state[i] >> 8);
        out[4 * i + 3] = (unsigned char) ctx->state[i];
    }
}


void
ngx_cx_hmac_sha256(const unsigned char *key, size_t keylen, const void *msg,
    size_t len, unsigned char out[32])
{
    ngx_cx_hmac_key_t  hk;

    ngx_cx_hmac_key_init(&hk, key, keylen);
    ngx_cx_hmac_sha256_with(&hk, msg, len, out);
    ngx_cx_wipe(&hk, sizeof(hk));
}


void
ngx_cx_hmac_key_init(ngx_cx_hmac_key_t *hk, const unsigned char *key,
    size_t keylen)
{
    size_t           i;
    unsigned char    pad[NGX_CX_SHA256_BLOCK_LEN];
    ngx_cx_sha256_t  ctx;

    memset(pad, 0, sizeof(pad));

    if (keylen > NGX_CX_SHA256_BLOCK_LEN) {
        ngx_cx_sha256_init(&ctx);
        ngx_cx_sha256_update(&ctx, key, keylen);
        ngx_cx_sha256_final(&ctx, pad);
        ngx_cx_wipe(&ctx, sizeof(ctx));

    } else if (keylen) {
        memcpy(pad, key, keylen);
    }

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36;
    }

    ngx_cx_sha256_init(&hk->inner);
    ngx_cx_sha256_update(&hk->inner, pad, sizeof(pad));

    /* 0x36 ^ 0x5c turns the ipad block into the opad block in place */
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }

    ngx_cx_sha256_init(&hk->outer);
    ngx_cx_sha256_update(&hk->outer, pad, sizeof(pad));

    /* and 0x5c ^ 0x6a into the keystream block */
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x5c ^ 0x6a;
    }

    ngx_cx_sha256_init(&hk->stream);
    ngx_cx_sha256_update(&hk->stream, pad, sizeof(pad));

    ngx_cx_wipe(pad, sizeof(pad));
}


void
ngx_cx_hmac_sha256_with(const ngx_cx_hmac_key_t *hk, const void *msg,
    size_t len, unsigned char out[32])
{
    unsigned char    inner[NGX_CX_SHA256_LEN];
    ngx_cx_sha256_t  ctx;

    ctx = hk->inner;
    ngx_cx_sha256_update(&ctx, msg, len);
    ngx_cx_sha256_final(&ctx, inner);

    ctx = hk->outer;
    ngx_cx_sha256_update(&ctx, inner, sizeof(inner));
    ngx_cx_sha256_final(&ctx, out);
}


int
ngx_cx_ct_equal(const void *a, const void *b, size_t n)
{
    size_t                i;
    unsigned char         diff;
    const unsigned char  *x, *y;

    x = a;
    y = b;
    diff = 0;

    for (i = 0; i < n; i++) {
        diff |= x[i] ^ y[i];
    }

    /* branch-free 0 -> 1, 1..255 -> 0 */
    return (int) (1 & (((unsigned int) diff - 1) >> 8));
}


int
ngx_cx_sha256_force_portable(int on)
{
#ifdef NGX_CX_SHA256_SHANI
    ngx_cx_sha256_blocks_pt  impl;

    impl = on ? ngx_cx_sha256_blocks_c : ngx_cx_sha256_pick();
    __atomic_store_n(&ngx_cx_sha256_blocks_impl, impl, __ATOMIC_RELAXED);

    return impl != ngx_cx_sha256_blocks_c;
#else
    (void) on;

    return 0;
#endif
}


static void
ngx_cx_sha256_blocks_c(uint32_t state[8], const unsigned char *p, size_t n)
{
    for ( /* void */ ; n; n--, p += NGX_CX_SHA256_BLOCK_LEN) {
        ngx_cx_sha256_block_c(state, p);
    }
}


static void
ngx_cx_sha256_block_c(uint32_t state[8], const unsigned char *p)
{
    int       i;
    uint32_t  w[64], a, b, c, d, e, f, g, h, t1, t2;

    for (i = 0; i < 16; i++) {
        w[i] = ((uint32_t) p[4 * i] << 24) | ((uint32_t) p[4 * i + 1] << 16)
               | ((uint32_t) p[4 * i + 2] << 8) | (uint32_t) p[4 * i + 3];
    }

    for (i = 16; i < 64; i++) {
        w[i] = NGX_CX_SSIG1(w[i - 2]) + w[i - 7] + NGX_CX_SSIG0(w[i - 15])
               + w[i - 16];
    }

    a = state[0];
    b = state[1];
    c = state[2];
    d = state[3];
    e = state[4];
    f = state[5];
    g = state[6];
    h = state[7];

    for (i = 0; i < 64; i++) {
        t1 = h + NGX_CX_BSIG1(e) + NGX_CX_CH(e, f, g) + ngx_cx_sha256_k[i] + w[i];
        t2 = NGX_CX_BSIG0(a) + NGX_CX_MAJ(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }

    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}


#ifdef NGX_CX_SHA256_SHANI

/*
 * SHA-NI is used only when CPUID reports it along with SSSE3 (pshufb,
 * palignr) and SSE4.1 (pblendw), which this body also needs. These are
 * XMM-only instructions, whose state every x86-64 OS saves, so no XGETBV
 * check is needed.
 */
static ngx_cx_sha256_blocks_pt
ngx_cx_sha256_pick(void)
{
    unsigned int  eax, ebx, ecx, edx;

    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)
        || !(ecx & (1u << 9))               /* SSSE3 */
        || !(ecx & (1u << 19)))             /* SSE4.1 */
    {
        return ngx_cx_sha256_blocks_c;
    }

    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)
        || !(ebx & (1u << 29)))             /* SHA */
    {
        return ngx_cx_sha256_blocks_c;
    }

    return ngx_cx_sha256_blocks_shani;
}


static void
ngx_cx_sha256_blocks_first(uint32_t state[8], const unsigned char *p, size_t n)
{
    ngx_cx_sha256_blocks_pt  impl;

    impl = ngx_cx_sha256_pick();
    __atomic_store_n(&ngx_cx_sha256_blocks_impl, impl, __ATOMIC_RELAXED);

    impl(state, p, n);
}


/*
 * Four rounds: sha256rnds2 does two rounds per call, taking C,D,G,H and
 * A,B,E,F in two registers and returning the new A,B,E,F. After two rounds
 * the old A,B,E,F are the new C,D,G,H, so the two registers simply swap
 * roles between the calls and end where they started. The call reads
 * W+K from the low two lanes of `wk`; the shuffle moves the high two down.
 */
#define NGX_CX_SHANI_ROUNDS4(w, i)                                           \
    wk = _mm_add_epi32(w,                                                    \
        _mm_loadu_si128((const __m128i *) &ngx_cx_sha256_k[4 * (i)]));       \
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                            \
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e))

/*
 * The next four schedule words W[t..t+3] into `w0`, which holds W[t-16..];
 * w1, w2, w3 hold W[t-12..], W[t-8..], W[t-4..]. sha256msg1 gives
 * W[t-16] + s0(W[t-15]); the W[t-7] term is the window one word into
 * w2:w3; sha256msg2 adds s1(W[t-2]), feeding its own first two results into
 * its last two lanes.
 */
#define NGX_CX_SHANI_SCHEDULE(w0, w1, w2, w3)                                \
    w0 = _mm_sha256msg2_epu32(                                               \
        _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1),                          \
                      _mm_alignr_epi8(w3, w2, 4)),                           \
        w3)


static void
ngx_cx_sha256_blocks_shani(uint32_t state[8], const unsigned char *p, size_t n)
{
    int      i;
    __m128i  abef, cdgh, abef0, cdgh0, t, wk, w0, w1, w2, w3, bswap;

    /* message words are big-endian; this reverses the bytes of each lane */
    bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

    /*
     * Lanes are listed low to high. state[] is a b c d | e f g h; the
     * instructions want f e b a ("ABEF" read from the top lane down) and
     * h g d c ("CDGH").
     */
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &state[0]), 0xb1);
    cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &state[4]), 0x1b);
    abef = _mm_alignr_epi8(t, cdgh, 8);             /* f e b a */
    cdgh = _mm_blend_epi16(cdgh, t, 0xf0);          /* h g d c */

    for ( /* void */ ; n; n--, p += NGX_CX_SHA256_BLOCK_LEN) {
        abef0 = abef;
        cdgh0 = cdgh;

        w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) p), bswap);
        w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 16)), bswap);
        w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 32)), bswap);
        w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 48)), bswap);

        NGX_CX_SHANI_ROUNDS4(w0, 0);
        NGX_CX_SHANI_ROUNDS4(w1, 1);
        NGX_CX_SHANI_ROUNDS4(w2, 2);
        NGX_CX_SHANI_ROUNDS4(w3, 3);

        /* rounds 16..63: the four registers rotate through the schedule */
        for (i = 4; i < 16; i += 4) {
            NGX_CX_SHANI_SCHEDULE(w0, w1, w2, w3);
            NGX_CX_SHANI_ROUNDS4(w0, i);
            NGX_CX_SHANI_SCHEDULE(w1, w2, w3, w0);
            NGX_CX_SHANI_ROUNDS4(w1, i + 1);
            NGX_CX_SHANI_SCHEDULE(w2, w3, w0, w1);
            NGX_CX_SHANI_ROUNDS4(w2, i + 2);
            NGX_CX_SHANI_SCHEDULE(w3, w0, w1, w2);
            NGX_CX_SHANI_ROUNDS4(w3, i + 3);
        }

        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    /* back to a b c d | e f g h */
    t = _mm_shuffle_epi32(abef, 0x1b);              /* a b e f */
    cdgh = _mm_shuffle_epi32(cdgh, 0xb1);           /* g h c d */
    _mm_storeu_si128((__m128i *) &state[0], _mm_blend_epi16(t, cdgh, 0xf0));
    _mm_storeu_si128((__m128i *) &state[4], _mm_alignr_epi8(cdgh, t, 8));
}

#endif /* NGX_CX_SHA256_SHANI */


/*
 * memset() on memory about to die may be optimised away: the empty asm
 * that may read it keeps the memset, at memset's speed (a volatile store
 * per byte costs a cycle each, on every MAC).
 */
void
ngx_cx_wipe(void *p, size_t n)
{
#if defined(__GNUC__) || defined(__clang__)
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r" (p) : "memory");
#else
    volatile unsigned char  *v;

    for (v = p; n; n--) {
        *v++ = 0;
    }
#endif
}
