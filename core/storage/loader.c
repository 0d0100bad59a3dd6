#include "storage/loader.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

typedef void (*any_fn)(void);

/* The v1 descriptor: a header (versions, size, name) then 24 mandatory function pointers, then
 * the optional ones. If someone inserts a field instead of appending it, these fail the build
 * rather than silently shifting every backend's table. */
#define V1_MANDATORY_COUNT 24
#define V1_MANDATORY_END offsetof(struct ztpd_storage_backend, ping)
_Static_assert(V1_MANDATORY_END == offsetof(struct ztpd_storage_backend, open) +
                                       V1_MANDATORY_COUNT * sizeof(any_fn),
               "mandatory part of the storage ABI v1 changed: bump ZTPD_STORAGE_ABI_MAJOR");
_Static_assert(sizeof(struct ztpd_storage_backend) ==
                   offsetof(struct ztpd_storage_backend, schema_info) + sizeof(any_fn),
               "storage descriptor fields must only be appended (update the loader)");

struct fn_field {
    const char *name;
    size_t off;
};

#define FN(f)                                                                                      \
    {                                                                                              \
#f, offsetof(struct ztpd_storage_backend, f)                                               \
    }
static const struct fn_field mandatory[V1_MANDATORY_COUNT] = {
    FN(open),
    FN(close),
    FN(migrate),
    FN(begin),
    FN(commit),
    FN(rollback),
    FN(device_put),
    FN(device_get),
    FN(device_delete),
    FN(device_list),
    FN(device_touch),
    FN(extension_put),
    FN(extension_delete),
    FN(extension_list),
    FN(registration_upsert),
    FN(registration_delete),
    FN(registration_list),
    FN(registration_cleanup),
    FN(request_append),
    FN(request_query),
    FN(request_trim),
    FN(discovered_upsert),
    FN(discovered_list),
    FN(discovered_delete),
};
#undef FN

/* Reads a function pointer out of the descriptor by offset without type punning. */
static any_fn fn_at(const struct ztpd_storage_backend *be, size_t off)
{
    any_fn f;
    memcpy(&f, (const char *)be + off, sizeof f);
    return f;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Backend names become part of a file path: only [a-z0-9_]+ so "../x" or "a/b" cannot escape
 * the module directory. */
static int valid_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    }
    return 1;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Tries <dir>/libztpd-<name>.so: 1 found, 0 not there, negative error. */
static int try_dir(const char *dir, const char *name, char *out, size_t outlen)
{
    if (!dir || !*dir)
        return 0;
    int n = snprintf(out, outlen, "%s/libztpd-%s.so", dir, name);
    if (n < 0 || (size_t)n >= outlen)
        return ZTPD_ETOOBIG;
    return is_regular_file(out);
}

int ztpd_loader_find(const char *module_dir, const char *name, char *out, size_t outlen)
{
    if (!valid_name(name) || !out || outlen == 0)
        return ZTPD_EINVAL;
    const char *dirs[] = {
        module_dir,
#ifdef ZTPD_MODULE_DIR
        ZTPD_MODULE_DIR,
#endif
#ifdef ZTPD_INSTALL_MODULE_DIR
        ZTPD_INSTALL_MODULE_DIR,
#endif
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int r = try_dir(dirs[i], name, out, outlen);
        if (r != 0)
            return r > 0 ? 0 : r;
    }
    out[0] = '\0';
    return ZTPD_ENOENT;
}

