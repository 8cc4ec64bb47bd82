/*
 * ngx_cx_sha256 — SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and a
 * constant-time comparison, in plain C99 with no library behind them.
 *
 * The module signs every prompt token and every visitor cookie, so HMAC runs
 * at least twice per prompted page; the fixed project dependencies (nginx,
 * LuaJIT, LMDB) bring no crypto, hence this file.
 *
 * On x86-64 (GCC or Clang) the block function uses the SHA extensions
 * (SHA-NI) when CPUID reports them with SSSE3 and SSE4.1, else portable C;
 * the choice is made once, on the first hash, and both give the same bytes.
 * Other architectures and compilers always get the portable C.
 *
 * Contract:
 *   - No allocation. The only global state is that one-time choice of block
 *     function (an idempotent, atomic pointer store), so every function
 *     works on caller memory and is safe to call from any number of threads
 *     on distinct contexts.
 *   - Hashing never fails; there are no error returns.
 *   - Contexts are plain structs: copying one forks the hash state, which is
 *     what ngx_cx_hmac_key_t relies on.
 *   - Not hardened against side channels beyond what the algorithm gives
 *     (SHA-256 has no secret-dependent branches or table lookups);
 *     comparing MACs must go through ngx_cx_ct_equal(), never memcmp().
 */

#ifndef NGX_CX_SHA256_H
#define NGX_CX_SHA256_H

#include <stddef.h>
#include <stdint.h>


#define NGX_CX_SHA256_LEN        32      /* digest bytes */
#define NGX_CX_SHA256_BLOCK_LEN  64      /* compression block bytes */


/* Running hash state. Treat the members as private. */
typedef struct {
    uint32_t       state[8];
    uint64_t       total;                    /* bytes absorbed so far */
    unsigned char  block[NGX_CX_SHA256_BLOCK_LEN];
} ngx_cx_sha256_t;


/*
 * An HMAC key with its two padded blocks already absorbed: `inner` is the
 * hash state after H(key ^ ipad), `outer` after H(key ^ opad). This saves two
 * of the four compressions of a short-message HMAC. Since the states are
 * ordinary contexts, a caller may copy `inner`, stream any number of pieces
 * into the copy, then finish with a copy of `outer` over the inner digest;
 * this is HMAC over the concatenated pieces.
 *
 * `stream` is the state after H(key ^ 0x6a..), a third padded block of the
 * same key, for keyed hashes that are not HMACs: SHA-256(key ^ 0x6a.. || m)
 * over fixed-length m is a PRF under the assumption HMAC's proof rests on
 * (ngx_cx_token's keystream uses it: one compression a block, not two).
 *
 * The struct holds key-derived secrets: keep it out of logs and shared
 * memory that untrusted code can read.
 */
typedef struct {
    ngx_cx_sha256_t  inner;
    ngx_cx_sha256_t  outer;
    ngx_cx_sha256_t  stream;
} ngx_cx_hmac_key_t;


/* Start a new hash. */
void ngx_cx_sha256_init(ngx_cx_sha256_t *ctx);

/*
 * Absorb `len` bytes at `p` (p may be NULL when len is 0). May be called any
 * number of times with any chunk sizes; the result equals one call over the
 * concatenation. Messages longer than 2^61 - 1 bytes are not supported.
 */
void ngx_cx_sha256_update(ngx_cx_sha256_t *ctx, const void *p, size_t len);

/*
 * Write the 32-byte digest to `out`. The context is spent afterwards: call
 * ngx_cx_sha256_init() before reusing it.
 */
void ngx_cx_sha256_final(ngx_cx_sha256_t *ctx, unsigned char out[32]);

/*
 * HMAC-SHA256 of `len` bytes at `msg` under a key of any length (keys over
 * 64 bytes are hashed first, as RFC 2104 says; an empty key is allowed).
 * Writes the 32-byte MAC to `out`; truncate by using a prefix.
 */
void ngx_cx_hmac_sha256(const unsigned char *key, size_t keylen,
    const void *msg, size_t len, unsigned char out[32]);

/*
 * Precompute `hk` from a key of any length, once (at configuration time),
 * for ngx_cx_hmac_sha256_with(). Stack copies of the key material are wiped.
 */
void ngx_cx_hmac_key_init(ngx_cx_hmac_key_t *hk, const unsigned char *key,
    size_t keylen);

/*
 * Same result as ngx_cx_hmac_sha256() with the key `hk` was made from.
 * `hk` is only read, so one key may be shared by concurrent callers.
 */
void ngx_cx_hmac_sha256_with(const ngx_cx_hmac_key_t *hk, const void *msg,
    size_t len, unsigned char out[32]);

/*
 * Compare `n` bytes in time that depends on `n` only, never on where the
 * first difference lies, so a forger cannot learn a MAC byte by byte.
 * Returns 1 if equal (also when n is 0), 0 otherwise.
 */
int ngx_cx_ct_equal(const void *a, const void *b, size_t n);

/*
 * Zero `n` bytes at `p` even when the compiler sees them die right after
 * (keys, keystream, hash states on the stack).
 */
void ngx_cx_wipe(void *p, size_t n);


/*
 * For tests and benchmarks: with `on` non-zero, every later hash uses the
 * portable C block function; with `on` zero, the CPU is probed again and the
 * best one is used. Returns 1 if the SHA-NI path is in use after the call,
 * 0 if the portable one is (always 0 where SHA-NI cannot be built). Safe to
 * call at any time, since both paths give the same results; production code
 * has no reason to call it.
 */
int ngx_cx_sha256_force_portable(int on);


#endif /* NGX_CX_SHA256_H */
