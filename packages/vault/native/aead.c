/*
 * Optional native AEAD for the node backend of @ockam/vault: AES-GCM and ChaCha20-Poly1305 on the
 * EVP interface of the OpenSSL that Node.js itself links (its headers ship with Node; its symbols
 * are resolved from the running node binary). No cipher code of our own: every byte is OpenSSL's.
 *
 * Why: node:crypto makes a new cipher object for every message and returns its output in a fresh,
 * zero-filled buffer; for a 48 KiB secure-channel frame that doubles the cost of the AES itself.
 * Here a key keeps one prepared OpenSSL context per direction (the key schedule is computed once),
 * each message only sets its nonce, and the output goes straight into a buffer the caller gives.
 *
 * API (all arguments are checked here; a wrong one throws a TypeError or RangeError, never
 * touches memory it should not):
 *   create(algorithm: 0 AES-GCM | 1 ChaCha20-Poly1305, key: Uint8Array) -> handle
 *        the handle is an external type-tagged as this addon's key; nothing else is taken for one
 *   seal(handle, nonce12, plaintext: Uint8Array | Uint8Array[] (at most 64), aad, out, offset)
 *        writes ciphertext ‖ 16-byte tag into out at offset; out may hold a single plaintext
 *        exactly where its ciphertext goes (in place), and must not overlap it otherwise
 *   open(handle, nonce12, ciphertextAndTag: Uint8Array | Uint8Array[] (at most 64), aad, out) -> boolean
 *        writes the plaintext into out (length - 16 bytes); false, and out wiped, when the tag
 *        does not authenticate. out may be the single input itself (in place); it must not
 *        overlap any part of an array.
 *   destroy(handle)  frees both contexts now (OpenSSL cleanses them); later use throws
 *
 * Memory safety against the caller's own JavaScript: reading an array element may run a getter,
 * and a getter may detach or resize any ArrayBuffer (the output's too) or destroy the key. So
 * seal and open work in two phases: first every JS value is fetched (the only step that can run
 * JavaScript), then every pointer is taken and every size checked, and from there to the end of
 * the call nothing calls back into JavaScript. A pointer is never held across a getter.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LENGTH 12
#define TAG_LENGTH 16
#define MAX_PARTS 64

typedef struct {
  EVP_CIPHER_CTX *enc;
  EVP_CIPHER_CTX *dec;
} Aead;

/*
 * The type tag of this addon's key handles (random; N-API 8 type tags, Node's guard against
 * taking another addon's external, or a forged one, for ours).
 */
static const napi_type_tag KEY_TAG = {0xaff6733a47c8f4d9ULL, 0xcc23e25c9934e98dULL};

static napi_value fail(napi_env env, const char *message, int range) {
  if (range) napi_throw_range_error(env, "ERR_OCKAM_AEAD", message);
  else napi_throw_type_error(env, "ERR_OCKAM_AEAD", message);
  return NULL;
}

