/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the distribution checks (issue #16): the input is a
 * JSON object as a program prints it or a batch carries it; the first byte
 * picks the kind. What the check accepts must serialise, give edges back
 * (histograms) and add onto other equal edges with its total kept; what it
 * refuses must say why with 413 or 422. Seed corpus: tests/fuzz/corpus/dists/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tables/dists.h"
#include "tsdb/tsdb.h"

static void added(json_t *d)
{
    json_t *edges = ad_store_dist_edges(d), *counts = json_object_get(d, "counts");
    size_t n = json_array_size(counts);
    if (edges == NULL || n == 0 || n > TSDB_HIST_BINS_MAX || json_array_size(edges) != n + 1) {
        abort(); /* a checked histogram always has n counts and n + 1 edges */
    }
    double e[TSDB_HIST_BINS_MAX + 1], c[TSDB_HIST_BINS_MAX], de[8], dc[7] = {0};
    double total = 0, sum = 0;
    for (size_t i = 0; i <= n; i++) {
        e[i] = json_number_value(json_array_get(edges, i));
        if (i < n) {
            c[i] = json_number_value(json_array_get(counts, i));
            total += c[i];
        }
    }
    tsdb_hist_edges(e[0] - 1, e[n] + 1, 7, de);
    tsdb_hist_add(e, c, n, de, dc, 7);
    for (int i = 0; i < 7; i++) {
        sum += dc[i];
    }
    if (!isfinite(sum) || fabs(sum - total) > 1e-6 * (total + 1)) {
        abort(); /* adding onto other edges keeps the total */
    }
    json_decref(edges);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    bool counts = data[0] & 1;
    json_t *in = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!json_is_object(in)) {
        json_decref(in);
        return 0;
    }
    ad_dist_err_t err = {0};
    json_t *d = ad_store_dist_check(in, counts, &err);
    if (d == NULL) {
        if ((err.status != 413 && err.status != 422) || err.reason[0] == '\0') {
            abort(); /* every refusal says why */
        }
    } else {
        char *dump = json_dumps(d, JSON_COMPACT);
        if (dump == NULL) {
            abort();
        }
        free(dump);
        if (!counts) {
            added(d);
        }
    }
    json_decref(d);
    json_decref(in);
    return 0;
}
