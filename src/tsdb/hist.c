/* SPDX-License-Identifier: MIT */
/* Binning raw values and adding histograms of other edges (see tsdb.h). */
#include "tsdb/tsdb.h"

#include <math.h>
#include <string.h>

/* The bucket of equal buckets over [lo, hi] (width w) that x falls in,
 * clamped to [0, m). */
static size_t bin_of(double x, double lo, double w, size_t m)
{
    double k = floor((x - lo) / w);
    if (!(k >= 0)) { /* also NaN */
        return 0;
    }
    return k >= (double)m ? m - 1 : (size_t)k;
}

void tsdb_hist_edges(double lo, double hi, size_t bins, double *edges)
{
    double w = (hi - lo) / (double)bins;
    for (size_t i = 0; i <= bins; i++) {
        edges[i] = i == bins ? hi : lo + w * (double)i;
    }
}

void tsdb_hist_bin(const double *v, size_t n, size_t bins, double *edges, double *counts)
{
    bins = bins < 1 ? 1 : (bins > TSDB_HIST_BINS_MAX ? TSDB_HIST_BINS_MAX : bins);
    double lo = v[0], hi = v[0];
    for (size_t i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    double w = (hi - lo) / (double)bins;
    tsdb_hist_edges(lo, hi, bins, edges);
    memset(counts, 0, bins * sizeof(*counts));
    for (size_t i = 0; i < n; i++) {
        counts[bin_of(v[i], lo, w, bins)] += 1;
    }
}

void tsdb_hist_add(const double *edges, const double *counts, size_t n, const double *dedges,
                   double *dcounts, size_t m)
{
    double lo = dedges[0], hi = dedges[m];
    double w = hi > lo ? (hi - lo) / (double)m : 1;
    for (size_t i = 0; i < n; i++) {
        double a = edges[i], b = edges[i + 1], c = counts[i];
        if (c == 0) {
            continue;
        }
        size_t ka = bin_of(a, lo, w, m), kb = bin_of(b, lo, w, m);
        if (!(b > a) || ka == kb) {
            dcounts[ka] += c;
            continue;
        }
        /* spread c over the buckets [a, b) overlaps, by length */
        for (size_t k = ka; k <= kb; k++) {
            double l = k == 0 ? -INFINITY : lo + w * (double)k;
            double r = k == m - 1 ? INFINITY : lo + w * (double)(k + 1);
            double ov = fmin(b, r) - fmax(a, l);
            if (ov > 0) {
                dcounts[k] += c * ov / (b - a);
            }
        }
    }
}
