/* SPDX-License-Identifier: MIT */
/*
 * OpenTelemetry (issue #36). agentd's own spans, named after the GenAI
 * semantic conventions, made from the bus's events (a subscriber to
 * run:*, agent:* and workspace:*): a run is an `invoke_agent` span, each
 * turn an `agentd.turn` below it, each tool call an `execute_tool`, an
 * approval's wait an `agentd.approval`, a git operation an `agentd.git
 * <op>` (a trace of its own). Ids come from the run's id (ad_trace_ids),
 * which is also what a run's TRACEPARENT says, so a CLI's own spans nest
 * under its run. The spans of a run are kept beside its transcript
 * (src/store, run_spans) and, with --otlp-endpoint, posted as OTLP/HTTP
 * JSON to URL/v1/traces.
 *
 * agentd also receives OTLP/HTTP JSON from its runs (recv.c; the routes
 * are src/api/otlp.c's): each run's program gets a credential derived
 * from the run's id and a key of the data dir (<data-dir>/otlp-key), good
 * for that run's telemetry only; its spans are kept with the run's.
 *
 * Finished spans wait in memory (at most OTEL_PENDING_MAX for each sink;
 * past it the oldest are dropped and counted) and go once a second: to
 * the store in one write a run, to the collector in one request at a time
 * on the thread pool (src/llm's fetch: no redirect followed). A failed
 * post drops its batch and is logged.
 *
 * Ownership: main.c's (ad_otel_new/ad_otel_close). Threads: loop thread,
 * but for the post itself.
 */
#ifndef AD_OTEL_H
#define AD_OTEL_H

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

typedef struct ad_otel ad_otel_t;

/* Spans per run kept in the store; past it a run's spans are dropped. */
#define AD_OTEL_RUN_SPANS_MAX 10000
/* A run credential: "<runId>.<43 base64url characters>". */
#define AD_OTEL_TOKEN_MAX (AD_ID_MAX + 48)

/* Spans into store (may be NULL: none kept) and, when endpoint is not ""
 * (http or https, no trailing /v1/traces), posted there with headers
 * "Name=value,Name2=value2" (may be empty). The run credentials' key is
 * read from data_dir (made at the first start; NULL: no credentials).
 * NULL, with why, for a bad endpoint or header list or an unreadable key. */
ad_otel_t *ad_otel_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *store, const char *data_dir,
                       const char *endpoint, const char *headers, char *why, size_t whysz);
/* Spans posted so far, and dropped (a full queue or a failed post). */
void ad_otel_counts(const ad_otel_t *o, uint64_t *sent, uint64_t *dropped);
/* Queues the spans waiting for the store and keeps none after: call
 * before the store closes (o may be NULL). */
void ad_otel_store_close(ad_otel_t *o);
/* Posts what is pending (one last try), then frees it once the post in
 * flight is done. */
void ad_otel_close(ad_otel_t *o);

/* ---- recv.c: telemetry from runs ---------------------------------------------------- */
/* run_id's credential into out (AD_OTEL_TOKEN_MAX). "" without a key. */
void ad_otel_run_token(const ad_otel_t *o, const char *run_id, char *out, size_t outsz);
/* The run a presented credential is for: 0 with run_id, or AD_EPERM. */
int ad_otel_run_check(const ad_otel_t *o, const char *token, char run_id[AD_ID_MAX]);
/* A run's last spans are taken this long after it ended (flushed as it
 * exits). */
#define AD_OTEL_RUN_GRACE_MS (120 * 1000)
/* Whether run_id may still send: running, or ended under
 * AD_OTEL_RUN_GRACE_MS ago. Loop thread (a store read). */
bool ad_otel_run_sends(ad_store_t *st, const char *run_id);
/* An OTLP/HTTP JSON ExportTraceServiceRequest from run_id: its spans
 * (checked, bounded) queued for the store under the run, whatever trace
 * they say they are of. *taken and *rejected count them. 0, or AD_EINVAL
 * with why for a body that is not such a request. */
int ad_otel_ingest(ad_otel_t *o, const char *run_id, const char *body, size_t len, size_t *taken,
                   size_t *rejected, char *why, size_t whysz);
/* The answer to an ingest that rejected that many spans: {} or
 * {partialSuccess {rejectedSpans, errorMessage}} (new). */
json_t *ad_otel_ingest_answer(size_t rejected);
/* Run run_id's trace for its waterfall (recv.c): {runId, traceId, spanId,
 * run, spans (at most AD_OTEL_RUN_SPANS_MAX)} given to cb (rc 0, out new)
 * once its spans are read on the pool, or cb(rc, NULL) when they cannot
 * be. 0, or the run's read error (cb not called). Loop thread. */
typedef void (*ad_otel_trace_cb)(int rc, json_t *out, void *ud);
int ad_otel_trace(ad_store_t *st, const char *run_id, ad_otel_trace_cb cb, void *ud);
/* What a span of the store form is, from an OTLP span (borrowed) of
 * service (may be NULL); NULL when its ids or times are not valid. */
json_t *ad_otel_store_form(const json_t *span, const char *service);

/* ---- spans.c ------------------------------------------------------------------------ */
/* The OTLP spans (JSON) a bus event ends, appended to out. open
 * remembers what has begun (tool calls, each agent's run and turn;
 * bounded); ts_ms is when the event happened. */
void ad_otel_spans_of(const char *type, json_t *payload, int64_t ts_ms, json_t *open, json_t *out);
/* The run a span of ad_otel_span_of belongs to (its agentd.run.id), or NULL. */
const char *ad_otel_span_run(const json_t *span);

#endif
