/* The storage thread on a real libuv loop with the sqlite backend: ops run in submission order
 * and are answered on the loop, batched touches and request-log rows reach the database (by
 * the 100 ms timer, and on stop), failed batches are kept and retried, EUNAVAIL shows in
 * ztpd_store_is_up(), submissions after stop are refused, and every test ends with a loop that
 * closes cleanly. The batch module is tested directly too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "config/config.h"
#include "log/log.h"
#include "storage/batch.h"
#include "storage/store.h"
#include "util/error.h"

#define T0 1700000000
#define MAX_OPS 64

struct t {
    uv_loop_t loop;
    struct ztpd_config *cfg;
    struct ztpd_store *s;
    char db[512];
    int stopped;
    int done_order[MAX_OPS];
    int statuses[MAX_OPS];
    int up_at_done[MAX_OPS];
    int n_done;
    int run_order[MAX_OPS]; /* written on the storage thread, read after stop (joined) */
    int n_run;
    int stop_after; /* stop the store once this many ops are done (0: never) */
    uv_timer_t check;
    int phase;
    int64_t count_a, count_b;
};

struct test_op {
    struct ztpd_store_op op; /* first: done() casts back */
    struct t *t;
    int idx;
    struct ztpd_device_rec dev;
    int64_t n;
    char table[32];
};

/* --- fixtures --- */

