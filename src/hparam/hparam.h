/* SPDX-License-Identifier: MIT */
/*
 * hparam: hyper-parameter config schemas and the values checked against
 * them (issue #16), and the training workspace's panel layouts (issue #35,
 * layout.c). Pure: JSON in, JSON out, no I/O; any thread.
 *
 * A schema is
 *   {name, description?, fields: [field, …], presets?: {name: {field: value}}}
 * and a field
 *   {name, label?, group?, description?, type: float|int|bool|enum|string,
 *    min, max (float, int: required), step? (int: values are min + k*step;
 *    float: the slider's increment only), log? (a hint: a log-scale slider;
 *    needs min > 0), options (enum: 1-64 strings), maxLength? (string),
 *    default (required, itself valid), readOnly?, disabled?}. The services'
 * words for a type (integer, number, boolean) are taken too and stored as
 * int, float, bool. A readOnly field is shown but never changed; a
 * disabled one is shown greyed and not changed either: both keep their
 * default (the seed's form; the services' schema has the same).
 * Field and preset names are identifiers ([A-Za-z_][A-Za-z0-9_]*, at most
 * 64 bytes), so they are safe in JSON paths and as --name=value flags.
 * Values are a flat object {field: value}; a preset may name some fields
 * only (the rest are the defaults).
 *
 * Errors name the field as the REST body does ("fields[2].min",
 * "values.learningRate") with a one-line reason that gives the range.
 */
#ifndef AD_HPARAM_H
#define AD_HPARAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AD_HPARAM_FIELDS_MAX 64
#define AD_HPARAM_PRESETS_MAX 16
#define AD_HPARAM_NAME_MAX 64

typedef struct {
    char field[160];
    char reason[256];
} ad_hparam_err_t;

/* The built-in schemas (the seed's PPO set, id "ppo", with presets
 * conservative, balanced and aggressive), each with builtIn: true and
 * orgId null. Borrowed; built once, on first use (call it once from the
 * loop thread before other threads do). */
json_t *ad_hparam_builtins(void);
/* The built-in schema with id, or NULL. Borrowed. */
json_t *ad_hparam_builtin(const char *id);

/* Whether name is an identifier of at most AD_HPARAM_NAME_MAX bytes. */
bool ad_hparam_name_ok(const char *name);
/* 0 when schema (a request body's schema part: name, description, fields,
 * presets) is well formed (its type aliases made canonical in place); else
 * AD_EINVAL with err set. */
int ad_hparam_schema_check(json_t *schema, ad_hparam_err_t *err);

/* The values of schema: base (may be NULL) with patch (may be NULL) laid
 * over it, every other field at its default; each checked (type, range,
 * step, options), and a patch naming a field the schema lacks is refused.
 * New reference, or NULL with err set ("values.<field>"). */
json_t *ad_hparam_values(json_t *schema, json_t *base, json_t *patch, ad_hparam_err_t *err);
/* Every field at its default. New reference. */
json_t *ad_hparam_defaults(json_t *schema);
/* The preset's values (its fields over the defaults), or NULL when the
 * schema has no such preset. New reference. */
json_t *ad_hparam_preset(json_t *schema, const char *preset);

/* A new config's values from its body {preset?, values?}: the preset's
 * (or the defaults), then values over them, checked. New reference, or
 * NULL with err set. */
json_t *ad_hparam_initial(json_t *schema, const json_t *body, ad_hparam_err_t *err);

/* ---- what the REST routes store (rows.c) --------------------------------------
 * A new schema's insert args {id (new "cs_" id), orgId, name, definition
 * (body but name and orgId), now}, for a body that passed
 * ad_hparam_schema_check. A config's name (body's "name": a string of 1 to
 * 200 bytes, required or not) into *name: 0, or AD_EINVAL with err set. A
 * new config's insert args {id (new "cfg_" id), orgId, name, schemaId,
 * values (stolen), now}; a config's update args {id, name? (NULL: kept),
 * values (stolen), now}. New references. */
json_t *ad_hparam_schema_args(const json_t *body, const char *org, int64_t now);
int ad_hparam_config_name(const json_t *body, bool required, const char **name,
                          ad_hparam_err_t *err);
json_t *ad_hparam_config_args(const char *org, const char *name, const char *schema_id,
                              json_t *values, int64_t now);
json_t *ad_hparam_config_update_args(const char *id, const char *name, json_t *values, int64_t now);
/* A change of a config (its row) under its schema, how "patch" (body
 * {name?, values?}: values laid over the config's), "reset" (the
 * defaults; body NULL) or "preset" (body {preset}: that preset's). The
 * body's own fields are checked first (*name: a patch's new name, or
 * NULL): 0, or AD_EINVAL with err set; then the new values: a new
 * reference, or NULL with err set ("values.<field>", "preset"). */
int ad_hparam_edit_check(const json_t *body, const char *how, const char **name,
                         ad_hparam_err_t *err);
json_t *ad_hparam_edit(json_t *schema, json_t *config, const json_t *body, const char *how,
                       ad_hparam_err_t *err);

/* The values as command-line flags "--name=value" in the schema's field
 * order (floats in the shortest form that reads back the same, bools as
 * true/false). Appends malloc'd strings to out[*n..cap) and returns how many
 * it added. */
size_t ad_hparam_flags(json_t *schema, json_t *values, char **out, size_t cap);

/* ---- panel layouts (layout.c, issue #35) ------------------------------------
 * A layout is {panels: [panel, …]} (at most AD_LAYOUT_PANELS_MAX) and a
 * panel {id, title?, metrics: [name, …] (1 to AD_LAYOUT_METRICS_MAX, each 1
 * to 200 bytes, no control characters), runs: null | [run id, …] (at most
 * AD_LAYOUT_RUNS_MAX), x: step|time|relative, smooth (0 to <1), log,
 * group}. */
#define AD_LAYOUT_PANELS_MAX 24
#define AD_LAYOUT_METRICS_MAX 8
#define AD_LAYOUT_RUNS_MAX 16

/* The layout of a request body, checked field by field: a new reference
 * holding only the fields above (defaults filled in), or NULL with err
 * naming the field ("panels[2].metrics[0]"); an unknown field is refused. */
json_t *ad_hparam_layout(json_t *body, ad_hparam_err_t *err);

#endif
