/* SPDX-License-Identifier: MIT */
/*
 * Sweeps (issue #35), the pure half: what a sweep may say (checked field by
 * field against its config schema) and the proposers that pick each
 * trial's config: grid (the product of each parameter's values, in order),
 * random (uniform, or log-uniform where the schema says log), and TPE, a
 * tree-structured Parzen estimator: once four trials have finished, the
 * best quarter and the rest each get a density per parameter (Gaussian
 * kernels on the parameter's [0, 1] scale, smoothed counts for options),
 * and of 24 random candidates the one where good/bad is highest is tried.
 * The random numbers come from a xorshift64* whose state is kept in the
 * sweep's state, so a restarted daemon draws what it would have drawn.
 */
#include "hparam/hparam.h"
#include "train/train.h"
#include "tables/hparams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------------------- */

static uint64_t next_u64(uint64_t *s)
{
    uint64_t x = *s != 0 ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static double unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* ---- the schema's fields --------------------------------------------------------------- */

static json_t *field_of(json_t *schema, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(schema, "fields"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            return f;
        }
    }
    return NULL;
}

static const char *type_of(json_t *f)
{
    const char *t = json_string_value(json_object_get(f, "type"));
    return t != NULL ? t : "";
}

/* A parameter's range: its own min/max over the field's. */
static void range_of(json_t *f, json_t *p, double *lo, double *hi, bool *log_scale)
{
    json_t *pmin = json_object_get(p, "min"), *pmax = json_object_get(p, "max");
    *lo = json_is_number(pmin) ? json_number_value(pmin)
                               : json_number_value(json_object_get(f, "min"));
    *hi = json_is_number(pmax) ? json_number_value(pmax)
                               : json_number_value(json_object_get(f, "max"));
    *log_scale = json_is_true(json_object_get(f, "log")) && *lo > 0 && *hi > 0;
}

/* A number of the field on its grid: an int on min + k * step. */
static json_t *num_value(json_t *f, double x)
{
    if (strcmp(type_of(f), "int") == 0) {
        double min = json_number_value(json_object_get(f, "min"));
        double step = json_number_value(json_object_get(f, "step"));
        if (step >= 1) {
            x = min + round((x - min) / step) * step;
        }
        return json_integer((json_int_t)llround(x));
    }
    return json_real(x);
}

/* The discrete values of a parameter for the grid (points: how many for a
 * range). A new array. */
static json_t *grid_values(json_t *f, json_t *p, int points)
{
    json_t *vals = json_object_get(p, "values");
    if (json_is_array(vals)) {
        return json_incref(vals);
    }
    const char *t = type_of(f);
    if (strcmp(t, "enum") == 0) {
        return json_incref(json_object_get(f, "options"));
    }
    if (strcmp(t, "bool") == 0) {
        return json_pack("[b, b]", false, true);
    }
    double lo, hi;
    bool lg;
    range_of(f, p, &lo, &hi, &lg);
    json_t *out = json_array();
    for (int i = 0; i < points; i++) {
        double u = points == 1 ? 0.5 : (double)i / (points - 1);
        double x = lg ? exp(log(lo) + u * (log(hi) - log(lo))) : lo + u * (hi - lo);
        x = x < lo ? lo : x > hi ? hi : x; /* exp(log(hi)) may be past hi by a rounding */
        json_t *v = num_value(f, x);
        if (json_array_size(out) == 0 ||
            !json_equal(json_array_get(out, json_array_size(out) - 1), v)) {
            json_array_append_new(out, v);
        } else {
            json_decref(v);
        }
    }
    return out;
}

static json_t *random_value(json_t *f, json_t *p, uint64_t *rng)
{
    json_t *vals = json_object_get(p, "values");
    const char *t = type_of(f);
    if (!json_is_array(vals) && strcmp(t, "enum") == 0) {
        vals = json_object_get(f, "options");
    }
    if (json_is_array(vals)) {
        size_t n = json_array_size(vals);
        return json_incref(json_array_get(vals, (size_t)(unit(rng) * (double)n) % (n ? n : 1)));
    }
    if (strcmp(t, "bool") == 0) {
        return json_boolean(unit(rng) < 0.5);
    }
    double lo, hi;
    bool lg;
    range_of(f, p, &lo, &hi, &lg);
    double u = unit(rng);
    double x = lg ? exp(log(lo) + u * (log(hi) - log(lo))) : lo + u * (hi - lo);
    return num_value(f, x < lo ? lo : x > hi ? hi : x);
}

/* ---- the spec ----------------------------------------------------------------------------- */

typedef struct {
    char *field;
    size_t fieldsz;
    char *why;
    size_t whysz;
} err_t;

