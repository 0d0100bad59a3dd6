/* Test harness for the SIP engine (not the daemon): runs the facade on host:port with a fixed
 * extension table and prints JSON lines on stdout: {"ready":...}, one line per binding change
 * and per NOTIFY outcome. Commands, one per line on stdin:
 *   notify <extension> <event>   notify-paced <extension> <event>   bindings   stats   expire
 *   quit
 * Usage: sip_harness [--host H] [--port P] [--transports udp,tcp] [--realm R] [--nonce-ttl S]
 *                    [--min-expires S] --ext NUMBER:PASSWORD ... */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "log/log.h"
#include "sip/sip.h"

#define MAX_EXT 32

static struct {
    char number[64], password[128];
} exts[MAX_EXT];
static int n_ext;
static struct ztpd_sip *sip;
static uv_pipe_t in;
static uv_signal_t sigterm;
static char line[4096];
static size_t line_len;

static void emit(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static int password(const char *ext, char *out, size_t cap, void *arg)
{
    (void)arg;
    for (int i = 0; i < n_ext; i++) {
        if (strcmp(exts[i].number, ext) == 0) {
            snprintf(out, cap, "%s", exts[i].password);
            return 0;
        }
    }
    return -1;
}

static json_t *binding_json(const struct ztpd_sip_binding *b)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "extension", b->extension,
                     "contact", b->contact, "ip", b->ip, "port", b->port, "transport", b->transport,
                     "user_agent", b->user_agent, "mac", b->mac, "mac_source", b->mac_source,
                     "first_registered", (json_int_t)b->first_registered, "last_registered",
                     (json_int_t)b->last_registered, "expires_at", (json_int_t)b->expires_at);
}

static void on_binding(int ev, const struct ztpd_sip_binding *b, void *arg)
{
    (void)arg;
    static const char *names[] = {"", "added", "refreshed", "removed", "expired"};
    json_t *j = json_object();
    json_object_set_new(j, "binding", json_string(names[ev]));
    json_t *fields = binding_json(b);
    json_object_update(j, fields);
    json_decref(fields);
    emit(j);
}

static void on_notify(const struct ztpd_sip_notify_result *r, void *arg)
{
    (void)arg;
    emit(json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "notify", "result", "extension", r->extension,
                   "contact", r->contact, "event", r->event, "result", r->result, "code", r->code));
}

static void add_binding(const struct ztpd_sip_binding *b, void *arg)
{
    json_array_append_new(arg, binding_json(b));
}

