/* SPDX-License-Identifier: MIT */
/*
 * Private to src/train: what the import engine (import.c) and its readers
 * (readers.c) share. A read runs on the thread pool with its own copies:
 * it reads a source from where the state says it stopped, up to a bound,
 * and gives back points, distributions and the new state.
 */
#ifndef AD_TRAIN_INT_H
#define AD_TRAIN_INT_H

#include "train/train.h"

/* Sets e to MLflow's error (status, code, the message); returns AD_EINVAL
 * (mlflow.c; mlflowreq.c's errors too). */
int ad_mlflow_fail(ad_mlflow_err_t *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define AD_TRAIN_READ_POINTS 200000     /* points one read gives at most */
#define AD_TRAIN_READ_BYTES (16u << 20) /* bytes one read takes at most */
#define AD_TRAIN_FILES_MAX 4096         /* files of one source */

typedef enum { AD_IMPORT_TFEVENTS, AD_IMPORT_MLRUNS, AD_IMPORT_CSV } ad_import_kind_t;

typedef struct {
    /* in: copies the read owns */
    ad_import_kind_t kind;
    char path[4096];
    json_t *state; /* {files: {name: offset}, bad: {name: why}, ...}; updated in place */
    /* out */
    json_t *points;    /* [{name, step, ts, value}] finite */
    json_t *nonfinite; /* [{name, step, value: "NaN"|...}]: for the alert rules only */
    json_t *dists;     /* checked histograms (ad_store_dist_check) */
    json_t *patch;     /* what the source says of the run: {name?, config?, status?, endedAt?} */
    size_t skipped;    /* records or lines that did not read */
    bool more;         /* stopped at a bound: read again at once */
    bool ended;        /* the source says the run is over (mlruns) */
    int rc;            /* AD_ENOENT: the path is gone; AD_EIO */
    char error[256];
} ad_train_read_t;

/* Pool thread. */
void ad_train_read(ad_train_read_t *r);

#endif
