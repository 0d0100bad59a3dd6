/* Digest authentication with OpenSSL (EVP MD5 and HMAC-SHA256); see digest.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "sip/digest.h"
#include "util/error.h"

struct ztpd_digest {
    uint8_t secret[32];
    char realm[ZTPD_SIP_S_TOKEN];
    int ttl;
    /* Keyed once: re-initialising with a NULL key restores the precomputed inner/outer pad
     * state, so a nonce costs two SHA-256 compressions instead of an algorithm fetch and a key
     * schedule (the one-shot HMAC() did both per call). */
    EVP_MAC_CTX *mac;
};

/* Explicitly fetched MD5: EVP_md5() makes every EVP_Digest() do an implicit provider fetch. */
static EVP_MD *md5_md;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void md5_fetch(void)
{
    md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
}

/* The MD5 implementation to use: the fetched one, or the legacy handle if the fetch failed. */
static const EVP_MD *md5(void)
{
    pthread_once(&md5_once, md5_fetch);
    return md5_md ? md5_md : EVP_md5();
}

static EVP_MAC_CTX *mac_new(const uint8_t *key, size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (!ctx)
        return NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int ztpd_digest_new(struct ztpd_digest **out, const char *realm, int ttl)
{
    if (!realm || strlen(realm) >= ZTPD_SIP_S_TOKEN || ttl <= 0)
        return ZTPD_EINVAL;
    struct ztpd_digest *d = calloc(1, sizeof *d);
    if (!d)
        return ZTPD_ENOMEM;
    if (RAND_bytes(d->secret, sizeof d->secret) != 1) {
        free(d);
        return ZTPD_EIO;
    }
    if (!(d->mac = mac_new(d->secret, sizeof d->secret))) {
        OPENSSL_cleanse(d->secret, sizeof d->secret);
        free(d);
        return ZTPD_EIO;
    }
    snprintf(d->realm, sizeof d->realm, "%s", realm);
    d->ttl = ttl;
    *out = d;
    return 0;
}

void ztpd_digest_free(struct ztpd_digest *d)
{
    if (!d)
        return;
    EVP_MAC_CTX_free(d->mac);
    OPENSSL_cleanse(d->secret, sizeof d->secret);
    free(d);
}

const char *ztpd_digest_realm(const struct ztpd_digest *d)
{
    return d->realm;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void nonce_for(const struct ztpd_digest *d, uint32_t ts, char out[ZTPD_DIGEST_NONCE_LEN + 1])
{
    char msg[ZTPD_SIP_S_TOKEN + 16];
    int n = snprintf(msg, sizeof msg, "%08x:%s", ts, d->realm);
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t ml = 0;
    if (n < 0 || (size_t)n >= sizeof msg || EVP_MAC_init(d->mac, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(d->mac, (const uint8_t *)msg, (size_t)n) != 1 ||
        EVP_MAC_final(d->mac, mac, &ml, sizeof mac) != 1 || ml < 16) {
        /* Cannot happen with a working OpenSSL; an all-zero tag would be forgeable, so emit a
         * nonce that never verifies (check compares against a recomputation that also fails). */
        memset(out, 'x', ZTPD_DIGEST_NONCE_LEN);
        out[ZTPD_DIGEST_NONCE_LEN] = '\0';
        return;
    }
    snprintf(out, 9, "%08x", ts);
    hex(mac, 16, out + 8);
}

void ztpd_digest_nonce(const struct ztpd_digest *d, int64_t now,
                       char out[ZTPD_DIGEST_NONCE_LEN + 1])
{
    nonce_for(d, (uint32_t)now, out);
}

enum ztpd_nonce_state ztpd_digest_nonce_check(const struct ztpd_digest *d, const char *nonce,
                                              int64_t now)
{
    if (strlen(nonce) != ZTPD_DIGEST_NONCE_LEN)
        return ZTPD_NONCE_BAD;
    char ts_hex[9];
    memcpy(ts_hex, nonce, 8);
    ts_hex[8] = '\0';
    char *end;
    unsigned long ts = strtoul(ts_hex, &end, 16);
    if (*end || ts_hex[0] == '-' || ts_hex[0] == '+' || ts_hex[0] == ' ')
        return ZTPD_NONCE_BAD;
    char want[ZTPD_DIGEST_NONCE_LEN + 1];
    nonce_for(d, (uint32_t)ts, want);
    if (CRYPTO_memcmp(want, nonce, ZTPD_DIGEST_NONCE_LEN) != 0)
        return ZTPD_NONCE_BAD;
    /* A nonce "from the future" (clock step back) is treated as fresh rather than rejected. */
    int64_t age = now - (int64_t)ts;
    return age > d->ttl ? ZTPD_NONCE_STALE : ZTPD_NONCE_OK;
}

/* MD5 over a formatted string, as lowercase hex (33 bytes). */
__attribute__((format(printf, 2, 3))) static int md5_hex(char out[33], const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return ZTPD_ETOOBIG;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_Digest(buf, (size_t)n, md, &ml, md5(), NULL);
    OPENSSL_cleanse(buf, sizeof buf);
    hex(md, 16, out);
    return 0;
}

void ztpd_digest_ha1(const char *user, const char *realm, const char *password,
                     uint8_t ha1[ZTPD_DIGEST_HA1_LEN])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s:%s:%s", user, realm, password);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = sizeof buf - 1; /* over-long credentials simply never match */
    unsigned int ml = 0;
    uint8_t md[EVP_MAX_MD_SIZE];
    EVP_Digest(buf, (size_t)n, md, &ml, md5(), NULL);
    OPENSSL_cleanse(buf, sizeof buf);
    memcpy(ha1, md, ZTPD_DIGEST_HA1_LEN);
}

/* The expected response: RFC 2617 3.2.2.1, with qop=auth or the RFC 2069 form. */
static int response_hex(const char ha1_hex[33], const char *nonce, const char *nc,
                        const char *cnonce, const char *qop, const char *method, const char *uri,
                        char out[33])
{
    char ha2[33];
    if (md5_hex(ha2, "%s:%s", method, uri))
        return ZTPD_ETOOBIG;
    if (qop && qop[0])
        return md5_hex(out, "%s:%s:%s:%s:%s:%s", ha1_hex, nonce, nc, cnonce, qop, ha2);
    return md5_hex(out, "%s:%s:%s", ha1_hex, nonce, ha2);
}

int ztpd_digest_verify(const struct ztpd_sip_auth *a, const char *method,
                       const uint8_t ha1[ZTPD_DIGEST_HA1_LEN])
{
    if (!a->present || strlen(a->response) != 32)
        return ZTPD_EINVAL;
    if (a->algorithm[0] && strcasecmp(a->algorithm, "MD5") != 0)
        return ZTPD_EINVAL;
    if (a->qop[0] && (strcasecmp(a->qop, "auth") != 0 || !a->nc[0] || !a->cnonce[0]))
        return ZTPD_EINVAL;
    char ha1_hex[33], want[33], got[33];
    hex(ha1, ZTPD_DIGEST_HA1_LEN, ha1_hex);
    if (response_hex(ha1_hex, a->nonce, a->nc, a->cnonce, a->qop[0] ? "auth" : NULL, method, a->uri,
                     want))
        return ZTPD_EINVAL;
    for (size_t i = 0; i < 32; i++)
        got[i] = (char)((a->response[i] >= 'A' && a->response[i] <= 'F') ? a->response[i] + 32
                                                                         : a->response[i]);
    got[32] = '\0';
    return CRYPTO_memcmp(want, got, 32) == 0 ? 0 : ZTPD_EINVAL;
}

/* Whether a qop list ("auth,auth-int") offers plain auth. */
static int offers_auth(const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p - s == 4 && strncasecmp(s, "auth", 4) == 0)
            return 1;
    }
    return 0;
}

