#include "storage/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log/log.h"
#include "storage/batch.h"
#include "storage/loader.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/utf8.h"

#define LOG_MOD "storage"
/* The storage thread pings an idle backend so /api/status tells the truth without a write to
 * notice an outage: every HEALTH_UP_MS while up; every HEALTH_DOWN_MS while down, which is
 * also the fastest an op may trigger a reconnect attempt (others answer EUNAVAIL at once). */
#define HEALTH_UP_MS 2000
#define HEALTH_DOWN_MS 1000
/* Failed batch flushes back off from RETRY_MIN_MS to RETRY_MAX_MS; a health check that sees
 * the backend come back flushes at once. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 5000
/* Rows kept in provisioning_requests, and request rows held in memory while the database is
 * unreachable: both bound what an outage or a busy site can cost. */
#define REQUEST_KEEP 10000
#define PENDING_REQUESTS_MAX 10000

/* The fixed module directories ztpd_loader_find() tries after storage.module_dir. */
#if defined(ZTPD_MODULE_DIR) && defined(ZTPD_INSTALL_MODULE_DIR)
#define SEARCHED_DIRS ZTPD_MODULE_DIR ", " ZTPD_INSTALL_MODULE_DIR
#elif defined(ZTPD_MODULE_DIR)
#define SEARCHED_DIRS ZTPD_MODULE_DIR
#elif defined(ZTPD_INSTALL_MODULE_DIR)
#define SEARCHED_DIRS ZTPD_INSTALL_MODULE_DIR
#else
#define SEARCHED_DIRS "(no module directory)"
#endif

enum store_state {
    ST_OPEN,     /* opened, thread not started: ops queue up */
    ST_RUNNING,  /* thread and handles live */
    ST_STOPPING, /* stop() called: thread drains the queue, later ops are refused */
    ST_CLOSING,  /* thread joined, uv handles closing */
    ST_STOPPED,  /* all done; only free() is left */
};

struct op_queue {
    struct ztpd_store_op *head, *tail;
};

struct ztpd_store {
    uv_loop_t *loop;
    const struct ztpd_config *cfg;
    struct ztpd_storage_host host;
    char log_module[48];
    struct ztpd_backend_module *mod;
    void *h;
    int schema_version;
    char *pg_password; /* from storage.postgres.password_file; wiped when freed */

    /* Loop thread only. */
    enum store_state state;
    struct ztpd_batch batch;
    int flushes_inflight;
    size_t inflight_rows;
    int timer_armed;
    int batch_failing;
    uint64_t retry_ms; /* delay of the next batch retry while batch_failing */
    int drop_warned;
    int up;               /* from the statuses delivered so far, in submission order */
    int refusing;         /* the stop marker came back: later ops were refused, not run */
    struct op_queue late; /* refused while the handles close; answered in the close callback */
    int open_handles;
    void (*stop_cb)(void *arg);
    void *stop_arg;
    uv_async_t async;
    uv_timer_t timer;

    /* Shared with the storage thread; mu guards only the queue pointers and the flag. */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct op_queue in;
    struct op_queue done;
    int thread_exited;
    struct ztpd_store_op stop_marker;
};

/* A health report from the storage thread: the backend went down or came back. Allocated by
 * the thread, delivered in order with the ops around it, freed by its done(). */
struct health_op {
    struct ztpd_store_op op; /* first: done() casts back */
    struct ztpd_store *s;
};

/* A flush of the batched rows: one transaction on the storage thread. */
struct batch_op {
    struct ztpd_store_op op; /* first: the op pointer is the batch_op pointer */
    struct ztpd_store *s;
    struct ztpd_batch_rows rows;
    int final;     /* the flush of stop(): always worth a reconnect attempt */
    size_t n_rows; /* rows taken; batch_run may drop rejected ones from `rows` */
};

static void batch_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op);

