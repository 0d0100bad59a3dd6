#include "provision/upload.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "http/server.h"
#include "log/log.h"
#include "loop/app.h"

#define MOD "upload"

enum step {
    MKDIR_ROOT,
    MKDIR_MAC,
    OPEN_TMP,
    WRITE,
    CLOSE_TMP,
    UNLINK_TMP,
    RENAME,
    OPEN,
    STAT,
    READ,
    CLOSE
};

/* One upload being written or read back; the steps run as a chain of uv_fs callbacks. */
struct job {
    uv_fs_t fs;
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    enum step step;
    uv_file fd;
    int failed; /* a step failed: close the file and answer the error */
    int missing;
    size_t done; /* bytes written or read */
    char *buf;   /* read-back contents */
    size_t size; /* read-back size */
    char root[4096], dir[4096], path[4096], tmp[4200];
};

/* a temp name per attempt: two uploads of the same file at once never share a temp file */
static unsigned long g_tmp_seq;

static void next(uv_fs_t *fs);

static void finish(struct job *j)
{
    if (j->step <= RENAME) {
        if (j->failed) {
            static const char msg[] = "{\"success\":false,\"error\":\"cannot store the upload\"}";
            ztpd_http_respond(j->req, 500, "application/json", msg, sizeof msg - 1, NULL);
        } else {
            ztpd_http_respond(j->req, 201, "text/plain", "", 0, NULL);
        }
    } else if (j->missing) {
        ztpd_http_respond_not_found(j->req);
    } else if (j->failed) {
        static const char msg[] = "{\"success\":false,\"error\":\"cannot read the upload\"}";
        ztpd_http_respond(j->req, 500, "application/json", msg, sizeof msg - 1, NULL);
    } else {
        ztpd_http_respond(j->req, 200, "application/octet-stream", j->buf, j->size,
                          "Cache-Control: no-store\r\n");
    }
    free(j->buf);
    free(j);
}

static void fail(struct job *j, const char *what, ssize_t err)
{
    LOG_E(MOD, "%s %s: %s", what, j->step <= RENAME ? j->tmp : j->path, uv_strerror((int)err));
    j->failed = 1;
}

/* Runs the next step; a failing request moves on to closing the file and answering. */
static void run(struct job *j)
{
    uv_loop_t *loop = j->app->loop;
    int rc = 0;
    switch (j->step) {
    case MKDIR_ROOT:
        rc = uv_fs_mkdir(loop, &j->fs, j->root, 0700, next);
        break;
    case MKDIR_MAC:
        rc = uv_fs_mkdir(loop, &j->fs, j->dir, 0700, next);
        break;
    case OPEN_TMP:
        rc = uv_fs_open(loop, &j->fs, j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600, next);
        break;
    case WRITE: {
        uv_buf_t b =
            uv_buf_init((char *)j->req->body + j->done, (unsigned)(j->req->body_len - j->done));
        rc = uv_fs_write(loop, &j->fs, j->fd, &b, 1, -1, next);
        break;
    }
    case CLOSE_TMP:
    case CLOSE:
        rc = uv_fs_close(loop, &j->fs, j->fd, next);
        break;
    case UNLINK_TMP:
        rc = uv_fs_unlink(loop, &j->fs, j->tmp, next);
        break;
    case RENAME:
        rc = uv_fs_rename(loop, &j->fs, j->tmp, j->path, next);
        break;
    case OPEN:
        rc = uv_fs_open(loop, &j->fs, j->path, O_RDONLY | O_CLOEXEC, 0, next);
        break;
    case STAT:
        rc = uv_fs_fstat(loop, &j->fs, j->fd, next);
        break;
    case READ: {
        uv_buf_t b = uv_buf_init(j->buf + j->done, (unsigned)(j->size - j->done));
        rc = uv_fs_read(loop, &j->fs, j->fd, &b, 1, -1, next);
        break;
    }
    }
    if (rc) {
        fail(j, "cannot start on", rc);
        finish(j);
    }
}

