/* SPDX-License-Identifier: MIT */
/*
 * The store's figures for /metrics (the format is src/core/prom.c's): the
 * writer's queue, jobs and failures, busy retries, the event log's size and
 * the commit latency histogram; the database itself (issue #39): up or
 * not, its connections, errors and round trip.
 */
#include "store/store.h"

int ad_store_prom(ad_store_t *store, ad_buf_t *b)
{
    if (store == NULL) {
        return 0;
    }
    ad_store_stats_t st;
    ad_store_stats(store, &st);
    int rc = ad_prom_gauge(b, "agentd_store_writer_queue_depth",
                           "Writes submitted to the writer thread and not yet completed",
                           (double)st.queued);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_jobs_total", "Writes run by the writer thread",
                              (double)st.jobs);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_failed_jobs_total", "Writes that failed",
                              (double)st.failed);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_event_log_bytes",
                            "Bytes of the event log's segment files (retention keeps them near "
                            "--event-retention-bytes)",
                            (double)st.event_log_bytes);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_busy_retries_total",
                              "BEGIN or COMMIT retried because the database was busy",
                              (double)st.retries);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_store_writer_waiting_jobs",
                            "Writes queued for the writer thread and not yet taken",
                            (double)st.waiting);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_store_writer_waiting_bytes",
                            "Bytes of the queued writes, as their submitters sized them",
                            (double)st.waiting_bytes);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_refused_jobs_total",
                              "Writes refused while the database was unreachable and the "
                              "writer's queue was at its bound",
                              (double)st.refused);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_rerun_groups_total",
                              "Write transactions run again after the database came back",
                              (double)st.reruns);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_store_lost_commits_applied_total",
                              "Write transactions whose COMMIT's answer was lost with the "
                              "connection and that the database had applied (not run again)",
                              (double)st.found_applied);
    ad_store_db_t db;
    ad_store_db(store, &db);
    rc = rc ? rc
            : ad_prom_family(b, "agentd_database_up", "gauge",
                             "1 when the database answers, 0 while it is unreachable");
    rc = rc ? rc
            : ad_prom_sample(b, "agentd_database_up", db.up ? 1 : 0, "backend", db.backend, NULL);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_database_connection_errors_total",
                              "Statements and connection attempts that failed because the "
                              "database could not be reached",
                              (double)db.errors);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_database_reconnects_total",
                              "Connections to the database made again after one was lost",
                              (double)db.reconnects);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_database_outages_total",
                              "Times the database became unreachable", (double)db.outages);
    if (db.rtt_sec >= 0) {
        rc = rc ? rc
                : ad_prom_gauge(b, "agentd_database_ping_seconds",
                                "The writer's last round trip to the database (SELECT 1)",
                                db.rtt_sec);
    }
    rc = rc ? rc
            : ad_prom_family(b, "agentd_database_connections", "gauge",
                             "Connections to the database by what they do");
    rc = rc ? rc
            : ad_prom_sample(b, "agentd_database_connections", (double)db.conns, "state", "kept",
                             NULL);
    rc = rc ? rc
            : ad_prom_sample(b, "agentd_database_connections", (double)db.pool_idle, "state",
                             "idle", NULL);
    rc = rc ? rc
            : ad_prom_sample(b, "agentd_database_connections", (double)db.pool_busy, "state",
                             "reading", NULL);
    rc = rc ? rc
            : ad_prom_family(b, "agentd_store_commit_duration_seconds", "histogram",
                             "Writer transactions, BEGIN to the end of COMMIT");
    rc = rc ? rc
            : ad_prom_histogram(b, "agentd_store_commit_duration_seconds", ad_store_commit_bounds,
                                st.commit_counts, AD_STORE_COMMIT_BUCKETS, st.commit_sum_sec, NULL,
                                NULL);
    return rc;
}
