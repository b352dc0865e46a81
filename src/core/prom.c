/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format (version 0.0.4): HELP and TYPE
 * lines before each family, label values escaped, base units in names
 * (bytes, seconds, celsius, watts, ratio 0-1), counters ending in _total,
 * histograms as cumulative buckets with _sum and _count. Each subsystem
 * writes its own figures with it (bus, store, health); /metrics puts them
 * together (src/api/metrics.c).
 */
#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Escapes for HELP text (\\ and \n) and label values (also \"). */
static int escaped(ad_buf_t *b, const char *s, bool label)
{
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        if (*s == '\\') {
            rc = ad_buf_puts(b, "\\\\");
        } else if (*s == '\n') {
            rc = ad_buf_puts(b, "\\n");
        } else if (*s == '"' && label) {
            rc = ad_buf_puts(b, "\\\"");
        } else {
            rc = ad_buf_putc(b, *s);
        }
    }
    return rc;
}

int ad_prom_family(ad_buf_t *b, const char *name, const char *type, const char *help)
{
    int rc = ad_buf_printf(b, "# HELP %s ", name);
    if (rc == 0) {
        rc = escaped(b, help, false);
    }
    return rc != 0 ? rc : ad_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static int value(ad_buf_t *b, double v)
{
    if (isnan(v)) {
        return ad_buf_puts(b, " NaN\n");
    }
    if (isinf(v)) {
        return ad_buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
    }
    if (v == floor(v) && fabs(v) < 9e15) {
        return ad_buf_printf(b, " %.0f\n", v);
    }
    return ad_buf_printf(b, " %.17g\n", v);
}

static int labels(ad_buf_t *b, va_list ap)
{
    int rc = 0;
    bool first = true;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) {
            break;
        }
        const char *v = va_arg(ap, const char *);
        rc = ad_buf_printf(b, "%s%s=\"", first ? "{" : ",", k);
        if (rc == 0) {
            rc = escaped(b, v != NULL ? v : "", true);
        }
        if (rc == 0) {
            rc = ad_buf_putc(b, '"');
        }
        if (rc != 0) {
            return rc;
        }
        first = false;
    }
    return first ? 0 : ad_buf_putc(b, '}');
}

int ad_prom_sample(ad_buf_t *b, const char *name, double v, ...)
{
    int rc = ad_buf_puts(b, name);
    va_list ap;
    va_start(ap, v);
    if (rc == 0) {
        rc = labels(b, ap);
    }
    va_end(ap);
    return rc != 0 ? rc : value(b, v);
}

int ad_prom_histogram(ad_buf_t *b, const char *name, const double *bounds, const uint64_t *counts,
                      size_t n, double sum, const char *label, const char *label_value)
{
    char series[160], le[40];
    uint64_t cum = 0;
    int rc = 0;
    snprintf(series, sizeof(series), "%s_bucket", name);
    for (size_t i = 0; i <= n && rc == 0; i++) {
        cum += counts[i];
        if (i < n) {
            snprintf(le, sizeof(le), "%g", bounds[i]);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        rc = label != NULL
                 ? ad_prom_sample(b, series, (double)cum, label, label_value, "le", le, NULL)
                 : ad_prom_sample(b, series, (double)cum, "le", le, NULL);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    if (rc == 0) {
        rc = label != NULL ? ad_prom_sample(b, series, sum, label, label_value, NULL)
                           : ad_prom_sample(b, series, sum, NULL);
    }
    snprintf(series, sizeof(series), "%s_count", name);
    if (rc == 0) {
        rc = label != NULL ? ad_prom_sample(b, series, (double)cum, label, label_value, NULL)
                           : ad_prom_sample(b, series, (double)cum, NULL);
    }
    return rc;
}

int ad_prom_gauge(ad_buf_t *b, const char *name, const char *help, double v)
{
    int rc = ad_prom_family(b, name, "gauge", help);
    return rc != 0 ? rc : ad_prom_sample(b, name, v, NULL);
}

int ad_prom_counter(ad_buf_t *b, const char *name, const char *help, double v)
{
    int rc = ad_prom_family(b, name, "counter", help);
    return rc != 0 ? rc : ad_prom_sample(b, name, v, NULL);
}
