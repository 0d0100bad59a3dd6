/* Validating walk over a libyaml document, used only by config.c.
 *
 * Every failure writes "<file>:<line>: <key>: <reason>" (line 1-based) into the walk's error
 * buffer and returns ZTPD_ECONFIG, so callers just propagate the code. Scalar values of the exact
 * form "${NAME}" are replaced by the environment variable NAME (an error if it is unset), which
 * keeps secrets out of the file. The walk owns the parsed document until ztpd_yaml_close();
 * strings it hands out point into the document or the environment and must be copied. */
#ifndef ZTPD_CONFIG_YAML_WALK_H
#define ZTPD_CONFIG_YAML_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

struct ztpd_yaml_walk {
    yaml_document_t doc;
    bool loaded;      /* doc must be deleted */
    const char *file; /* name used in messages: the path as the caller gave it */
    char *err;
    size_t errlen;
};

/* Reads and parses `file` (one YAML document) into w; err receives the message on failure.
 * Returns 0, ZTPD_EIO (cannot open/read) or ZTPD_ECONFIG (YAML syntax, with libyaml's problem).
 * Call ztpd_yaml_close() in every case. */
int ztpd_yaml_open(struct ztpd_yaml_walk *w, const char *file, char *err, size_t errlen);

/* Frees the document. */
void ztpd_yaml_close(struct ztpd_yaml_walk *w);

/* Returns the root node, or NULL for an empty document (no content or only comments). */
yaml_node_t *ztpd_yaml_root(struct ztpd_yaml_walk *w);

/* Returns a node by index from a mapping pair or sequence item. */
yaml_node_t *ztpd_yaml_node(struct ztpd_yaml_walk *w, int index);

/* Returns the 1-based line where the node starts. */
int ztpd_yaml_line(const yaml_node_t *n);

/* Formats "<file>:<line of n>: <key>: <reason>" into the error buffer; returns ZTPD_ECONFIG.
 * key may be NULL for errors that belong to no key. */
int ztpd_yaml_fail(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* True for an unquoted empty, "~" or "null" scalar: the key is treated as absent. */
bool ztpd_yaml_is_null(const yaml_node_t *n);

/* Checks that n is a mapping whose keys are distinct plain strings. */
int ztpd_yaml_mapping(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key);

/* Checks that n is a sequence. */
int ztpd_yaml_sequence(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key);

/* Returns the text of a scalar key node (no environment substitution: keys are names). */
const char *ztpd_yaml_key_text(const yaml_node_t *n);

/* Sets *out to the value of scalar n after environment substitution. */
int ztpd_yaml_string(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key,
                     const char **out);

/* Parses a decimal integer scalar (optional sign, no other characters). */
int ztpd_yaml_int(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, long long *out);

/* Parses true/false/yes/no/on/off in any case. */
int ztpd_yaml_bool(struct ztpd_yaml_walk *w, const yaml_node_t *n, const char *key, bool *out);

#endif
