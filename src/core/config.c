/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one table of options, each with its flag, its AGENTD_*
 * variable, its default and its help line. Defaults, the environment and
 * flags all go through the same setter, so a bad default is as loud as a bad
 * flag. Flags win over the environment, which wins over defaults. The
 * table also lists, for --help, the few variables read with getenv() where
 * they are used (T_ENV: no flag, not set here).
 */
#include "config.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* T_ENV: a variable the code that uses it reads with getenv(), listed here
 * only so that --help names it; this file never reads or checks it. */
typedef enum { T_STR, T_U64, T_LISTEN, T_LEVEL, T_LOGFMT, T_DURABILITY, T_BOOL, T_ENV } opt_type_t;

typedef struct {
    const char *flag; /* without the leading "--"; NULL for T_ENV */
    const char *env;
    opt_type_t type;
    size_t off;  /* offset of the field in ad_config_t */
    size_t size; /* for T_STR: size of the char array */
    const char *metavar;
    const char *def; /* NULL: computed (data dir) or empty */
    uint64_t min, max;
    const char *help;
} opt_t;

#define STR(field) T_STR, offsetof(ad_config_t, field), sizeof(((ad_config_t *)0)->field)
#define U64(field) T_U64, offsetof(ad_config_t, field), 0
/* A flag alone means true; --flag=false, or the variable set to 0/false. */
#define BOOL(field) T_BOOL, offsetof(ad_config_t, field), 0
/* Read by getenv() where it is used; def is what that code falls back to. */
#define ENV_ONLY NULL