/* The bytes of a Uint8Array. Never runs JavaScript. */
static int bytes_of(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  napi_typedarray_type type;
  void *ptr;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  if (napi_get_typedarray_info(env, value, &type, length, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = ptr;
  return 1;
}

static void free_contexts(Aead *a) {
  if (a->enc != NULL) EVP_CIPHER_CTX_free(a->enc);
  if (a->dec != NULL) EVP_CIPHER_CTX_free(a->dec);
  a->enc = a->dec = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free_contexts((Aead *)data);
  free(data);
}

/*
 * The key behind a handle: only an external carrying KEY_TAG (made by `create`), else NULL with a
 * TypeError thrown. With `live`, a destroyed key is refused too. Never runs JavaScript.
 */
static Aead *aead_of(napi_env env, napi_value value, int live) {
  napi_valuetype t;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, value, &KEY_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    fail(env, "the key handle is not one made by this addon's create()", 0);
    return NULL;
  }
  Aead *a = data;
  if (live && a->enc == NULL) {
    fail(env, "the key handle is not valid (destroyed)", 0);
    return NULL;
  }
  return a;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t algorithm = -1;
  unsigned char *key;
  size_t key_length;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &algorithm) != napi_ok)
    return fail(env, "create(algorithm, key): algorithm must be 0 or 1", 0);
  if (!bytes_of(env, argv[1], &key, &key_length))
    return fail(env, "create(algorithm, key): key must be a Uint8Array", 0);
  const EVP_CIPHER *cipher = NULL;
  if (algorithm == 0) {
    cipher = key_length == 16 ? EVP_aes_128_gcm() : key_length == 24 ? EVP_aes_192_gcm()
             : key_length == 32 ? EVP_aes_256_gcm() : NULL;
  } else if (algorithm == 1 && key_length == 32) {
    cipher = EVP_chacha20_poly1305();
  }
  if (cipher == NULL) return fail(env, "unsupported algorithm or key length", 1);
  Aead *a = calloc(1, sizeof(Aead));
  if (a == NULL) return fail(env, "out of memory", 1);
  a->enc = EVP_CIPHER_CTX_new();
  a->dec = EVP_CIPHER_CTX_new();
  // The nonce length is the default (12 bytes) for both ciphers; each message sets its nonce.
  // The key is read here, before anything below could run JavaScript.
  if (a->enc == NULL || a->dec == NULL || EVP_EncryptInit_ex(a->enc, cipher, NULL, key, NULL) != 1 ||
      EVP_DecryptInit_ex(a->dec, cipher, NULL, key, NULL) != 1) {
    free_contexts(a);
    free(a);
    return fail(env, "OpenSSL could not prepare the key", 1);
  }
  napi_value handle;
  if (napi_create_external(env, a, finalize, NULL, &handle) != napi_ok) {
    free_contexts(a);
    free(a);
    return fail(env, "could not create the key handle", 1);
  }
  // From here the finalizer owns `a`.
  if (napi_type_tag_object(env, handle, &KEY_TAG) != napi_ok)
    return fail(env, "could not tag the key handle", 1);
  return handle;
}

/*
 * The JS values of a parts argument (itself, or the elements of an array of up to MAX_PARTS), with
 * the length each had when fetched (SIZE_MAX for a value that is not a Uint8Array).
 */
typedef struct {
  napi_value values[MAX_PARTS];
  size_t lengths[MAX_PARTS];
  uint32_t count;
} Values;

/*
 * Phase one: fetches the elements of a parts argument. The only step of seal and open that may
 * run JavaScript (an element getter); no pointer is kept from here. 0 (and an exception pending or
 * thrown) on failure. `what` names the argument in the messages.
 */
static int fetch(napi_env env, napi_value value, const char *what, Values *out) {
  bool is_array = false;
  uint32_t n = 1;
  if (napi_is_array(env, value, &is_array) != napi_ok) return 0;
  if (is_array && napi_get_array_length(env, value, &n) != napi_ok) return 0;
  if (n > MAX_PARTS) {
    char message[96];
    snprintf(message, sizeof message, "the %s has more than %d parts", what, MAX_PARTS);
    fail(env, message, 1);
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (!is_array) out->values[i] = value;
    else if (napi_get_element(env, value, i, &out->values[i]) != napi_ok) return 0;  // a getter threw
    unsigned char *ignored;
    if (!bytes_of(env, out->values[i], &ignored, &out->lengths[i])) out->lengths[i] = SIZE_MAX;
  }
  out->count = n;
  return 1;
}

/*
 * Phase two: the bytes of every fetched part, into `parts` and `lengths`, with their `total`
 * length. Never runs JavaScript. 0 (and a TypeError thrown) when a part is not a Uint8Array, or
 * when a later getter of phase one detached or resized a part fetched before it: what would be
 * read is not what the caller passed.
 */
