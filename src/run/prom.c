/* SPDX-License-Identifier: MIT */
/*
 * The runner's figures for /metrics (the format is src/core/prom.c's):
 * runs ended by status, their durations, the tokens and cost of ended
 * runs, the loop's turns, and the runs stalled on a full disk.
 */
#include "run/run.h"
#include "rows.h"

int ad_runner_prom(const ad_runner_t *runner, ad_buf_t *b)
{
    ad_runner_stats_t rs = {0};
    if (runner != NULL) {
        ad_runner_stats(runner, &rs);
    }
    int rc = ad_prom_family(b, "agentd_runs_ended_total", "counter", "Runs ended, by status");
    /* ended[] counts from succeeded on, in the schema's order */
    for (size_t i = 0; i < AD_ROW_RUN_STATUS_COUNT - AD_ROW_RUN_STATUS_SUCCEEDED && rc == 0; i++) {
        rc = ad_prom_sample(b, "agentd_runs_ended_total", (double)rs.ended[i], "status",
                            ad_row_run_status_names[AD_ROW_RUN_STATUS_SUCCEEDED + i], NULL);
    }
    rc = rc ? rc
            : ad_prom_family(b, "agentd_run_duration_seconds", "histogram", "How long runs lasted");
    rc = rc ? rc
            : ad_prom_histogram(b, "agentd_run_duration_seconds", ad_run_duration_bounds,
                                rs.duration_counts, AD_RUN_DURATION_BUCKETS, rs.duration_sum_sec,
                                NULL, NULL);
    rc = rc ? rc
            : ad_prom_family(b, "agentd_tokens_total", "counter",
                             "Model tokens of ended runs, by kind");
    const char *kinds[] = {"input", "output", "cache_read", "cache_write"};
    uint64_t n[] = {rs.input_tokens, rs.output_tokens, rs.cache_read_tokens, rs.cache_write_tokens};
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        rc = ad_prom_sample(b, "agentd_tokens_total", (double)n[i], "kind", kinds[i], NULL);
    }
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_cost_usd_total", "Model cost of ended runs in US dollars",
                              rs.cost_usd);
    /* The loop's turns (issue #80, pace.c): how long anything arriving
     * may have waited for it. */
    rc = rc ? rc
            : ad_prom_family(b, "agentd_loop_stall_seconds", "histogram",
                             "Turns of the event loop: wall time less the blocked poll");
    rc = rc ? rc
            : ad_prom_histogram(b, "agentd_loop_stall_seconds", ad_run_turn_bounds, rs.turn_counts,
                                AD_RUN_TURN_BUCKETS, rs.turn_sum_sec, NULL, NULL);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_loop_stall_max_seconds",
                            "The longest loop turn since start (wall less the blocked poll)",
                            rs.turn_max_sec);
    /* Runs waiting for the disk (issue #41): their agents are blocked. */
    json_t *stalled = runner != NULL ? ad_runner_stalled(runner, NULL) : NULL;
    size_t nstalled = json_array_size(stalled);
    json_decref(stalled);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_runs_stalled",
                            "Runs that cannot go on for now (a full disk)", (double)nstalled);
    return rc;
}
