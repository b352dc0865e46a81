/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the TensorBoard event-file reader (issue #35): the
 * input is a file's bytes, read as TFRecord records (a torn tail must ask
 * for more, a damaged one must be skipped or stop the file, never read
 * past the buffer) whose data are decoded as Event protobufs; the input is
 * also decoded whole as one Event. Whatever is reported must keep the
 * reader's promises: histograms of 1 to 256 buckets, edges strictly
 * ascending within +-1e300, counts finite and not negative.
 * Seed corpus: tests/fuzz/corpus/tfevents/ (written by
 * tests/e2e/imports.test.js's encoder). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tsdb/tsdb.h"

static void on_scalar(void *ud, const char *tag, size_t tag_len, int64_t step, double wall,
                      double v)
{
    (void)ud;
    (void)step;
    (void)wall;
    (void)v;
    if (tag == NULL || tag_len == 0) {
        abort(); /* a value without a tag is not reported */
    }
}

static void on_histogram(void *ud, const char *tag, size_t tag_len, int64_t step, double wall,
                         const double *edges, const double *counts, size_t n)
{
    (void)ud;
    (void)step;
    (void)wall;
    if (tag == NULL || tag_len == 0 || n == 0 || n > TSDB_HIST_BINS_MAX) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (!(edges[i] < edges[i + 1]) || fabs(edges[i]) > TSDB_TF_EDGE_MAX ||
            fabs(edges[i + 1]) > TSDB_TF_EDGE_MAX || !isfinite(counts[i]) || counts[i] < 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsdb_tf_cb_t cb = {on_scalar, on_histogram, NULL};
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *rec;
        size_t len = 0, total = 0;
        int rc = tsdb_tfrec_parse(data + pos, size - pos, &rec, &len, &total);
        if (rc == TSDB_TF_MORE || rc == TSDB_TF_BAD) {
            break;
        }
        if (total == 0 || total > size - pos) {
            abort(); /* a record never reaches past what was given */
        }
        if (rc == TSDB_TF_OK) {
            if (rec < data + pos || rec + len > data + pos + total) {
                abort();
            }
            (void)tsdb_tf_event(rec, len, &cb);
        }
        pos += total;
    }
    (void)tsdb_tf_event(data, size, &cb);
    return 0;
}
