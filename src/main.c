/* SPDX-License-Identifier: MIT */
/*
 * agentd's entry point: parses the command line and configuration, then
 * either runs the daemon (serve) or hands over to a client command. Wiring
 * only; each subsystem owns its own work.
 */
#include "hold/hold.h"
#include "run/run.h"
#include "api/api.h"
#include "auth/auth.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "cluster/cluster.h"
#include "core/core.h"
#include "engines.h"
#include "git/git.h"
#include "http/http.h"
#include "node/node.h"
#include "otel/otel.h"
#include "proc/proc.h"
#include "store/store.h"
#include "tables/crews.h"
#include "tables/series.h"
#include "ws/ws.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define EXIT_USAGE 2

typedef struct {
    ad_config_t cfg;
    uv_loop_t *loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    ad_pidlock_t lock;
    ad_server_t *server;
    ad_store_t *store;
    ad_auth_t *auth;
    ad_procs_t *procs;
    ad_runner_t *runner;
    ad_bus_t *bus;
    ad_cluster_t *cluster; /* --redis-url, or NULL */
    ad_planes_t *planes;   /* this control plane's heartbeat and run leases */
    ad_plane_t *plane;     /* worker nodes (src/node) */
    ad_otel_t *otel;       /* spans kept and exported, OTLP received (src/otel), or NULL */
    ad_app_t app;
    ad_listen_fds_t inherited; /* socket activation's listeners, or -1s */
    bool stopping;
    bool start_failed; /* the server could not listen (or a part start) */
} daemon_t;

/* Closes what the daemon's parts keep open, each through its own close
 * call (their memory goes in their close callbacks), so uv_run returns
 * once they are gone. The server has closed already. Order: the bus
 * queues its last events; whatever still writes to the store hands over
 * its last writes (the engines, the spans, the audit's count); the store
 * commits what is queued (delivering every run's end) and closes, then the
 * runner and the supervisor (whose processes have all exited), the engines
 * (src/engines.c), auth, and the bus. */
static void close_parts(daemon_t *d)
{
    ad_cluster_close(d->cluster);
    d->cluster = NULL;
    d->app.cluster = NULL;
    ad_planes_close(d->planes);
    d->planes = NULL;
    d->app.planes = NULL;
    if (d->bus != NULL) {
        ad_bus_stop(d->bus);
    }
    ad_engines_stop(&d->app);     /* the history's last minute, the alerts: before the store */
    ad_otel_store_close(d->otel); /* the runs' last spans are written with the last writes */
    ad_auth_store_done(d->auth);  /* the audit's last count of unauthenticated requests */
    ad_store_close(d->store);
    d->store = NULL;
    d->app.store = NULL; /* late git completions then skip their writes */
    ad_runner_free(d->runner);
    d->runner = NULL;
    d->app.runner = NULL;
    ad_procs_free(d->procs);
    d->procs = NULL;
    ad_plane_free(d->plane); /* its relays' peers (held processes) are gone */
    d->plane = NULL;
    d->app.plane = NULL;
    ad_otel_close(d->otel); /* after every run's end: their spans go with the last post */
    d->otel = NULL;
    d->app.otel = NULL;
    ad_engines_close(&d->app);
    ad_auth_close(d->auth);
    d->auth = NULL;
#ifdef AD_TEST_BUILD
    ad_test_routes_close();
#endif
    ad_bus_free(d->bus);
    d->bus = NULL;
    /* embedded in the (static) daemon: nothing to free when they close */
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
}

/* The server has finished its answers and closed its sockets. */
static void on_server_closed(void *ud)
{
    close_parts(ud);
}

/* Every queued write (the runs' ends, which answer pending stop requests)
 * has committed and been delivered: now the server may close. */
static void on_store_drained(int rc, void *ud)
{
    daemon_t *d = ud;
    AD_UNUSED(rc);
    ad_server_close(d->server, on_server_closed, d);
}