static int bad(err_t *e, const char *field, const char *why)
{
    snprintf(e->field, e->fieldsz, "%s", field);
    snprintf(e->why, e->whysz, "%s", why);
    return AD_EINVAL;
}

static int int_in(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t def, int64_t *out,
                  err_t *e)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char why[96];
        snprintf(why, sizeof(why), "must be a whole number from %lld to %lld", (long long)lo,
                 (long long)hi);
        return bad(e, key, why);
    }
    *out = json_integer_value(v);
    return 0;
}

size_t ad_train_sweep_grid_size(json_t *spec, json_t *schema)
{
    size_t n = 1;
    const char *k;
    json_t *p;
    json_object_foreach(json_object_get(spec, "params"), k, p)
    {
        json_t *g = grid_values(field_of(schema, k), p,
                                (int)json_integer_value(json_object_get(spec, "gridPoints")));
        size_t m = json_array_size(g);
        json_decref(g);
        n = m == 0 || n > 100000 / m ? 100001 : n * m;
    }
    return n;
}

/* Each of params is a field of schema given as {values: [...]} or
 * {min?, max?}, whose values (or both ends) the schema takes. */
static int check_params(json_t *params, json_t *schema, err_t *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        char f[160];
        snprintf(f, sizeof(f), "params.%.64s", k);
        json_t *sf = field_of(schema, k);
        if (sf == NULL) {
            return bad(e, f, "is not a field of the schema");
        }
        const char *t = type_of(sf);
        json_t *vals = json_object_get(v, "values");
        if (!json_is_object(v) ||
            (vals != NULL && (!json_is_array(vals) || json_array_size(vals) == 0 ||
                              json_array_size(vals) > 1000))) {
            return bad(e, f, "must be {values: [1 to 1000 values]} or {min?, max?}");
        }
        if (vals == NULL && (strcmp(t, "string") == 0)) {
            return bad(e, f, "a string field needs values");
        }
        /* every value, or both ends, must be one the schema takes */
        json_t *probe = vals != NULL ? json_incref(vals) : grid_values(sf, v, 2);
        size_t i;
        json_t *x;
        json_array_foreach(probe, i, x)
        {
            ad_hparam_err_t herr;
            json_t *patch = json_pack("{s:O}", k, x);
            json_t *ok = ad_hparam_values(schema, NULL, patch, &herr);
            json_decref(patch);
            if (ok == NULL) {
                json_decref(probe);
                return bad(e, f, herr.reason);
            }
            json_decref(ok);
        }
        json_decref(probe);
    }
    return 0;
}

