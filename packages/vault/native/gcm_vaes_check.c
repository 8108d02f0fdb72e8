/*
 * A memory-safety check of native/gcm_vaes.c outside Node, under AddressSanitizer and
 * UndefinedBehaviorSanitizer: 20,000 messages (0-70,000 bytes, AAD 0-63 bytes) sealed in random
 * pieces, each piece in an allocation of exactly its size, compared byte for byte with OpenSSL's
 * EVP AES-256-GCM, then opened in place. Not part of `pnpm test` (it needs libcrypto's development
 * files); run it by hand after changing gcm_vaes.c:
 *
 *   gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
 *     native/gcm_vaes_check.c native/gcm_vaes.c -o /tmp/gcm_vaes_check -lcrypto && /tmp/gcm_vaes_check
 *
 * It prints "bad 0" and exits 0 when every result matches.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gcm_vaes.h"
static void ref(const unsigned char *key, const unsigned char *nonce, const unsigned char *aad, size_t aadn,
                const unsigned char *pt, size_t n, unsigned char *out) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new(); int l;
  EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce);
  if (aadn) EVP_EncryptUpdate(c, NULL, &l, aad, (int)aadn);
  if (n) EVP_EncryptUpdate(c, out, &l, pt, (int)n);
  EVP_EncryptFinal_ex(c, out + n, &l);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n);
  EVP_CIPHER_CTX_free(c);
}
int main(void) {
  if (!gcm_vaes_available()) { puts("no vaes"); return 1; }
  int bad = 0;
  for (int iter = 0; iter < 20000; iter++) {
    unsigned char key[32], nonce[12], aad[64];
    RAND_bytes(key, 32); RAND_bytes(nonce, 12); RAND_bytes(aad, 64);
    size_t n = (iter % 10 == 0) ? (size_t)(rand() % 70000) : (size_t)(rand() % 1100);
    size_t aadn = rand() % 3 == 0 ? (size_t)(rand() % 64) : 0;
    /* exact-size heap buffers so ASAN catches any overrun */
    unsigned char *pt = malloc(n ? n : 1), *exp = malloc(n + 16), *got = malloc(n + 16), *back = malloc(n ? n : 1);
    RAND_bytes(pt, (int)(n ? n : 1));
    ref(key, nonce, aad, aadn, pt, n, exp);
    GcmVaesKey *k = gcm_vaes_new(key);
    GcmVaesState s;
    gcm_vaes_begin(k, &s, nonce, aadn ? aad : NULL, aadn);
    size_t at = 0;
    while (at < n) { size_t take = (size_t)(rand() % 300); if (rand() % 4 == 0) take = (size_t)(rand() % 5000); if (take > n - at) take = n - at;
      /* each piece in its own exact-size allocation */
      unsigned char *piece = malloc(take ? take : 1); memcpy(piece, pt + at, take);
      unsigned char *opiece = malloc(take ? take : 1);
      gcm_vaes_encrypt(k, &s, piece, opiece, take); memcpy(got + at, opiece, take); free(piece); free(opiece); at += take; }
    gcm_vaes_finish(k, &s, got + n);
    if (memcmp(got, exp, n + 16) != 0) { bad++; if (bad < 5) printf("mismatch n=%zu aad=%zu\n", n, aadn); }
    gcm_vaes_begin(k, &s, nonce, aadn ? aad : NULL, aadn);
    memcpy(back, exp, n); /* in place */
    gcm_vaes_decrypt(k, &s, back, back, n);
    unsigned char tag[16]; gcm_vaes_finish(k, &s, tag);
    if (memcmp(tag, exp + n, 16) != 0 || memcmp(back, pt, n) != 0) { bad++; if (bad < 5) printf("decrypt mismatch n=%zu\n", n); }
    gcm_vaes_free(k);
    free(pt); free(exp); free(got); free(back);
  }
  printf("bad %d\n", bad);
  return bad != 0;
}
