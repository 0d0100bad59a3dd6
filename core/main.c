/* ztpd command line: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/template.h"
#include "loop/app.h"
#include "ztpd/version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ztpd <command> [options]\n\n"
            "commands:\n"
            "  serve [-c config.yml]          run the provisioning daemon in the foreground\n"
            "  devices list [--json]          list the registered devices\n"
            "  devices add <mac> <extension> <vendor> <model>\n"
            "                                 register a device\n"
            "  devices remove <mac>           unregister a device\n"
            "  devices clear [--yes]          unregister every device (asks first)\n"
            "  devices export [--format json|csv]\n"
            "                                 write every device to stdout\n"
            "  devices import FILE|-          register the devices of a JSON or CSV file\n"
            "                                 (all or nothing)\n"
            "  template list                  every vendor and model with the template serving it\n"
            "  template show <vendor> <model> print the device template of a model\n"
            "  template render --vendor V --model M --extension E [--mac MAC] [--name N]\n"
            "                                 render the config a phone would get\n"
            "  template check [DIR]           check templates (sections, placeholders, XML)\n"
            "  registrations cleanup          remove incomplete phone registrations\n"
            "  db verify                      check the database (read-only)\n"
            "  db migrate                     create or upgrade the database schema\n"
            "  version                        print the version\n"
            "  help                           show this help\n\n"
            "Every command takes -c config.yml (default ./config.yml) and --help.\n"
            "The devices and registrations commands talk to the running daemon through its\n"
            "API; with --offline they work on the database directly, which is refused\n"
            "while a daemon uses it. Exit status: 0 done, 1 failed, 2 usage error.\n");
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
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            *bad = -1;
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
    if (!strcmp(cmd, "devices"))
        return ztpd_cli_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "registrations"))
        return ztpd_cli_registrations(argc - 1, argv + 1);
    if (!strcmp(cmd, "db"))
        return ztpd_cli_db(argc - 1, argv + 1);
    if (!strcmp(cmd, "template"))
        return ztpd_cli_template(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) {
        int bad = 0;
        const char *cfg = config_arg(argc, argv, &bad);
        if (bad < 0) {
            printf("usage: ztpd serve [-c config.yml]\n\nRuns the provisioning daemon in the "
                   "foreground until SIGTERM or SIGINT\n(SIGHUP reloads vendors and templates). "
                   "It holds <data_dir>/ztpd.lock while it runs.\n");
            return 0;
        }
        if (bad)
            return 2;
        return ztpd_app_serve(cfg);
    }
    fprintf(stderr, "ztpd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