static void shutdown_all(void)
{
    if (!sip)
        return;
    ztpd_sip_free(sip);
    sip = NULL;
    uv_close((uv_handle_t *)&in, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
}

static void command(char *cmd)
{
    char *save = NULL;
    char *verb = strtok_r(cmd, " \t", &save);
    if (!verb)
        return;
    if (strcmp(verb, "notify") == 0) {
        char *ext = strtok_r(NULL, " \t", &save);
        char *event = strtok_r(NULL, "", &save);
        int rc = ext && event ? ztpd_sip_notify(sip, ext, event, on_notify, NULL) : -1;
        emit(json_pack("{s:s,s:i}", "notify", "started", "count", rc));
    } else if (strcmp(verb, "notify-paced") == 0) {
        char *ext = strtok_r(NULL, " \t", &save);
        char *event = strtok_r(NULL, "", &save);
        int rc = ext && event ? ztpd_sip_notify_paced(sip, ext, event, on_notify, NULL) : -1;
        emit(json_pack("{s:s,s:i}", "notify", "queued", "count", rc));
    } else if (strcmp(verb, "bindings") == 0) {
        json_t *a = json_array();
        ztpd_sip_bindings_each(sip, NULL, add_binding, a);
        emit(json_pack("{s:o}", "bindings", a));
    } else if (strcmp(verb, "stats") == 0) {
        struct ztpd_sip_stats st;
        ztpd_sip_stats(sip, &st);
        emit(json_pack(
            "{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "stats", "received",
            (json_int_t)st.received, "dropped", (json_int_t)st.dropped, "bad_request",
            (json_int_t)st.bad_request, "retransmissions", (json_int_t)st.retransmissions,
            "responses_stray", (json_int_t)st.responses_stray, "ok", (json_int_t)st.registrar.ok,
            "challenged", (json_int_t)st.registrar.challenged, "stale",
            (json_int_t)st.registrar.stale, "forbidden", (json_int_t)st.registrar.forbidden,
            "bindings", (json_int_t)st.bindings, "server_txns", (json_int_t)st.server_txns,
            "tcp_connections", (json_int_t)st.tcp_connections, "notify_pending",
            (json_int_t)st.notify_pending));
    } else if (strcmp(verb, "expire") == 0) {
        emit(json_pack("{s:I}", "expired", (json_int_t)ztpd_sip_expire_now(sip)));
    } else if (strcmp(verb, "quit") == 0) {
        shutdown_all();
    } else {
        emit(json_pack("{s:s}", "error", "unknown command"));
    }
}

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    (void)s;
    static char buf[4096];
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)s;
    if (n < 0) {
        shutdown_all();
        return;
    }
    for (ssize_t i = 0; i < n && sip; i++) {
        char c = b->base[i];
        if (c == '\n') {
            line[line_len] = '\0';
            line_len = 0;
            command(line);
        } else if (line_len < sizeof line - 1) {
            line[line_len++] = c;
        }
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    shutdown_all();
}

int main(int argc, char **argv)
{
    struct ztpd_sip_config cfg = {.host = "127.0.0.1", .transports = ZTPD_SIP_UDP | ZTPD_SIP_TCP};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s: needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--host") == 0) {
            cfg.host = v;
        } else if (strcmp(a, "--port") == 0) {
            cfg.port = atoi(v);
        } else if (strcmp(a, "--realm") == 0) {
            cfg.realm = v;
        } else if (strcmp(a, "--nonce-ttl") == 0) {
            cfg.nonce_ttl = atoi(v);
        } else if (strcmp(a, "--min-expires") == 0) {
            cfg.registrar.min_expires = atoi(v);
        } else if (strcmp(a, "--transports") == 0) {
            cfg.transports =
                (strstr(v, "udp") ? ZTPD_SIP_UDP : 0) | (strstr(v, "tcp") ? ZTPD_SIP_TCP : 0);
        } else if (strcmp(a, "--ext") == 0) {
            const char *colon = strchr(v, ':');
            if (!colon || n_ext == MAX_EXT) {
                fprintf(stderr, "--ext: expected NUMBER:PASSWORD\n");
                return 2;
            }
            snprintf(exts[n_ext].number, sizeof exts[n_ext].number, "%.*s", (int)(colon - v), v);
            snprintf(exts[n_ext].password, sizeof exts[n_ext].password, "%s", colon + 1);
            n_ext++;
        } else {
            fprintf(stderr, "%s: unknown option\n", a);
            return 2;
        }
    }
    ztpd_log_init(getenv("SIP_HARNESS_DEBUG") ? ZTPD_LOG_DEBUG : ZTPD_LOG_WARN, NULL);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    struct ztpd_sip_callbacks cb = {.password = password, .binding = on_binding};
    if (ztpd_sip_new(&sip, loop, &cfg, &cb) != 0) {
        fprintf(stderr, "cannot start the SIP engine\n");
        return 1;
    }
    uv_pipe_init(loop, &in, 0);
    if (uv_pipe_open(&in, 0) != 0 || uv_read_start((uv_stream_t *)&in, alloc_cb, on_stdin) != 0) {
        fprintf(stderr, "stdin must be a pipe or FIFO\n");
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    emit(json_pack("{s:b,s:i}", "ready", 1, "port", ztpd_sip_port(sip)));
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    ztpd_log_close();
    return rc == 0 ? 0 : 1;
}