static const opt_t options[] = {
    {"listen", "AGENTD_LISTEN", T_LISTEN, 0, 0, "HOST:PORT", "127.0.0.1:8765", 0, 0,
     "address for HTTP, WebSocket and SSE; port 0 picks a free port"},
    {"data-dir", "AGENTD_DATA_DIR", STR(data_dir), "DIR", NULL, 0, 0,
     "data directory (default $XDG_DATA_HOME/agentd or ~/.local/share/agentd)"},
    {"log-level", "AGENTD_LOG_LEVEL", T_LEVEL, 0, 0, "LEVEL", "info", 0, 0,
     "debug, info, warn or error"},
    {"log-format", "AGENTD_LOG_FORMAT", T_LOGFMT, 0, 0, "FORMAT", "text", 0, 0,
     "text (key=value) or json"},
    {"durability", "AGENTD_DURABILITY", T_DURABILITY, 0, 0, "MODE", "normal", 0, 0,
     "normal (synchronous=NORMAL) or full (fsync every commit)"},
    {"token-file", "AGENTD_TOKEN_FILE", STR(token_file), "FILE", "", 0, 0,
     "a file (mode 0600) holding the owner token, at least 32 characters (default: made at "
     "first start, kept in <data-dir>/owner-token); a token is never taken on the command "
     "line, where every local user can read it"},
    {"sandbox-paths", "AGENTD_SANDBOX_PATHS", STR(sandbox_paths), "LIST", "", 0, 0,
     "comma-separated absolute paths every sandboxed agent may read (tools outside /usr: "
     "/opt/tools, /nix/store); never the data dir"},
    {"sandbox", "AGENTD_SANDBOX", STR(sandbox), "MODE", "auto", 0, 0,
     "auto: every agent runs in a bubblewrap sandbox (its worktree, the system read-only, its "
     "own home; nothing of agentd's); off: agents see what agentd's user can, and only the "
     "owner's organisation may start them"},
    {"auth", "AGENTD_AUTH", STR(auth_mode), "MODE", "token", 0, 0,
     "token: TCP requests need a token or a login session (the unix socket is trusted); none: "
     "no authentication, refused unless --listen is a loopback address"},
    {"allowed-hosts", "AGENTD_ALLOWED_HOSTS", STR(allowed_hosts), "LIST", "", 0, 0,
     "comma-separated Host names accepted besides localhost, the loopback addresses and the "
     "listen address (anything else is refused: DNS rebinding)"},
    {"tls-cert", "AGENTD_TLS_CERT", STR(tls_cert), "FILE", "", 0, 0,
     "PEM certificate (chain) to serve https:// and wss:// on the TCP listener"},
    {"tls-key", "AGENTD_TLS_KEY", STR(tls_key), "FILE", "", 0, 0, "PEM private key for --tls-cert"},
    {"redis-url", "AGENTD_REDIS_URL", STR(redis_url), "URL", "", 0, 0,
     "redis://HOST:PORT: share crew events (graph:{crew_id}, mission:{crew_id}) with other "
     "nodes, and (several control planes on one database) every event with the other planes"},
    {"redis-key-file", "AGENTD_REDIS_KEY_FILE", STR(redis_key_file), "FILE", "", 0, 0,
     "the secret every message over Redis is signed with (mode 0600, 32 characters or more); "
     "nodes sharing a Redis need the same file (default: <data-dir>/redis.key, made at the "
     "first start); messages not signed with it are refused"},
    {"plane-id", "AGENTD_PLANE_ID", STR(plane_id), "ID", "", 0, 0,
     "this control plane's id among the planes sharing one database (default: one made at the "
     "first start and kept in <data-dir>/plane-id)"},
    {"advertise-url", "AGENTD_ADVERTISE_URL", STR(advertise_url), "URL", "", 0, 0,
     "the URL other planes and nodes reach this control plane at (shown in the planes table "
     "and /api/health)"},
    {"takeover-dirs", "AGENTD_TAKEOVER_DIRS", STR(takeover_dirs), "LIST", "", 0, 0,
     "comma-separated data dirs of other control planes on this machine (same user, one "
     "database): when one of them dies, this plane takes over the runs its holders keep "
     "(default: none; the runs on nodes are taken over anyway)"},
    {"database", "AGENTD_DATABASE_URL", STR(database_url), "URL", "", 0, 0,
     "postgres://USER@HOST/DB: keep the tables in this PostgreSQL database (serve, migrated at "
     "start) and the target of 'agentd db migrate' and 'agentd db copy' (default: SQLite, "
     "<data-dir>/agentd.db)"},
    {"project-sync-roots", "AGENTD_PROJECT_SYNC_ROOTS", STR(project_sync_roots), "LIST", "", 0, 0,
     "comma-separated folders under which a workbench project may be kept in sync with a folder "
     "(none: no project may)"},
    {"project-sync-interval-ms", "AGENTD_PROJECT_SYNC_INTERVAL_MS", U64(project_sync_interval_ms),
     "MS", "2000", 0, 3600000, "how often synced project folders are read for changes (0: never)"},
    {"jwt-secret-file", "AGENTD_JWT_SECRET_FILE", STR(jwt_secret_file), "FILE", "", 0, 0,
     "accept HS256 JWTs signed with the secret in this file (mode 0600, at least 32 bytes) as "
     "credentials, beside tokens (docs/security.md)"},
    {"jwt-public-key", "AGENTD_JWT_PUBLIC_KEY", STR(jwt_public_key), "FILE", "", 0, 0,
     "accept RS256 (RSA key) or ES256 (P-256 key) JWTs verified with this PEM public key"},
    {"jwt-issuer", "AGENTD_JWT_ISSUER", STR(jwt_issuer), "ISS", "", 0, 0,
     "the iss a JWT must carry (required with a JWT key)"},
    {"jwt-audience", "AGENTD_JWT_AUDIENCE", STR(jwt_audience), "AUD", "", 0, 0,
     "the aud a JWT must carry or list (required with a JWT key)"},
    {"jwt-org-claim", "AGENTD_JWT_ORG_CLAIM", STR(jwt_org_claim), "NAME", "org", 0, 0,
     "the claim naming the organisation (its id or name) a JWT acts in"},
    {"jwt-scope-claim", "AGENTD_JWT_SCOPE_CLAIM", STR(jwt_scope_claim), "NAME", "scope", 0, 0,
     "the claim naming the scope: read, write or admin (space-separated or an array; the "
     "highest counts)"},
    {"jwt-max-scope", "AGENTD_JWT_MAX_SCOPE", STR(jwt_max_scope), "SCOPE", "admin", 0, 0,
     "the widest scope a JWT may get, whatever its claim says"},
    {"jwt-leeway", "AGENTD_JWT_LEEWAY", U64(jwt_leeway_s), "SECONDS", "60", 0, 3600,
     "clock skew allowed on a JWT's exp and nbf"},
    {"token-rate-per-minute", "AGENTD_TOKEN_RATE_PER_MINUTE", U64(token_rate_per_minute), "N",
     "6000", 0, 100000000,
     "requests per minute an API token may make unless it has its own limit (0: unlimited)"},
    {"cors-origins", "AGENTD_CORS_ORIGINS", STR(cors_origins), "LIST", "", 0, 0,
     "comma-separated origins allowed cross-origin (default: none)"},
    {"shutdown-grace-ms", "AGENTD_SHUTDOWN_GRACE_MS", U64(shutdown_grace_ms), "MS", "5000", 0,
     600000, "how long shutdown waits for responses and agents"},
    {"max-line-bytes", "AGENTD_MAX_LINE_BYTES", U64(max_line_bytes), "N", "8388608", 1024,
     1073741824, "longest agent output line kept whole; longer ones are cut with a marker"},
    {"stop-grace-ms", "AGENTD_STOP_GRACE_MS", U64(stop_grace_ms), "MS", "5000", 0, 600000,
     "graceful agent stop: wait after the polite step before SIGTERM, then before SIGKILL"},
    {"agent-nice", "AGENTD_AGENT_NICE", U64(agent_nice), "N", "10", 0, 19,
     "agents run at this nice, below agentd and the user's own programs (0: as agentd)"},
    {"max-header-bytes", "AGENTD_MAX_HEADER_BYTES", U64(max_header_bytes), "N", "16384", 256,
     1048576, "request line and headers size limit (431 past it)"},
    {"max-header-count", "AGENTD_MAX_HEADER_COUNT", U64(max_header_count), "N", "64", 1, 1000,
     "number of request headers allowed (431 past it)"},
    {"max-url-bytes", "AGENTD_MAX_URL_BYTES", U64(max_url_bytes), "N", "8192", 64, 1048576,
     "request target length limit (414 past it)"},
    {"max-body-bytes", "AGENTD_MAX_BODY_BYTES", U64(max_body_bytes), "N", "1048576", 0, 1073741824,
     "request body size limit (413 past it)"},
    {"max-connections", "AGENTD_MAX_CONNECTIONS", U64(max_connections), "N", "10000", 1, 1000000,
     "open TCP connections allowed; more are refused (503; the unix socket has its own budget)"},
    {"idle-timeout-ms", "AGENTD_IDLE_TIMEOUT_MS", U64(idle_timeout_ms), "MS", "60000", 10, 86400000,
     "idle keep-alive connections are closed after this"},
    {"header-timeout-ms", "AGENTD_HEADER_TIMEOUT_MS", U64(header_timeout_ms), "MS", "10000", 10,
     3600000, "a request's headers must arrive within this"},
    {"body-timeout-ms", "AGENTD_BODY_TIMEOUT_MS", U64(body_timeout_ms), "MS", "30000", 10, 3600000,
     "a request's body must arrive within this (an unauthenticated one is refused before it)"},
    {"max-unix-connections", "AGENTD_MAX_UNIX_CONNECTIONS", U64(max_unix_connections), "N", "256",
     1, 1000000, "open unix-socket connections allowed, apart from --max-connections (TCP)"},
    {"max-connections-per-address", "AGENTD_MAX_CONNECTIONS_PER_ADDRESS",
     U64(max_connections_per_address), "N", "4096", 1, 1000000,
     "open TCP connections allowed from one remote address (429 past it)"},
    {"max-connections-per-token", "AGENTD_MAX_CONNECTIONS_PER_TOKEN",
     U64(max_connections_per_token), "N", "4096", 0, 1000000,
     "open TCP connections allowed per token or login session, counted from a request that "
     "carries it (429 past it; 0: no cap)"},
    {"max-websockets-per-token", "AGENTD_MAX_WEBSOCKETS_PER_TOKEN", U64(max_websockets_per_token),
     "N", "2048", 0, 1000000,
     "open WebSockets allowed per token or login session (429 past it; 0: no cap)"},
    {"send-queue-total-bytes", "AGENTD_SEND_QUEUE_TOTAL_BYTES", U64(send_queue_total_bytes), "N",
     "268435456", 0, 1099511627776,
     "bytes all WebSocket and SSE send queues may hold together: past half, replays wait; past "
     "it, the readers holding most are cut with an overflow notice (0: no bound)"},
    {"max-buffered-bytes-per-address", "AGENTD_MAX_BUFFERED_BYTES_PER_ADDRESS",
     U64(max_buffered_bytes_per_address), "N", "268435456", 1024, 1099511627776,
     "request-body bytes held in memory for one remote address at a time (429 past it)"},
    {"max-body-bytes-per-minute", "AGENTD_MAX_BODY_BYTES_PER_MINUTE",
     U64(max_body_bytes_per_minute), "N", "268435456", 0, 1099511627776,
     "request-body bytes one token or login session may send a minute (429 past it; 0: no "
     "cap)"},
    {"audit-noise-interval-ms", "AGENTD_AUDIT_NOISE_INTERVAL_MS", U64(audit_noise_interval_ms),
     "MS", "60000", 100, 86400000,
     "unauthenticated refused requests are audited as one row per address per interval, with "
     "a count"},
    {"otlp-endpoint", "AGENTD_OTLP_ENDPOINT", STR(otlp_endpoint), "URL", "", 0, 0,
     "OpenTelemetry: send agentd's spans (runs, turns, tool calls, approvals, git operations) "
     "as OTLP/HTTP JSON to URL/v1/traces; empty: none"},
    {"otlp-headers-file", "AGENTD_OTLP_HEADERS_FILE", STR(otlp_headers_file), "FILE", "", 0, 0,
     "a file (mode 0600) holding the headers on every OTLP post, Name=value comma-separated "
     "(an API key for the collector); default: OTEL_EXPORTER_OTLP_HEADERS"},
    {ENV_ONLY, "OTEL_EXPORTER_OTLP_HEADERS", T_ENV, 0, 0, "LIST", "", 0, 0,
     "the headers on every OTLP post when --otlp-headers-file is not given (never on the "
     "command line: a collector key there is shown to every user by ps)"},
    {"otlp-receive", "AGENTD_OTLP_RECEIVE", BOOL(otlp_receive), "BOOL", "true", 0, 0,
     "OpenTelemetry: take OTLP/HTTP JSON on /v1/traces, /v1/metrics and /v1/logs from runs "
     "(each run gets TRACEPARENT and OTLP settings with a credential good for its own "
     "telemetry only) and keep their spans beside the transcript; false: runs get "
     "TRACEPARENT only with --otlp-endpoint"},
    {"io-uring", "AGENTD_IO_URING", BOOL(io_uring), "BOOL", "true", 0, 0,
     "send a loop turn's WebSocket and SSE writes to all connections in one io_uring_enter "
     "where the kernel allows it (a sendmsg each otherwise); false: a sendmsg each"},
    {"ws-deflate", "AGENTD_WS_DEFLATE", BOOL(ws_deflate), "BOOL", "true", 0, 0,
     "answer a WebSocket client's permessage-deflate offer (RFC 7692); false: messages go "
     "uncompressed"},
    {"ws-max-message-bytes", "AGENTD_WS_MAX_MESSAGE_BYTES", U64(ws_max_message_bytes), "N",
     "1048576", 125, 1073741824, "largest WebSocket message accepted (1009 past it)"},
    {"ws-send-queue-bytes", "AGENTD_WS_SEND_QUEUE_BYTES", U64(ws_send_queue_bytes), "N", "4194304",
     1024, 1073741824, "bytes queued to one slow WebSocket before it is dropped"},
    {"ws-ping-interval-ms", "AGENTD_WS_PING_INTERVAL_MS", U64(ws_ping_interval_ms), "MS", "30000",
     10, 3600000, "server WebSocket ping interval"},
    {"ws-idle-timeout-ms", "AGENTD_WS_IDLE_TIMEOUT_MS", U64(ws_idle_timeout_ms), "MS", "90000", 10,
     86400000, "a WebSocket silent this long is dropped"},
    {"claude-bin", "AGENTD_CLAUDE_BIN", STR(claude_bin), "PATH", "claude", 0, 0,
     "Claude Code executable for claude agents (looked up on PATH; CLAUDE_CLI_PATH too)"},
    {"codex-bin", "AGENTD_CODEX_BIN", STR(codex_bin), "PATH", "codex", 0, 0,
     "Codex CLI executable for codex agents (looked up on PATH)"},
    {"gemini-bin", "AGENTD_GEMINI_BIN", STR(gemini_bin), "PATH", "gemini", 0, 0,
     "Gemini CLI executable for gemini agents (looked up on PATH)"},
    {"event-ring-bytes", "AGENTD_EVENT_RING_BYTES", U64(event_ring_bytes), "N", "8388608", 1024,
     1073741824, "recent events kept in memory for replay"},
    {"event-replay-bytes", "AGENTD_EVENT_REPLAY_BYTES", U64(event_replay_bytes), "N", "67108864", 0,
     1099511627776,
     "bytes every replay (?since=) may hold at once, all readers together: later replays wait "
     "their turn (0: no bound)"},
    {"event-retention-bytes", "AGENTD_EVENT_RETENTION_BYTES", U64(event_retention_bytes), "N",
     "268435456", 1024, 1099511627776, "event log size kept (its oldest segments are deleted)"},
    {"event-retention-seconds", "AGENTD_EVENT_RETENTION_SECONDS", U64(event_retention_seconds), "S",
     "604800", 1, 315360000, "events older than this are deleted"},
    {"worktree-base", "AGENTD_WORKTREE_BASE", STR(worktree_base), "DIR", "", 0, 0,
     "folder for new worktrees, as DIR/<repo>/<name> (default: <repo>.worktrees/<name> "
     "beside the repository)"},
    {"health-interval-ms", "AGENTD_HEALTH_INTERVAL_MS", U64(health_interval_ms), "MS", "1000", 0,
     3600000, "how often host, GPU and agent use are sampled (0: never)"},
    {"health-event-interval-ms", "AGENTD_HEALTH_EVENT_INTERVAL_MS", U64(health_event_interval_ms),
     "MS", "5000", 0, 86400000,
     "how often a system_health event is published (0: never; at most once per sample)"},
    {"health-retention-seconds", "AGENTD_HEALTH_RETENTION_SECONDS", U64(health_retention_seconds),
     "S", "2592000", 3600, 315360000,
     "the health history on disk keeps samples this long (host and each run's use)"},
    {"health-retention-bytes", "AGENTD_HEALTH_RETENTION_BYTES", U64(health_retention_bytes), "N",
     "67108864", 65536, 1099511627776,
     "the health history on disk keeps at most this many bytes (the oldest go first)"},
    {"alert-webhook-allow", "AGENTD_ALERT_WEBHOOK_ALLOW", STR(alert_webhook_allow), "LIST", "", 0,
     0,
     "hosts, addresses and CIDR blocks an alert's webhook may reach although they are loopback "
     "or private (comma-separated; by default a webhook reaches public addresses only)"},
    {"nvml-lib", "AGENTD_NVML_LIB", STR(nvml_lib), "PATH", "", 0, 0,
     "NVIDIA management library to load for GPU figures (default: libnvidia-ml.so.1)"},
    {"push-subject", "AGENTD_PUSH_SUBJECT", STR(push_subject), "URI", "mailto:agentd@localhost", 0,
     0, "the contact push services are given with each Web Push (VAPID's sub: mailto: or https:)"},
    {"push-insecure-loopback", "AGENTD_PUSH_INSECURE_LOOPBACK", BOOL(push_insecure_loopback),
     "BOOL", "false", 0, 0,
     "take Web Push endpoints on http://127.0.0.1 (a local push service for tests; by default "
     "an endpoint must be https)"},
    {"metrics-public", "AGENTD_METRICS_PUBLIC", BOOL(metrics_public), "BOOL", "false", 0, 0,
     "serve /metrics without a token (it shows how busy agentd is)"},
    {"hold-agents", "AGENTD_HOLD_AGENTS", BOOL(hold_agents), "BOOL", "true", 0, 0,
     "run each agent under a small holder process that keeps its output, so it outlives a "
     "restart or crash of agentd"},
    {"keep-agents", "AGENTD_KEEP_AGENTS", BOOL(keep_agents), "BOOL", "false", 0, 0,
     "on SIGINT/SIGTERM leave held agents running for the next agentd (restarts, upgrades) "
     "instead of stopping them"},
    {"hold-wait-sec", "AGENTD_HOLD_WAIT_SEC", U64(hold_wait_sec), "SEC", "86400", 1, 31536000,
     "how long a holder whose agent has exited waits for an agentd to collect its exit"},
    {"node-lease-ms", "AGENTD_NODE_LEASE_MS", U64(node_lease_ms), "MS", "6000", 300, 3600000,
     "a worker node's lease: it renews every third of it, and past it unrenewed its runs read "
     "unreachable (docs/nodes.md)"},
    {"node-grace-ms", "AGENTD_NODE_GRACE_MS", U64(node_grace_ms), "MS", "600000", 0, 604800000,
     "how long a worker node may stay unreachable before its runs are lost"},
    {"node-autoscale", "AGENTD_NODE_AUTOSCALE", STR(node_autoscale), "FILE", "", 0, 0,
     "a JSON file naming the autoscaling hook: {argv, minWarmIdle, intervalSeconds, "
     "timeoutSeconds, env}; run when starts wait in the queue or idle nodes are not "
     "minWarmIdle (docs/operations.md)"},
    /* Environment only (T_ENV): each is read by the code that uses it, which
     * falls back to the default shown when the value is missing or out of
     * range. Keep def in step with that code. */
    {ENV_ONLY, "AGENTD_LLM_RPM", T_ENV, 0, 0, "N", "50", 0, 0,
     "model requests per minute per credential and model before chat messages queue"},
    {ENV_ONLY, "AGENTD_LLM_ITPM", T_ENV, 0, 0, "N", "200000", 0, 0,
     "model input tokens per minute, likewise"},
    {ENV_ONLY, "AGENTD_LLM_OTPM", T_ENV, 0, 0, "N", "80000", 0, 0,
     "model output tokens per minute, likewise"},
    {ENV_ONLY, "AGENTD_LLM_QUEUE", T_ENV, 0, 0, "N", "16", 0, 0,
     "chat messages that may wait for a rate limit per credential (429 past it)"},
    {ENV_ONLY, "AGENTD_LLM_STALL_MS", T_ENV, 0, 0, "MS", "60000", 0, 0,
     "a model stream silent this long is cut and reported (at most 3600000)"},
    {ENV_ONLY, "AGENTD_CREDENTIALS", T_ENV, 0, 0, "file", "", 0, 0,
     "file: keep model API keys in <data-dir>/credentials/ even when a Secret Service is on "
     "the session bus"},
    {ENV_ONLY, "AGENTD_GIT_LIB", T_ENV, 0, 0, "PATH", "", 0, 0,
     "agentd-git.so to load (default: the one beside the agentd executable)"},
    {ENV_ONLY, "AGENTD_TLS_LIB", T_ENV, 0, 0, "PATH", "", 0, 0,
     "agentd-tls.so to load for https, wss and JWT public keys (default: the one beside the "
     "agentd executable)"},
    {ENV_ONLY, "ANTHROPIC_BASE_URL", T_ENV, 0, 0, "URL", "https://api.anthropic.com", 0, 0,
     "the Messages API of chats whose organisation's anthropic credential sets no baseUrl"},
    {ENV_ONLY, "OPENAI_BASE_URL", T_ENV, 0, 0, "URL", "https://api.openai.com/v1", 0, 0,
     "the OpenAI-compatible API of chats whose openai credential sets no baseUrl"},
    {ENV_ONLY, "CLAUDE_CLI_PATH", T_ENV, 0, 0, "PATH", "", 0, 0,
     "the Claude Manager seed's name for --claude-bin, used when AGENTD_CLAUDE_BIN is unset"},
    {ENV_ONLY, "DBUS_SESSION_BUS_ADDRESS", T_ENV, 0, 0, "ADDR", "", 0, 0,
     "the session bus where the Secret Service that keeps model API keys is looked for "
     "(unset: keys are 0600 files in <data-dir>/credentials/)"},
    {ENV_ONLY, "PATH", T_ENV, 0, 0, "DIRS", "", 0, 0,
     "where the agent CLIs, bwrap, git and a command agent's program are looked up"},
    {ENV_ONLY, "HOME", T_ENV, 0, 0, "DIR", "", 0, 0,
     "the default data dir's home (below XDG_DATA_HOME); the owner's agents see their CLI's "
     "config from it (~/.claude, ~/.codex, ~/.gemini)"},
    {ENV_ONLY, "XDG_DATA_HOME", T_ENV, 0, 0, "DIR", "", 0, 0,
     "the default data dir is $XDG_DATA_HOME/agentd when it is set"},
    {ENV_ONLY, "TMPDIR", T_ENV, 0, 0, "DIR", "/tmp", 0, 0,
     "where the git agentd runs itself gets the empty home it runs with, removed after it"},
    {ENV_ONLY, "LISTEN_PID", T_ENV, 0, 0, "PID", "", 0, 0,
     "systemd socket activation: the listeners are this process's when it names it"},
    {ENV_ONLY, "LISTEN_FDS", T_ENV, 0, 0, "N", "", 0, 0,
     "systemd socket activation: how many listeners were handed over (from fd 3); agentd "
     "serves on them instead of binding --listen and its unix socket"},
    {ENV_ONLY, "LISTEN_FDNAMES", T_ENV, 0, 0, "NAMES", "", 0, 0,
     "systemd socket activation: the listeners' names (FileDescriptorName=), colon-separated"},
    {ENV_ONLY, "AGENTD_NODE_CA_FILE", T_ENV, 0, 0, "FILE", "", 0, 0,
     "agentd node --join over https: the PEM roots it trusts for the control plane (default: "
     "the system's)"},
    {ENV_ONLY, "AGENTD_OTLP_HEADERS", T_ENV, 0, 0, "LIST", "", 0, 0,
     "no longer read: agentd serve refuses to start while it is set (use "
     "OTEL_EXPORTER_OTLP_HEADERS or --otlp-headers-file)"},
    {ENV_ONLY, "AGENTD_TOKEN", T_ENV, 0, 0, "TOKEN", "", 0, 0,
     "no longer read: agentd serve refuses to start while it is set (use --token-file)"},
#ifdef AD_TEST_BUILD
    /* Test builds only: a release daemon never reads them. */
    {ENV_ONLY, "AGENTD_TEST_MISSION_HEARTBEAT_MS", T_ENV, 0, 0, "MS", "45000", 0, 0,
     "test builds: the seed channels' heartbeat, so tests need not wait 45 s"},
    {ENV_ONLY, "AGENTD_TEST_DB_FULL", T_ENV, 0, 0, "1", "", 0, 0,
     "test builds: 1 caps the database at its size at start, so writes that grow it fail as "
     "on a full disk"},
    {ENV_ONLY, "AGENTD_TEST_SPAWN_GATE", T_ENV, 0, 0, "FILE", "", 0, 0,
     "test builds: spawns wait while FILE exists (at most a minute), so a test can act while "
     "a process starts"},
    {ENV_ONLY, "AGENTD_TEST_HOLDER_EXE", T_ENV, 0, 0, "PATH", "", 0, 0,
     "test builds: the holder program a held spawn runs (one that is not there: a holder "
     "that cannot start)"},
    {ENV_ONLY, "AGENTD_TEST_NODE_DROP_SPAWN", T_ENV, 0, 0, "N", "", 0, 0,
     "test builds: a node drops its first N spawns with its link, as a link that died with "
     "a spawn in flight"},
    {ENV_ONLY, "AGENTD_TEST_SERIES_SPLIT", T_ENV, 0, 0, "POINTS", "2000000", 0, 0,
     "test builds: a bucketed read of this many points or more splits its runs among reader "
     "threads, so tests split small reads"},
    {ENV_ONLY, "AGENTD_TEST_NET_PUBLIC", T_ENV, 0, 0, "ADDR:PORT,...", "", 0, 0,
     "test builds: listeners the agents' proxy takes for the internet (ADDR:* any port), "
     "since a test machine has no address that is not its own"},
    {ENV_ONLY, "AGENTD_TEST_LOGS_PAGE", T_ENV, 0, 0, "N", "100", 0, 0,
     "test builds: agentd logs reads the stored transcript N messages a page (1 to 200), so "
     "tests walk many pages"},
    {ENV_ONLY, "AGENTD_TEST_PR_LOOP_MS", T_ENV, 0, 0, "MS", "", 0, 0,
     "test builds: the feedback loops' tick and forge interval (20 to 60000; default 1 s and "
     "60 s), so tests need not wait a minute"},
    {ENV_ONLY, "AGENTD_TEST_ROUTINE_SHIFT_MS", T_ENV, 0, 0, "MS", "0", 0, 0,
     "test builds: the routine scheduler's clock moved on by MS, so a test restarts hours "
     "later without waiting"},
    {ENV_ONLY, "AGENTD_TEST_NODE_EVENTS_KEEP", T_ENV, 0, 0, "N", "1000", 0, 0,
     "test builds: each worker node keeps its newest N events (docs/nodes.md), so tests see "
     "the oldest pruned"},
    {ENV_ONLY, "AGENTD_TEST_GIT_MEM_MAX", T_ENV, 0, 0, "BYTES", "", 0, 0,
     "test builds: the memory a git job may hold (default an eighth of the machine's, at "
     "least 256 MiB), so a test reaches it cheaply"},
#endif
};

