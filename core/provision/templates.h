/* The set of config templates, read and compiled from the template directories in priority
 * order (custom dir first, built-in last). Lookup for a device file of vendor V, model M and
 * extension E, first match wins: in each dir "V_M.E", then "V_M.template"; then in each dir
 * "V_generic.E"; then "generic.E"; then "generic.cfg". A file that fails to compile is logged
 * and skipped; on reload, its previous version is kept. */
#ifndef ZTPD_PROVISION_TEMPLATES_H
#define ZTPD_PROVISION_TEMPLATES_H

#include <stddef.h>

#include "template/template.h"

struct ztpd_templates;

/* Loads every regular file of each dir (NULL entries are skipped; nd = number of dirs).
 * `previous` (may be NULL) supplies fallbacks for files that fail to compile now.
 * *out owned by the caller. Returns 0 or ZTPD_ENOMEM. */
int ztpd_templates_load(struct ztpd_templates **out, const char *const *dirs, size_t nd,
                        const struct ztpd_templates *previous);
/* Frees the set (NULL is fine). */
void ztpd_templates_free(struct ztpd_templates *ts);
/* Finds the template for a device file; *name_out (optional) gets "dir/file" for messages.
 * Returns NULL when not even a generic template exists. Owned by ts. */
const struct ztpd_tpl *ztpd_templates_find(const struct ztpd_templates *ts, const char *vendor,
                                           const char *model, const char *ext,
                                           const char **name_out);
/* A template by exact file name, searching dirs in priority order, or NULL. */
const struct ztpd_tpl *ztpd_templates_get(const struct ztpd_templates *ts, const char *file,
                                          const char **name_out);
/* Number of templates loaded. */
size_t ztpd_templates_count(const struct ztpd_templates *ts);

#endif
