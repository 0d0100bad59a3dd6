/* SIP digest authentication (RFC 2617 MD5, as phones speak it) with stateless nonces.
 * A nonce is "<8 hex: issue time><32 hex: HMAC-SHA256(secret, time ":" realm) truncated>", so no
 * nonce table is kept; the secret is random per process, so a restart simply re-challenges.
 * A replay inside the nonce lifetime is accepted (nc is not tracked), as Kamailio does with
 * nonce_count off. OpenSSL only; no libre types. An issuer keeps one keyed HMAC context, so
 * it belongs to one thread (the event loop). */
#ifndef ZTPD_SIP_DIGEST_H
#define ZTPD_SIP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "sip/sip_msg.h"

#define ZTPD_DIGEST_NONCE_LEN 40
#define ZTPD_DIGEST_HA1_LEN 16

struct ztpd_digest;

enum ztpd_nonce_state {
    ZTPD_NONCE_BAD = -1, /* not ours (or forged): challenge afresh */
    ZTPD_NONCE_OK = 0,
    ZTPD_NONCE_STALE = 1, /* ours but older than the lifetime: stale=true */
};

/* New nonce issuer for `realm` (copied) with nonces valid `ttl` seconds; the HMAC secret comes
 * from RAND_bytes. *out is owned by the caller, freed with ztpd_digest_free(). */
int ztpd_digest_new(struct ztpd_digest **out, const char *realm, int ttl);
/* Frees the issuer (NULL is fine). */
void ztpd_digest_free(struct ztpd_digest *d);
/* The realm given at creation; owned by d. */
const char *ztpd_digest_realm(const struct ztpd_digest *d);

/* Writes a nonce issued at `now` (Unix seconds) into out (41 bytes, NUL-terminated). */
void ztpd_digest_nonce(const struct ztpd_digest *d, int64_t now,
                       char out[ZTPD_DIGEST_NONCE_LEN + 1]);
/* Checks a nonce we may have issued, at time `now`. */
enum ztpd_nonce_state ztpd_digest_nonce_check(const struct ztpd_digest *d, const char *nonce,
                                              int64_t now);

/* HA1 = MD5(user ":" realm ":" password), raw 16 bytes. */
void ztpd_digest_ha1(const char *user, const char *realm, const char *password,
                     uint8_t ha1[ZTPD_DIGEST_HA1_LEN]);

/* Verifies a digest response for `method` against ha1: qop=auth (with nc and cnonce) or no qop;
 * only algorithm MD5 (or none). Returns 0 on a match, ZTPD_EINVAL otherwise (constant time). */
int ztpd_digest_verify(const struct ztpd_sip_auth *a, const char *method,
                       const uint8_t ha1[ZTPD_DIGEST_HA1_LEN]);

/* Builds the credentials line answering a challenge ("Authorization: Digest ..." or
 * "Proxy-Authorization: ..." after a 407), without CRLF, for `method` sent to `uri`. Uses
 * qop=auth when the challenge offers it (cnonce given by the caller, nc=00000001), else the
 * RFC 2069 form. Returns its length, ZTPD_EINVAL for a challenge we cannot answer
 * (algorithm other than MD5, qop without auth), or ZTPD_ETOOBIG. */
int ztpd_digest_client_header(const struct ztpd_sip_chall *c, const char *method, const char *uri,
                              const char *user, const char *password, const char *cnonce, char *out,
                              size_t cap);

#endif