int ad_config_default_data_dir(char *out, size_t outsz)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && xdg[0] == '/') {
        return (size_t)snprintf(out, outsz, "%s/agentd", xdg) < outsz ? 0 : AD_EINVAL;
    }
    const char *home = getenv("HOME");
    if (home != NULL && home[0] == '/') {
        return (size_t)snprintf(out, outsz, "%s/.local/share/agentd", home) < outsz ? 0 : AD_EINVAL;
    }
    return AD_EINVAL;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (s[0] < '0' || s[0] > '9') {
        return AD_EINVAL;
    }
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return AD_EINVAL;
    }
    *v = x;
    return 0;
}

static int parse_listen(ad_config_t *cfg, const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL) {
        return AD_EINVAL;
    }
    const char *host = s;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    } else if (memchr(host, ':', hlen) != NULL) {
        return AD_EINVAL; /* IPv6 needs brackets: [::1]:8765 */
    }
    uint64_t port;
    if (hlen == 0 || hlen >= sizeof(cfg->listen_host) || parse_u64(colon + 1, &port) != 0 ||
        port > 65535) {
        return AD_EINVAL;
    }
    memcpy(cfg->listen_host, host, hlen);
    cfg->listen_host[hlen] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

/* Applies one value. On error, err explains what was expected. */
static int set_option(ad_config_t *cfg, const opt_t *o, const char *v, char *why, size_t whysz)
{
    char *base = (char *)cfg;
    switch (o->type) {
    case T_STR:
        if (strlen(v) >= o->size) {
            snprintf(why, whysz, "longer than %zu bytes", o->size - 1);
            return AD_EINVAL;
        }
        memcpy(base + o->off, v, strlen(v) + 1);
        return 0;
    case T_U64: {
        uint64_t x;
        if (parse_u64(v, &x) != 0 || x < o->min || x > o->max) {
            snprintf(why, whysz, "expected a whole number from %llu to %llu",
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return AD_EINVAL;
        }
        memcpy(base + o->off, &x, sizeof(x));
        return 0;
    }
    case T_LISTEN:
        if (parse_listen(cfg, v) != 0) {
            snprintf(why, whysz, "expected HOST:PORT, e.g. 127.0.0.1:8765 or [::1]:0");
            return AD_EINVAL;
        }
        return 0;
    case T_LEVEL: {
        static const char *names[] = {"debug", "info", "warn", "error"};
        for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
            if (strcmp(v, names[i]) == 0) {
                cfg->log_level = (ad_log_level_t)i;
                return 0;
            }
        }
        snprintf(why, whysz, "expected debug, info, warn or error");
        return AD_EINVAL;
    }
    case T_LOGFMT:
        if (strcmp(v, "text") == 0 || strcmp(v, "json") == 0) {
            cfg->log_format = v[0] == 'j' ? AD_LOG_JSON : AD_LOG_TEXT;
            return 0;
        }
        snprintf(why, whysz, "expected text or json");
        return AD_EINVAL;
    case T_BOOL: {
        bool on = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
        if (!on && strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
            snprintf(why, whysz, "expected true or false");
            return AD_EINVAL;
        }
        memcpy(base + o->off, &on, sizeof(on));
        return 0;
    }
    case T_DURABILITY:
        if (strcmp(v, "normal") == 0 || strcmp(v, "full") == 0) {
            cfg->durability_full = v[0] == 'f';
            return 0;
        }
        snprintf(why, whysz, "expected normal or full");
        return AD_EINVAL;
    case T_ENV:
        AD_BUG("%s is read where it is used, never set here", o->env);
    }
    AD_BUG("unknown option type %d", (int)o->type);
}

