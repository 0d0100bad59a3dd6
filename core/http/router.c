#include "http/router.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

struct route {
    char *method;
    char *pattern;
    ztpd_route_handler h;
    void *arg;
    size_t max_body; /* 0: the server's default */
    ztpd_route_body_check body_check;
};

struct ztpd_router {
    struct route *routes;
    size_t n, cap;
};

int ztpd_router_new(struct ztpd_router **out)
{
    struct ztpd_router *r = calloc(1, sizeof *r);
    if (!r)
        return ZTPD_ENOMEM;
    *out = r;
    return 0;
}

void ztpd_router_free(struct ztpd_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].method);
        free(r->routes[i].pattern);
    }
    free(r->routes);
    free(r);
}

int ztpd_router_add(struct ztpd_router *r, const char *method, const char *pattern,
                    ztpd_route_handler h, void *arg)
{
    if (r->n == r->cap) {
        size_t n = r->cap ? r->cap * 2 : 16;
        struct route *nr = realloc(r->routes, n * sizeof *nr);
        if (!nr)
            return ZTPD_ENOMEM;
        r->routes = nr;
        r->cap = n;
    }
    struct route *rt = &r->routes[r->n];
    rt->method = strdup(method);
    rt->pattern = strdup(pattern);
    if (!rt->method || !rt->pattern) {
        free(rt->method);
        free(rt->pattern);
        return ZTPD_ENOMEM;
    }
    rt->h = h;
    rt->arg = arg;
    rt->max_body = 0;
    rt->body_check = NULL;
    r->n++;
    return 0;
}

/* Matches path against pattern segment by segment; captures go into m->buf. */
static int match(const char *pat, const char *path, struct ztpd_route_match *m)
{
    size_t used = 0;
    m->n_params = 0;
    while (*pat && *path) {
        if (pat[0] == '*' && pat[1] == '\0') {
            size_t len = strlen(path);
            if (used + len + 1 > sizeof m->buf || m->n_params == ZTPD_ROUTE_MAX_PARAMS)
                return 0;
            memcpy(m->buf + used, path, len + 1);
            m->params[m->n_params++] = m->buf + used;
            return 1;
        }
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            if (!close)
                return 0;
            const char *end = strchr(path, '/');
            size_t len = end ? (size_t)(end - path) : strlen(path);
            if (len == 0 || used + len + 1 > sizeof m->buf || m->n_params == ZTPD_ROUTE_MAX_PARAMS)
                return 0;
            memcpy(m->buf + used, path, len);
            m->buf[used + len] = '\0';
            m->params[m->n_params++] = m->buf + used;
            used += len + 1;
            pat = close + 1;
            path += len;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    if (pat[0] == '*' && pat[1] == '\0' && !*path) {
        m->params[m->n_params++] = "";
        return 1;
    }
    return !*pat && !*path;
}

/* The route for (method, path): 0 and *out; ZTPD_ENOENT / ZTPD_EINVAL as ztpd_router_find. */
static int find_route(const struct ztpd_router *r, const char *method, const char *path,
                      const struct route **out, struct ztpd_route_match *m, char *allow,
                      size_t allow_len)
{
    int path_matched = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        if (!match(rt->pattern, path, m))
            continue;
        if (strcmp(rt->method, "*") == 0 || strcmp(rt->method, method) == 0 ||
            (is_head && strcmp(rt->method, "GET") == 0)) {
            *out = rt;
            return 0;
        }
        path_matched = 1;
        if (allow_len && !strstr(allow, rt->method)) {
            size_t cur = strlen(allow);
            snprintf(allow + cur, allow_len - cur, "%s%s", cur ? ", " : "", rt->method);
        }
    }
    return path_matched ? ZTPD_EINVAL : ZTPD_ENOENT;
}

int ztpd_router_find(const struct ztpd_router *r, const char *method, const char *path,
                     ztpd_route_handler *h, void **arg, struct ztpd_route_match *m, char *allow,
                     size_t allow_len)
{
    const struct route *rt;
    int rc = find_route(r, method, path, &rt, m, allow, allow_len);
    if (rc == 0) {
        *h = rt->h;
        *arg = rt->arg;
    }
    return rc;
}

int ztpd_router_set_body_limit(struct ztpd_router *r, const char *method, const char *pattern,
                               size_t max_body, ztpd_route_body_check check)
{
    for (size_t i = 0; i < r->n; i++) {
        struct route *rt = &r->routes[i];
        if (strcmp(rt->method, method) == 0 && strcmp(rt->pattern, pattern) == 0) {
            rt->max_body = max_body;
            rt->body_check = check;
            return 0;
        }
    }
    return ZTPD_ENOENT;
}

size_t ztpd_router_body_limit(const struct ztpd_http_req *req, void *router)
{
    const struct ztpd_router *r = router;
    const struct route *rt;
    struct ztpd_route_match m;
    /* The route that will handle the request decides, so a path shadowed by an earlier
     * pattern cannot borrow the larger limit of a later one. */
    if (find_route(r, req->method, req->path, &rt, &m, NULL, 0) || !rt->max_body)
        return 0;
    if (rt->body_check && !rt->body_check(req, rt->arg))
        return 0;
    return rt->max_body;
}
