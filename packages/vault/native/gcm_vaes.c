/*
 * AES-256-GCM (NIST SP 800-38D) on x86-64 with VAES and VPCLMULQDQ on 512-bit registers: 16
 * blocks per step, counter mode on VAES and GHASH as one aggregated carry-less multiplication per
 * step (each block times its own power of H, one reduction).
 *
 * Why: the OpenSSL that Node.js 20 links (3.0) runs AES-GCM on 128-bit AES-NI; on a CPU with
 * AVX-512 VAES the same work takes about half the time this way (OpenSSL 3.2+ has such a path;
 * Node 20 does not ship it). Only 12-byte nonces and 32-byte keys come here; everything else, and
 * every CPU without these instructions, stays on OpenSSL (aead.c decides).
 *
 * Every instruction used runs in time independent of the data (no table lookups). GHASH uses the
 * byte-reflected representation of Intel's white paper "Intel Carry-Less Multiplication
 * Instruction and its Usage for Computing the GCM Mode" (Gueron, Kounavis): operands are
 * byte-reversed blocks; a product is shifted left by one bit and reduced modulo
 * x^128 + x^7 + x^2 + x + 1. Tests compare every result with OpenSSL's.
 */
#include "gcm_vaes.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#define TARGET \
  __attribute__((target("aes,pclmul,ssse3,sse4.1,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")))

#ifndef bit_VAES
#define bit_VAES (1u << 9)
#endif
#ifndef bit_VPCLMULQDQ
#define bit_VPCLMULQDQ (1u << 10)
#endif

struct GcmVaesKey {
  __m128i rk[15]; /* AES-256 round keys */
  __m128i h[16];  /* h[i] = H^(i+1), byte-reflected */
};

static int cpu_ok = -1;

int gcm_vaes_available(void) {
  if (cpu_ok >= 0) return cpu_ok;
  unsigned a, b, c, d;
  int ok = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AES) && (c & bit_PCLMUL) &&
      (c & bit_SSE4_1) && (c & bit_SSSE3)) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    /* The OS saves SSE, AVX, opmask and all 512-bit register state. */
    if ((lo & 0xe6) == 0xe6 && __get_cpuid_count(7, 0, &a, &b, &c, &d))
      ok = (b & bit_AVX2) && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) &&
           (c & bit_VAES) && (c & bit_VPCLMULQDQ);
  }
  cpu_ok = ok;
  return ok;
}

TARGET static inline __m128i bswap128(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

TARGET static inline __m128i aes_block(const __m128i *rk, __m128i x) {
  x = _mm_xor_si128(x, rk[0]);
  for (int i = 1; i < 14; i++) x = _mm_aesenc_si128(x, rk[i]);
  return _mm_aesenclast_si128(x, rk[14]);
}

/*
 * AES-256 key expansion (FIPS 197 §5.2) with AESKEYGENASSIST: a round key is the one two before
 * it with each word XORed with all the words before it, then with `word`: the key generation
 * assist's relevant 32-bit word, broadcast.
 */
TARGET static inline __m128i expand_step(__m128i prev, __m128i word) {
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 8));
  return _mm_xor_si128(prev, word);
}

/* Round key i takes RotWord, SubWord and rcon (the assist's word 3); round key i + 1 SubWord only (word 2). */
#define EXPAND_PAIR(i, rcon)                                                                     \
  rk[i] = expand_step(rk[(i) - 2],                                                               \
                      _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], (rcon)), 0xff));  \
  if ((i) + 1 < 15)                                                                              \
    rk[(i) + 1] = expand_step(rk[(i) - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i], 0), 0xaa));

TARGET static void expand_key(const unsigned char key[32], __m128i rk[15]) {
  rk[0] = _mm_loadu_si128((const __m128i *)key);
  rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
  EXPAND_PAIR(2, 0x01)
  EXPAND_PAIR(4, 0x02)
  EXPAND_PAIR(6, 0x04)
  EXPAND_PAIR(8, 0x08)
  EXPAND_PAIR(10, 0x10)
  EXPAND_PAIR(12, 0x20)
  EXPAND_PAIR(14, 0x40)
}