int ad_config_load_env(ad_config_t *cfg, char *err, size_t errsz)
{
    char why[160];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < AD_ARRAY_LEN(options); i++) {
        const opt_t *o = &options[i];
        if (o->type == T_ENV) {
            continue;
        }
        if (o->def != NULL && set_option(cfg, o, o->def, why, sizeof(why)) != 0) {
            AD_BUG("bad default for --%s: %s", o->flag, why);
        }
    }
    if (ad_config_default_data_dir(cfg->data_dir, sizeof(cfg->data_dir)) != 0) {
        cfg->data_dir[0] = '\0'; /* main refuses to start without --data-dir */
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(options); i++) {
        const opt_t *o = &options[i];
        const char *v = o->type == T_ENV ? NULL : getenv(o->env);
        if (v == NULL) {
            continue;
        }
        if (set_option(cfg, o, v, why, sizeof(why)) != 0) {
            snprintf(err, errsz, "invalid %s='%s': %s", o->env, v, why);
            return AD_EINVAL;
        }
    }
    if (getenv("AGENTD_OTLP_HEADERS") != NULL) {
        snprintf(err, errsz,
                 "AGENTD_OTLP_HEADERS is no longer read: use OTEL_EXPORTER_OTLP_HEADERS "
                 "or --otlp-headers-file");
        return AD_EINVAL;
    }
    /* Claude Manager's name for the Claude CLI (the seed's CLAUDE_CLI_PATH),
     * below AGENTD_CLAUDE_BIN and --claude-bin. */
    const char *seed_claude = getenv("CLAUDE_CLI_PATH");
    const char *own = getenv("AGENTD_CLAUDE_BIN");
    if (seed_claude != NULL && seed_claude[0] != '\0' && (own == NULL || own[0] == '\0')) {
        if (strlen(seed_claude) >= sizeof(cfg->claude_bin)) {
            snprintf(err, errsz, "invalid CLAUDE_CLI_PATH: too long");
            return AD_EINVAL;
        }
        snprintf(cfg->claude_bin, sizeof(cfg->claude_bin), "%s", seed_claude);
    }
    return 0;
}

