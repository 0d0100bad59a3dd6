/* Error codes shared by every core module: 0 on success, a negative ZTPD_E* code otherwise.
 * Codes from libraries (libuv, sqlite, libpq, storage backends) are translated at the edge. */
#ifndef ZTPD_UTIL_ERROR_H
#define ZTPD_UTIL_ERROR_H

#define ZTPD_ERRORS(X)                                                                             \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ENOENT, -3, "not found")                                                                     \
    X(EEXIST, -4, "already exists")                                                                \
    X(EIO, -5, "input/output error")                                                               \
    X(EABI, -6, "incompatible ABI")                                                                \
    X(EUNAVAIL, -7, "service unavailable")                                                         \
    X(ETOOBIG, -8, "too large")                                                                    \
    X(ECONFIG, -9, "configuration error")                                                          \
    X(ELUA, -10, "lua error")                                                                      \
    X(ESYNTAX, -11, "syntax error")

enum ztpd_error {
#define ZTPD_ERR_ENUM(name, value, msg) ZTPD_##name = value,
    ZTPD_ERRORS(ZTPD_ERR_ENUM)
#undef ZTPD_ERR_ENUM
};

/* Returns a static message for a ZTPD_E* code (never NULL). */
const char *ztpd_strerror(int code);

#endif