/* The 256-bit product hi:lo of two byte-reflected operands, shifted left by one and reduced. */
TARGET static inline __m128i gf_reduce(__m128i lo, __m128i hi) {
  __m128i c_lo = _mm_srli_epi32(lo, 31);
  __m128i c_hi = _mm_srli_epi32(hi, 31);
  lo = _mm_slli_epi32(lo, 1);
  hi = _mm_slli_epi32(hi, 1);
  __m128i carry_across = _mm_srli_si128(c_lo, 12);
  c_hi = _mm_slli_si128(c_hi, 4);
  c_lo = _mm_slli_si128(c_lo, 4);
  lo = _mm_or_si128(lo, c_lo);
  hi = _mm_or_si128(hi, c_hi);
  hi = _mm_or_si128(hi, carry_across);
  __m128i a = _mm_slli_epi32(lo, 31);
  __m128i b = _mm_slli_epi32(lo, 30);
  __m128i c = _mm_slli_epi32(lo, 25);
  a = _mm_xor_si128(a, b);
  a = _mm_xor_si128(a, c);
  b = _mm_srli_si128(a, 4);
  a = _mm_slli_si128(a, 12);
  lo = _mm_xor_si128(lo, a);
  __m128i d = _mm_srli_epi32(lo, 1);
  __m128i e = _mm_srli_epi32(lo, 2);
  __m128i f = _mm_srli_epi32(lo, 7);
  d = _mm_xor_si128(d, e);
  d = _mm_xor_si128(d, f);
  d = _mm_xor_si128(d, b);
  lo = _mm_xor_si128(lo, d);
  return _mm_xor_si128(hi, lo);
}

TARGET static inline __m128i gfmul(__m128i a, __m128i b) {
  __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
  __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
  return gf_reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)), _mm_xor_si128(hi, _mm_srli_si128(mid, 8)));
}

/* GHASH state `y` after absorbing the 16 bytes at `block` (in memory order). */
TARGET static inline __m128i absorb(const GcmVaesKey *k, __m128i y, const unsigned char *block) {
  return gfmul(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)block))), k->h[0]);
}

TARGET static GcmVaesKey *new_key(const unsigned char key[32]) {
  void *memory = NULL;
  if (posix_memalign(&memory, 64, sizeof(GcmVaesKey)) != 0) return NULL;
  GcmVaesKey *k = memory;
  expand_key(key, k->rk);
  __m128i h = bswap128(aes_block(k->rk, _mm_setzero_si128()));
  k->h[0] = h;
  for (int i = 1; i < 16; i++) k->h[i] = gfmul(k->h[i - 1], h);
  return k;
}

GcmVaesKey *gcm_vaes_new(const unsigned char key[32]) {
  return gcm_vaes_available() ? new_key(key) : NULL;
}

void gcm_vaes_free(GcmVaesKey *key) {
  if (key == NULL) return;
  OPENSSL_cleanse(key, sizeof(GcmVaesKey));
  free(key);
}

TARGET static void begin(const GcmVaesKey *k, GcmVaesState *s, const unsigned char nonce[12],
                         const unsigned char *aad, size_t aad_length) {
  memset(s, 0, sizeof *s);
  memcpy(s->j0, nonce, 12);
  s->j0[15] = 1;
  /* Data starts at inc32(J0); kept byte-reversed, so inc32 adds to the first dword. */
  __m128i counter = _mm_add_epi32(bswap128(_mm_loadu_si128((const __m128i *)s->j0)), _mm_set_epi32(0, 0, 0, 1));
  _mm_storeu_si128((__m128i *)s->counter, counter);
  __m128i y = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= aad_length; i += 16) y = absorb(k, y, aad + i);
  if (i < aad_length) {
    unsigned char last[16] = {0};
    memcpy(last, aad + i, aad_length - i);
    y = absorb(k, y, last);
  }
  _mm_storeu_si128((__m128i *)s->y, y);
  s->aad_bytes = aad_length;
}

