/* SPDX-License-Identifier: MIT */
/*
 * core's configuration (config.c): the daemon's settings (ad_config_t), read
 * from flags, then AGENTD_* variables, then defaults; the option table
 * --help, the man page and shell completion are made from.
 */
#ifndef AD_CORE_CONFIG_H
#define AD_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/core.h"

/* ---- configuration --------------------------------------------------------
 * Settings come from command-line flags, then AGENTD_* environment
 * variables, then defaults. Every setting is one row of the option table in
 * config.c, which also generates --help; add a field here and a row there.
 */
typedef struct {
    char listen_host[256];
    int listen_port; /* 0 = pick a free port */
    char data_dir[4096];
    ad_log_level_t log_level;
    ad_log_format_t log_format;
    bool durability_full;
    char token[256];          /* the owner token, read from token_file */
    char token_file[4096];    /* "": <data-dir>/owner-token */
    char sandbox[8];          /* auto or off */
    char sandbox_paths[4096]; /* comma-separated, read-only in every sandbox */
    char cors_origins[1024];  /* comma-separated; empty = same origin only */
    /* accounts (src/auth) */
    char auth_mode[16]; /* token or none */
    char allowed_hosts[1024];
    char tls_cert[4096];
    char tls_key[4096];
    char redis_url[512];       /* "": no Redis */
    char redis_key_file[4096]; /* signs Redis messages ("": <data-dir>/redis.key) */
    char plane_id[64];         /* this control plane's id ("": made at start) */
    char advertise_url[512];   /* where others reach it ("": unsaid) */
    /* comma-separated data dirs of planes on this host whose held runs this
     * one may take over (src/run/hold.c) */
    char takeover_dirs[4096];
    char database_url[1024]; /* --database: "" SQLite in the data dir; postgres:// (db) */
    /* JWTs (src/auth/jwt.c): off unless a key is given */
    char otlp_endpoint[1024];          /* OpenTelemetry: where spans go (src/otel); "": nowhere */
    char otlp_headers[1024];           /* "Name=value,..." on every OTLP post (loaded) */
    char otlp_headers_file[4096];      /* where they are read from ("": the environment) */
    bool otlp_receive;                 /* /v1/traces etc. from runs (src/otel, src/api/otlp.c) */
    char project_sync_roots[4096];     /* folders projects may sync with (comma-separated) */
    uint64_t project_sync_interval_ms; /* how often synced folders are read (0: never) */
    char jwt_secret_file[4096];        /* HS256 shared secret */
    char jwt_public_key[4096];         /* PEM: RS256 (RSA) or ES256 (P-256) */
    char jwt_issuer[256];
    char jwt_audience[256];
    char jwt_org_claim[64];
    char jwt_scope_claim[64];
    char jwt_max_scope[16];
    uint64_t jwt_leeway_s;
    uint64_t token_rate_per_minute;
    uint64_t shutdown_grace_ms;
    /* agent processes (src/proc) */
    uint64_t max_line_bytes;
    uint64_t stop_grace_ms;
    uint64_t agent_nice;
    /* HTTP limits */
    uint64_t max_header_bytes;
    uint64_t max_header_count;
    uint64_t max_url_bytes;
    uint64_t max_body_bytes;
    uint64_t max_connections;
    uint64_t idle_timeout_ms;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t max_unix_connections;           /* the unix socket's own budget */
    uint64_t max_connections_per_address;    /* TCP, per remote address */
    uint64_t max_connections_per_token;      /* TCP, per credential (0: no cap) */
    uint64_t max_websockets_per_token;       /* per credential (0: no cap) */
    uint64_t send_queue_total_bytes;         /* every connection's send queues (0: no bound) */
    uint64_t max_buffered_bytes_per_address; /* request bodies held, per TCP address */
    uint64_t max_body_bytes_per_minute;      /* request bodies per credential (0: no cap) */
    uint64_t audit_noise_interval_ms;        /* unauthenticated refusals: one row per address */
    /* WebSocket limits */
    uint64_t ws_max_message_bytes;
    bool ws_deflate; /* permessage-deflate answered when offered */
    bool io_uring;   /* the flush's sends batched (src/http/sendbatch.c) */
    uint64_t ws_send_queue_bytes;
    uint64_t ws_ping_interval_ms;
    uint64_t ws_idle_timeout_ms;
    /* Agent executables (name looked up on PATH, or a path) */
    char claude_bin[1024];
    char codex_bin[1024];
    char gemini_bin[1024];
    /* Event bus */
    uint64_t event_ring_bytes;
    uint64_t event_replay_bytes; /* every replay's bytes held at once (0: no bound) */
    uint64_t event_retention_bytes;
    uint64_t event_retention_seconds;
    /* git worktrees */
    char worktree_base[4096]; /* empty = beside the repository */
    /* host health (src/health) and /metrics */
    uint64_t health_interval_ms;       /* 0: no sampling */
    uint64_t health_event_interval_ms; /* 0: no system_health events */
    uint64_t health_retention_seconds; /* the history on disk: samples older go */
    uint64_t health_retention_bytes;   /* and the oldest go past this many bytes */
    char alert_webhook_allow[4096];    /* private hosts/addresses webhooks may reach */
    char nvml_lib[4096];               /* empty: the usual library names */
    bool metrics_public;               /* /metrics without a token */
    /* agents outliving the daemon (src/hold) */
    bool hold_agents;       /* agents run under holders */
    bool keep_agents;       /* a clean shutdown leaves held agents running */
    uint64_t hold_wait_sec; /* a holder waits this long for a daemon after the exit */
    /* worker nodes (issue #34, src/node) */
    uint64_t node_lease_ms;    /* a node's lease; it renews every third of it */
    uint64_t node_grace_ms;    /* unreachable this long: its runs are lost */
    char node_autoscale[1024]; /* the autoscaling hook's JSON file ("": none; src/fleet) */
    /* Web Push (issue #76, src/push) */
    char push_subject[256];      /* the VAPID sub claim: a mailto: or https: contact */
    bool push_insecure_loopback; /* endpoints on http://127.0.0.1 taken (tests) */
} ad_config_t;

