#include "api/respond.h"

#include "api/api_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loop/app.h"
#include "ztpd/storage.h"

void api_json(struct ztpd_http_req *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!s) {
        static const char oom[] = "{\"success\":false,\"error\":\"out of memory\"}";
        ztpd_http_respond(req, 500, "application/json", oom, sizeof oom - 1, NULL);
        return;
    }
    ztpd_http_respond(req, status, "application/json", s, strlen(s), NULL);
    free(s);
}

void api_error(struct ztpd_http_req *req, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    json_object_set_new(o, "success", json_false());
    json_object_set_new(o, "error", json_string(msg));
    if (field)
        json_object_set_new(o, "field", json_string(field));
    api_json(req, status, o);
}

void api_ok(struct ztpd_http_req *req, int status, const char *message)
{
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "message", json_string(message));
    api_json(req, status, o);
}

json_t *api_body_object(struct ztpd_http_req *req)
{
    if (req->body_len == 0) {
        api_error(req, 400, NULL, "request body is empty: expected a JSON object");
        return NULL;
    }
    json_error_t e;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        api_error(req, 400, NULL, "malformed JSON at line %d, column %d: %s", e.line, e.column,
                  e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        api_error(req, 400, NULL, "expected a JSON object");
        return NULL;
    }
    return o;
}

/* Compares in time independent of where the strings differ, so a token cannot be guessed
 * byte by byte from response timing. */
static int token_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
    return diff == 0;
}

int api_token_check(const struct ztpd_app *app, const struct ztpd_http_req *req)
{
    const char *h = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcmp(req->headers[i].name, "authorization") != 0)
            continue;
        /* Two credentials in one request: which one a proxy checked is unknowable. */
        if (h)
            return -1;
        h = req->headers[i].value;
    }
    if (!h)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return -2;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t len = strlen(tok);
    while (len && tok[len - 1] == ' ')
        len--;
    int ok = 0;
    for (size_t i = 0; i < app->n_tokens; i++)
        ok |= token_equal(tok, len, app->tokens[i]);
    return ok ? 1 : -2;
}

int api_authorized(struct ztpd_app *app, struct ztpd_http_req *req)
{
    int r = api_token_check(app, req);
    if (r == 1)
        return 1;
    const char *why = r == 0    ? "authentication required: send 'Authorization: Bearer <token>'"
                      : r == -1 ? "more than one Authorization header"
                                : "invalid API token";
    json_t *o = json_object();
    json_object_set_new(o, "success", json_false());
    json_object_set_new(o, "error", json_string(why));
    json_object_set_new(o, "field", json_string("Authorization"));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    ztpd_http_respond(req, 401, "application/json", s ? s : "{}", s ? strlen(s) : 2,
                      "WWW-Authenticate: Bearer realm=\"ztpd\"\r\n");
    free(s);
    return 0;
}

void api_storage_error(struct ztpd_http_req *req, int status, const char *what)
{
    switch (status) {
    case ZTPD_STORAGE_EUNAVAIL:
        api_error(req, 503, NULL, "storage unavailable: %s was not saved; retry later", what);
        break;
    case ZTPD_STORAGE_ENOTFOUND:
        api_error(req, 404, NULL, "%s: not found", what);
        break;
    case ZTPD_STORAGE_ECONFLICT:
        api_error(req, 409, NULL, "%s: already exists", what);
        break;
    default:
        api_error(req, 500, NULL, "storage error: %s was not saved", what);
        break;
    }
}

const char *api_member_check(json_t *obj, const char *name, char *buf, size_t buflen,
                             struct api_fail *f)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v) ||
            json_string_length(v) >= buflen) {
            api_fail_set(f, 400, name, "%s: too long or contains a NUL byte", name);
            return NULL;
        }
        snprintf(buf, buflen, "%s", json_string_value(v));
        return buf;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(buf, buflen, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    api_fail_set(f, 400, name, "%s: expected a string", name);
    return NULL;
}

const char *api_member_string(struct ztpd_http_req *req, json_t *obj, const char *name, char *buf,
                              size_t buflen, int *bad)
{
    struct api_fail f = {0};
    const char *s = api_member_check(obj, name, buf, buflen, &f);
    if (f.status) {
        api_error(req, f.status, f.field, "%s", f.msg);
        *bad = 1;
    }
    return s;
}

void api_fail_set(struct api_fail *f, int status, const char *field, const char *fmt, ...)
{
    va_list ap;
    f->status = status;
    f->field = field;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
}