static int parts_of(napi_env env, const Values *values, const char *what, unsigned char **parts,
                    size_t *lengths, size_t *total) {
  char message[112];
  *total = 0;
  for (uint32_t i = 0; i < values->count; i++) {
    if (!bytes_of(env, values->values[i], &parts[i], &lengths[i])) {
      snprintf(message, sizeof message, "the %s must be a Uint8Array or an array of them", what);
      fail(env, message, 0);
      return 0;
    }
    if (lengths[i] != values->lengths[i]) {
      snprintf(message, sizeof message, "a part of the %s changed size while the parts were read", what);
      fail(env, message, 0);
      return 0;
    }
    *total += lengths[i];
  }
  return 1;
}

/* The nonce and AAD shared by seal and open. Never runs JavaScript. */
static int nonce_and_aad(napi_env env, napi_value *argv, unsigned char **nonce, unsigned char **aad,
                         size_t *aad_length) {
  size_t nonce_length;
  if (!bytes_of(env, argv[1], nonce, &nonce_length) || nonce_length != NONCE_LENGTH) {
    fail(env, "the nonce must be a 12-byte Uint8Array", 1);
    return 0;
  }
  if (!bytes_of(env, argv[3], aad, aad_length) || *aad_length > 0x7fffffff) {
    fail(env, "the associated data must be a Uint8Array under 2 GiB", 1);
    return 0;
  }
  return 1;
}

/* Feeds the nonce and the AAD to OpenSSL. */
static int begin(napi_env env, EVP_CIPHER_CTX *ctx, int encrypt, const unsigned char *nonce,
                 const unsigned char *aad, size_t aad_length) {
  int n = 0;
  int ok = encrypt ? EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce)
                   : EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce);
  if (ok == 1 && aad_length > 0)
    ok = encrypt ? EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_length)
                 : EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_length);
  if (ok != 1) {
    fail(env, "OpenSSL refused the nonce or the associated data", 1);
    return 0;
  }
  return 1;
}

/* Whether [a, a + an) and [b, b + bn) share a byte. */
static int overlaps(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
  return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

/*
 * Whether an output of `out_length` bytes at `out` overlaps any of the parts, other than exactly
 * in place (a single part starting where the output does).
 */
static int overlaps_parts(unsigned char *const *parts, const size_t *lengths, uint32_t count,
                          const unsigned char *out, size_t out_length) {
  if (count == 1 && parts[0] == out) return 0;
  for (uint32_t i = 0; i < count; i++)
    if (overlaps(parts[i], lengths[i], out, out_length)) return 1;
  return 0;
}

static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return fail(env, "seal(handle, nonce, plaintext, aad, out, offset)", 0);
  // Phase one (may run JavaScript): the plaintext's parts.
  Values values;
  if (!fetch(env, argv[2], "plaintext", &values)) return NULL;
  // Phase two (no JavaScript from here on): the key, every pointer, every size.
  Aead *a = aead_of(env, argv[0], 1);
  if (a == NULL) return NULL;
  unsigned char *nonce, *aad, *out;
  size_t aad_length, out_length;
  if (!nonce_and_aad(env, argv, &nonce, &aad, &aad_length)) return NULL;
  if (!bytes_of(env, argv[4], &out, &out_length)) return fail(env, "the output must be a Uint8Array", 0);
  int64_t offset = -1;  // napi_get_value_int64 takes numbers only: no valueOf() runs here
  if (napi_get_value_int64(env, argv[5], &offset) != napi_ok || offset < 0 || (uint64_t)offset > out_length)
    return fail(env, "the output offset is out of range", 1);
  unsigned char *parts[MAX_PARTS];
  size_t lengths[MAX_PARTS], total;
  if (!parts_of(env, &values, "plaintext", parts, lengths, &total)) return NULL;
  if (total > 0x7fffffff || out_length - (size_t)offset < total + TAG_LENGTH)
    return fail(env, "no room in the output for ciphertext and tag", 1);
  // In place (one part, exactly where its ciphertext goes) is fine; any other overlap is refused.
  if (overlaps_parts(parts, lengths, values.count, out + offset, total + TAG_LENGTH))
    return fail(env, "the output overlaps the plaintext (other than exactly in place)", 1);
  if (!begin(env, a->enc, 1, nonce, aad, aad_length)) return NULL;
  unsigned char *p = out + offset;
  int n = 0, ok = 1;
  for (uint32_t i = 0; i < values.count && ok == 1; i++) {
    if (lengths[i] == 0) continue;
    ok = EVP_EncryptUpdate(a->enc, p, &n, parts[i], (int)lengths[i]);
    p += n;
  }
  if (ok == 1) ok = EVP_EncryptFinal_ex(a->enc, p, &n);
  if (ok == 1) p += n;
  if (ok == 1) ok = EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, TAG_LENGTH, p);
  if (ok != 1) {
    OPENSSL_cleanse(out + offset, total + TAG_LENGTH);
    return fail(env, "OpenSSL failed to encrypt", 1);
  }
  return NULL;
}