void gcm_vaes_begin(const GcmVaesKey *k, GcmVaesState *s, const unsigned char nonce[12],
                    const unsigned char *aad, size_t aad_length) {
  begin(k, s, nonce, aad, aad_length);
}

/* XOR of the four 128-bit lanes. */
TARGET static inline __m128i fold4(__m512i z) {
  __m256i t = _mm256_xor_si256(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

TARGET static inline __m512i lanes(__m128i a, __m128i b, __m128i c, __m128i d) {
  __m512i z = _mm512_zextsi128_si512(a);
  z = _mm512_inserti32x4(z, b, 1);
  z = _mm512_inserti32x4(z, c, 2);
  return _mm512_inserti32x4(z, d, 3);
}

/* `chunks` × 256 bytes from a block boundary: counter mode on VAES, GHASH aggregated over 16 blocks. */
TARGET static void bulk(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                        size_t chunks, int decrypt) {
  __m512i rk[15];
  for (int i = 0; i < 15; i++) rk[i] = _mm512_broadcast_i32x4(k->rk[i]);
  const __m512i reverse = _mm512_broadcast_i32x4(
      _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  /* Block j of a step is multiplied by H^(16 - j). */
  const __m512i hp0 = lanes(k->h[15], k->h[14], k->h[13], k->h[12]);
  const __m512i hp1 = lanes(k->h[11], k->h[10], k->h[9], k->h[8]);
  const __m512i hp2 = lanes(k->h[7], k->h[6], k->h[5], k->h[4]);
  const __m512i hp3 = lanes(k->h[3], k->h[2], k->h[1], k->h[0]);
  const __m512i four = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
  const __m512i sixteen = _mm512_set_epi32(0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 16);
  __m512i c0 = _mm512_add_epi32(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)s->counter)),
                                _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0));
  __m512i c1 = _mm512_add_epi32(c0, four);
  __m512i c2 = _mm512_add_epi32(c1, four);
  __m512i c3 = _mm512_add_epi32(c2, four);
  __m128i y = _mm_loadu_si128((const __m128i *)s->y);
  for (size_t n = 0; n < chunks; n++, in += 256, out += 256) {
    __m512i b0 = _mm512_xor_si512(_mm512_shuffle_epi8(c0, reverse), rk[0]);
    __m512i b1 = _mm512_xor_si512(_mm512_shuffle_epi8(c1, reverse), rk[0]);
    __m512i b2 = _mm512_xor_si512(_mm512_shuffle_epi8(c2, reverse), rk[0]);
    __m512i b3 = _mm512_xor_si512(_mm512_shuffle_epi8(c3, reverse), rk[0]);
    c0 = _mm512_add_epi32(c0, sixteen);
    c1 = _mm512_add_epi32(c1, sixteen);
    c2 = _mm512_add_epi32(c2, sixteen);
    c3 = _mm512_add_epi32(c3, sixteen);
    for (int r = 1; r < 14; r++) {
      b0 = _mm512_aesenc_epi128(b0, rk[r]);
      b1 = _mm512_aesenc_epi128(b1, rk[r]);
      b2 = _mm512_aesenc_epi128(b2, rk[r]);
      b3 = _mm512_aesenc_epi128(b3, rk[r]);
    }
    b0 = _mm512_aesenclast_epi128(b0, rk[14]);
    b1 = _mm512_aesenclast_epi128(b1, rk[14]);
    b2 = _mm512_aesenclast_epi128(b2, rk[14]);
    b3 = _mm512_aesenclast_epi128(b3, rk[14]);
    /* Inputs are read before anything is written: `out` may be `in`. */
    __m512i d0 = _mm512_loadu_si512((const void *)in);
    __m512i d1 = _mm512_loadu_si512((const void *)(in + 64));
    __m512i d2 = _mm512_loadu_si512((const void *)(in + 128));
    __m512i d3 = _mm512_loadu_si512((const void *)(in + 192));
    __m512i x0 = _mm512_xor_si512(d0, b0);
    __m512i x1 = _mm512_xor_si512(d1, b1);
    __m512i x2 = _mm512_xor_si512(d2, b2);
    __m512i x3 = _mm512_xor_si512(d3, b3);
    _mm512_storeu_si512((void *)out, x0);
    _mm512_storeu_si512((void *)(out + 64), x1);
    _mm512_storeu_si512((void *)(out + 128), x2);
    _mm512_storeu_si512((void *)(out + 192), x3);
    /* GHASH runs over the ciphertext: the input when decrypting, the output when encrypting. */
    __m512i g0 = _mm512_shuffle_epi8(decrypt ? d0 : x0, reverse);
    __m512i g1 = _mm512_shuffle_epi8(decrypt ? d1 : x1, reverse);
    __m512i g2 = _mm512_shuffle_epi8(decrypt ? d2 : x2, reverse);
    __m512i g3 = _mm512_shuffle_epi8(decrypt ? d3 : x3, reverse);
    g0 = _mm512_xor_si512(g0, _mm512_zextsi128_si512(y));
    __m512i lo = _mm512_clmulepi64_epi128(g0, hp0, 0x00);
    __m512i hi = _mm512_clmulepi64_epi128(g0, hp0, 0x11);
    __m512i mid = _mm512_xor_si512(_mm512_clmulepi64_epi128(g0, hp0, 0x01), _mm512_clmulepi64_epi128(g0, hp0, 0x10));
    lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(g1, hp1, 0x00));
    hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(g1, hp1, 0x11));
    mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(g1, hp1, 0x01),
                                    _mm512_clmulepi64_epi128(g1, hp1, 0x10), 0x96);
    lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(g2, hp2, 0x00));
    hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(g2, hp2, 0x11));
    mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(g2, hp2, 0x01),
                                    _mm512_clmulepi64_epi128(g2, hp2, 0x10), 0x96);
    lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(g3, hp3, 0x00));
    hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(g3, hp3, 0x11));
    mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(g3, hp3, 0x01),
                                    _mm512_clmulepi64_epi128(g3, hp3, 0x10), 0x96);
    __m128i l = fold4(lo), h = fold4(hi), m = fold4(mid);
    y = gf_reduce(_mm_xor_si128(l, _mm_slli_si128(m, 8)), _mm_xor_si128(h, _mm_srli_si128(m, 8)));
  }
  _mm_storeu_si128((__m128i *)s->y, y);
  _mm_storeu_si128((__m128i *)s->counter, _mm512_castsi512_si128(c0));
}