/* Every agent process has exited (within --shutdown-grace-ms). */
static void on_procs_stopped(void *ud)
{
    daemon_t *d = ud;
    ad_store_flush(d->store, on_store_drained, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    if (d->stopping) {
        ad_log(AD_LOG_WARN, "main", "second signal, exiting now signal=%d", signum);
        ad_procs_free(d->procs); /* SIGKILLs and reaps agents: no orphans */
        exit(1);
    }
    d->stopping = true;
    ad_log(AD_LOG_INFO, "main", "shutting down signal=%s", signum == SIGINT ? "INT" : "TERM");
    ad_git_shutdown(); /* ends running worktree setup commands */
    if (d->cfg.keep_agents) {
        ad_procs_keep_held(d->procs); /* their holders keep them for the next agentd */
    } else if (d->planes != NULL && ad_planes_others_live(d->planes) > 0) {
        /* other control planes go on (issue #77): the runs on nodes are
         * theirs to take over once this plane's leases lapse */
        ad_log(AD_LOG_INFO, "main", "other control planes are up: runs on nodes are left to them");
        ad_procs_keep_remote(d->procs);
        ad_planes_leave(d->planes);
    }
    /* Agents get the grace to end first, while the API still answers. */
    ad_procs_shutdown(d->procs, d->cfg.shutdown_grace_ms, on_procs_stopped, d);
}

/* The data dir (created, locked) and the store. Returns 0, or an exit
 * status after printing why. */
static int open_state(daemon_t *d)
{
    char err[512];
    if (d->cfg.data_dir[0] == '\0') {
        fprintf(stderr, "agentd: no data dir: set --data-dir, AGENTD_DATA_DIR or HOME\n");
        return EXIT_USAGE;
    }
    if (ad_dir_create(d->cfg.data_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        return 1;
    }
    if (ad_pidlock_acquire(&d->lock, d->cfg.data_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        return 1;
    }
    /* Everything agentd makes in the data dir is the owner's alone; what an
     * earlier run (or a hand) left wider is tightened. */
    umask(077);
    ad_dir_secure(d->cfg.data_dir);
    /* this control plane's id among those of its database (issue #39) */
    char given[sizeof(d->cfg.plane_id)];
    snprintf(given, sizeof(given), "%s", d->cfg.plane_id);
    if (ad_planes_id(d->cfg.data_dir, given, d->cfg.plane_id, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        ad_pidlock_release(&d->lock);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    d->loop = uv_default_loop();
    ad_loop_thread_set(); /* before any other thread starts (AD_ASSERT_LOOP) */
    if (ad_store_open_cfg(d->loop, &d->cfg, &d->store, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        uv_loop_close(d->loop);
        ad_pidlock_release(&d->lock);
        return 1;
    }
    ad_store_rolls_start(d->store); /* series stored before the rollup tier */
    if (ad_auth_open(d->loop, &d->cfg, d->store, &d->auth, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        ad_store_close(d->store);
        uv_run(d->loop, UV_RUN_DEFAULT);
        uv_loop_close(d->loop);
        ad_pidlock_release(&d->lock);
        return 1;
    }
    return 0;
}

/* Every part, created in order and registering its routes before the
 * server listens; torn down in reverse by close_parts(). Returns 0, or an
 * error with a message in err (the event log would not open) once every
 * part exists, so close_parts() tears down as usual. */
static int create_parts(daemon_t *d, char *err, size_t errsz)
{
    uv_signal_init(d->loop, &d->sigint);
    uv_signal_init(d->loop, &d->sigterm);
    d->sigint.data = d;
    d->sigterm.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    /* First: the sandbox's probe runs at a thread while the rest starts. */
    d->procs = ad_procs_new(d->loop, d->cfg.data_dir);
    ad_procs_sandbox_init(d->procs, strcmp(d->cfg.sandbox, "off") != 0, d->cfg.data_dir);
    d->server = ad_server_new(d->loop, &d->cfg);
    ad_server_adopt(d->server, &d->inherited);
    ad_auth_attach(d->auth, d->server);
    ad_server_route(d->server, "GET", "/healthz", AD_ACCESS_PUBLIC, ad_http_healthz, NULL);
    d->bus = ad_bus_new(d->loop, &d->cfg);
    /* Before anything publishes: seqs continue after the stored ones. */
    int rc = ad_store_events_attach(d->store, d->bus, d->cfg.event_retention_bytes, d->cfg.plane_id,
                                    err, errsz);
    d->runner = ad_runner_new(d->loop, &d->cfg, d->store, d->bus, d->procs);
    d->plane = ad_plane_new(d->loop, &d->cfg, d->store, d->bus);
    ad_runner_set_plane(d->runner, d->plane); /* before the runs left on nodes are taken up */
    /* Runs a previous daemon left running are lost; the writer runs this
     * before any start that follows. */
    if (rc == 0) {
        ad_runner_reconcile(d->runner, NULL, NULL);
    }
    d->app = (ad_app_t){.loop = d->loop,
                        .cfg = &d->cfg,
                        .server = d->server,
                        .store = d->store,
                        .auth = d->auth,
                        .bus = d->bus,
                        .runner = d->runner,
                        .procs = d->procs,
                        .plane = d->plane,
                        .started_ms = ad_wall_ms()};
    ad_engines_open(&d->app); /* src/engines.c: which, in what order, and why */
    ad_api_register(&d->app);
#ifdef AD_TEST_BUILD
    ad_test_routes_register(d->server);
#endif
    return rc;
}

/* The first line says where the server listens. With token auth, at the
 * first start (when the owner token is made) the owner token follows, once
 * and never again, with a sign-in URL carrying a one-time code in its
 * fragment (never sent in a request: the sign-in page POSTs it); at later
 * starts a hint to `agentd login`, which asks for a new code. All go to
 * stdout, never to the log. */
static void print_listening(const daemon_t *d)
{
    const char *host = d->cfg.listen_host;
    bool v6 = strchr(host, ':') != NULL;
    const char *scheme = d->cfg.tls_cert[0] != '\0' ? "https" : "http";
    char base[400];
    snprintf(base, sizeof(base), "%s://%s%s%s:%d/", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
             ad_server_port(d->server));
    printf("agentd listening on %s\n", base);
    char code[AD_SECRET_MAX];
    int64_t ttl = 0;
    if (ad_auth_required(d->auth) && ad_auth_owner_token_made(d->auth)) {
        printf("agentd owner token (shown once, kept in %s/owner-token): %s\n", d->cfg.data_dir,
               ad_auth_owner_token(d->auth));
        if (ad_auth_login_code(d->auth, code, &ttl) == 0) {
            printf("agentd login: %slogin#code=%s (once, within %lld min; later: agentd login)\n",
                   base, code, (long long)(ttl / 60));
        }
        memset(code, 0, sizeof(code));
    } else if (ad_auth_required(d->auth)) {
        printf("agentd login: run `agentd login` for a sign-in link\n");
    }
    fflush(stdout);
}

/* The org of a crew this node knows (for Redis messages without one). */
static bool crew_org(void *ud, const char *crew_id, char *org)
{
    daemon_t *d = ud;
    json_t *c = NULL;
    if (d->store == NULL || ad_store_crew_get(d->store, crew_id, &c) != 0) {
        return false;
    }
    const char *o = json_string_value(json_object_get(c, "orgId"));
    bool ok = o != NULL && strlen(o) < AD_ID_MAX;
    if (ok) {
        snprintf(org, AD_ID_MAX, "%s", o);
    }
    json_decref(c);
    return ok;
}

static void run_token(void *ud, const char *run_id, char *out, size_t outsz)
{
    ad_otel_run_token(ud, run_id, out, outsz);
}

/* Spans kept beside each run and, with --otlp-endpoint, exported; with
 * --otlp-receive, each run told to send its telemetry to this listener. */
static int start_otel(daemon_t *d, char *err, size_t errsz)
{
    d->otel = ad_otel_new(d->loop, d->bus, d->store, d->cfg.otlp_receive ? d->cfg.data_dir : NULL,
                          d->cfg.otlp_endpoint, d->cfg.otlp_headers, err, errsz);
    if (d->otel == NULL) {
        return AD_EINVAL;
    }
    d->app.otel = d->otel;
    if (d->cfg.otlp_receive) {
        const char *h = d->cfg.listen_host;
        bool any = h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
        bool v6 = strchr(h, ':') != NULL;
        char url[400];
        snprintf(url, sizeof(url), "%s://%s%s%s:%d", d->cfg.tls_cert[0] != '\0' ? "https" : "http",
                 any  ? ""
                 : v6 ? "["
                      : "",
                 any ? "127.0.0.1" : h, !any && v6 ? "]" : "", ad_server_port(d->server));
        ad_runner_set_telemetry(d->runner, url, run_token, d->otel);
    }
    return 0;
}

static int start_cluster(daemon_t *d, char *err, size_t errsz)
{
    if (d->cfg.redis_url[0] == '\0') {
        return 0;
    }
    uint8_t key[32];
    int rc = ad_cluster_key(d->cfg.data_dir, d->cfg.redis_key_file, key, err, errsz);
    rc = rc != 0 ? rc
                 : ad_cluster_start(d->loop, d->bus, d->cfg.redis_url, d->cfg.plane_id, key,
                                    crew_org, d, &d->cluster, err, errsz);
    explicit_bzero(key, sizeof(key));
    d->app.cluster = d->cluster;
    return rc;
}

static void plane_run_id(const char *agent_id, const char *run_id, const char *org,
                         const ad_proc_t *proc, void *ud)
{
    AD_UNUSED(agent_id);
    AD_UNUSED(org);
    AD_UNUSED(proc);
    json_array_append_new(ud, json_string(run_id));
}

/* The runs this plane runs: their leases are renewed with its heartbeat. */
static json_t *plane_runs(void *ud)
{
    daemon_t *d = ud;
    json_t *a = json_array();
    if (d->runner != NULL) {
        ad_runner_each(d->runner, plane_run_id, a);
    }
    return a;
}

/* Other planes' held runs this plane could take up (--takeover-dirs). */
static json_t *plane_held(void *ud)
{
    daemon_t *d = ud;
    return d->runner != NULL && d->cfg.takeover_dirs[0] != '\0'
               ? ad_runner_takeover_candidates(d->runner)
               : NULL;
}

/* A run on a node, or held on this machine, whose plane died is this
 * plane's now: taken up. */
static void plane_take(void *ud, const char *run_id)
{
    daemon_t *d = ud;
    char err[256];
    if (d->runner == NULL || d->stopping) {
        return;
    }
    /* (one this plane ran already, which it had lost and took back, goes
     * on under the new lease epoch: ad_run_node_take_back, issue #77) */
    if (ad_runner_take_up(d->runner, run_id, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "planes", "could not take a run over run=%s why=\"%s\"", run_id, err);
    }
}

/* Another plane took a run of this plane's (issue #77): let go here. */
static void plane_lost(void *ud, const char *run_id)
{
    daemon_t *d = ud;
    if (!d->stopping) {
        ad_plane_run_lease_lost(d->plane, run_id);
    }
}

/* The heartbeat of this control plane, once it listens (its URL known) and
 * the runs left by a previous start are taken up. */
static void start_planes(daemon_t *d)
{
    char url[600];
    if (d->cfg.advertise_url[0] != '\0') {
        snprintf(url, sizeof(url), "%s", d->cfg.advertise_url);
    } else {
        const char *h = d->cfg.listen_host;
        bool any = h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
        bool v6 = strchr(h, ':') != NULL;
        snprintf(url, sizeof(url), "%s://%s%s%s:%d", d->cfg.tls_cert[0] != '\0' ? "https" : "http",
                 any  ? ""
                 : v6 ? "["
                      : "",
                 any ? "127.0.0.1" : h, !any && v6 ? "]" : "", ad_server_port(d->server));
    }
    ad_planes_hooks_t h = {
        .runs = plane_runs, .held = plane_held, .take = plane_take, .lost = plane_lost, .ud = d};
    d->planes = ad_planes_start(d->loop, d->store, d->cfg.plane_id, url, &h);
    d->app.planes = d->planes;
}

/* Freed heap memory glibc keeps mapped (beyond this it gives the top of
 * the heap back). A fan-out turn to 1,000 subscribers allocates and frees
 * ~1,000 8 KiB corks; once connection churn had left them at the top of
 * the heap, glibc trimmed it after every turn and the next turn faulted
 * it back in: 17k page faults a second and 40 % fewer deliveries per
 * CPU-second than a fresh process. The bound keeps a burst's memory for
 * the next one without letting an idle daemon hold more than this. */
#define HEAP_KEEP_BYTES (16 << 20)
/* Blocks below this come from the heap, not from a mapping of their own.
 * glibc raises its threshold (128 KiB at first) as large blocks are freed,
 * but not once M_TRIM_THRESHOLD is set: a list's answer (the month's usage
 * by agent, 139 KB) and its rows were mapped, faulted in page by page and
 * unmapped on every request, 45 page faults each (bench/README, F2). The
 * heap's free pages go back by the trim check (src/http/caps.c). */
#define HEAP_MMAP_BYTES (256 << 10)

static void fail_start(daemon_t *d, const char *err)
{
    fprintf(stderr, "agentd: %s\n", err);
    d->start_failed = true;
    ad_server_close(d->server, NULL, NULL);
    close_parts(d);
}

/* Every part exists and what the start wrote is committed: the server
 * listens (unless a signal came first: the shutdown goes on). */
static void on_parts_stored(int rc, void *ud)
{
    daemon_t *d = ud;
    AD_UNUSED(rc); /* a write that failed is logged by its owner */
    if (d->stopping) {
        return;
    }
    char err[512];
    int r = ad_server_listen(d->server, err, sizeof(err));
    if (r == 0) {
        r = start_otel(d, err, sizeof(err));
    }
    if (r == 0) {
        r = start_cluster(d, err, sizeof(err));
    }
    if (r != 0) {
        fail_start(d, err);
        return;
    }
    start_planes(d);
    /* What start-up freed (the migrations' pages, the parsers of the
     * embedded defaults) lies between what it kept: glibc would hold it
     * until the first trim check a second later (src/http/caps.c). */
    malloc_trim(0);
    /* only now: start-up's large blocks (parsers, the migrations) were
     * mappings of their own and are gone, not holes in the heap */
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_BYTES);
    ad_log(AD_LOG_INFO, "main", "started version=%s pid=%ld data_dir=%s", AD_VERSION,
           (long)getpid(), d->cfg.data_dir);
    print_listening(d);
}

static int serve(daemon_t *d)
{
    mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_BYTES);
    /* One arena for every thread: the workers' allocations (events read
     * for a replay, freed on the loop thread) otherwise land in arenas of
     * their own, which malloc_trim could not give back after a burst (100
     * replays from seq 0: 47 MiB held against 10 MiB with one arena; see
     * src/http/caps.c). Threads still allocate small sizes without the
     * lock, from their tcache. */
    mallopt(M_ARENA_MAX, 1);
    int rc = open_state(d);
    if (rc != 0) {
        return rc;
    }
    char err[512];
    rc = create_parts(d, err, sizeof(err));
    if (rc != 0) {
        fail_start(d, err);
    } else {
        /* what the restart found (runs taken up, runs lost) is committed
         * before anyone can ask: the first answer reads it (issue #33) */
        ad_store_flush(d->store, on_parts_stored, d);
    }
    uv_run(d->loop, UV_RUN_DEFAULT);
    ad_server_free(d->server);
    if (uv_loop_close(d->loop) != 0) {
        ad_log(AD_LOG_WARN, "main", "handles still open at exit");
    }
    ad_pidlock_release(&d->lock);
    ad_log(AD_LOG_INFO, "main", "stopped");
    return rc != 0 || d->start_failed ? 1 : 0;
}

/* `agentd serve`: its options after the command (over the global ones),
 * the inherited listeners, the configuration checked and the token read;
 * then the daemon runs until it stops. */
static int serve_main(daemon_t *d, int cargc, char **cargv)
{
    char err[512];
    int rest = 0;
    int rc = ad_config_parse_args(&d->cfg, cargc, cargv, &rest, err, sizeof(err));
    if (rc == 1 || rc == 2) {
        if (rc == 1) {
            ad_cli_print_serve_usage(stdout);
        } else {
            printf("agentd %s\n", AD_VERSION);
        }
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "agentd serve: %s (see 'agentd serve --help')\n", err);
        return EXIT_USAGE;
    }
    if (rest < cargc) {
        fprintf(stderr, "agentd serve: unexpected argument '%s' (see 'agentd serve --help')\n",
                cargv[rest]);
        return EXIT_USAGE;
    }
    if (getenv("AGENTD_TOKEN") != NULL) {
        fprintf(stderr, "agentd serve: AGENTD_TOKEN is not read any more (an environment is "
                        "inherited and shown to too much): put the token in a file of mode "
                        "0600 and pass --token-file\n");
    }
    /* Socket activation: the listeners a service manager handed over
     * decide where agentd listens (so --auth none's loopback rule and
     * the allowed hosts see the real address). */
    if (ad_listen_fds_take(&d->inherited, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd serve: %s\n", err);
        return 1;
    }
    if (d->inherited.tcp_fd >= 0) {
        snprintf(d->cfg.listen_host, sizeof(d->cfg.listen_host), "%s", d->inherited.host);
        d->cfg.listen_port = d->inherited.port;
    }
    if (ad_config_check(&d->cfg, err, sizeof(err)) != 0 ||
        ad_config_token_load(&d->cfg, err, sizeof(err)) != 0 ||
        ad_config_otlp_headers_load(&d->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd serve: %s\n", err);
        return EXIT_USAGE;
    }
    ad_log_set_level(d->cfg.log_level);
    ad_log_set_format(d->cfg.log_format);
    ad_ws_deflate_allow(d->cfg.ws_deflate);
    return serve(d);
}

int main(int argc, char **argv)
{
    static daemon_t d;
    char err[512];
    /* A holder (src/hold) is exec'd by the supervisor before anything of
     * the daemon's is set up: it reads no configuration. */
    if (argc >= 3 && strcmp(argv[1], "hold") == 0 && strcmp(argv[2], "--net-proxyd") == 0) {
        return ad_hold_net_proxyd(argc - 3, argv + 3); /* not in agentd-hold: see hold.h */
    }
    if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
        return ad_hold_main(argc - 2, argv + 2);
    }
    /* jansson's own out-of-memory paths are not safe (it can assert or
     * read freed state, jansson issue #362): give it agentd's allocator,
     * which aborts with a message instead. */
    json_set_alloc_funcs(ad_xmalloc, free);

    if (ad_config_load_env(&d.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "agentd: %s\n", err);
        return EXIT_USAGE;
    }
    /* Global options come before the command, command options after it;
     * both land in the same configuration. */
    int rest = 0;
    int rc = ad_config_parse_args(&d.cfg, argc - 1, argv + 1, &rest, err, sizeof(err));
    if (rc == 1) {
        ad_cli_print_usage(stdout);
        return 0;
    }
    if (rc == 2) {
        printf("agentd %s\n", AD_VERSION);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "agentd: %s (see 'agentd --help')\n", err);
        return EXIT_USAGE;
    }
    int cmd_index = 1 + rest;
    if (cmd_index >= argc) {
        fprintf(stderr, "agentd: missing command (see 'agentd --help')\n");
        return EXIT_USAGE;
    }
    const char *cmd = argv[cmd_index];
    int cargc = argc - cmd_index - 1;
    char **cargv = argv + cmd_index + 1;

    if (strcmp(cmd, "serve") == 0) {
        return serve_main(&d, cargc, cargv);
    }
    /* agentd node ls|queue|drain|cordon|uncordon|set are the CLI's (issue #77) */
    static const char *const node_cli[] = {"ls",  "queue",  "drain", "cordon", "uncordon",
                                           "set", "events", "token", "--help"};
    bool node_client = false;
    for (size_t i = 0; cargc >= 1 && i < AD_ARRAY_LEN(node_cli); i++) {
        node_client = node_client || strcmp(cargv[0], node_cli[i]) == 0;
    }
    if (strcmp(cmd, "node") == 0 && !node_client) {
        ad_log_set_level(d.cfg.log_level);
        return ad_node_main(&d.cfg, cargc, cargv); /* the worker's role (src/node) */
    }
    if (ad_cli_is_command(cmd)) {
        return ad_cli_main(&d.cfg, cmd, cargc, cargv);
    }
    fprintf(stderr, "agentd: unknown command '%s' (see 'agentd --help')\n", cmd);
    return EXIT_USAGE;
}
