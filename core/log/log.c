#include "log/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

static enum ztpd_log_level g_level = ZTPD_LOG_INFO;
static FILE *g_file;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int ztpd_log_init(enum ztpd_log_level level, const char *file)
{
    FILE *f = NULL;
    if (file && *file) {
        f = fopen(file, "a");
        if (!f)
            return ZTPD_EIO;
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&g_lock);
    g_level = level;
    if (g_file)
        fclose(g_file);
    g_file = f;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void ztpd_log_close(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_file)
        fclose(g_file);
    g_file = NULL;
    pthread_mutex_unlock(&g_lock);
}

int ztpd_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcasecmp(name, "error"))
        return ZTPD_LOG_ERROR;
    if (!strcasecmp(name, "warn") || !strcasecmp(name, "warning"))
        return ZTPD_LOG_WARN;
    if (!strcasecmp(name, "info"))
        return ZTPD_LOG_INFO;
    if (!strcasecmp(name, "debug"))
        return ZTPD_LOG_DEBUG;
    return -1;
}

int ztpd_log_enabled(enum ztpd_log_level level)
{
    return level <= g_level;
}

void ztpd_logv(enum ztpd_log_level level, const char *module, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], module ? module : "-");
    if (n < 0)
        return;
    if ((size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if ((size_t)n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    line[n] = '\0';
    pthread_mutex_lock(&g_lock);
    /* One write per line keeps lines whole when several threads log. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    if (g_file)
        fputs(line, g_file);
    pthread_mutex_unlock(&g_lock);
}

void ztpd_log(enum ztpd_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ztpd_logv(level, module, fmt, ap);
    va_end(ap);
}