/* The flag that took a collector key on the command line (issue #73). */
#define OTLP_HEADERS_GONE "otlp-headers"
static const char otlp_headers_gone[] =
    "--otlp-headers is no longer taken: a collector key on the command line is shown to every "
    "user (ps); put the headers in a file (--otlp-headers-file FILE, mode 0600) or in "
    "OTEL_EXPORTER_OTLP_HEADERS";

static const opt_t *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < AD_ARRAY_LEN(options); i++) {
        const char *flag = options[i].flag;
        if (flag != NULL && strlen(flag) == len && strncmp(flag, name, len) == 0) {
            return &options[i];
        }
    }
    return NULL;
}

bool ad_host_is_loopback(const char *host)
{
    return strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

int ad_config_check(const ad_config_t *cfg, char *err, size_t errsz)
{
    if (strcmp(cfg->auth_mode, "token") != 0 && strcmp(cfg->auth_mode, "none") != 0) {
        snprintf(err, errsz, "--auth must be token or none, not '%s'", cfg->auth_mode);
        return AD_EINVAL;
    }
    if (strcmp(cfg->auth_mode, "none") == 0 && !ad_host_is_loopback(cfg->listen_host)) {
        snprintf(err, errsz,
                 "--auth none is refused on %s: anyone who reaches it could run programs as "
                 "this user; listen on 127.0.0.1 or keep token authentication",
                 cfg->listen_host);
        return AD_EINVAL;
    }
    if (cfg->health_interval_ms != 0 && cfg->health_interval_ms < 100) {
        snprintf(err, errsz, "--health-interval-ms must be 0 (off) or at least 100");
        return AD_EINVAL;
    }
    if (strcmp(cfg->sandbox, "auto") != 0 && strcmp(cfg->sandbox, "off") != 0) {
        snprintf(err, errsz, "--sandbox must be auto or off, not '%s'", cfg->sandbox);
        return AD_EINVAL;
    }
    for (const char *p = cfg->sandbox_paths; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n > 0 && (p[0] != '/' || n == 1)) {
            snprintf(err, errsz, "--sandbox-paths takes absolute paths (not /), not '%.*s'",
                     (int)(n < 200 ? n : 200), p);
            return AD_EINVAL;
        }
        p += n + (p[n] == ',');
    }
    for (const char *p = cfg->takeover_dirs; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n > 0 && (p[0] != '/' || n == 1)) {
            snprintf(err, errsz, "--takeover-dirs takes absolute paths (not /), not '%.*s'",
                     (int)(n < 200 ? n : 200), p);
            return AD_EINVAL;
        }
        p += n + (p[n] == ',');
    }
    if (cfg->token[0] != '\0' && strlen(cfg->token) < AD_TOKEN_MIN_CHARS) {
        snprintf(err, errsz,
                 "the owner token is %zu characters; it must have at least 128 bits: %d "
                 "characters or more (make one with: head -c 32 /dev/urandom | base64)",
                 strlen(cfg->token), AD_TOKEN_MIN_CHARS);
        return AD_EINVAL;
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        snprintf(err, errsz, "--tls-cert and --tls-key go together");
        return AD_EINVAL;
    }
    return 0;
}

