/* `ztpd registrations cleanup`: the startup registration cleanup on demand, through the API
 * (the daemon logs it) or offline on the database. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/context.h"
#include "loop/cleanup.h"
#include "storage/store.h"

static const char usage_registrations[] =
    "usage: ztpd registrations cleanup [-c config.yml] [--offline]\n\n"
    "Removes phone registrations missing the MAC, the IP or the extension (NULL or empty), as\n"
    "ztpd does at every start, and prints how many were removed and kept.\n"
    "  --offline   work on the database directly (only while no daemon runs)\n";

static int cleanup(int argc, char **argv)
{
    struct cli_ctx c;
    int rc = cli_ctx_parse(&c, "registrations cleanup", argc, argv, NULL, 0, usage_registrations);
    if (rc >= 0)
        return rc;
    if (c.n_pos) {
        fprintf(stderr, "ztpd registrations cleanup: unexpected argument '%s'\n", c.pos[0]);
        return CLI_USAGE;
    }
    long removed = 0, kept = 0;
    rc = cli_ctx_config(&c);
    if (!rc && c.offline) {
        rc = cli_ctx_offline(&c, 0);
        int r = 0, k = 0;
        int st = rc ? 0
                    : ztpd_cleanup_run(ztpd_store_backend(c.app.store),
                                       ztpd_store_handle(c.app.store), &r, &k);
        if (!rc && st) {
            fprintf(stderr, "ztpd registrations cleanup: %s; nothing was removed\n",
                    ztpd_store_strstatus(st));
            rc = CLI_FAIL;
        }
        removed = r;
        kept = k;
    } else if (!rc) {
        rc = cli_ctx_online(&c);
        int status;
        json_t *j = NULL;
        if (!rc)
            rc = cli_api(&c, "POST", "/api/registrations/cleanup", NULL, 0, 60000, &status, &j);
        if (!rc && status == 200) {
            removed = (long)json_integer_value(json_object_get(j, "removed"));
            kept = (long)json_integer_value(json_object_get(j, "kept"));
        } else if (!rc) {
            cli_api_error(&c, status, j);
            rc = CLI_FAIL;
        }
        json_decref(j);
    }
    if (!rc) {
        printf("Removed %ld incomplete phone registrations\n", removed);
        printf("Kept %ld complete phone registrations\n", kept);
    }
    cli_ctx_free(&c);
    return rc;
}

int ztpd_cli_registrations(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "cleanup"))
        return cleanup(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_registrations, stdout);
        return CLI_OK;
    }
    if (argc >= 2)
        fprintf(stderr, "ztpd registrations: unknown command '%s'\n\n", argv[1]);
    fputs(usage_registrations, stderr);
    return CLI_USAGE;
}