int ad_train_sweep_check(json_t *in, json_t *schema, json_t **out, char *field, size_t fieldsz,
                         char *why, size_t whysz)
{
    err_t e = {field, fieldsz, why, whysz};
    static const char *const keys[] = {
        "name",     "agentId",  "schemaId",  "method",     "params", "metric",      "budget",
        "parallel", "maxSteps", "earlyStop", "gridPoints", "seed",   "configFlags", "orgId"};
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
            known = known || strcmp(k, keys[i]) == 0;
        }
        if (!known) {
            return bad(&e, k, "is not a sweep field");
        }
    }
    const char *name = json_string_value(json_object_get(in, "name"));
    const char *method = json_string_value(json_object_get(in, "method"));
    json_t *metric = json_object_get(in, "metric"), *params = json_object_get(in, "params");
    const char *mname = json_string_value(json_object_get(metric, "name"));
    const char *goal = json_string_value(json_object_get(metric, "goal"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
        return bad(&e, "name", "is required: 1 to 200 bytes");
    }
    if (json_string_value(json_object_get(in, "agentId")) == NULL) {
        return bad(&e, "agentId", "is required: the command agent each trial is made from");
    }
    if (method == NULL) {
        method = "random";
    }
    if (strcmp(method, "grid") != 0 && strcmp(method, "random") != 0 &&
        strcmp(method, "bayes") != 0) {
        return bad(&e, "method", "must be grid, random or bayes");
    }
    if (mname == NULL || mname[0] == '\0' || strlen(mname) > 200) {
        return bad(&e, "metric.name", "is required: the series the sweep ranks trials by");
    }
    if (goal != NULL && strcmp(goal, "maximize") != 0 && strcmp(goal, "minimize") != 0) {
        return bad(&e, "metric.goal", "must be maximize or minimize");
    }
    if (!json_is_object(params) || json_object_size(params) == 0) {
        return bad(&e, "params", "is required: {field: {values: [...]} or {min?, max?}}");
    }
    if (check_params(params, schema, &e) != 0) {
        return AD_EINVAL;
    }
    int64_t parallel, budget, max_steps, grid_points, seed;
    if (int_in(in, "parallel", 1, 32, 1, &parallel, &e) != 0 ||
        int_in(in, "maxSteps", 1, INT64_MAX / 4, 0, &max_steps, &e) != 0 ||
        int_in(in, "gridPoints", 1, 100, 3, &grid_points, &e) != 0 ||
        int_in(in, "seed", 0, INT64_MAX, 1, &seed, &e) != 0) {
        return AD_EINVAL;
    }
    json_t *spec = json_deep_copy(in);
    json_object_del(spec, "orgId");
    json_object_set_new(spec, "method", json_string(method));
    json_object_set_new(json_object_get(spec, "metric"), "goal",
                        json_string(goal != NULL ? goal : "maximize"));
    json_object_set_new(spec, "parallel", json_integer(parallel));
    json_object_set_new(spec, "gridPoints", json_integer(grid_points));
    json_object_set_new(spec, "seed", json_integer(seed));
    size_t grid = ad_train_sweep_grid_size(spec, schema);
    if (int_in(in, "budget", 1, 1000,
               strcmp(method, "grid") == 0 && grid <= 1000 ? (int64_t)grid : 20, &budget,
               &e) != 0) {
        json_decref(spec);
        return AD_EINVAL;
    }
    json_object_set_new(spec, "budget", json_integer(budget));
    json_t *es = json_object_get(in, "earlyStop");
    if (es != NULL && !json_is_null(es)) {
        const char *type = json_string_value(json_object_get(es, "type"));
        int64_t min_steps, eta;
        if (type == NULL || (strcmp(type, "median") != 0 && strcmp(type, "hyperband") != 0)) {
            json_decref(spec);
            return bad(&e, "earlyStop.type", "must be median or hyperband");
        }
        if (int_in(es, "minSteps", 1, INT64_MAX / 1024, 1, &min_steps, &e) != 0 ||
            int_in(es, "eta", 2, 10, 3, &eta, &e) != 0) {
            snprintf(field, fieldsz, "earlyStop.%s", e.field[0] == 'm' ? "minSteps" : "eta");
            json_decref(spec);
            return AD_EINVAL;
        }
        json_object_set_new(spec, "earlyStop",
                            json_pack("{s:s, s:I, s:I}", "type", type, "minSteps",
                                      (json_int_t)min_steps, "eta", (json_int_t)eta));
    }
    *out = spec;
    return 0;
}

/* ---- proposing ------------------------------------------------------------------------------ */

/* A parameter's value on [0, 1] (its range; an option's index), for TPE. */
static double to_unit(json_t *f, json_t *p, json_t *v, bool *categorical, size_t *k, size_t *nk)
{
    json_t *vals = json_object_get(p, "values");
    if (!json_is_array(vals) && strcmp(type_of(f), "enum") == 0) {
        vals = json_object_get(f, "options");
    }
    if (json_is_array(vals) || strcmp(type_of(f), "bool") == 0) {
        *categorical = true;
        json_t *list = json_is_array(vals) ? json_incref(vals) : json_pack("[b, b]", false, true);
        *nk = json_array_size(list);
        *k = 0;
        for (size_t i = 0; i < *nk; i++) {
            if (json_equal(json_array_get(list, i), v)) {
                *k = i;
            }
        }
        json_decref(list);
        return 0;
    }
    *categorical = false;
    double lo, hi, x = json_number_value(v);
    bool lg;
    range_of(f, p, &lo, &hi, &lg);
    double u = lg ? (log(x) - log(lo)) / (log(hi) - log(lo)) : (x - lo) / (hi - lo);
    return isfinite(u) ? u : 0.5;
}

/* log of a density at candidate u from the trials' values (a Parzen window
 * with a flat prior). */
static double density(double u, const double *us, size_t n)
{
    const double bw = 0.2;
    double s = 1.0; /* the prior: uniform on [0, 1] */
    for (size_t i = 0; i < n; i++) {
        double z = (u - us[i]) / bw;
        s += exp(-0.5 * z * z) / (bw * 2.5066282746);
    }
    return log(s / (double)(n + 1));
}