int ad_config_parse_args(ad_config_t *cfg, int argc, char **argv, int *rest, char *err,
                         size_t errsz)
{
    char why[160];
    int i = 0;
    while (i < argc) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            return 2;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (a[0] == '-' && a[1] != '\0') {
                snprintf(err, errsz, "unknown option '%s'", a);
                return AD_EINVAL;
            }
            break;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == strlen(OTLP_HEADERS_GONE) && strncmp(name, OTLP_HEADERS_GONE, nlen) == 0) {
            snprintf(err, errsz, "%s", otlp_headers_gone);
            return AD_EINVAL;
        }
        const opt_t *o = find_option(name, nlen);
        if (o == NULL) {
            snprintf(err, errsz, "unknown option '--%.*s'", (int)nlen, name);
            return AD_EINVAL;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (v == NULL && o->type == T_BOOL) {
            v = "true";
        }
        if (v == NULL) {
            if (i + 1 >= argc) {
                snprintf(err, errsz, "option '--%s' needs a value (%s)", o->flag, o->metavar);
                return AD_EINVAL;
            }
            v = argv[++i];
        }
        if (set_option(cfg, o, v, why, sizeof(why)) != 0) {
            snprintf(err, errsz, "invalid value '%s' for --%s: %s", v, o->flag, why);
            return AD_EINVAL;
        }
        i++;
    }
    *rest = i;
    return 0;
}