static void rm_db(const char *db)
{
    char p[600];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static struct ztpd_config *make_cfg(const char *db)
{
    struct ztpd_config *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    cfg->storage_backend = strdup("sqlite");
    cfg->sqlite_path = strdup(db);
    cfg->data_dir = strdup(ZTPD_TEST_TMP);
    return cfg;
}

static void free_cfg(struct ztpd_config *cfg)
{
    free(cfg->storage_backend);
    free(cfg->sqlite_path);
    free(cfg->data_dir);
    free(cfg->module_dir);
    free(cfg);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    snprintf(t->db, sizeof t->db, "%s/store/ztpd.db", ZTPD_TEST_TMP);
    rm_db(t->db);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->cfg = make_cfg(t->db);
    char err[512] = "";
    int r = ztpd_store_open(&t->s, &t->loop, t->cfg, err, sizeof err);
    if (r)
        print_error("open: %s\n", err);
    assert_int_equal(r, 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    ztpd_store_free(t->s);
    /* Every handle closed, nothing left on the loop: this is the "clean loop" check. */
    uv_run(&t->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    free_cfg(t->cfg);
    rm_db(t->db);
    free(t);
    return 0;
}

static void on_stopped(void *arg)
{
    struct t *t = arg;
    t->stopped++;
}

/* --- ops --- */

static void record_run(struct test_op *o)
{
    o->t->run_order[o->t->n_run++] = o->idx;
}

static void run_put(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct test_op *o = (struct test_op *)op;
    record_run(o);
    op->status = be->device_put(h, &o->dev, ZTPD_PUT_INSERT);
}

static void run_count(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct test_op *o = (struct test_op *)op;
    record_run(o);
    op->status = be->count(h, o->table, &o->n);
}

static void run_begin(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    record_run((struct test_op *)op);
    op->status = be->begin(h);
}

static void run_rollback(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    record_run((struct test_op *)op);
    op->status = be->rollback(h);
}

static void run_unavail(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    (void)be, (void)h;
    record_run((struct test_op *)op);
    op->status = ZTPD_STORAGE_EUNAVAIL;
}

static void op_done(struct ztpd_store_op *op)
{
    struct test_op *o = (struct test_op *)op;
    struct t *t = o->t;
    assert_true(t->n_done < MAX_OPS);
    t->done_order[t->n_done] = o->idx;
    t->statuses[t->n_done] = op->status;
    t->up_at_done[t->n_done] = ztpd_store_is_up(t->s);
    t->n_done++;
    if (t->stop_after && t->n_done == t->stop_after)
        ztpd_store_stop(t->s, on_stopped, t);
}

static struct test_op *new_op(struct t *t, int idx, ztpd_store_run_fn run)
{
    struct test_op *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->t = t;
    o->idx = idx;
    o->op.run = run;
    o->op.done = op_done;
    return o;
}

static void set_device(struct test_op *o, int i)
{
    snprintf(o->dev.mac, sizeof o->dev.mac, "0015650000%02x", i);
    snprintf(o->dev.extension, sizeof o->dev.extension, "%d", 1000 + i);
    snprintf(o->dev.vendor, sizeof o->dev.vendor, "yealink");
    snprintf(o->dev.model, sizeof o->dev.model, "t46s");
}

/* Reads back through a second, never-started store: synchronous backend use. */
static void reopen_and_check(struct t *t, const char *mac, int64_t want_touch, int64_t want_reqs)
{
    struct ztpd_store *s2 = NULL;
    char err[512];
    assert_int_equal(ztpd_store_open(&s2, &t->loop, t->cfg, err, sizeof err), 0);
    const struct ztpd_storage_backend *be = ztpd_store_backend(s2);
    void *h = ztpd_store_handle(s2);
    if (mac) {
        struct ztpd_device_rec d;
        assert_int_equal(be->device_get(h, mac, &d), ZTPD_STORAGE_OK);
        assert_int_equal(d.last_provisioned, want_touch);
    }
    int64_t n = -1;
    assert_int_equal(be->count(h, "provisioning_requests", &n), ZTPD_STORAGE_OK);
    assert_int_equal(n, want_reqs);
    ztpd_store_free(s2);
}

static struct ztpd_request_rec request(int i)
{
    struct ztpd_request_rec r;
    memset(&r, 0, sizeof r);
    r.at = T0 + i;
    snprintf(r.path, sizeof r.path, "/provision/%d.cfg", i);
    snprintf(r.ip, sizeof r.ip, "10.0.%d.%d", (i / 250) % 250, i % 250);
    r.status = 200;
    return r;
}

/* --- tests --- */

static void test_open_creates_data_dir(void **state)
{
    struct t *t = *state;
    char dir[512];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/store", ZTPD_TEST_TMP);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(ztpd_store_schema_version(t->s), 2); /* 2: registered_phones.contact */
    assert_string_equal(ztpd_store_backend(t->s)->name, "sqlite");
    assert_non_null(ztpd_store_handle(t->s));
    assert_int_equal(ztpd_store_is_up(t->s), 1);
    assert_int_equal(ztpd_store_pending(t->s), 0);
}

static void test_ops_run_in_order(void **state)
{
    struct t *t = *state;
    enum { N = 20 };
    struct test_op *ops[N + 1];
    /* Submitted before start: they wait for the thread. */
    for (int i = 0; i < 3; i++) {
        ops[i] = new_op(t, i, run_put);
        set_device(ops[i], i);
        ztpd_store_submit(t->s, &ops[i]->op);
    }
    assert_int_equal(ztpd_store_start(t->s), 0);
    for (int i = 3; i < N; i++) {
        ops[i] = new_op(t, i, run_put);
        set_device(ops[i], i);
        ztpd_store_submit(t->s, &ops[i]->op);
    }
    /* A duplicate, then a count that must see all N rows. */
    ops[N] = new_op(t, N, run_put);
    set_device(ops[N], 5);
    ztpd_store_submit(t->s, &ops[N]->op);
    struct test_op *count = new_op(t, N + 1, run_count);
    snprintf(count->table, sizeof count->table, "provisioned_devices");
    ztpd_store_submit(t->s, &count->op);
    t->stop_after = N + 2;

    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->stopped, 1);
    assert_int_equal(t->n_done, N + 2);
    assert_int_equal(t->n_run, N + 2);
    for (int i = 0; i < N + 2; i++) {
        assert_int_equal(t->done_order[i], i);
        assert_int_equal(t->run_order[i], i);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(t->statuses[i], ZTPD_STORAGE_OK);
    assert_int_equal(t->statuses[N], ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(t->statuses[N + 1], ZTPD_STORAGE_OK);
    assert_int_equal(count->n, N);
    for (int i = 0; i <= N; i++)
        free(ops[i]);
    free(count);
}

static void test_batches_flushed_on_stop(void **state)
{
    struct t *t = *state;
    /* Devices written synchronously before start, as startup seeding does. */
    const struct ztpd_storage_backend *be = ztpd_store_backend(t->s);
    struct test_op seed = {0};
    set_device(&seed, 1);
    assert_int_equal(be->device_put(ztpd_store_handle(t->s), &seed.dev, ZTPD_PUT_INSERT), 0);

    assert_int_equal(ztpd_store_start(t->s), 0);
    /* Same MAC three times: one write with the latest time, whatever the arrival order. */
    ztpd_store_touch(t->s, seed.dev.mac, T0 + 20);
    ztpd_store_touch(t->s, seed.dev.mac, T0 + 50);
    ztpd_store_touch(t->s, seed.dev.mac, T0 + 30);
    /* A touch for a device that does not exist must not hold up the rest. */
    ztpd_store_touch(t->s, "00156500ffff", T0 + 40);
    ztpd_store_touch(t->s, "short", T0 + 40);
    for (int i = 0; i < 5; i++) {
        struct ztpd_request_rec r = request(i);
        ztpd_store_log_request(t->s, &r);
    }
    assert_int_equal(ztpd_store_pending(t->s), 2 + 5);
    /* Stop right away, before the 100 ms timer: stop itself must flush. */
    ztpd_store_stop(t->s, on_stopped, t);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->stopped, 1);
    assert_int_equal(ztpd_store_pending(t->s), 0);
    reopen_and_check(t, seed.dev.mac, T0 + 50, 5);
}

static void check_timer_flushed(uv_timer_t *timer)
{
    struct t *t = timer->data;
    /* Nothing but the 100 ms timer can write these rows: wait for it (valgrind is slow). */
    if (ztpd_store_pending(t->s) != 0) {
        assert_true(++t->phase < 200);
        return;
    }
    uv_timer_stop(timer);
    struct test_op *count = new_op(t, 0, run_count);
    snprintf(count->table, sizeof count->table, "provisioning_requests");
    ztpd_store_submit(t->s, &count->op);
    t->stop_after = 1;
    t->check.data = count;
    uv_close((uv_handle_t *)timer, NULL);
}

static void test_timer_flushes_batches(void **state)
{
    struct t *t = *state;
    assert_int_equal(ztpd_store_start(t->s), 0);
    for (int i = 0; i < 3; i++) {
        struct ztpd_request_rec r = request(i);
        ztpd_store_log_request(t->s, &r);
    }
    assert_int_equal(ztpd_store_pending(t->s), 3);
    uv_timer_init(&t->loop, &t->check);
    t->check.data = t;
    uv_timer_start(&t->check, check_timer_flushed, 50, 50);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    struct test_op *count = t->check.data;
    assert_int_equal(t->statuses[0], ZTPD_STORAGE_OK);
    assert_int_equal(count->n, 3);
    free(count);
}

static void late_done(struct ztpd_store_op *op)
{
    struct test_op *o = (struct test_op *)op;
    op_done(op);
    /* Submitting from inside a done callback while stopping is refused too, and in order. */
    if (o->idx == 1) {
        struct test_op *again = new_op(o->t, 3, run_put);
        set_device(again, 3);
        again->op.done = op_done;
        ztpd_store_submit(o->t->s, &again->op);
        o->t->check.data = again;
    }
}

static void submit_in_stop_cb(void *arg)
{
    struct t *t = arg;
    t->stopped++;
    /* After stop completed: answered before submit returns. */
    struct test_op o = {0};
    o.t = t;
    o.idx = 4;
    o.op.run = run_put;
    o.op.done = op_done;
    int before = t->n_done;
    ztpd_store_submit(t->s, &o.op);
    assert_int_equal(t->n_done, before + 1);
    assert_int_equal(o.op.status, ZTPD_STORAGE_EUNAVAIL);
}

static void test_submit_after_stop_refused(void **state)
{
    struct t *t = *state;
    assert_int_equal(ztpd_store_start(t->s), 0);
    struct test_op *a = new_op(t, 0, run_put);
    set_device(a, 0);
    ztpd_store_submit(t->s, &a->op);
    ztpd_store_stop(t->s, submit_in_stop_cb, t);
    struct test_op *b = new_op(t, 1, run_put);
    set_device(b, 1);
    b->op.done = late_done;
    ztpd_store_submit(t->s, &b->op);
    struct test_op *c = new_op(t, 2, run_put);
    set_device(c, 2);
    ztpd_store_submit(t->s, &c->op);
    /* Batched rows after stop are not taken either. */
    struct ztpd_request_rec r = request(1);
    ztpd_store_log_request(t->s, &r);
    ztpd_store_touch(t->s, a->dev.mac, T0);
    assert_int_equal(ztpd_store_pending(t->s), 0);

    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->stopped, 1);
    assert_int_equal(t->n_done, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(t->done_order[i], i);
    assert_int_equal(t->statuses[0], ZTPD_STORAGE_OK);
    for (int i = 1; i < 5; i++)
        assert_int_equal(t->statuses[i], ZTPD_STORAGE_EUNAVAIL);
    assert_int_equal(t->n_run, 1); /* only the op submitted before stop ran */
    free(a);
    free(b);
    free(c);
    free(t->check.data);
}

static void free_done(struct ztpd_store_op *op)
{
    op_done(op);
    free(op);
}

static void retry_check(uv_timer_t *timer)
{
    struct t *t = timer->data;
    if (t->phase == 0) {
        /* A transaction left open by an op makes every flush fail: rows stay pending. */
        assert_true(ztpd_store_pending(t->s) > 0);
        assert_int_equal(ztpd_store_is_up(t->s), 1); /* EIO is not "unavailable" */
        struct test_op *rb = new_op(t, 1, run_rollback);
        rb->op.done = free_done;
        ztpd_store_submit(t->s, &rb->op);
        t->phase = 1;
        uv_timer_start(timer, retry_check, 50, 50);
        return;
    }
    /* Rolled back: the next retry succeeds (polled, as valgrind is slow). */
    if (ztpd_store_pending(t->s) != 0) {
        assert_true(++t->phase < 200);
        return;
    }
    uv_close((uv_handle_t *)timer, NULL);
    ztpd_store_stop(t->s, on_stopped, t);
}

static void test_failed_batch_kept_and_retried(void **state)
{
    struct t *t = *state;
    struct test_op seed = {0};
    set_device(&seed, 7);
    assert_int_equal(
        ztpd_store_backend(t->s)->device_put(ztpd_store_handle(t->s), &seed.dev, ZTPD_PUT_INSERT),
        0);
    assert_int_equal(ztpd_store_start(t->s), 0);
    struct test_op *begin = new_op(t, 0, run_begin);
    begin->op.done = free_done;
    ztpd_store_submit(t->s, &begin->op);
    ztpd_store_touch(t->s, seed.dev.mac, T0 + 7);
    for (int i = 0; i < 4; i++) {
        struct ztpd_request_rec r = request(i);
        ztpd_store_log_request(t->s, &r);
    }
    uv_timer_init(&t->loop, &t->check);
    t->check.data = t;
    uv_timer_start(&t->check, retry_check, 350, 0);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->stopped, 1);
    assert_true(t->phase >= 1);
    reopen_and_check(t, seed.dev.mac, T0 + 7, 4);
}

static void test_is_up_reflects_unavailable(void **state)
{
    struct t *t = *state;
    assert_int_equal(ztpd_store_start(t->s), 0);
    struct test_op *ops[3] = {new_op(t, 0, run_unavail), new_op(t, 1, run_count),
                              new_op(t, 2, run_unavail)};
    snprintf(ops[1]->table, sizeof ops[1]->table, "extensions");
    for (int i = 0; i < 3; i++)
        ztpd_store_submit(t->s, &ops[i]->op);
    t->stop_after = 3;
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->up_at_done[0], 0);
    /* Right after a failure no new reconnect attempt is made: the op queued behind it answers
     * EUNAVAIL at once without running, and the store stays down. */
    assert_int_equal(t->statuses[1], ZTPD_STORAGE_EUNAVAIL);
    assert_int_equal(t->up_at_done[1], 0);
    assert_int_equal(t->up_at_done[2], 0);
    assert_int_equal(ztpd_store_is_up(t->s), 0);
    assert_int_equal(t->n_run, 1);
    for (int i = 0; i < 3; i++)
        free(ops[i]);
}

static void free_test_op(struct ztpd_store_op *op)
{
    op_done(op);
    free(op);
}

/* Phase 1 (1.5 s after an op reported EUNAVAIL, nothing else submitted): the health check has
 * pinged the backend and the store is up again by itself. Then an op runs normally. */
static void on_health_timer(uv_timer_t *timer)
{
    struct t *t = timer->data;
    t->phase = ztpd_store_is_up(t->s) ? 1 : -1;
    struct test_op *o = new_op(t, 1, run_count);
    o->op.done = free_test_op;
    snprintf(o->table, sizeof o->table, "extensions");
    t->stop_after = 2;
    ztpd_store_submit(t->s, &o->op);
}

static void test_health_check_brings_store_back(void **state)
{
    struct t *t = *state;
    assert_int_equal(ztpd_store_start(t->s), 0);
    struct test_op *o = new_op(t, 0, run_unavail);
    o->op.done = free_test_op;
    ztpd_store_submit(t->s, &o->op);
    uv_timer_init(&t->loop, &t->check);
    t->check.data = t;
    uv_timer_start(&t->check, on_health_timer, 1500, 0);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(t->n_done, 2);
    assert_int_equal(t->up_at_done[0], 0);
    assert_int_equal(t->phase, 1);
    assert_int_equal(t->statuses[1], ZTPD_STORAGE_OK);
    assert_int_equal(t->up_at_done[1], 1);
    assert_int_equal(t->n_run, 2);
    uv_close((uv_handle_t *)&t->check, NULL);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
}

static void test_request_caps(void **state)
{
    struct t *t = *state;
    assert_int_equal(ztpd_store_start(t->s), 0);
    /* More than the in-memory cap in one loop turn: the oldest are dropped (with a warning). */
    for (int i = 0; i < 12000; i++) {
        struct ztpd_request_rec r = request(i);
        ztpd_store_log_request(t->s, &r);
    }
    assert_int_equal(ztpd_store_pending(t->s), 10000);
    ztpd_store_stop(t->s, on_stopped, t);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    reopen_and_check(t, NULL, 0, 10000);

    /* The table keeps the newest 10000 across flushes. */
    struct ztpd_store *s2 = NULL;
    char err[512];
    assert_int_equal(ztpd_store_open(&s2, &t->loop, t->cfg, err, sizeof err), 0);
    assert_int_equal(ztpd_store_start(s2), 0);
    for (int i = 0; i < 5; i++) {
        struct ztpd_request_rec r = request(20000 + i);
        ztpd_store_log_request(s2, &r);
    }
    ztpd_store_stop(s2, on_stopped, t);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(t->stopped, 2);
    ztpd_store_free(s2);
    reopen_and_check(t, NULL, 0, 10000);
}

static void test_stop_without_start(void **state)
{
    struct t *t = *state;
    struct test_op *o = new_op(t, 0, run_put);
    set_device(o, 0);
    ztpd_store_submit(t->s, &o->op);
    ztpd_store_stop(t->s, on_stopped, t);
    assert_int_equal(t->stopped, 1);
    assert_int_equal(t->n_done, 1);
    assert_int_equal(t->statuses[0], ZTPD_STORAGE_EUNAVAIL);
    assert_int_equal(t->n_run, 0);
    free(o);
}

static void test_free_without_start_answers_ops(void **state)
{
    struct t *t = *state;
    struct test_op *o = new_op(t, 0, run_put);
    set_device(o, 0);
    ztpd_store_submit(t->s, &o->op);
    ztpd_store_free(t->s);
    t->s = NULL;
    assert_int_equal(t->n_done, 1);
    assert_int_equal(t->statuses[0], ZTPD_STORAGE_EUNAVAIL);
    free(o);
}

static void kill_self_done(struct ztpd_store_op *op)
{
    /* The write is acknowledged: die the hardest way, with no chance to flush or close. */
    if (op->status == ZTPD_STORAGE_OK)
        raise(SIGKILL);
    _exit(4);
}

static void test_acknowledged_write_survives_sigkill(void **state)
{
    struct t *t = *state;
    /* The child gets its own connection: none may cross a fork. */
    ztpd_store_free(t->s);
    t->s = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uv_loop_t loop;
        struct ztpd_store *s = NULL;
        char err[512];
        struct test_op o = {0};
        if (uv_loop_init(&loop) != 0 || ztpd_store_open(&s, &loop, t->cfg, err, sizeof err) != 0 ||
            ztpd_store_start(s) != 0)
            _exit(2);
        set_device(&o, 42);
        o.op.run = run_put;
        o.op.done = kill_self_done;
        o.t = t;
        ztpd_store_submit(s, &o.op);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(3);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst));
    assert_int_equal(WTERMSIG(wst), SIGKILL);

    struct ztpd_store *s2 = NULL;
    char err[512];
    struct ztpd_device_rec d;
    assert_int_equal(ztpd_store_open(&s2, &t->loop, t->cfg, err, sizeof err), 0);
    assert_int_equal(ztpd_store_backend(s2)->device_get(ztpd_store_handle(s2), "00156500002a", &d),
                     ZTPD_STORAGE_OK);
    assert_string_equal(d.extension, "1042");
    ztpd_store_free(s2);
}