static void next(uv_fs_t *fs)
{
    struct job *j = fs->data;
    ssize_t res = fs->result;
    uint64_t size = fs->statbuf.st_size; /* meaningful after STAT only */
    uv_fs_req_cleanup(fs);
    fs->data = j;
    switch (j->step) {
    case MKDIR_ROOT:
    case MKDIR_MAC:
        if (res < 0 && res != UV_EEXIST) {
            fail(j, "cannot create the directory for", res);
            finish(j);
            return;
        }
        j->step++;
        break;
    case OPEN_TMP:
        if (res < 0) {
            fail(j, "cannot create", res);
            finish(j);
            return;
        }
        j->fd = (uv_file)res;
        j->step = j->req->body_len ? WRITE : CLOSE_TMP;
        break;
    case WRITE:
        if (res <= 0) {
            fail(j, "cannot write", res ? res : UV_EIO);
            j->step = CLOSE_TMP;
            break;
        }
        j->done += (size_t)res;
        if (j->done >= j->req->body_len)
            j->step = CLOSE_TMP;
        break;
    case CLOSE_TMP:
        if (res < 0 && !j->failed)
            fail(j, "cannot close", res);
        /* a failed write leaves no half-written temp file behind */
        j->step = j->failed ? UNLINK_TMP : RENAME;
        break;
    case UNLINK_TMP:
        finish(j);
        return;
    case RENAME:
        if (res < 0)
            fail(j, "cannot rename", res);
        else
            LOG_I(MOD, "stored %zu bytes as %s", j->req->body_len, j->path);
        finish(j);
        return;
    case OPEN:
        if (res < 0) {
            j->missing = res == UV_ENOENT;
            if (!j->missing)
                fail(j, "cannot open", res);
            finish(j);
            return;
        }
        j->fd = (uv_file)res;
        j->step = STAT;
        break;
    case STAT: {
        if (res < 0 || size > j->app->cfg->upload_max_size ||
            !(j->buf = malloc(size ? (size_t)size : 1))) {
            fail(j, "cannot read", res < 0 ? res : UV_EFBIG);
            j->step = CLOSE;
            break;
        }
        j->size = (size_t)size;
        j->step = j->size ? READ : CLOSE;
        break;
    }
    case READ:
        if (res < 0) {
            fail(j, "cannot read", res);
            j->step = CLOSE;
            break;
        }
        j->done += (size_t)res;
        if (res == 0) /* the file shrank meanwhile: serve what is there */
            j->size = j->done;
        if (j->done >= j->size)
            j->step = CLOSE;
        break;
    case CLOSE:
        finish(j);
        return;
    }
    run(j);
}

static struct job *job_new(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                           const char *name)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->app = app;
    j->req = req;
    j->fs.data = j;
    int n1 = snprintf(j->root, sizeof j->root, "%s/uploads", app->cfg->data_dir);
    int n2 = snprintf(j->dir, sizeof j->dir, "%s/%s", j->root, mac);
    int n3 = snprintf(j->path, sizeof j->path, "%s/%s", j->dir, name);
    int n4 = snprintf(j->tmp, sizeof j->tmp, "%s/.%s.%lu.tmp", j->dir, name, ++g_tmp_seq);
    if (n1 >= (int)sizeof j->root || n2 >= (int)sizeof j->dir || n3 >= (int)sizeof j->path ||
        n4 >= (int)sizeof j->tmp) {
        free(j);
        return NULL;
    }
    return j;
}

void ztpd_upload_store(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                       const char *name)
{
    struct job *j = job_new(app, req, mac, name);
    if (!j) {
        ztpd_http_respond(req, 503, "text/plain", "", 0, NULL);
        return;
    }
    j->step = MKDIR_ROOT;
    run(j);
}

void ztpd_upload_serve(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                       const char *name)
{
    struct job *j = job_new(app, req, mac, name);
    if (!j) {
        ztpd_http_respond(req, 503, "text/plain", "", 0, NULL);
        return;
    }
    j->step = OPEN;
    run(j);
}
