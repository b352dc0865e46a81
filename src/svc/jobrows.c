/* SPDX-License-Identifier: MIT */
/*
 * The job and service rows the REST routes read (/api/jobs,
 * /api/services): the store's rows, with the live figures of the jobs and
 * services running here laid over them (ad_jobs_overlay,
 * ad_services_overlay), and the services started from their rows. Loop
 * thread.
 */
#include "svc/svc.h"
#include "tables/jobs.h"
#include "tables/services.h"

#include <stdlib.h>

int ad_jobs_list(const ad_jobs_t *js, ad_store_t *st, const char *org, const char *limit,
                 json_t **out, ad_field_err_t *e)
{
    int64_t n = 50;
    if (limit != NULL) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > 1000) {
            return ad_field_fail(e, "limit", "must be a whole number from 1 to 1000");
        }
        n = v;
    }
    int rc = ad_store_job_list(st, org, (int)n, out);
    if (rc != 0) {
        return rc;
    }
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(*out, "jobs"), i, job)
    {
        ad_jobs_overlay(js, job);
    }
    return 0;
}

int ad_jobs_get(const ad_jobs_t *js, ad_store_t *st, const char *id, json_t **out)
{
    int rc = ad_store_job_get(st, id, out);
    if (rc == 0) {
        ad_jobs_overlay(js, *out);
    }
    return rc;
}

ad_services_t *ad_services_open(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *st,
                                ad_bus_t *bus, ad_procs_t *procs, ad_plane_t *plane)
{
    json_t *rows = NULL;
    if (ad_store_service_list(st, "", &rows) != 0) {
        ad_log(AD_LOG_ERROR, "services", "cannot read the services: none started");
    }
    ad_services_t *ss =
        ad_services_new(loop, cfg, st, bus, procs, plane, json_object_get(rows, "services"));
    json_decref(rows);
    return ss;
}

int ad_services_list(const ad_services_t *ss, ad_store_t *st, const char *org, json_t **out)
{
    int rc = ad_store_service_list(st, org, out);
    if (rc != 0) {
        return rc;
    }
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(*out, "services"), i, row)
    {
        ad_services_overlay(ss, row);
    }
    return 0;
}

void ad_services_view(const ad_services_t *ss, json_t *row, bool output)
{
    ad_services_overlay(ss, row);
    /* one service's read carries its log (the list does not) */
    json_t *rt = json_object_get(row, "runtime");
    if (output && json_is_object(rt)) {
        json_object_set_new(rt, "output",
                            ad_services_output(ss, json_string_value(json_object_get(row, "id"))));
    }
}
