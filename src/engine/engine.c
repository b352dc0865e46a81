/* SPDX-License-Identifier: MIT */
/*
 * The loop over a table of engines (engine.h): open in the table's order,
 * stop in the same order, close in the reverse. The table itself and why
 * its order is what it is are src/engines.c's.
 */
#include "engine/engine.h"

void ad_engines_open_table(ad_app_t *app, const ad_engine_t *const *list, size_t n)
{
    AD_ASSERT(n <= AD_ENGINES_MAX);
    app->engines = (ad_engines_t){.list = list, .n = n};
    for (size_t i = 0; i < n; i++) {
        if (list[i]->open(app) == 0) {
            app->engines.open[i] = true;
        } else {
            ad_log(AD_LOG_WARN, "engines", "an engine did not open name=%s", list[i]->name);
        }
    }
}

void ad_engines_routes(ad_app_t *app)
{
    const ad_engines_t *t = &app->engines;
    for (size_t i = 0; i < t->n; i++) {
        if (t->open[i] && t->list[i]->routes != NULL) {
            t->list[i]->routes(app);
        }
    }
}

void ad_engines_stop_table(ad_app_t *app)
{
    const ad_engines_t *t = &app->engines;
    for (size_t i = 0; i < t->n; i++) {
        if (t->open[i] && t->list[i]->stop != NULL) {
            t->list[i]->stop(app);
        }
    }
}

void ad_engines_close_table(ad_app_t *app)
{
    ad_engines_t *t = &app->engines;
    for (size_t i = t->n; i-- > 0;) {
        if (t->open[i] && t->list[i]->close != NULL) {
            t->list[i]->close(app);
        }
        t->open[i] = false;
    }
}

int ad_engines_metrics(const ad_app_t *app, ad_buf_t *b, const char *org)
{
    const ad_engines_t *t = &app->engines;
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        if (t->open[i] && t->list[i]->metrics != NULL) {
            rc = t->list[i]->metrics(app, b, org);
        }
    }
    return rc;
}
