/* SPDX-License-Identifier: MIT */
/*
 * Private to src/monitor: the monitor's state, shared by monitor.c (the
 * sampler's feed), status.c (GET /api/health's figures) and history.c (the
 * history read back from disk).
 */
#ifndef AD_MONITOR_INT_H
#define AD_MONITOR_INT_H

#include "monitor/monitor.h"

struct ad_monitor {
    ad_monitor_opts_t o;
    ad_health_t *health;
    ad_health_pend_t *pend;  /* records not yet on disk (NULL without a store) */
    uint64_t puts;           /* host chunks stored (the history is trimmed every tenth) */
    uint64_t event_ms;       /* the last system_health event (monotonic ms) */
    struct ad_train *train;  /* told when the GPUs throttle, or NULL */
    json_t *requirements;    /* the last requirements check, kept a minute */
    int64_t requirements_ms; /* when it was made (wall clock) */
    size_t reads; /* history reads and checks under way: the last one frees a closed monitor */
    bool closed;  /* ad_monitor_free was called while reads were under way */
};

#endif
