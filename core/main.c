/* ztpd command line: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "loop/app.h"
#include "ztpd/version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ztpd <command> [options]\n\n"
               "commands:\n"
               "  serve [-c config.yml]   run the provisioning daemon in the foreground\n"
               "  version                 print the version\n"
               "  help                    show this help\n");
}

/* Finds "-c FILE" / "--config FILE" / "--config=FILE"; default "config.yml". */
static const char *config_arg(int argc, char **argv, int *bad)
{
    const char *path = "config.yml";
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        } else {
            fprintf(stderr, "ztpd: unknown option '%s'\n", argv[i]);
            *bad = 1;
        }
    }
    return path;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("ztpd %s\n", ZTPD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "serve")) {
        int bad = 0;
        const char *cfg = config_arg(argc, argv, &bad);
        if (bad)
            return 2;
        return ztpd_app_serve(cfg);
    }
    fprintf(stderr, "ztpd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
