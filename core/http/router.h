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

#endif