static void test_open_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    char err[512] = "";
    struct ztpd_store *s = NULL;
    char db[512];
    snprintf(db, sizeof db, "%s/errors.db", ZTPD_TEST_TMP);
    struct ztpd_config *cfg = make_cfg(db);
    assert_int_equal(uv_loop_init(&loop), 0);

    free(cfg->storage_backend);
    cfg->storage_backend = strdup("nosuch");
    assert_int_equal(ztpd_store_open(&s, &loop, cfg, err, sizeof err), ZTPD_ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "libztpd-nosuch.so"));

    free(cfg->storage_backend);
    cfg->storage_backend = strdup("../sqlite");
    assert_int_equal(ztpd_store_open(&s, &loop, cfg, err, sizeof err), ZTPD_EINVAL);
    assert_non_null(strstr(err, "invalid backend name"));

    /* A data directory that cannot be created (its parent is a file). */
    free(cfg->storage_backend);
    cfg->storage_backend = strdup("sqlite");
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/blocker", ZTPD_TEST_TMP);
    FILE *f = fopen(blocker, "w");
    assert_non_null(f);
    fclose(f);
    free(cfg->sqlite_path);
    cfg->sqlite_path = malloc(600);
    snprintf(cfg->sqlite_path, 600, "%s/sub/ztpd.db", blocker);
    assert_int_equal(ztpd_store_open(&s, &loop, cfg, err, sizeof err), ZTPD_EIO);
    assert_non_null(strstr(err, "cannot create data directory"));
    unlink(blocker);

    ztpd_store_free(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
    free_cfg(cfg);
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_OK), 0);
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_ENOTFOUND), ZTPD_ENOENT);
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_ECONFLICT), ZTPD_EEXIST);
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_EUNAVAIL), ZTPD_EUNAVAIL);
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_ESCHEMA), ZTPD_EABI);
    assert_int_equal(ztpd_store_error(ZTPD_STORAGE_EIO), ZTPD_EIO);
    assert_string_equal(ztpd_store_strstatus(ZTPD_STORAGE_EUNAVAIL), "database unavailable");
    assert_non_null(ztpd_store_strstatus(-99));
}

