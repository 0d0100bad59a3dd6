/* The data subcommands of the ztpd command line (`ztpd devices …`, `ztpd registrations …`,
 * `ztpd db …`). By default they talk to the running daemon through its REST API, so its
 * in-memory inventory stays true; with --offline they work on the database directly through the
 * storage backend, holding the data_dir lock so no daemon runs meanwhile. Each returns the
 * process exit code: 0 done, 1 failed, 2 usage error. argv[0] is the group name. */
#ifndef ZTPD_CLI_CLI_H
#define ZTPD_CLI_CLI_H

/* `ztpd devices list|add|remove|clear|export|import`. */
int ztpd_cli_devices(int argc, char **argv);
/* `ztpd registrations cleanup`. */
int ztpd_cli_registrations(int argc, char **argv);
/* `ztpd db verify|migrate`. */
int ztpd_cli_db(int argc, char **argv);

#endif
