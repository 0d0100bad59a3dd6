/* UTF-8 validity for text that comes from the network (User-Agents, request paths) and goes
 * into TEXT columns: PostgreSQL refuses invalid UTF-8 (SQLSTATE 22021), and one such row would
 * make a whole batched transaction fail. */
#ifndef ZTPD_UTIL_UTF8_H
#define ZTPD_UTIL_UTF8_H

#include <stddef.h>

/* Replaces, in place, every byte that is not part of a well-formed UTF-8 sequence (overlong
 * forms, surrogates, code points above U+10FFFF, truncated sequences) with '?'. The length
 * does not change. Returns the number of bytes replaced. */
size_t ztpd_utf8_scrub(char *s);

#endif