void ad_config_print_help(FILE *out)
{
    for (size_t i = 0; i < AD_ARRAY_LEN(options); i++) {
        const opt_t *o = &options[i];
        char left[64];
        if (o->type == T_ENV) {
            snprintf(left, sizeof(left), "%s=%s", o->env, o->metavar);
            fprintf(out, "  %-30s %s\n", left, o->help);
            if (o->def[0] != '\0') {
                fprintf(out, "  %-30s [environment only; default %s]\n", "", o->def);
            } else {
                fprintf(out, "  %-30s [environment only]\n", "");
            }
            continue;
        }
        if (o->type == T_BOOL) {
            snprintf(left, sizeof(left), "--%s", o->flag);
        } else {
            snprintf(left, sizeof(left), "--%s=%s", o->flag, o->metavar);
        }
        fprintf(out, "  %-30s %s\n", left, o->help);
        if (o->def != NULL && o->def[0] != '\0') {
            fprintf(out, "  %-30s [%s; default %s]\n", "", o->env, o->def);
        } else {
            fprintf(out, "  %-30s [%s]\n", "", o->env);
        }
    }
}

size_t ad_config_opt_count(void)
{
    return AD_ARRAY_LEN(options);
}

void ad_config_opt_get(size_t i, ad_config_opt_t *out)
{
    AD_ASSERT(i < AD_ARRAY_LEN(options));
    const opt_t *o = &options[i];
    *out = (ad_config_opt_t){.flag = o->flag,
                             .env = o->env,
                             .metavar = o->metavar,
                             .def = o->def,
                             .help = o->help,
                             .is_bool = o->type == T_BOOL};
}