/* --- the batch module on its own --- */

static void test_batch_dedupe_and_take(void **state)
{
    (void)state;
    struct ztpd_batch b;
    struct ztpd_batch_rows rows;
    ztpd_batch_init(&b, 100);
    char mac[ZTPD_S_MAC];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            snprintf(mac, sizeof mac, "00156500%04x", i);
            assert_int_equal(ztpd_batch_touch(&b, mac, T0 + (round == 1 ? 100 : round)), 0);
        }
    }
    assert_int_equal(ztpd_batch_size(&b), 500);
    assert_int_equal(ztpd_batch_take(&b, &rows), 0);
    assert_int_equal(ztpd_batch_size(&b), 0);
    assert_int_equal(rows.n_touches, 500);
    for (size_t i = 0; i < rows.n_touches; i++)
        assert_int_equal(rows.touches[i].at, T0 + 100);
    ztpd_batch_rows_free(&rows);
    ztpd_batch_free(&b);
}

static void test_batch_request_cap_and_putback(void **state)
{
    (void)state;
    struct ztpd_batch b;
    struct ztpd_batch_rows rows;
    ztpd_batch_init(&b, 10);
    for (int i = 0; i < 15; i++) {
        struct ztpd_request_rec r = request(i);
        assert_int_equal(ztpd_batch_request(&b, &r), 0);
    }
    assert_int_equal(b.dropped, 5);
    assert_int_equal(ztpd_batch_take(&b, &rows), 0);
    assert_int_equal(rows.n_reqs, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(rows.reqs[i].at, T0 + 5 + (int64_t)i);

    /* The write failed; meanwhile 4 newer rows came. Put back: old rows go in front, and the
     * cap drops the oldest of them. */
    b.dropped = 0;
    for (int i = 100; i < 104; i++) {
        struct ztpd_request_rec r = request(i);
        assert_int_equal(ztpd_batch_request(&b, &r), 0);
    }
    ztpd_batch_touch(&b, "001565000001", T0 + 9);
    struct ztpd_batch_touch older = {"001565000001", T0 + 3};
    rows.touches = malloc(sizeof older);
    rows.touches[0] = older;
    rows.n_touches = 1;
    ztpd_batch_putback(&b, &rows);
    assert_int_equal(b.dropped, 4);
    assert_int_equal(ztpd_batch_size(&b), 11);
    assert_int_equal(ztpd_batch_take(&b, &rows), 0);
    assert_int_equal(rows.n_reqs, 10);
    int64_t want[] = {9, 10, 11, 12, 13, 14, 100, 101, 102, 103};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(rows.reqs[i].at, T0 + want[i]);
    assert_int_equal(rows.n_touches, 1);
    assert_int_equal(rows.touches[0].at, T0 + 9);
    ztpd_batch_rows_free(&rows);
    ztpd_batch_free(&b);
}

int main(void)
{
    if (mkdir(ZTPD_TEST_TMP, 0700) != 0 && errno != EEXIST) {
        perror(ZTPD_TEST_TMP);
        return 1;
    }
    /* Warnings stay visible (they are part of what is tested); info lines are noise here. */
    ztpd_log_init(ZTPD_LOG_WARN, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_data_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_run_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_flushed_on_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_flushes_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_after_stop_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_kept_and_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_up_reflects_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_check_brings_store_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_without_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_without_start_answers_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acknowledged_write_survives_sigkill, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_batch_dedupe_and_take),
        cmocka_unit_test(test_batch_request_cap_and_putback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
