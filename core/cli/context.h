/* What every data subcommand shares: option parsing, the config, the way to the daemon's API
 * (address and token from the config) and the offline way to the database (lock, store,
 * registry, vendors). Internal to core/cli. */
#ifndef ZTPD_CLI_CONTEXT_H
#define ZTPD_CLI_CONTEXT_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "loop/app.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* A flag a command accepts besides -c/--config, --offline and --help. */
struct cli_flag {
    const char *name;  /* "--json" */
    int takes_value;   /* 1: "--format csv" or "--format=csv" */
    const char *value; /* set when seen: the value, or "" for a plain flag */
};

struct cli_ctx {
    const char *cmd;      /* "devices import", for messages */
    const char *cfg_path; /* -c, default "config.yml" */
    int offline;
    const char *pos[8]; /* positional arguments */
    size_t n_pos;

    /* After cli_ctx_config(). */
    struct ztpd_config *cfg;
    /* After cli_ctx_online(). */
    char host[256];
    int port;
    char *token;
    int errors_only; /* cli_api() parses only error answers (bulk import) */
    /* After cli_ctx_offline(): a partial app (cfg, store, reg; lua and vendors on request),
     * enough for the shared validation in core/api. */
    uv_loop_t loop;
    int loop_ready;
    struct ztpd_app app;
};

/* Parses argv (argv[0] is the command word) into c and flags. Returns -1 to go on, or an exit
 * code: 0 after printing help (usage text on stdout), 2 after a usage error (on stderr). */
int cli_ctx_parse(struct cli_ctx *c, const char *cmd, int argc, char **argv, struct cli_flag *flags,
                  size_t n_flags, const char *usage);

/* Loads the config (and sets quiet logging: warnings and errors on stderr). CLI_OK or prints
 * the problem and returns CLI_FAIL. */
int cli_ctx_config(struct cli_ctx *c);

/* Sets host, port and token for API calls. CLI_OK or prints why and returns CLI_FAIL. */
int cli_ctx_online(struct cli_ctx *c);

/* Takes the data_dir lock, opens and migrates the store, loads the registry; with vendors set,
 * also the Lua state and the vendor profiles. CLI_OK or prints why (a daemon holding the lock
 * included) and returns CLI_FAIL. */
int cli_ctx_offline(struct cli_ctx *c, int vendors);

/* Loads the Lua state and vendor profiles into c->app (online import validates locally too).
 * CLI_OK or CLI_FAIL after printing why. */
int cli_ctx_vendors(struct cli_ctx *c);

/* Releases everything the context holds (lock included). */
void cli_ctx_free(struct cli_ctx *c);

/* One API call. On an HTTP answer returns CLI_OK with *status and *json (new reference, or
 * NULL when the body is not JSON, or a 2xx answer while c->errors_only is set). When the daemon
 * cannot be reached prints the "cannot reach" message and returns CLI_FAIL. timeout_ms bounds each
 * wait. */
int cli_api(struct cli_ctx *c, const char *method, const char *path, const char *body,
            size_t body_len, int timeout_ms, int *status, json_t **json);

/* Prints an API error answer: its "error" and "field" (or the status alone). */
void cli_api_error(struct cli_ctx *c, int status, json_t *json);

/* GETs path and returns its JSON array (new reference, the caller's), or NULL after printing
 * why (unreachable daemon, an error answer, or a body that is not an array). */
json_t *cli_api_get_array(struct cli_ctx *c, const char *path, int timeout_ms);

/* Reads a whole file (path "-" = stdin). Returns a malloc'd NUL-terminated buffer, or NULL
 * after printing why. */
char *cli_read_file(const char *path, size_t *len);

#endif