int ad_config_token_load(ad_config_t *cfg, char *err, size_t errsz)
{
    if (cfg->token_file[0] == '\0') {
        return 0;
    }
    int fd = open(cfg->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errsz, "--token-file %s: %s", cfg->token_file, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return AD_EINVAL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        snprintf(err, errsz,
                 "--token-file %s must be a regular file of this user that no one else may "
                 "read or write (chmod 600)",
                 cfg->token_file);
        close(fd);
        return AD_EINVAL;
    }
    char buf[sizeof(cfg->token) + 2];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0 || (size_t)n >= sizeof(cfg->token)) {
        snprintf(err, errsz, "--token-file %s: %s", cfg->token_file,
                 n < 0 ? strerror(errno) : "longer than 255 characters");
        return AD_EINVAL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f) {
            snprintf(err, errsz, "--token-file %s: the token must be one line of printable text",
                     cfg->token_file);
            return AD_EINVAL;
        }
    }
    memcpy(cfg->token, buf, (size_t)n + 1); /* n < sizeof(cfg->token), checked above */
    memset(buf, 0, sizeof(buf));
    return ad_config_check(cfg, err, errsz);
}

void ad_config_base_url(const ad_config_t *cfg, int port, bool loopback, char *out, size_t outsz)
{
    const char *host = cfg != NULL ? cfg->listen_host : "127.0.0.1";
    if (loopback && (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)) {
        host = "127.0.0.1";
    } else if (loopback && strcmp(host, "::") == 0) {
        host = "::1";
    }
    bool v6 = strchr(host, ':') != NULL;
    bool tls = cfg != NULL && cfg->tls_cert[0] != '\0';
    snprintf(out, outsz, "%s://%s%s%s:%d", tls ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", port);
}

int ad_config_otlp_headers_load(ad_config_t *cfg, char *err, size_t errsz)
{
    cfg->otlp_headers[0] = '\0';
    if (cfg->otlp_headers_file[0] == '\0') {
        const char *env = getenv("OTEL_EXPORTER_OTLP_HEADERS");
        if (env != NULL && strlen(env) >= sizeof(cfg->otlp_headers)) {
            snprintf(err, errsz, "OTEL_EXPORTER_OTLP_HEADERS: longer than %zu bytes",
                     sizeof(cfg->otlp_headers) - 1);
            return AD_EINVAL;
        }
        snprintf(cfg->otlp_headers, sizeof(cfg->otlp_headers), "%s", env != NULL ? env : "");
        return 0;
    }
    const char *f = cfg->otlp_headers_file;
    int fd = open(f, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errsz, "--otlp-headers-file %s: %s", f, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return AD_EINVAL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        snprintf(err, errsz,
                 "--otlp-headers-file %s must be a regular file no one else may read or write "
                 "(chmod 600)",
                 f);
        close(fd);
        return AD_EINVAL;
    }
    char buf[sizeof(cfg->otlp_headers) + 2];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    if (n < 0 || (size_t)n >= sizeof(cfg->otlp_headers) || memchr(buf, '\n', (size_t)n) != NULL) {
        snprintf(err, errsz, "--otlp-headers-file %s: one line of at most %zu bytes expected", f,
                 sizeof(cfg->otlp_headers) - 1);
        explicit_bzero(buf, sizeof(buf));
        return AD_EINVAL;
    }
    memcpy(cfg->otlp_headers, buf, (size_t)n);
    cfg->otlp_headers[n] = '\0';
    explicit_bzero(buf, sizeof(buf));
    return 0;
}