static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return fail(env, "open(handle, nonce, ciphertextAndTag, aad, out)", 0);
  // Phase one (may run JavaScript): the input's parts, one Uint8Array (which `out` may be, for
  // decryption in place) or an array of up to MAX_PARTS of them (which `out` must not overlap).
  Values values;
  if (!fetch(env, argv[2], "ciphertext", &values)) return NULL;
  // Phase two (no JavaScript from here on): the key, every pointer, every size.
  Aead *a = aead_of(env, argv[0], 1);
  if (a == NULL) return NULL;
  unsigned char *nonce, *aad, *out;
  size_t aad_length, out_length;
  if (!nonce_and_aad(env, argv, &nonce, &aad, &aad_length)) return NULL;
  if (!bytes_of(env, argv[4], &out, &out_length)) return fail(env, "the output must be a Uint8Array", 0);
  unsigned char *parts[MAX_PARTS];
  size_t lengths[MAX_PARTS], input_length;
  if (!parts_of(env, &values, "ciphertext", parts, lengths, &input_length)) return NULL;
  napi_value result;
  if (input_length < TAG_LENGTH) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  size_t length = input_length - TAG_LENGTH;
  if (length > 0x7fffffff || out_length < length) return fail(env, "no room in the output for the plaintext", 1);
  if (overlaps_parts(parts, lengths, values.count, out, length))
    return fail(env, "the output overlaps the ciphertext (other than exactly in place)", 1);
  if (!begin(env, a->dec, 0, nonce, aad, aad_length)) return NULL;
  // The tag is the last 16 bytes, wherever the parts cut them; read before anything is written.
  unsigned char tag[TAG_LENGTH];
  size_t start = 0;  // where parts[i] begins in the input
  for (uint32_t i = 0; i < values.count; start += lengths[i], i++) {
    if (start + lengths[i] <= length) continue;
    size_t from = start < length ? length - start : 0;  // the first tag byte within this part
    memcpy(tag + (start + from - length), parts[i] + from, lengths[i] - from);
  }
  int n = 0, m = 0, ok = 1;
  size_t done = 0;
  for (uint32_t i = 0; i < values.count && ok == 1 && done < length; i++) {
    size_t take = lengths[i] < length - done ? lengths[i] : length - done;
    if (take == 0) continue;
    ok = EVP_DecryptUpdate(a->dec, out + done, &n, parts[i], (int)take);
    done += (size_t)n;
  }
  if (ok == 1) ok = EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, TAG_LENGTH, tag);
  if (ok == 1) ok = EVP_DecryptFinal_ex(a->dec, out + done, &m);
  if (ok != 1) OPENSSL_cleanse(out, length);  // never hand out unauthenticated plaintext
  napi_get_boolean(env, ok == 1, &result);
  return result;
}

static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return fail(env, "destroy(handle)", 0);
  Aead *a = aead_of(env, argv[0], 0);
  if (a != NULL) free_contexts(a);  // destroying twice is fine; the struct goes with the handle
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, open_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"destroy", NULL, destroy, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 4, functions);
  return exports;
}
