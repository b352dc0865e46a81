/* SPDX-License-Identifier: MIT */
/*
 * A dashboard report as a download (issue #40, the crews seed's "Export
 * functionality (CSV/PDF)"): the figures of stats, tokens or rentals
 * (dashstats.c's, credits.c's) made into a table (metric/value rows, or
 * one row per agent with a total) and written as CSV or as a one-page PDF
 * (src/core's table.c and pdf.c). The route is src/api's export.c. Any
 * thread.
 */
#include "store/table.h"
#include "tables/stats.h"

#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void agent_rows(ad_table_t *t, const json_t *out)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "agents"), i, a)
    {
        char runs[24], secs[32];
        snprintf(runs, sizeof(runs), "%lld",
                 (long long)json_integer_value(json_object_get(a, "runs")));
        snprintf(secs, sizeof(secs), "%.3f", json_number_value(json_object_get(a, "agentSeconds")));
        const char *row[5] = {jstr(a, "agentId"), jstr(a, "name"), jstr(a, "node"), runs, secs};
        ad_table_add(t, row);
    }
    char runs[24], secs[32];
    snprintf(runs, sizeof(runs), "%lld",
             (long long)json_integer_value(json_object_get(out, "runs")));
    snprintf(secs, sizeof(secs), "%.3f", json_number_value(json_object_get(out, "agentSeconds")));
    const char *total[5] = {"total", "(with running runs)", "", runs, secs};
    ad_table_add(t, total);
}

int ad_store_report_check(const char *name, const char **format, ad_field_err_t *e)
{
    if (name == NULL || !ad_field_choice("stats,tokens,rentals", name)) {
        return ad_field_fail(e, "report", "must be one of stats,tokens,rentals");
    }
    *format = *format != NULL && (*format)[0] != '\0' ? *format : "csv";
    if (!ad_field_choice("csv,pdf", *format)) {
        return ad_field_fail(e, "format", "must be csv or pdf");
    }
    return 0;
}

int ad_store_report_render(const char *name, const char *format, const json_t *out,
                           ad_arena_t *arena, int64_t now, ad_buf_t *b, char *file, size_t filesz)
{
    static const char *const metric_head[] = {"metric", "value"};
    static const char *const agent_head[] = {"agent_id", "name", "node", "runs", "agent_seconds"};
    ad_table_t t = {.arena = arena};
    t.ncols = strcmp(name, "rentals") == 0 ? 5 : 2;
    if (t.ncols == 5) {
        agent_rows(&t, out);
    } else {
        ad_table_metrics(&t, out);
    }
    const char *const *head = t.ncols == 5 ? agent_head : metric_head;
    char title[96], day[AD_TIME_MAX];
    ad_time_format(now, day);
    day[10] = '\0';
    snprintf(title, sizeof(title), "agentd %s report, %s (UTC)", name, day);
    int rc = strcmp(format, "pdf") == 0 ? ad_pdf_table(b, title, head, t.ncols, t.cells, t.nrows)
                                        : ad_table_csv(b, head, &t);
    snprintf(file, filesz, "attachment; filename=\"agentd-%s-%s.%s\"", name, day, format);
    ad_table_free(&t);
    return rc;
}