/* Checks a descriptor against what this daemon speaks; 0 or ZTPD_EABI with a message. */
static int validate(const struct ztpd_storage_backend *be, const char *path, char *err,
                    size_t errlen)
{
    if (!be) {
        set_err(err, errlen, "%s: %s() returned no descriptor", path, ZTPD_STORAGE_ENTRY_SYMBOL);
        return ZTPD_EABI;
    }
    if (be->abi_major != ZTPD_STORAGE_ABI_MAJOR) {
        set_err(err, errlen, "%s: built for storage ABI %u, daemon speaks %d: rebuild the backend",
                path, (unsigned)be->abi_major, ZTPD_STORAGE_ABI_MAJOR);
        return ZTPD_EABI;
    }
    if (be->struct_size < V1_MANDATORY_END) {
        set_err(err, errlen,
                "%s: descriptor struct_size %u is smaller than the %zu bytes ABI %d requires: "
                "rebuild the backend",
                path, (unsigned)be->struct_size, (size_t)V1_MANDATORY_END, ZTPD_STORAGE_ABI_MAJOR);
        return ZTPD_EABI;
    }
    if (!be->name || !*be->name) {
        set_err(err, errlen, "%s: descriptor has no name", path);
        return ZTPD_EABI;
    }
    for (size_t i = 0; i < V1_MANDATORY_COUNT; i++) {
        if (!fn_at(be, mandatory[i].off)) {
            set_err(err, errlen, "%s: missing mandatory function %s; rebuild the backend", path,
                    mandatory[i].name);
            return ZTPD_EABI;
        }
    }
    if (be->abi_minor < ZTPD_STORAGE_RECORDS_MINOR) {
        set_err(err, errlen,
                "%s: built for storage ABI %u.%u, whose records differ from ABI %d.%d: rebuild "
                "the backend",
                path, (unsigned)be->abi_major, (unsigned)be->abi_minor, ZTPD_STORAGE_ABI_MAJOR,
                ZTPD_STORAGE_ABI_MINOR);
        return ZTPD_EABI;
    }
    return 0;
}

int ztpd_loader_open(struct ztpd_backend_module **out, const char *path,
                     const struct ztpd_storage_host *host, char *err, size_t errlen)
{
    if (!out || !path || !host) {
        set_err(err, errlen, "storage loader: invalid arguments");
        return ZTPD_EINVAL;
    }
    if (!is_regular_file(path)) {
        set_err(err, errlen, "%s: no such backend file", path);
        return ZTPD_ENOENT;
    }
    /* RTLD_LOCAL keeps one backend's symbols (e.g. its own sqlite) from satisfying another's;
     * RTLD_NOW reports unresolved symbols here instead of at the first call on the thread. */
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        set_err(err, errlen, "%s: cannot load: %s", path, why ? why : "unknown error");
        return ZTPD_EABI;
    }
    void *sym = dlsym(dl, ZTPD_STORAGE_ENTRY_SYMBOL);
    if (!sym) {
        set_err(err, errlen,
                "%s: no entry symbol %s: not a storage backend for ABI %d, rebuild the backend",
                path, ZTPD_STORAGE_ENTRY_SYMBOL, ZTPD_STORAGE_ABI_MAJOR);
        dlclose(dl);
        return ZTPD_EABI;
    }
    ztpd_storage_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const struct ztpd_storage_backend *be = entry(host);
    int r = validate(be, path, err, errlen);
    if (r != 0) {
        dlclose(dl);
        return r;
    }
    struct ztpd_backend_module *m = calloc(1, sizeof *m);
    char *p = strdup(path);
    if (!m || !p) {
        free(m);
        free(p);
        dlclose(dl);
        set_err(err, errlen, "%s: out of memory", path);
        return ZTPD_ENOMEM;
    }
    m->dl = dl;
    m->be = be;
    m->path = p;
    *out = m;
    return 0;
}

int ztpd_loader_has(const struct ztpd_storage_backend *be, size_t off)
{
    /* A backend built against an older minor has a shorter descriptor: whatever lies past its
     * struct_size is not ours to read, even if the memory happens to be non-zero. */
    if (!be || off + sizeof(any_fn) > be->struct_size)
        return 0;
    return fn_at(be, off) != NULL;
}

void ztpd_loader_close(struct ztpd_backend_module *m)
{
    if (!m)
        return;
    if (m->dl)
        dlclose(m->dl);
    free(m->path);
    free(m);
}
