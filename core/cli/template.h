/* `ztpd template list|show|render|check`: the admin's view of the config templates (the
 * original guide's list_provisioning_templates, view_template and test_template). They read
 * config.yml, the vendor profiles and the template directories directly, so they work without
 * a daemon. */
#ifndef ZTPD_CLI_TEMPLATE_H
#define ZTPD_CLI_TEMPLATE_H

/* Runs the subcommand in argv[1] (argv[0] is "template"). Returns the exit code: 0 done (check:
 * no problem), 1 failed (check: problems found), 2 usage error. */
int ztpd_cli_template(int argc, char **argv);

#endif
