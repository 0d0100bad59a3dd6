/* Leveled logging to stderr and optionally a file. Lines are "<ISO time> <LEVEL> <module>: msg".
 * Callers must never pass secrets (SIP passwords, API tokens) to the logger. */
#ifndef ZTPD_LOG_LOG_H
#define ZTPD_LOG_LOG_H

#include <stdarg.h>

enum ztpd_log_level {
    ZTPD_LOG_ERROR = 0,
    ZTPD_LOG_WARN = 1,
    ZTPD_LOG_INFO = 2,
    ZTPD_LOG_DEBUG = 3,
};

/* Sets the threshold and (re)opens the optional log file (NULL = stderr only).
 * Returns 0 or ZTPD_EIO when the file cannot be opened. */
int ztpd_log_init(enum ztpd_log_level level, const char *file);

/* Closes the log file, if any. */
void ztpd_log_close(void);

/* Parses "error"|"warn"|"warning"|"info"|"debug"; returns the level or -1. */
int ztpd_log_level_parse(const char *name);

/* Returns 1 if messages of `level` are currently emitted. */
int ztpd_log_enabled(enum ztpd_log_level level);

/* Emits one line; thread-safe (the storage thread logs too). */
void ztpd_log(enum ztpd_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* va_list flavour, used by the storage host table. */
void ztpd_logv(enum ztpd_log_level level, const char *module, const char *fmt, va_list ap);

#define LOG_E(mod, ...) ztpd_log(ZTPD_LOG_ERROR, mod, __VA_ARGS__)
#define LOG_W(mod, ...) ztpd_log(ZTPD_LOG_WARN, mod, __VA_ARGS__)
#define LOG_I(mod, ...) ztpd_log(ZTPD_LOG_INFO, mod, __VA_ARGS__)
#define LOG_D(mod, ...)                                                                            \
    do {                                                                                           \
        if (ztpd_log_enabled(ZTPD_LOG_DEBUG))                                                      \
            ztpd_log(ZTPD_LOG_DEBUG, mod, __VA_ARGS__);                                            \
    } while (0)

#endif
