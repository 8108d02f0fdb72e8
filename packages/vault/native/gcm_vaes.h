/*
 * AES-256-GCM on VAES and VPCLMULQDQ (AVX-512), for CPUs that have them; see gcm_vaes.c.
 */
#ifndef OCKAM_GCM_VAES_H
#define OCKAM_GCM_VAES_H

#include <stddef.h>

typedef struct GcmVaesKey GcmVaesKey;

/* A streaming GCM operation (one message): counters, GHASH accumulator and a partial block. */
typedef struct {
  unsigned char counter[16]; /* the next counter block, byte-reversed (inc32 on its first dword) */
  unsigned char j0[16];      /* the first counter block, for the tag */
  unsigned char y[16];       /* GHASH accumulator, byte-reversed */
  unsigned char keystream[16];
  unsigned char block[16];   /* ciphertext bytes of the partial block, for GHASH */
  size_t partial;            /* bytes used of the partial block */
  unsigned long long aad_bytes, text_bytes;
} GcmVaesState;

/* Whether this CPU and OS run the VAES path (checked once). */
int gcm_vaes_available(void);

/* A prepared key (round keys and powers of H), or NULL when out of memory. Free with gcm_vaes_free. */
GcmVaesKey *gcm_vaes_new(const unsigned char key[32]);
/* Wipes and frees the key. */
void gcm_vaes_free(GcmVaesKey *key);

/* Starts a message with a 12-byte nonce and its associated data. */
void gcm_vaes_begin(const GcmVaesKey *key, GcmVaesState *s, const unsigned char nonce[12],
                    const unsigned char *aad, size_t aad_length);
/* Encrypts (or decrypts) the next `length` bytes of the message; `out` may equal `in`. */
void gcm_vaes_encrypt(const GcmVaesKey *key, GcmVaesState *s, const unsigned char *in,
                      unsigned char *out, size_t length);
void gcm_vaes_decrypt(const GcmVaesKey *key, GcmVaesState *s, const unsigned char *in,
                      unsigned char *out, size_t length);
/* Writes the 16-byte tag and wipes the state. */
void gcm_vaes_finish(const GcmVaesKey *key, GcmVaesState *s, unsigned char tag[16]);

#endif
