#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "loop/app.h"
#include "util/fs.h"
#include "util/error.h"

#define MOD "api"

static int add_token(struct ztpd_app *app, const char *tok)
{
    char **nt = realloc(app->tokens, (app->n_tokens + 1) * sizeof *nt);
    if (!nt)
        return ZTPD_ENOMEM;
    app->tokens = nt;
    if (!(nt[app->n_tokens] = strdup(tok)))
        return ZTPD_ENOMEM;
    app->n_tokens++;
    return 0;
}

int ztpd_api_auth_init(struct ztpd_app *app, char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    for (size_t i = 0; i < cfg->n_api_tokens; i++)
        if (add_token(app, cfg->api_tokens[i]))
            return ZTPD_ENOMEM;
    if (app->n_tokens)
        return 0;

    char path[4096];
    snprintf(path, sizeof path, "%s/api-token", cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char tok[256] = "";
        char *ok = fgets(tok, sizeof tok, f);
        fclose(f);
        tok[strcspn(tok, "\r\n")] = '\0';
        if (!ok || strlen(tok) < 16) {
            snprintf(err, errlen,
                     "%s: API token file is empty or too short; delete it to "
                     "generate a new token",
                     path);
            return ZTPD_EIO;
        }
        LOG_I(MOD, "API token read from %s", path);
        return add_token(app, tok);
    }

    unsigned char raw[24];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "cannot generate an API token: %s", strerror(errno));
        return ZTPD_EIO;
    }
    char tok[2 * sizeof raw + 1];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    if (ztpd_mkdir_p(cfg->data_dir, 0700)) {
        snprintf(err, errlen, "server.data_dir: cannot create %s: %s", cfg->data_dir,
                 strerror(errno));
        return ZTPD_EIO;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return ZTPD_EIO;
    }
    dprintf(fd, "%s\n", tok);
    fsync(fd);
    close(fd);
    /* Printed once, on stdout rather than in the log, so it does not end up in log files. */
    printf("Generated API token (stored in %s, mode 0600):\n  %s\n"
           "Use it as 'Authorization: Bearer <token>' for /api requests.\n",
           path, tok);
    fflush(stdout);
    return add_token(app, tok);
}