TARGET static inline __m128i next_keystream(const GcmVaesKey *k, GcmVaesState *s) {
  __m128i counter = _mm_loadu_si128((const __m128i *)s->counter);
  _mm_storeu_si128((__m128i *)s->counter, _mm_add_epi32(counter, _mm_set_epi32(0, 0, 0, 1)));
  return aes_block(k->rk, bswap128(counter));
}

/*
 * XORs `n` bytes with the partial block's keystream from `s->partial` on, keeping their ciphertext
 * (the input when decrypting, the output when encrypting) for GHASH; the caller moves `partial`.
 */
static inline void xor_partial(GcmVaesState *s, const unsigned char *in, unsigned char *out, size_t n,
                               int decrypt) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = in[i];
    unsigned char o = c ^ s->keystream[s->partial + i];
    out[i] = o;
    s->block[s->partial + i] = decrypt ? c : o;
  }
}

TARGET static void process(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                           size_t length, int decrypt) {
  s->text_bytes += length;
  while (length > 0) {
    if (s->partial > 0) {
      /* Finish the partial block with the rest of its keystream. */
      size_t take = 16 - s->partial;
      if (take > length) take = length;
      xor_partial(s, in, out, take, decrypt);
      s->partial += take;
      in += take;
      out += take;
      length -= take;
      if (s->partial == 16) {
        _mm_storeu_si128((__m128i *)s->y, absorb(k, _mm_loadu_si128((const __m128i *)s->y), s->block));
        s->partial = 0;
      }
      continue;
    }
    if (length >= 256) {
      size_t chunks = length / 256;
      bulk(k, s, in, out, chunks, decrypt);
      in += chunks * 256;
      out += chunks * 256;
      length -= chunks * 256;
      continue;
    }
    __m128i ks = next_keystream(k, s);
    if (length >= 16) {
      __m128i d = _mm_loadu_si128((const __m128i *)in);
      __m128i x = _mm_xor_si128(d, ks);
      _mm_storeu_si128((__m128i *)out, x);
      __m128i y = _mm_loadu_si128((const __m128i *)s->y);
      y = gfmul(_mm_xor_si128(y, bswap128(decrypt ? d : x)), k->h[0]);
      _mm_storeu_si128((__m128i *)s->y, y);
      in += 16;
      out += 16;
      length -= 16;
      continue;
    }
    /* Fewer than 16 bytes left: start a partial block, which later bytes (or the end) complete. */
    _mm_storeu_si128((__m128i *)s->keystream, ks);
    xor_partial(s, in, out, length, decrypt);  /* s->partial is 0 here */
    s->partial = length;
    length = 0;
  }
}

