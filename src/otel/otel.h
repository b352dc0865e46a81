/* SPDX-License-Identifier: MIT */
/*
 * OpenTelemetry export (issue #36): agentd's own spans, sent as OTLP/HTTP
 * JSON to --otlp-endpoint (URL + "/v1/traces"), named after the GenAI
 * semantic conventions: a run is an `invoke_agent` span, each tool call an
 * `execute_tool` span below it, an approval's wait an `agentd.approval`
 * span. The spans are made from the bus's events (a subscriber to run:*),
 * so nothing else in agentd knows of them; ids come from the run's id
 * (ad_trace_ids), which is also what a run's TRACEPARENT says, so a CLI's
 * own spans nest under its run.
 *
 * Finished spans wait in memory (at most OTEL_PENDING_MAX; past it the
 * oldest are dropped and counted) and are posted once a second, one
 * request at a time, on the thread pool (src/llm's fetch: no redirect
 * followed). A failed post drops its batch and is logged.
 *
 * Ownership: the exporter is main.c's (ad_otel_new/ad_otel_close). Threads:
 * loop thread, but for the post itself.
 */
#ifndef AD_OTEL_H
#define AD_OTEL_H

#include "bus/bus.h"
#include "core/core.h"

#include <jansson.h>
#include <uv.h>

typedef struct ad_otel ad_otel_t;

/* An exporter to endpoint (http or https, no trailing /v1/traces), with
 * headers "Name=value,Name2=value2" (may be empty) on every post. NULL,
 * with why, for a bad endpoint or header list. */
ad_otel_t *ad_otel_new(uv_loop_t *loop, ad_bus_t *bus, const char *endpoint, const char *headers,
                       char *why, size_t whysz);
/* Spans posted so far, and dropped (a full queue or a failed post). */
void ad_otel_counts(const ad_otel_t *o, uint64_t *sent, uint64_t *dropped);
/* Posts what is pending (one last try), then frees it once the post in
 * flight is done. */
void ad_otel_close(ad_otel_t *o);

/* spans.c: the OTLP span (JSON) of a bus event, or NULL when the event
 * ends no span. tools remembers each open tool call's name and start
 * ({runId/toolId: [name, ms]}, bounded); ev's time is when it happened. */
json_t *ad_otel_span_of(const char *type, json_t *payload, int64_t ts_ms, json_t *tools);

#endif