int ztpd_digest_client_header(const struct ztpd_sip_chall *c, const char *method, const char *uri,
                              const char *user, const char *password, const char *cnonce, char *out,
                              size_t cap)
{
    if (c->algorithm[0] && strcasecmp(c->algorithm, "MD5") != 0)
        return ZTPD_EINVAL;
    int qop = c->qop[0] != '\0';
    if (qop && !offers_auth(c->qop))
        return ZTPD_EINVAL;
    uint8_t ha1[ZTPD_DIGEST_HA1_LEN];
    char ha1_hex[33], resp[33];
    ztpd_digest_ha1(user, c->realm, password, ha1);
    hex(ha1, sizeof ha1, ha1_hex);
    OPENSSL_cleanse(ha1, sizeof ha1);
    int rc =
        response_hex(ha1_hex, c->nonce, "00000001", cnonce, qop ? "auth" : NULL, method, uri, resp);
    OPENSSL_cleanse(ha1_hex, sizeof ha1_hex);
    if (rc)
        return rc;
    int n = snprintf(out, cap,
                     "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\", algorithm=MD5%s%s%s%s%s%s",
                     c->proxy ? "Proxy-Authorization" : "Authorization", user, c->realm, c->nonce,
                     uri, resp, qop ? ", qop=auth, nc=00000001, cnonce=\"" : "", qop ? cnonce : "",
                     qop ? "\"" : "", c->opaque[0] ? ", opaque=\"" : "", c->opaque,
                     c->opaque[0] ? "\"" : "");
    if (n < 0 || (size_t)n >= cap)
        return ZTPD_ETOOBIG;
    return n;
}
