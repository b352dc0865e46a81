/* SPDX-License-Identifier: MIT */
/*
 * The telemetry feature (issue #79; OpenTelemetry, src/otel): a run's
 * W3C trace context and, when agentd receives OTLP, where the agent
 * sends its telemetry and with which credential, in its environment.
 *
 * Owns: no state per run (the runner's endpoint and token source, set by
 * ad_runner_set_telemetry). Hooks: launch (the environment).
 */
#include "run/features.h"

#include <stdlib.h>
#include <string.h>

void ad_runner_set_telemetry(ad_runner_t *r, const char *endpoint, ad_runner_token_fn fn, void *ud)
{
    free(r->otlp_endpoint);
    r->otlp_endpoint = endpoint != NULL ? ad_xstrdup(endpoint) : NULL;
    r->token_fn = fn;
    r->token_ud = ud;
}

/* name=value into the environment, unless the agent's state.env says name. */
static void env_add(ad_run_start_t *s, size_t *nenv, const char *name, const char *value)
{
    if (json_object_get(json_object_get(s->state, "env"), name) != NULL) {
        return;
    }
    size_t len = strlen(name) + strlen(value) + 2;
    char *e = ad_xmalloc(len);
    snprintf(e, len, "%s=%s", name, value);
    s->env[(*nenv)++] = e;
}

/* The run's W3C trace context (src/otel names the same ids), so a CLI that
 * reads TRACEPARENT puts its spans under the run, and where its
 * telemetry goes: agentd's receiver, with the run's own credential. A
 * Claude run is asked to send traces (its enhanced telemetry, which is
 * what reads TRACEPARENT), metrics and logs, as OTLP/HTTP JSON. */
static void otel_launch(ad_run_t *run, ad_run_start_t *s)
{
    const ad_runner_t *r = run->r;
    const char *run_id = run->run_id;
    if (r->otlp_endpoint == NULL && r->cfg->otlp_endpoint[0] == '\0') {
        return;
    }
    size_t nenv = 0;
    while (s->env[nenv] != NULL) {
        nenv++;
    }
    char trace[33], span[17], tp[64];
    ad_trace_ids(run_id, NULL, trace, span);
    snprintf(tp, sizeof(tp), "00-%s-%s-01", trace, span);
    env_add(s, &nenv, "TRACEPARENT", tp);
    if (r->otlp_endpoint == NULL || r->token_fn == NULL) {
        return;
    }
    char token[160], header[200];
    r->token_fn(r->token_ud, run_id, token, sizeof(token));
    snprintf(header, sizeof(header), "x-agentd-run=%s", token);
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_ENDPOINT", r->otlp_endpoint);
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_HEADERS", header);
    if (s->spec.executor == AD_EXEC_CLAUDE) {
        env_add(s, &nenv, "CLAUDE_CODE_ENABLE_TELEMETRY", "1");
        env_add(s, &nenv, "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1");
        env_add(s, &nenv, "OTEL_TRACES_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_METRICS_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_LOGS_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_TRACES_EXPORT_INTERVAL", "1000");
    }
}

const ad_run_feature_t ad_run_feat_otel = {
    .name = "otel",
    .launch = otel_launch,
};
