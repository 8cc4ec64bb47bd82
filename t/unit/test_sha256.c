/*
 * SHA-256 against FIPS 180-2 vectors, HMAC-SHA256 against RFC 4231, and the
 * constant-time comparison. Expected digests are literals from the standards
 * (cross-checked with Python's hashlib/hmac), never computed by the code
 * under test.
 *
 * Every hashing test runs twice: once forced onto the portable block
 * function, once on whatever the CPU detection picks (SHA-NI where the CPU
 * has it). A randomized test then compares the two paths directly.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_cx_sha256.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif


static void
unhex(unsigned char *dst, const char *hex)
{
    unsigned int  b;

    while (*hex) {
        assert_int_equal(sscanf(hex, "%2x", &b), 1);
        *dst++ = (unsigned char) b;
        hex += 2;
    }
}


static void
assert_digest(const unsigned char *got, const char *hex, size_t n)
{
    unsigned char  want[32];

    assert_int_equal(strlen(hex), 2 * n);
    unhex(want, hex);
    assert_memory_equal(got, want, n);
}


static void
sha256(const void *p, size_t len, unsigned char out[32])
{
    ngx_cx_sha256_t  ctx;

    ngx_cx_sha256_init(&ctx);
    ngx_cx_sha256_update(&ctx, p, len);
    ngx_cx_sha256_final(&ctx, out);
}


static void
test_fips_abc(void **state)
{
    unsigned char  d[32];

    (void) state;

    sha256("abc", 3, d);
    assert_digest(d, "ba7816bf8f01cfea414140de5dae2223"
                     "b00361a396177a9cb410ff61f20015ad", 32);
}


static void
test_fips_448_bits(void **state)
{
    unsigned char  d[32];
    const char    *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    (void) state;

    assert_int_equal(strlen(m), 56);
    sha256(m, strlen(m), d);
    assert_digest(d, "248d6a61d20638b8e5c026930c3e6039"
                     "a33ce45964ff2167f6ecedd419db06c1", 32);
}


static void
test_fips_896_bits(void **state)
{
    unsigned char  d[32];
    const char    *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

    (void) state;

    sha256(m, strlen(m), d);
    assert_digest(d, "cf5b16a778af8380036ce59e7b049237"
                     "0b249b11e8f07a51afac45037afee9d1", 32);
}


static void
test_empty(void **state)
{
    unsigned char  d[32];

    (void) state;

    sha256(NULL, 0, d);
    assert_digest(d, "e3b0c44298fc1c149afbf4c8996fb924"
                     "27ae41e4649b934ca495991b7852b855", 32);
}


static void
test_fips_million_a(void **state)
{
    int              i;
    unsigned char    d[32], chunk[1000];
    ngx_cx_sha256_t  ctx;

    (void) state;

    memset(chunk, 'a', sizeof(chunk));
    ngx_cx_sha256_init(&ctx);

    for (i = 0; i < 1000; i++) {
        ngx_cx_sha256_update(&ctx, chunk, sizeof(chunk));
    }

    ngx_cx_sha256_final(&ctx, d);
    assert_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67"
                     "f1809a48a497200e046d39ccc7112cd0", 32);
}


/* lengths around the padding boundary: 55 fits one block, 56 needs two */
static void
test_padding_boundaries(void **state)
{
    size_t         i;
    unsigned char  d[32], a[120];

    static const struct {
        size_t      len;
        const char *hex;
    } v[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        { 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
        { 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
        { 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
    };

    (void) state;

    memset(a, 'a', sizeof(a));

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        sha256(a, v[i].len, d);
        assert_digest(d, v[i].hex, 32);
    }
}


static void
test_streaming_odd_chunks(void **state)
{
    size_t           i, off, n, c;
    unsigned char    m[1000], one[32], d[32];
    ngx_cx_sha256_t  ctx;

    static const size_t  sizes[] = { 1, 2, 3, 5, 7, 11, 13, 31, 63, 64, 65, 127, 129 };

    (void) state;

    for (i = 0; i < sizeof(m); i++) {
        m[i] = (unsigned char) (i * 31 + 7);
    }

    sha256(m, sizeof(m), one);
    assert_digest(one, "5097e7d587352f5097062ae679f37bda"
                       "5802d9f875aba14c8cb4d1a188ada179", 32);

    /* each chunk size alone, then all of them in rotation */
    for (c = 0; c <= sizeof(sizes) / sizeof(sizes[0]); c++) {
        ngx_cx_sha256_init(&ctx);

        for (off = 0, i = 0; off < sizeof(m); off += n, i++) {
            n = (c < sizeof(sizes) / sizeof(sizes[0]))
                ? sizes[c] : sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

            if (n > sizeof(m) - off) {
                n = sizeof(m) - off;
            }

            ngx_cx_sha256_update(&ctx, m + off, n);
            ngx_cx_sha256_update(&ctx, m + off, 0);
        }

        ngx_cx_sha256_final(&ctx, d);
        assert_memory_equal(d, one, 32);
    }
}


static const struct {
    size_t      keylen;
    int         keybyte;       /* -1: key is 0x01, 0x02, ... */
    const char *key;           /* used when keybyte is 0 */
    size_t      msglen;
    int         msgbyte;
    const char *msg;           /* used when msgbyte is 0 */
    size_t      maclen;
    const char *mac;
} rfc4231[] = {
    /* 1 */
    { 20, 0x0b, NULL, 8, 0, "Hi There", 32,
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    /* 2 */
    { 4, 0, "Jefe", 28, 0, "what do ya want for nothing?", 32,
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    /* 3 */
    { 20, 0xaa, NULL, 50, 0xdd, NULL, 32,
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    /* 4 */
    { 25, -1, NULL, 50, 0xcd, NULL, 32,
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    /* 5: truncated to 128 bits */
    { 20, 0x0c, NULL, 20, 0, "Test With Truncation", 16,
      "a3b6167473100ee06e0c796c2955552b" },
    /* 6: 131-byte key */
    { 131, 0xaa, NULL, 54, 0,
      "Test Using Larger Than Block-Size Key - Hash Key First", 32,
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    /* 7: 131-byte key, 152-byte message */
    { 131, 0xaa, NULL, 152, 0,
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.", 32,
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};


static void
test_hmac_rfc4231(void **state)
{
    size_t             i, j;
    unsigned char      key[131], msg[152], mac[32], mac2[32];
    ngx_cx_hmac_key_t  hk;

    (void) state;

    for (i = 0; i < sizeof(rfc4231) / sizeof(rfc4231[0]); i++) {
        if (rfc4231[i].keybyte == -1) {
            for (j = 0; j < rfc4231[i].keylen; j++) {
                key[j] = (unsigned char) (j + 1);
            }

        } else if (rfc4231[i].keybyte) {
            memset(key, rfc4231[i].keybyte, rfc4231[i].keylen);

        } else {
            memcpy(key, rfc4231[i].key, rfc4231[i].keylen);
        }

        if (rfc4231[i].msgbyte) {
            memset(msg, rfc4231[i].msgbyte, rfc4231[i].msglen);

        } else {
            assert_int_equal(strlen(rfc4231[i].msg), rfc4231[i].msglen);
            memcpy(msg, rfc4231[i].msg, rfc4231[i].msglen);
        }

        ngx_cx_hmac_sha256(key, rfc4231[i].keylen, msg, rfc4231[i].msglen, mac);
        assert_digest(mac, rfc4231[i].mac, rfc4231[i].maclen);

        /* the precomputed key gives the same MAC, and is not consumed by use */
        ngx_cx_hmac_key_init(&hk, key, rfc4231[i].keylen);

        for (j = 0; j < 2; j++) {
            memset(mac2, 0, sizeof(mac2));
            ngx_cx_hmac_sha256_with(&hk, msg, rfc4231[i].msglen, mac2);
            assert_memory_equal(mac2, mac, 32);
        }
    }
}


/* a 64-byte key is used as is, a 65-byte one is hashed: both sides of the edge */
static void
test_hmac_key_block_edge(void **state)
{
    unsigned char  key[65], hkey[32], mac[32], mac2[32];

    (void) state;

    memset(key, 0x42, sizeof(key));

    /* RFC 2104: a key longer than a block is replaced by its hash */
    sha256(key, 65, hkey);
    ngx_cx_hmac_sha256(key, 65, "m", 1, mac);
    ngx_cx_hmac_sha256(hkey, 32, "m", 1, mac2);
    assert_memory_equal(mac, mac2, 32);

    /* a 64-byte key is not hashed, so it differs from its hash used as key */
    sha256(key, 64, hkey);
    ngx_cx_hmac_sha256(key, 64, "m", 1, mac);
    ngx_cx_hmac_sha256(hkey, 32, "m", 1, mac2);
    assert_memory_not_equal(mac, mac2, 32);

    /* an empty key is zero padding, the same as a 64-byte zero key */
    memset(key, 0, sizeof(key));
    ngx_cx_hmac_sha256(NULL, 0, "m", 1, mac);
    ngx_cx_hmac_sha256(key, 64, "m", 1, mac2);
    assert_memory_equal(mac, mac2, 32);
}


static void
test_ct_equal(void **state)
{
    size_t         i;
    int            bit;
    unsigned char  a[33], b[33];

    (void) state;

    for (i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char) (i * 7);
    }

    memcpy(b, a, sizeof(a));

    assert_int_equal(ngx_cx_ct_equal(a, b, sizeof(a)), 1);
    assert_int_equal(ngx_cx_ct_equal(a, b, 0), 1);

    /* a difference in any bit of any byte is seen, and only within n */
    for (i = 0; i < sizeof(a); i++) {
        for (bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char) (1 << bit);
            assert_int_equal(ngx_cx_ct_equal(a, b, sizeof(a)), 0);
            assert_int_equal(ngx_cx_ct_equal(a, b, i), 1);
            assert_int_equal(ngx_cx_ct_equal(a, b, i + 1), 0);
            b[i] ^= (unsigned char) (1 << bit);
        }
    }

    assert_int_equal(ngx_cx_ct_equal(a, b, sizeof(a)), 1);
}


static int
use_portable(void **state)
{
    (void) state;

    assert_int_equal(ngx_cx_sha256_force_portable(1), 0);

    return 0;
}


static int
use_detected(void **state)
{
    (void) state;

    ngx_cx_sha256_force_portable(0);

    return 0;
}


/*
 * The library must pick SHA-NI exactly when CPUID (as this process sees it:
 * valgrind, for one, hides SHA) reports SHA, SSSE3 and SSE4.1. The bits come
 * from the compiler's <cpuid.h> names, the library uses its own numbers, so
 * this also checks those.
 */
static void
test_detection(void **state)
{
    int           want;
    unsigned int  a, b, c, d;

    (void) state;

    want = 0;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) \
    && defined(bit_SHA)
    if (__get_cpuid(1, &a, &b, &c, &d)
        && (c & bit_SSSE3) && (c & bit_SSE4_1)
        && __get_cpuid_count(7, 0, &a, &b, &c, &d)
        && (b & bit_SHA))
    {
        want = 1;
    }
#else
    (void) a; (void) b; (void) c; (void) d;
#endif

    assert_int_equal(ngx_cx_sha256_force_portable(1), 0);
    assert_int_equal(ngx_cx_sha256_force_portable(0), want);
    assert_int_equal(ngx_cx_sha256_force_portable(0), want);
}


/* xorshift64: a fixed seed makes every run hash the same inputs */
static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;

    return *s;
}


/* hash in random chunks, so whole-block runs start at odd offsets too */
static void
sha256_chunked(const unsigned char *p, size_t len, uint64_t *seed,
    unsigned char out[32])
{
    size_t           n;
    ngx_cx_sha256_t  ctx;

    ngx_cx_sha256_init(&ctx);

    while (len) {
        n = (size_t) (rnd(seed) % 300);

        if (n > len) {
            n = len;
        }

        ngx_cx_sha256_update(&ctx, p, n);
        p += n;
        len -= n;
    }

    ngx_cx_sha256_final(&ctx, out);
}


/*
 * 1000 random messages of 0..1000 bytes at random alignments, hashed whole
 * and in chunks, plus HMAC under random keys of 0..200 bytes: the detected
 * path must match the portable one byte for byte. The first case's digest
 * is pinned (from Python's hashlib) so a broken generator cannot make the comparison vacuous.
 */
static void
test_paths_agree(void **state)
{
    int               i, j, accel;
    size_t            len, off, keylen;
    uint64_t          seed, s1, s2;
    unsigned char     buf[1000 + 16], key[200], d[4][32];
    ngx_cx_hmac_key_t hk;

    (void) state;

    accel = ngx_cx_sha256_force_portable(0);
    print_message("    SHA-NI path: %s\n",
                  accel ? "in use" : "not available, comparing portable with itself");

    seed = 0x9e3779b97f4a7c15ULL;

    for (i = 0; i < 1000; i++) {
        len = (size_t) (rnd(&seed) % 1001);
        off = (size_t) (rnd(&seed) % 16);
        keylen = (size_t) (rnd(&seed) % 201);

        for (j = 0; j < (int) len; j++) {
            buf[off + j] = (unsigned char) rnd(&seed);
        }

        for (j = 0; j < (int) keylen; j++) {
            key[j] = (unsigned char) rnd(&seed);
        }

        s1 = seed;

        ngx_cx_sha256_force_portable(1);
        sha256(buf + off, len, d[0]);
        ngx_cx_hmac_sha256(key, keylen, buf + off, len, d[1]);

        if (i == 0) {
            assert_int_equal(len, 726);
            assert_digest(d[0], "d00c0dcf2f2878c8170f77fdbe80267d"
                                "a46aec6037975c49dd86d9519274410b", 32);
        }

        ngx_cx_sha256_force_portable(0);
        sha256(buf + off, len, d[2]);
        ngx_cx_hmac_key_init(&hk, key, keylen);
        ngx_cx_hmac_sha256_with(&hk, buf + off, len, d[3]);

        assert_memory_equal(d[0], d[2], 32);
        assert_memory_equal(d[1], d[3], 32);

        /* chunked, same chunk sizes on both paths */
        s2 = s1;
        ngx_cx_sha256_force_portable(1);
        sha256_chunked(buf + off, len, &s1, d[1]);
        ngx_cx_sha256_force_portable(0);
        sha256_chunked(buf + off, len, &s2, d[3]);

        assert_memory_equal(d[1], d[0], 32);
        assert_memory_equal(d[3], d[0], 32);

        seed = s1;
    }
}


int
main(void)
{
    /* each hashing test once per block function, named after the path */
#define BOTH_PATHS(f)                                                        \
    { #f " [portable]", f, use_portable, NULL, NULL },                       \
    { #f " [detected]", f, use_detected, NULL, NULL }

    const struct CMUnitTest  tests[] = {
        BOTH_PATHS(test_fips_abc),
        BOTH_PATHS(test_fips_448_bits),
        BOTH_PATHS(test_fips_896_bits),
        BOTH_PATHS(test_empty),
        BOTH_PATHS(test_fips_million_a),
        BOTH_PATHS(test_padding_boundaries),
        BOTH_PATHS(test_streaming_odd_chunks),
        BOTH_PATHS(test_hmac_rfc4231),
        BOTH_PATHS(test_hmac_key_block_edge),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_paths_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
