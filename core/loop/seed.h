/* Startup seeding: extensions and devices listed in config.yml are validated against the loaded
 * vendors and upserted into storage and the registry before the daemon listens. Config wins
 * only for the fields it sets (an extension without a password keeps the stored one). */
#ifndef ZTPD_LOOP_SEED_H
#define ZTPD_LOOP_SEED_H

#include <stddef.h>

struct ztpd_app;

/* Runs synchronously on the backend (before the storage thread starts). Returns 0, or
 * ZTPD_ECONFIG / ZTPD_EIO with "<file>:<line>: <key>: <reason>" in err. */
int ztpd_seed_from_config(struct ztpd_app *app, char *err, size_t errlen);

#endif
