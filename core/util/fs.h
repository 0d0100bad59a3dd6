/* Small filesystem helpers shared by the daemon and the CLI tools. */
#ifndef ZTPD_UTIL_FS_H
#define ZTPD_UTIL_FS_H

#include <sys/types.h>

/* Creates dir and every missing parent with the given mode (like mkdir -p); an existing
 * directory is fine. Returns 0, or -1 with errno set. */
int ztpd_mkdir_p(const char *dir, mode_t mode);

#endif