void gcm_vaes_encrypt(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                      size_t length) {
  process(k, s, in, out, length, 0);
}

void gcm_vaes_decrypt(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                      size_t length) {
  process(k, s, in, out, length, 1);
}

TARGET static void finish(const GcmVaesKey *k, GcmVaesState *s, unsigned char tag[16]) {
  __m128i y = _mm_loadu_si128((const __m128i *)s->y);
  if (s->partial > 0) {
    memset(s->block + s->partial, 0, 16 - s->partial);
    y = absorb(k, y, s->block);
  }
  unsigned char lengths[16];
  uint64_t bits[2] = {(uint64_t)s->aad_bytes * 8, (uint64_t)s->text_bytes * 8};
  for (int i = 0; i < 8; i++) {
    lengths[i] = (unsigned char)(bits[0] >> (56 - 8 * i));
    lengths[8 + i] = (unsigned char)(bits[1] >> (56 - 8 * i));
  }
  y = absorb(k, y, lengths);
  __m128i t = _mm_xor_si128(bswap128(y), aes_block(k->rk, _mm_loadu_si128((const __m128i *)s->j0)));
  _mm_storeu_si128((__m128i *)tag, t);
  OPENSSL_cleanse(s, sizeof *s);
}

void gcm_vaes_finish(const GcmVaesKey *k, GcmVaesState *s, unsigned char tag[16]) {
  finish(k, s, tag);
}

#else /* not x86-64 with GCC or Clang: never available */

int gcm_vaes_available(void) { return 0; }
GcmVaesKey *gcm_vaes_new(const unsigned char key[32]) { (void)key; return NULL; }
void gcm_vaes_free(GcmVaesKey *key) { (void)key; }
void gcm_vaes_begin(const GcmVaesKey *k, GcmVaesState *s, const unsigned char nonce[12],
                    const unsigned char *aad, size_t aad_length) {
  (void)k; (void)s; (void)nonce; (void)aad; (void)aad_length;
}
void gcm_vaes_encrypt(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                      size_t length) {
  (void)k; (void)s; (void)in; (void)out; (void)length;
}
void gcm_vaes_decrypt(const GcmVaesKey *k, GcmVaesState *s, const unsigned char *in, unsigned char *out,
                      size_t length) {
  (void)k; (void)s; (void)in; (void)out; (void)length;
}
void gcm_vaes_finish(const GcmVaesKey *k, GcmVaesState *s, unsigned char tag[16]) {
  (void)k; (void)s; (void)tag;
}

#endif
