/* Device import files: a JSON array of device objects (as `ztpd devices export` writes and as
 * POST /api/provisioning/devices/bulk takes) or CSV with a header naming the columns mac,
 * extension, vendor, model (any order; mac_address and extension_number are accepted too).
 * Parsing keeps the line each device starts on, so every later error can name it. A UTF-8
 * BOM, CRLF line ends, blank lines and RFC 4180 quoting ("a ""b"", c" and quoted line breaks)
 * are handled. Parsing only checks structure; device validation is the caller's. */
#ifndef ZTPD_CLI_IMPORT_H
#define ZTPD_CLI_IMPORT_H

#include <jansson.h>
#include <stddef.h>

enum ztpd_import_format {
    ZTPD_IMPORT_AUTO = 0, /* by the file name's extension, else by the first character */
    ZTPD_IMPORT_JSON,
    ZTPD_IMPORT_CSV,
};

struct ztpd_import_row {
    int line;    /* 1-based line where the device starts */
    json_t *obj; /* a device object as the API takes it (owned reference); NULL if the row is
                    unusable (its problem is in the errors) */
};

struct ztpd_import_error {
    int line;   /* 0 when the problem concerns the whole file */
    size_t seq; /* order found, so sorting by line keeps it within a line */
    char msg[300];
};

struct ztpd_import {
    enum ztpd_import_format format; /* the format used */
    struct ztpd_import_row *rows;
    size_t n_rows;
    struct ztpd_import_error *errors;
    size_t n_errors;
};

/* Parses data[0..len) as `format` (AUTO: decided from name's extension, then by sniffing).
 * Fills *out (zeroed first, release with ztpd_import_free()): every structural problem is added
 * to out->errors with its line, and parsing goes on where it can, so one run reports them all.
 * Returns 0 (even with errors; check n_errors) or ZTPD_ENOMEM. */
int ztpd_import_parse(const char *name, const char *data, size_t len,
                      enum ztpd_import_format format, struct ztpd_import *out);

/* Adds an error for line (printf-style). 0 or ZTPD_ENOMEM. */
int ztpd_import_error_add(struct ztpd_import *imp, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sorts the errors by line (stable), for reporting. */
void ztpd_import_errors_sort(struct ztpd_import *imp);

/* Frees rows and errors. */
void ztpd_import_free(struct ztpd_import *imp);

#endif
