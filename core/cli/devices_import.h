/* `ztpd devices import FILE|-`: every row validated first (each bad row reported with its
 * line), then all devices registered in one request (online: the bulk API) or one transaction
 * (offline); a file with any bad row changes nothing. */
#ifndef ZTPD_CLI_DEVICES_IMPORT_H
#define ZTPD_CLI_DEVICES_IMPORT_H

/* argv[0] is "import". Returns the exit code (0, 1, 2). */
int cli_devices_import(int argc, char **argv);

#endif
