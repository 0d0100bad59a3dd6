#include "provision/templates.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log.h"
#include "util/error.h"
#include "util/hmap.h"

#define MOD "templates"
#define MAX_TEMPLATE_SIZE (1024 * 1024)

struct entry {
    char *path; /* dir/file, for messages */
    char *src;
    size_t len;
    struct ztpd_tpl *tpl;
};

struct ztpd_templates {
    struct ztpd_hmap **dirs; /* per dir: file name -> struct entry* */
    size_t nd;
    size_t count;
};

static void free_entry(const char *key, void *value, void *arg)
{
    struct entry *e = value;
    (void)key;
    (void)arg;
    ztpd_tpl_free(e->tpl);
    free(e->src);
    free(e->path);
    free(e);
}

void ztpd_templates_free(struct ztpd_templates *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->nd; i++) {
        if (!ts->dirs[i])
            continue;
        ztpd_hmap_each(ts->dirs[i], free_entry, NULL);
        ztpd_hmap_free(ts->dirs[i]);
    }
    free(ts->dirs);
    free(ts);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MAX_TEMPLATE_SIZE + 1);
    size_t n = buf ? fread(buf, 1, MAX_TEMPLATE_SIZE + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX_TEMPLATE_SIZE) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const struct entry *prev_entry(const struct ztpd_templates *prev, size_t di,
                                      const char *name)
{
    if (!prev || di >= prev->nd || !prev->dirs[di])
        return NULL;
    return ztpd_hmap_get(prev->dirs[di], name);
}

static int load_dir(struct ztpd_templates *ts, size_t di, const char *dir,
                    const struct ztpd_templates *prev)
{
    DIR *d = opendir(dir);
    if (!d) {
        LOG_W(MOD, "cannot open template directory %s", dir);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        struct entry *e = calloc(1, sizeof *e);
        if (!e)
            break;
        e->path = strdup(path);
        e->src = read_file(path, &e->len);
        char err[256] = "";
        int rc = e->src ? ztpd_tpl_compile(&e->tpl, e->src, e->len, err, sizeof err) : ZTPD_EIO;
        if (rc) {
            const struct entry *old = prev_entry(prev, di, de->d_name);
            LOG_E(MOD, "%s: %s%s", path,
                  rc == ZTPD_EIO ? "cannot read (or larger than 1 MiB)" : err,
                  old ? "; keeping the previous version" : "");
            free(e->src);
            e->src = NULL;
            if (old && (e->src = malloc(old->len + 1))) {
                memcpy(e->src, old->src, old->len + 1);
                e->len = old->len;
                rc = ztpd_tpl_compile(&e->tpl, e->src, e->len, err, sizeof err);
            }
            if (rc) {
                free_entry(NULL, e, NULL);
                continue;
            }
        }
        if (ztpd_hmap_put(ts->dirs[di], de->d_name, e, NULL)) {
            free_entry(NULL, e, NULL);
            break;
        }
        ts->count++;
    }
    closedir(d);
    return 0;
}

int ztpd_templates_load(struct ztpd_templates **out, const char *const *dirs, size_t nd,
                        const struct ztpd_templates *previous)
{
    struct ztpd_templates *ts = calloc(1, sizeof *ts);
    if (!ts)
        return ZTPD_ENOMEM;
    ts->dirs = calloc(nd ? nd : 1, sizeof *ts->dirs);
    ts->nd = nd;
    if (!ts->dirs) {
        free(ts);
        return ZTPD_ENOMEM;
    }
    for (size_t i = 0; i < nd; i++) {
        if (!dirs[i])
            continue;
        if (ztpd_hmap_new(&ts->dirs[i])) {
            ztpd_templates_free(ts);
            return ZTPD_ENOMEM;
        }
        load_dir(ts, i, dirs[i], previous);
    }
    *out = ts;
    return 0;
}

const struct ztpd_tpl *ztpd_templates_get(const struct ztpd_templates *ts, const char *file,
                                          const char **name_out)
{
    for (size_t i = 0; i < ts->nd; i++) {
        if (!ts->dirs[i])
            continue;
        const struct entry *e = ztpd_hmap_get(ts->dirs[i], file);
        if (e) {
            if (name_out)
                *name_out = e->path;
            return e->tpl;
        }
    }
    return NULL;
}

const struct ztpd_tpl *ztpd_templates_find(const struct ztpd_templates *ts, const char *vendor,
                                           const char *model, const char *ext,
                                           const char **name_out)
{
    char name[256];
    const struct ztpd_tpl *t;
    for (size_t i = 0; i < ts->nd; i++) {
        if (!ts->dirs[i])
            continue;
        const char *forms[] = {ext, "template"};
        for (size_t f = 0; f < 2; f++) {
            snprintf(name, sizeof name, "%s_%s.%s", vendor, model, forms[f]);
            const struct entry *e = ztpd_hmap_get(ts->dirs[i], name);
            if (e) {
                if (name_out)
                    *name_out = e->path;
                return e->tpl;
            }
        }
    }
    snprintf(name, sizeof name, "%s_generic.%s", vendor, ext);
    if ((t = ztpd_templates_get(ts, name, name_out)))
        return t;
    snprintf(name, sizeof name, "generic.%s", ext);
    if ((t = ztpd_templates_get(ts, name, name_out)))
        return t;
    return ztpd_templates_get(ts, "generic.cfg", name_out);
}

size_t ztpd_templates_count(const struct ztpd_templates *ts)
{
    return ts->count;
}
