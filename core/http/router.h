/* Maps (method, path) to handlers. Patterns are literal segments with "{name}" captures
 * ("/api/extensions/{number}") or a trailing "*" that matches the rest of the path
 * ("/provision/" followed by "*"). The first route added that matches wins; a path that matches
 * some route but not its method gives 405 with the allowed methods. */
#ifndef ZTPD_HTTP_ROUTER_H
#define ZTPD_HTTP_ROUTER_H

#include <stddef.h>

#include "http/server.h"

#define ZTPD_ROUTE_MAX_PARAMS 4

struct ztpd_route_match {
    const char *params[ZTPD_ROUTE_MAX_PARAMS]; /* decoded captures, "*" capture last */
    size_t n_params;
    char buf[1024]; /* storage for the captures */
};

typedef void (*ztpd_route_handler)(struct ztpd_http_req *req, const struct ztpd_route_match *m,
                                   void *arg);

/* Decides at headers-complete (no body yet) whether req may send the route's larger body, e.g.
 * only with a valid API token; arg is the route's arg. Must not answer req. Non-zero = yes. */
typedef int (*ztpd_route_body_check)(const struct ztpd_http_req *req, void *arg);

struct ztpd_router;

/* New empty router; *out owned by the caller. */
int ztpd_router_new(struct ztpd_router **out);
/* Frees the router (NULL is fine). */
void ztpd_router_free(struct ztpd_router *r);
/* Adds a route; method "*" matches any. Pattern and method are copied. 0 or ZTPD_ENOMEM. */
int ztpd_router_add(struct ztpd_router *r, const char *method, const char *pattern,
                    ztpd_route_handler h, void *arg);
/* Finds the route for req. Returns 0 and fills *h, *arg, *m; ZTPD_ENOENT when no pattern
 * matches; ZTPD_EINVAL when a pattern matches but not the method (allow gets "GET, POST"). */
int ztpd_router_find(const struct ztpd_router *r, const char *method, const char *path,
                     ztpd_route_handler *h, void **arg, struct ztpd_route_match *m, char *allow,
                     size_t allow_len);

/* Gives the route added with exactly (method, pattern) a body limit of max_body bytes instead of
 * the server's http.max_body_size, for requests check approves (NULL: every request).
 * 0, or ZTPD_ENOENT when there is no such route. */
int ztpd_router_set_body_limit(struct ztpd_router *r, const char *method, const char *pattern,
                               size_t max_body, ztpd_route_body_check check);
/* A ztpd_http_body_limit_fn (arg: the router): the limit of the route that will handle req when
 * its check approves, else 0 (the server's default). */
size_t ztpd_router_body_limit(const struct ztpd_http_req *req, void *router);

#endif