/* Fills cfg with defaults, then the environment. Returns 0 or AD_EINVAL with
 * a one-line message in err (naming the variable). */
int ad_config_load_env(ad_config_t *cfg, char *err, size_t errsz);
/* Applies the flags in argv[0..argc) (no program or command name). Stops at
 * the first non-option argument and returns its index in *rest. Returns 0,
 * AD_EINVAL with a one-line message in err, 1 when --help was given, or 2
 * for --version. */
int ad_config_parse_args(ad_config_t *cfg, int argc, char **argv, int *rest, char *err,
                         size_t errsz);
/* Checks the options against each other once all are read: --auth is
 * token or none, and none only on a loopback address; --tls-cert and
 * --tls-key come together. Returns 0 or AD_EINVAL with a message. */
int ad_config_check(const ad_config_t *cfg, char *err, size_t errsz);
/* Reads --token-file into cfg->token and checks it (its mode, 0600 and
 * ours; at least AD_TOKEN_MIN_CHARS). 0, or AD_EINVAL with a message. */
int ad_config_token_load(ad_config_t *cfg, char *err, size_t errsz);
/* The OTLP headers into cfg->otlp_headers: --otlp-headers-file's one line
 * (the file 0600), else OTEL_EXPORTER_OTLP_HEADERS (issue #73: never the
 * command line). 0 or AD_EINVAL with err. */
int ad_config_otlp_headers_load(ad_config_t *cfg, char *err, size_t errsz);
/* 128 bits of a hex token; a shorter owner token is refused. */
#define AD_TOKEN_MIN_CHARS 32
/* Whether host (a name or an address) is this machine's loopback. */
bool ad_host_is_loopback(const char *host);
/* This daemon's base URL, "http://host:port" ("https" with --tls-cert; an
 * IPv6 host in brackets), into out. loopback: a wildcard listen address
 * ("", 0.0.0.0, ::) is given as its loopback (127.0.0.1, ::1), as is a
 * NULL cfg. */
void ad_config_base_url(const ad_config_t *cfg, int port, bool loopback, char *out, size_t outsz);
/* Prints the options with their variables and defaults, GNU style. */
void ad_config_print_help(FILE *out);
/* One row of the option table, for what else is made from it (man pages,
 * shell completion): flag without "--" (NULL: environment only), its
 * variable, value name, default ("" or NULL: none or computed), help line,
 * and whether it is a switch. All static strings. */
typedef struct {
    const char *flag;
    const char *env;
    const char *metavar;
    const char *def;
    const char *help;
    bool is_bool;
} ad_config_opt_t;
/* The number of rows, and row i (0 <= i < count) into out. */
size_t ad_config_opt_count(void);
void ad_config_opt_get(size_t i, ad_config_opt_t *out);
/* Fills in the default data dir ($XDG_DATA_HOME/agentd or
 * ~/.local/share/agentd). Returns 0 or AD_EINVAL when neither is known. */
int ad_config_default_data_dir(char *out, size_t outsz);

#endif