static void q_push(struct op_queue *q, struct ztpd_store_op *op)
{
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

static struct ztpd_store_op *q_pop(struct op_queue *q)
{
    struct ztpd_store_op *op = q->head;
    if (op) {
        q->head = op->next;
        if (!q->head)
            q->tail = NULL;
        op->next = NULL;
    }
    return op;
}

static struct ztpd_store_op *q_take_all(struct op_queue *q)
{
    struct ztpd_store_op *op = q->head;
    q->head = q->tail = NULL;
    return op;
}

/* Calls done() on a detached chain of ops, in order, tracking whether the backend is up.
 * Updating `up` here rather than on the thread keeps it consistent with the done() calls:
 * a done() sees the state as of its own op, even when the thread has run further. */
static void backend_back(struct ztpd_store *s);

static void deliver(struct ztpd_store *s, struct ztpd_store_op *op)
{
    while (op) {
        struct ztpd_store_op *next = op->next;
        op->next = NULL;
        if (op == &s->stop_marker) {
            s->refusing = 1;
        } else {
            int was_up = s->up;
            if (!s->refusing)
                s->up = op->status != ZTPD_STORAGE_EUNAVAIL;
            if (op->done)
                op->done(op);
            if (!was_up && s->up)
                backend_back(s);
        }
        op = next;
    }
}

/* Answers ops that will never run (store never started, or being freed). */
static void refuse_chain(struct ztpd_store_op *op)
{
    while (op) {
        struct ztpd_store_op *next = op->next;
        op->next = NULL;
        op->status = ZTPD_STORAGE_EUNAVAIL;
        if (op->done)
            op->done(op);
        op = next;
    }
}

int ztpd_store_error(int status)
{
    switch (status) {
    case ZTPD_STORAGE_OK:
        return 0;
    case ZTPD_STORAGE_ENOTFOUND:
        return ZTPD_ENOENT;
    case ZTPD_STORAGE_ECONFLICT:
        return ZTPD_EEXIST;
    case ZTPD_STORAGE_EINVAL:
        return ZTPD_EINVAL;
    case ZTPD_STORAGE_EUNAVAIL:
        return ZTPD_EUNAVAIL;
    case ZTPD_STORAGE_ESCHEMA:
        return ZTPD_EABI;
    default:
        return ZTPD_EIO;
    }
}

const char *ztpd_store_strstatus(int status)
{
    switch (status) {
    case ZTPD_STORAGE_OK:
        return "ok";
    case ZTPD_STORAGE_ENOTFOUND:
        return "not found";
    case ZTPD_STORAGE_ECONFLICT:
        return "already exists";
    case ZTPD_STORAGE_EINVAL:
        return "value rejected by the database";
    case ZTPD_STORAGE_EIO:
        return "database query failed";
    case ZTPD_STORAGE_EUNAVAIL:
        return "database unavailable";
    case ZTPD_STORAGE_ESCHEMA:
        return "database schema is newer than this ztpd";
    default:
        return "unknown storage error";
    }
}

/* --- host services handed to the backend --- */

static void host_log(void *ctx, int level, const char *msg)
{
    struct ztpd_store *s = ctx;
    if (level < ZTPD_LOG_ERROR)
        level = ZTPD_LOG_ERROR;
    if (level > ZTPD_LOG_DEBUG)
        level = ZTPD_LOG_DEBUG;
    ztpd_log((enum ztpd_log_level)level, s->log_module, "%s", msg ? msg : "");
}

/* Not a key of config.yml: the content of storage.postgres.password_file, which the backend
 * prefers over ZTPD_PG_PASSWORD and the DSN's password. */
#define PG_PASSWORD_KEY "storage.postgres.password"

static const char *host_config_get(void *ctx, const char *key)
{
    struct ztpd_store *s = ctx;
    if (key && strcmp(key, PG_PASSWORD_KEY) == 0)
        return s->pg_password;
    return key ? ztpd_config_lookup(s->cfg, key) : NULL;
}

/* --- open --- */

/* sqlite creates the database file but not its directory; a fresh install has neither. 0700:
 * the database holds SIP passwords. */
static int make_sqlite_dir(struct ztpd_store *s, char *err, size_t errlen)
{
    const char *path = s->cfg->sqlite_path;
    if (!path)
        path = ztpd_config_lookup(s->cfg, "storage.sqlite.path");
    if (!path || strncmp(path, "file:", 5) == 0 || strcmp(path, ":memory:") == 0)
        return 0;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[4096];
    if ((size_t)(slash - path) >= sizeof dir) {
        snprintf(err, errlen, "storage: sqlite path too long: %s", path);
        return ZTPD_EINVAL;
    }
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    struct stat st;
    if (stat(dir, &st) == 0)
        return 0;
    int e = ztpd_mkdir_p(dir, 0700) ? errno : 0;
    if (e) {
        snprintf(err, errlen, "storage: cannot create data directory %s: %s", dir, strerror(e));
        return ZTPD_EIO;
    }
    LOG_I(LOG_MOD, "created data directory %s", dir);
    return 0;
}

static struct ztpd_store *store_alloc(uv_loop_t *loop, const struct ztpd_config *cfg,
                                      const char *name)
{
    struct ztpd_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    /* Health checks wait with a timeout; a monotonic clock keeps a clock step from
     * stretching or skipping them. */
    pthread_condattr_t ca;
    int cr = pthread_condattr_init(&ca);
    if (cr == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cr = pthread_cond_init(&s->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (cr != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->cfg = cfg;
    s->state = ST_OPEN;
    s->up = 1;
    ztpd_batch_init(&s->batch, PENDING_REQUESTS_MAX);
    snprintf(s->log_module, sizeof s->log_module, "storage:%s", name);
    s->host.abi_major = ZTPD_STORAGE_ABI_MAJOR;
    s->host.abi_minor = ZTPD_STORAGE_ABI_MINOR;
    s->host.struct_size = sizeof s->host;
    s->host.ctx = s;
    s->host.log = host_log;
    s->host.config_get = host_config_get;
    return s;
}

int ztpd_store_open(struct ztpd_store **out, uv_loop_t *loop, const struct ztpd_config *cfg,
                    char *err, size_t errlen)
{
    return ztpd_store_open_flags(out, loop, cfg, 0, err, errlen);
}

/* The version in place without migrating: schema_info when the backend has it, else unknown. */
static int read_schema_version(struct ztpd_store *s, const struct ztpd_storage_backend *be)
{
    int cur = -1, latest = 0;
    s->schema_version = -1;
    if (!ztpd_loader_has(be, offsetof(struct ztpd_storage_backend, schema_info)))
        return ZTPD_STORAGE_OK;
    int st = be->schema_info(s->h, &cur, &latest);
    if (st == ZTPD_STORAGE_OK)
        s->schema_version = cur;
    return st;
}

int ztpd_store_open_flags(struct ztpd_store **out, uv_loop_t *loop, const struct ztpd_config *cfg,
                          unsigned flags, char *err, size_t errlen)
{
    char path[4096];
    if (!out || !loop || !cfg) {
        snprintf(err, errlen, "storage: invalid arguments");
        return ZTPD_EINVAL;
    }
    const char *name =
        cfg->storage_backend && *cfg->storage_backend ? cfg->storage_backend : "sqlite";
    int r = ztpd_loader_find(cfg->module_dir, name, path, sizeof path);
    if (r == ZTPD_EINVAL) {
        snprintf(err, errlen, "storage.backend: invalid backend name '%s'", name);
        return r;
    }
    if (r) {
        snprintf(err, errlen, "storage.backend: backend '%s' not found: no libztpd-%s.so in %s%s%s",
                 name, name, cfg->module_dir ? cfg->module_dir : "", cfg->module_dir ? ", " : "",
                 SEARCHED_DIRS);
        return ZTPD_ENOENT;
    }
    struct ztpd_store *s = store_alloc(loop, cfg, name);
    if (!s) {
        snprintf(err, errlen, "storage: out of memory");
        return ZTPD_ENOMEM;
    }
    if (strcmp(name, "sqlite") == 0 && (r = make_sqlite_dir(s, err, errlen)) != 0) {
        ztpd_store_free(s);
        return r;
    }
    if (strcmp(name, "postgres") == 0 &&
        (r = ztpd_config_read_password_file(cfg, &s->pg_password, err, errlen)) != 0) {
        ztpd_store_free(s);
        return r;
    }
    r = ztpd_loader_open(&s->mod, path, &s->host, err, errlen);
    if (r) {
        ztpd_store_free(s);
        return r;
    }
    const struct ztpd_storage_backend *be = s->mod->be;
    int st = be->open(&s->h, &s->host);
    if (st != ZTPD_STORAGE_OK) {
        snprintf(err, errlen, "storage:%s: cannot open the database: %s", be->name,
                 ztpd_store_strstatus(st));
        s->h = NULL;
        ztpd_store_free(s);
        return ztpd_store_error(st);
    }
    if (flags & ZTPD_STORE_NO_MIGRATE)
        st = read_schema_version(s, be);
    else
        st = be->migrate(s->h, &s->schema_version);
    if (st != ZTPD_STORAGE_OK) {
        snprintf(err, errlen, "storage:%s: %s: %s", be->name,
                 flags & ZTPD_STORE_NO_MIGRATE ? "cannot read the schema version"
                                               : "schema migration failed",
                 ztpd_store_strstatus(st));
        ztpd_store_free(s);
        return ztpd_store_error(st);
    }
    LOG_I(s->log_module, "backend %s (%s), schema version %d", be->name, s->mod->path,
          s->schema_version);
    *out = s;
    return 0;
}

const struct ztpd_storage_backend *ztpd_store_backend(struct ztpd_store *s)
{
    return s->mod->be;
}

void *ztpd_store_handle(struct ztpd_store *s)
{
    return s->h;
}

int ztpd_store_schema_version(struct ztpd_store *s)
{
    return s->schema_version;
}

const char *ztpd_store_module_path(const struct ztpd_store *s)
{
    return s->mod->path;
}

/* --- the storage thread --- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What only the storage thread touches. */
struct thread_state {
    int has_ping;
    int down;              /* as of the last backend call */
    uint64_t last_attempt; /* when the last reconnect attempt while down ended */
    uint64_t next_check;   /* when the idle thread pings next */
};

static void health_done(struct ztpd_store_op *op)
{
    /* deliver() has already updated s->up from the status. */
    free(op);
}

/* Tells the loop (in order with the ops delivered around it) that the backend changed state.
 * Called with s->mu held. On allocation failure the thread's view is left as it was, so the
 * next check reports the change again. */
static void report_health(struct ztpd_store *s, struct thread_state *ts, int down)
{
    struct health_op *h = calloc(1, sizeof *h);
    if (!h)
        return;
    h->op.done = health_done;
    h->op.status = down ? ZTPD_STORAGE_EUNAVAIL : ZTPD_STORAGE_OK;
    h->s = s;
    ts->down = down;
    q_push(&s->done, &h->op);
    uv_async_send(&s->async);
}

/* While down, talking to the backend means a reconnect attempt that may take up to the
 * backend's connect timeout. At most one per HEALTH_DOWN_MS: an op queued behind an attempt
 * answers right after it instead of starting another one. */
static int may_attempt(const struct thread_state *ts)
{
    return !ts->down || mono_ms() - ts->last_attempt >= HEALTH_DOWN_MS;
}

static void run_op(struct ztpd_store *s, struct ztpd_store_op *op, struct thread_state *ts)
{
    const struct ztpd_storage_backend *be = s->mod->be;
    op->status = ZTPD_STORAGE_OK;
    if (ts->down && ts->has_ping) {
        int final = op->run == batch_run && ((struct batch_op *)op)->final;
        if (!final && !may_attempt(ts)) {
            op->status = ZTPD_STORAGE_EUNAVAIL;
            return;
        }
        /* After an outage a cheap ping tells whether to try the real work at all. */
        int st = be->ping(s->h);
        ts->last_attempt = mono_ms();
        if (st == ZTPD_STORAGE_EUNAVAIL) {
            op->status = st;
            return;
        }
    }
    if (op->run)
        op->run(be, s->h, op);
    else
        op->status = ZTPD_STORAGE_EINVAL;
    /* A backend that lost its connection has just tried to reconnect (and failed). */
    ts->down = op->status == ZTPD_STORAGE_EUNAVAIL;
    if (ts->down)
        ts->last_attempt = mono_ms();
    ts->next_check = mono_ms() + (ts->down ? HEALTH_DOWN_MS : HEALTH_UP_MS);
}

/* The idle thread's health check: pings, reports a change of state. Called with s->mu held;
 * releases it around the ping. */
static void health_check(struct ztpd_store *s, struct thread_state *ts)
{
    if (may_attempt(ts)) {
        pthread_mutex_unlock(&s->mu);
        int st = s->mod->be->ping(s->h);
        pthread_mutex_lock(&s->mu);
        /* Any other failure (EIO) means the server answered: the connection is up. */
        int down = st == ZTPD_STORAGE_EUNAVAIL;
        if (down)
            ts->last_attempt = mono_ms();
        if (down != ts->down)
            report_health(s, ts, down);
    }
    ts->next_check = mono_ms() + (ts->down ? HEALTH_DOWN_MS : HEALTH_UP_MS);
}

/* Waits for an op or the next health check, whichever is first. Called with s->mu held. */
static void wait_for_work(struct ztpd_store *s, struct thread_state *ts)
{
    if (!ts->has_ping) {
        pthread_cond_wait(&s->cv, &s->mu);
        return;
    }
    uint64_t now = mono_ms();
    if (now >= ts->next_check) {
        health_check(s, ts);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t wait_ms = ts->next_check - now;
    until.tv_sec += (time_t)(wait_ms / 1000u);
    until.tv_nsec += (long)(wait_ms % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &until);
}

static void *store_thread(void *arg)
{
    struct ztpd_store *s = arg;
    struct thread_state ts = {0};
    ts.has_ping = ztpd_loader_has(s->mod->be, offsetof(struct ztpd_storage_backend, ping));
    ts.next_check = mono_ms() + HEALTH_UP_MS;
    int quitting = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->in.head && !quitting)
            wait_for_work(s, &ts);
        struct ztpd_store_op *op = q_pop(&s->in);
        if (!op)
            break;
        if (op == &s->stop_marker) {
            /* Everything queued after stop() is answered without running it; the marker
             * goes back to the loop too, so it knows which answers were refusals. */
            quitting = 1;
            q_push(&s->done, op);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        if (quitting)
            op->status = ZTPD_STORAGE_EUNAVAIL;
        else
            run_op(s, op, &ts);
        pthread_mutex_lock(&s->mu);
        q_push(&s->done, op);
        /* Sends coalesce: the loop drains the whole done queue on each wakeup. */
        uv_async_send(&s->async);
    }
    s->thread_exited = 1;
    uv_async_send(&s->async);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --- loop side --- */

static void on_closed(uv_handle_t *handle)
{
    struct ztpd_store *s = handle->data;
    if (--s->open_handles > 0)
        return;
    s->state = ST_STOPPED;
    deliver(s, q_take_all(&s->late));
    if (s->stop_cb)
        s->stop_cb(s->stop_arg);
}

static void finish_stop(struct ztpd_store *s)
{
    /* The thread has left its loop (it set thread_exited last): this join does not wait on
     * the database. */
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
    s->state = ST_CLOSING;
    pthread_mutex_lock(&s->mu);
    struct ztpd_store_op *rest = q_take_all(&s->done);
    pthread_mutex_unlock(&s->mu);
    deliver(s, rest);
    s->open_handles = 2;
    uv_close((uv_handle_t *)&s->async, on_closed);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

static void on_async(uv_async_t *a)
{
    struct ztpd_store *s = a->data;
    pthread_mutex_lock(&s->mu);
    struct ztpd_store_op *ops = q_take_all(&s->done);
    pthread_mutex_unlock(&s->mu);
    deliver(s, ops);
    if (s->state != ST_STOPPING)
        return;
    pthread_mutex_lock(&s->mu);
    int exited = s->thread_exited;
    pthread_mutex_unlock(&s->mu);
    if (exited)
        finish_stop(s);
}

static void enqueue(struct ztpd_store *s, struct ztpd_store_op *op)
{
    pthread_mutex_lock(&s->mu);
    q_push(&s->in, op);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void flush(struct ztpd_store *s, int final);

static void on_timer(uv_timer_t *t)
{
    struct ztpd_store *s = t->data;
    s->timer_armed = 0;
    flush(s, 0);
}

static void arm_timer(struct ztpd_store *s)
{
    if (s->state != ST_RUNNING || s->timer_armed)
        return;
    s->timer_armed = 1;
    /* storage.flush_interval_ms (100 by default): how long batched writes wait for company. */
    uint64_t flush_ms = s->cfg && s->cfg->storage_flush_interval_ms > 0
                            ? (uint64_t)s->cfg->storage_flush_interval_ms
                            : 100;
    uv_timer_start(&s->timer, on_timer, s->batch_failing ? s->retry_ms : flush_ms, 0);
}

/* The backend answers again: rows that waited through the outage go now rather than at the
 * end of their backoff. */
static void backend_back(struct ztpd_store *s)
{
    if (s->state != ST_RUNNING || !s->batch_failing)
        return;
    s->retry_ms = RETRY_MIN_MS;
    if (s->timer_armed) {
        uv_timer_stop(&s->timer);
        s->timer_armed = 0;
    }
    flush(s, 0);
    if (ztpd_batch_size(&s->batch))
        arm_timer(s);
}

/* One warning when request rows start being dropped, one summary once rows flow again:
 * an outage must not turn into a warning per provisioning request. */
static void warn_drops_started(struct ztpd_store *s)
{
    if (s->batch.dropped && !s->drop_warned) {
        LOG_W(LOG_MOD, "request log backlog full (%d rows): dropping the oldest rows",
              PENDING_REQUESTS_MAX);
        s->drop_warned = 1;
    }
}

static void warn_drops_ended(struct ztpd_store *s)
{
    if (s->batch.dropped)
        LOG_W(LOG_MOD, "%zu request log rows were dropped while the backlog was full",
              s->batch.dropped);
    s->batch.dropped = 0;
    s->drop_warned = 0;
}

static void batch_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct batch_op *b = (struct batch_op *)op;
    struct ztpd_batch_rows *rows = &b->rows;
    for (;;) {
        size_t rejected = rows->n_touches, rejected_reg = rows->n_regs;
        int st = be->begin(h);
        int began = st == ZTPD_STORAGE_OK;
        for (size_t i = 0; st == ZTPD_STORAGE_OK && i < rows->n_touches; i++) {
            st = be->device_touch(h, rows->touches[i].mac, rows->touches[i].at);
            /* The device was deleted since the request: nothing to record. */
            if (st == ZTPD_STORAGE_ENOTFOUND)
                st = ZTPD_STORAGE_OK;
            if (st == ZTPD_STORAGE_EINVAL)
                rejected = i;
        }
        for (size_t i = 0; st == ZTPD_STORAGE_OK && i < rows->n_regs; i++) {
            const struct ztpd_batch_reg *g = &rows->regs[i];
            st = g->remove ? be->registration_delete(h, g->rec.id)
                           : be->registration_upsert(h, &g->rec, NULL);
            /* Removed meanwhile (a cleanup, or its delete is in this batch): nothing to do. */
            if (st == ZTPD_STORAGE_ENOTFOUND)
                st = ZTPD_STORAGE_OK;
            if (st == ZTPD_STORAGE_EINVAL)
                rejected_reg = i;
        }
        if (st == ZTPD_STORAGE_OK && rows->n_reqs) {
            st = be->request_append(h, rows->reqs, rows->n_reqs);
            if (st == ZTPD_STORAGE_OK)
                st = be->request_trim(h, REQUEST_KEEP);
        }
        if (st == ZTPD_STORAGE_OK)
            st = be->commit(h);
        /* Only undo a transaction this batch began: if begin itself failed, whatever is open
         * belongs to someone else. */
        if (st != ZTPD_STORAGE_OK && began)
            be->rollback(h);
        if (rejected_reg < rows->n_regs) {
            rows->regs[rejected_reg] = rows->regs[--rows->n_regs];
            continue;
        }
        if (rejected == rows->n_touches) {
            op->status = st;
            return;
        }
        /* A rejected touch (a bogus MAC) must not hold up the rest of the batch, but it may
         * have ended the transaction (PostgreSQL, see storage.h): drop it and start over.
         * Each round drops one row, so this ends. */
        rows->touches[rejected] = rows->touches[--rows->n_touches];
    }
}

static size_t rows_count(const struct ztpd_batch_rows *r)
{
    return r->n_touches + r->n_reqs + r->n_regs;
}

static void batch_done(struct ztpd_store_op *op)
{
    struct batch_op *b = (struct batch_op *)op;
    struct ztpd_store *s = b->s;
    size_t n = b->n_rows;
    s->flushes_inflight--;
    s->inflight_rows -= n;
    int retry = op->status == ZTPD_STORAGE_EUNAVAIL || op->status == ZTPD_STORAGE_EIO;
    if (op->status == ZTPD_STORAGE_OK) {
        if (s->batch_failing)
            LOG_I(LOG_MOD, "batched writes resumed (%zu rows written)", n);
        s->batch_failing = 0;
        warn_drops_ended(s);
    } else if (retry && s->state == ST_RUNNING) {
        /* Warn once per outage, not on every retry; retries back off so a long outage does
         * not keep the storage thread busy. */
        if (!s->batch_failing) {
            LOG_W(LOG_MOD, "batched writes failed (%s): keeping rows and retrying",
                  ztpd_store_strstatus(op->status));
            s->retry_ms = RETRY_MIN_MS;
        } else if (s->retry_ms < RETRY_MAX_MS) {
            s->retry_ms = s->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : s->retry_ms * 2;
        }
        s->batch_failing = 1;
        ztpd_batch_putback(&s->batch, &b->rows);
        warn_drops_started(s);
    } else {
        LOG_W(LOG_MOD, "%zu batched rows not written: %s", n, ztpd_store_strstatus(op->status));
    }
    ztpd_batch_rows_free(&b->rows);
    free(b);
    if (ztpd_batch_size(&s->batch))
        arm_timer(s);
}

/* Hands the collected rows to the storage thread as one op. Only one flush is in flight at a
 * time, so rows put back after a failure are always older than the ones collected since;
 * the final flush at stop() goes regardless. */
static void flush(struct ztpd_store *s, int final)
{
    if (!ztpd_batch_size(&s->batch) || (s->flushes_inflight && !final))
        return;
    struct batch_op *b = calloc(1, sizeof *b);
    if (!b || ztpd_batch_take(&s->batch, &b->rows) != 0) {
        free(b);
        LOG_W(LOG_MOD, "out of memory while flushing batched rows; retrying");
        arm_timer(s);
        return;
    }
    b->op.run = batch_run;
    b->op.done = batch_done;
    b->s = s;
    b->final = final;
    s->flushes_inflight++;
    b->n_rows = rows_count(&b->rows);
    s->inflight_rows += b->n_rows;
    enqueue(s, &b->op);
}

int ztpd_store_start(struct ztpd_store *s)
{
    if (s->state != ST_OPEN)
        return ZTPD_EINVAL;
    if (uv_async_init(s->loop, &s->async, on_async) != 0)
        return ZTPD_EIO;
    uv_timer_init(s->loop, &s->timer);
    s->async.data = s;
    s->timer.data = s;
    /* Signals belong to the loop thread (uv_signal); the storage thread blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&s->thread, NULL, store_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        LOG_E(LOG_MOD, "cannot start the storage thread: %s", strerror(r));
        s->state = ST_CLOSING;
        s->open_handles = 2;
        uv_close((uv_handle_t *)&s->async, on_closed);
        uv_close((uv_handle_t *)&s->timer, on_closed);
        return ZTPD_EIO;
    }
    s->thread_started = 1;
    s->state = ST_RUNNING;
    if (ztpd_batch_size(&s->batch))
        arm_timer(s);
    return 0;
}

void ztpd_store_submit(struct ztpd_store *s, struct ztpd_store_op *op)
{
    op->next = NULL;
    op->status = ZTPD_STORAGE_OK;
    switch (s->state) {
    case ST_OPEN:
    case ST_RUNNING:
        enqueue(s, op);
        return;
    case ST_STOPPING:
        /* Still through the thread (it refuses ops behind the stop marker), or straight to
         * the done queue once it is gone: either way done() keeps submission order. */
        pthread_mutex_lock(&s->mu);
        if (s->thread_exited) {
            op->status = ZTPD_STORAGE_EUNAVAIL;
            q_push(&s->done, op);
            uv_async_send(&s->async);
        } else {
            q_push(&s->in, op);
            pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        return;
    case ST_CLOSING:
        op->status = ZTPD_STORAGE_EUNAVAIL;
        q_push(&s->late, op);
        return;
    case ST_STOPPED:
        op->status = ZTPD_STORAGE_EUNAVAIL;
        if (op->done)
            op->done(op);
        return;
    }
}

static int accepting_rows(struct ztpd_store *s)
{
    return s->state == ST_OPEN || s->state == ST_RUNNING;
}

void ztpd_store_touch(struct ztpd_store *s, const char *mac, int64_t at)
{
    if (!mac || strnlen(mac, ZTPD_S_MAC) != ZTPD_S_MAC - 1)
        return;
    if (!accepting_rows(s)) {
        LOG_D(LOG_MOD, "touch of %s after stop: not written", mac);
        return;
    }
    if (ztpd_batch_touch(&s->batch, mac, at > 0 ? at : (int64_t)time(NULL)) != 0)
        LOG_W(LOG_MOD, "out of memory: last_provisioned of %s not recorded", mac);
    arm_timer(s);
}

void ztpd_store_registration(struct ztpd_store *s, const struct ztpd_registration_rec *r,
                             int remove)
{
    if (!r || r->id <= 0)
        return;
    if (!accepting_rows(s)) {
        LOG_D(LOG_MOD, "registration row %lld after stop: not written", (long long)r->id);
        return;
    }
    if (ztpd_batch_registration(&s->batch, r, remove) != 0)
        LOG_W(LOG_MOD, "out of memory: registration of extension %s not recorded", r->extension);
    arm_timer(s);
}

void ztpd_store_log_request(struct ztpd_store *s, const struct ztpd_request_rec *r)
{
    if (!r)
        return;
    if (!accepting_rows(s)) {
        LOG_D(LOG_MOD, "request log row after stop: not written");
        return;
    }
    struct ztpd_request_rec row = *r;
    if (row.at <= 0)
        row.at = (int64_t)time(NULL);
    /* Phones (and scanners) send arbitrary bytes; one invalid row would fail the batch. */
    ztpd_utf8_scrub(row.path);
    ztpd_utf8_scrub(row.user_agent);
    ztpd_utf8_scrub(row.ip);
    if (ztpd_batch_request(&s->batch, &row) != 0)
        LOG_W(LOG_MOD, "out of memory: request log row dropped");
    warn_drops_started(s);
    arm_timer(s);
}

int ztpd_store_is_up(const struct ztpd_store *s)
{
    return s->up;
}

size_t ztpd_store_pending(const struct ztpd_store *s)
{
    return ztpd_batch_size(&s->batch) + s->inflight_rows;
}

void ztpd_store_stop(struct ztpd_store *s, void (*cb)(void *arg), void *arg)
{
    if (s->state == ST_OPEN) {
        /* Never started: no thread to run anything and no handles to close. */
        s->state = ST_STOPPED;
        pthread_mutex_lock(&s->mu);
        struct ztpd_store_op *ops = q_take_all(&s->in);
        pthread_mutex_unlock(&s->mu);
        refuse_chain(ops);
        if (cb)
            cb(arg);
        return;
    }
    if (s->state != ST_RUNNING) {
        LOG_W(LOG_MOD, "stop called twice; ignored");
        return;
    }
    s->stop_cb = cb;
    s->stop_arg = arg;
    uv_timer_stop(&s->timer);
    s->timer_armed = 0;
    flush(s, 1);
    s->state = ST_STOPPING;
    enqueue(s, &s->stop_marker);
}

void ztpd_store_free(struct ztpd_store *s)
{
    if (!s)
        return;
    if (s->state != ST_OPEN && s->state != ST_STOPPED) {
        /* The thread or uv handles still use s: leaking beats a use-after-free. */
        LOG_E(LOG_MOD, "ztpd_store_free before ztpd_store_stop completed; store leaked");
        return;
    }
    refuse_chain(q_take_all(&s->in));
    refuse_chain(q_take_all(&s->late));
    if (ztpd_batch_size(&s->batch))
        LOG_W(LOG_MOD, "%zu batched rows discarded (store never started)",
              ztpd_batch_size(&s->batch));
    if (s->mod && s->h)
        s->mod->be->close(s->h);
    ztpd_loader_close(s->mod);
    ztpd_batch_free(&s->batch);
    if (s->pg_password) {
        /* volatile: a memset right before free() may otherwise be optimized away. */
        for (volatile char *p = s->pg_password; *p; p++)
            *p = '\0';
        free(s->pg_password);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