static double tpe_score(json_t *cand, json_t *spec, json_t *schema, json_t *good, json_t *badset)
{
    double score = 0;
    const char *k;
    json_t *p;
    json_object_foreach(json_object_get(spec, "params"), k, p)
    {
        json_t *f = field_of(schema, k);
        bool cat;
        size_t ck = 0, nk = 0;
        double u = to_unit(f, p, json_object_get(cand, k), &cat, &ck, &nk);
        json_t *sets[2] = {good, badset};
        double l[2];
        for (int s = 0; s < 2; s++) {
            size_t n = json_array_size(sets[s]), hits = 0;
            double us[1000];
            size_t m = 0;
            for (size_t i = 0; i < n && m < 1000; i++) {
                bool c2;
                size_t k2 = 0, nk2 = 0;
                double u2 =
                    to_unit(f, p, json_object_get(json_array_get(sets[s], i), k), &c2, &k2, &nk2);
                if (cat) {
                    hits += k2 == ck;
                } else {
                    us[m++] = u2;
                }
            }
            l[s] = cat ? log(((double)hits + 1) / ((double)n + (double)nk)) : density(u, us, m);
        }
        score += l[0] - l[1];
    }
    return score;
}

json_t *ad_train_sweep_propose(json_t *spec, json_t *schema, size_t index, json_t *done,
                               uint64_t *rng)
{
    const char *method = json_string_value(json_object_get(spec, "method"));
    json_t *params = json_object_get(spec, "params");
    const char *k;
    json_t *p;
    if (strcmp(method, "grid") == 0) {
        json_t *out = json_object();
        size_t rest = index;
        /* the last parameter moves fastest */
        size_t n = json_object_size(params), i = 0;
        const char **names = ad_xcalloc(n > 0 ? n : 1, sizeof(*names));
        json_object_foreach(params, k, p)
        {
            names[i++] = k;
        }
        for (size_t j = n; j-- > 0;) {
            json_t *g = grid_values(field_of(schema, names[j]), json_object_get(params, names[j]),
                                    (int)json_integer_value(json_object_get(spec, "gridPoints")));
            size_t m = json_array_size(g);
            json_object_set(out, names[j], json_array_get(g, m ? rest % m : 0));
            rest = m ? rest / m : 0;
            json_decref(g);
        }
        free(names);
        return out;
    }
    size_t ndone = json_array_size(done);
    size_t tries = strcmp(method, "bayes") == 0 && ndone >= 4 ? 24 : 1;
    json_t *good = json_array(), *rest = json_array();
    if (tries > 1) { /* done: trials' values, best first */
        size_t ngood = ndone / 4 > 0 ? ndone / 4 : 1;
        for (size_t i = 0; i < ndone; i++) {
            json_array_append(i < ngood ? good : rest, json_array_get(done, i));
        }
    }
    json_t *best = NULL;
    double best_score = -INFINITY;
    for (size_t t = 0; t < tries; t++) {
        json_t *cand = json_object();
        json_object_foreach(params, k, p)
        {
            json_object_set_new(cand, k, random_value(field_of(schema, k), p, rng));
        }
        double s = tries > 1 ? tpe_score(cand, spec, schema, good, rest) : 0;
        if (best == NULL || s > best_score) {
            json_decref(best);
            best = cand;
            best_score = s;
        } else {
            json_decref(cand);
        }
    }
    json_decref(good);
    json_decref(rest);
    return best;
}

int ad_train_sweep_args(ad_store_t *st, json_t *body, const char *filter, const char *org,
                        json_t **args, char *field, size_t fieldsz, char *why, size_t whysz)
{
    const char *agent_id = json_string_value(json_object_get(body, "agentId"));
    const char *schema_id = json_string_value(json_object_get(body, "schemaId"));
    ad_row_agent_t agent = {0};
    json_t *schema = NULL, *spec = NULL;
    int rc = AD_EINVAL;
    if (ad_store_agent_row(st, agent_id, &agent) != 0 ||
        agent.executor != AD_ROW_EXECUTOR_COMMAND) {
        snprintf(field, fieldsz, "agentId");
        snprintf(why, whysz, "must be a command agent");
    } else if ((schema = ad_store_cfg_schema_for(st, schema_id, filter, NULL)) == NULL) {
        snprintf(field, fieldsz, "schemaId");
        snprintf(why, whysz, "is required: a config schema you may use");
    } else if (ad_train_sweep_check(body, schema, &spec, field, fieldsz, why, whysz) == 0) {
        char id[AD_ID_MAX];
        ad_id_new("swp", id);
        *args = json_pack("{s:s, s:s, s:O, s:o, s:{s:[], s:O}, s:s, s:I}", "id", id, "orgId", org,
                          "name", json_object_get(spec, "name"), "spec", spec, "state", "trials",
                          "rng", json_object_get(spec, "seed"), "status", "running", "now",
                          (json_int_t)ad_wall_ms());
        rc = 0;
    }
    json_decref(schema);
    ad_row_agent_cleanup(&agent);
    return rc;
}
