/* ztpd version, for the daemon and for backends that want to print it. */
#ifndef ZTPD_VERSION_H
#define ZTPD_VERSION_H

#ifndef ZTPD_VERSION
#define ZTPD_VERSION "0.1.0"
#endif

#endif
