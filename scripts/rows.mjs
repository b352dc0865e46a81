#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Makes the typed rows from schema/rows.def (issue #79; docs/internals/rows.md):
//   node scripts/rows.mjs c DIR     DIR/rows.h and DIR/rows.c: the C structs,
//                                   enums with their one string table each, and
//                                   the JSON codecs (jansson), for the build's
//                                   gen dir (scripts/rows.mk)
//   node scripts/rows.mjs ts FILE   the dashboard's types (web/src/rows.ts)
//   node scripts/rows.mjs check     fails when web/src/rows.ts is not what the
//                                   schema makes (make rows-check)
// A file is rewritten only when its text changes, so make does not rebuild
// what includes it for nothing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMA = path.join(ROOT, 'schema/rows.def');
const TS_FILE = path.join(ROOT, 'web/src/rows.ts');

// Scalars: the C type of each, and whether it is a pointer (unset = NULL).
const SCALARS = {
  id: { c: 'char *', ptr: true, ts: 'string' },
  string: { c: 'char *', ptr: true, ts: 'string' },
  time: { c: 'int64_t ', ptr: false, ts: 'string' },
  int: { c: 'int64_t ', ptr: false, ts: 'number' },
  number: { c: 'double ', ptr: false, ts: 'number' },
  bool: { c: 'bool ', ptr: false, ts: 'boolean' },
  json: { c: 'json_t *', ptr: true, ts: 'unknown' },
  strings: { c: 'json_t *', ptr: true, ts: 'string[]' },
};

function fail(line, msg) {
  console.error(`schema/rows.def:${line}: ${msg}`);
  process.exit(1);
}

const snake = (s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const pascal = (s) => s.replace(/(^|_)([a-z0-9])/g, (_, __, c) => c.toUpperCase());
const upper = (s) => s.toUpperCase();

// The schema as {enums: [{name, values, doc}], rows: [{name, doc, fields}]},
// in the file's order; every type a field names must be defined above it.
function parse(text) {
  const enums = [];
  const rows = [];
  const names = new Map(); // name -> 'enum' | 'row'
  let doc = [];
  let row = null;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const hash = raw.indexOf('#');
    const comment = hash >= 0 ? raw.slice(hash + 1).trim() : '';
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') {
      if (hash >= 0 && raw.trim().startsWith('#') && !raw.trim().startsWith('# ----')) doc.push(comment);
      else doc = [];
      return;
    }
    const w = body.split(/\s+/);
    if (row === null) {
      if (w[0] === 'enum') {
        if (w.length < 3) fail(line, 'an enum needs a name and at least one value');
        if (names.has(w[1])) fail(line, `${w[1]} is defined twice`);
        if (new Set(w.slice(2)).size !== w.length - 2) fail(line, `${w[1]}: a value is listed twice`);
        for (const v of w.slice(2)) if (!/^[a-z][a-z0-9_]*$/.test(v)) fail(line, `${w[1]}: value "${v}" is not lower_snake`);
        names.set(w[1], 'enum');
        enums.push({ name: w[1], values: w.slice(2), doc });
      } else if (w[0] === 'row') {
        if (w.length !== 2) fail(line, 'row NAME');
        if (names.has(w[1])) fail(line, `${w[1]} is defined twice`);
        row = { name: w[1], doc, fields: [], line };
      } else {
        fail(line, `expected enum or row, not "${w[0]}"`);
      }
      doc = [];
      return;
    }
    if (w[0] === 'end' && w.length === 1) {
      if (row.fields.length === 0) fail(line, `${row.name} has no field`);
      names.set(row.name, 'row');
      rows.push(row);
      row = null;
      doc = [];
      return;
    }
    const [wire, type, ...flags] = w;
    if (!/^[a-z][A-Za-z0-9]*$/.test(wire)) fail(line, `field "${wire}" is not camelCase`);
    if (row.fields.some((f) => f.wire === wire)) fail(line, `${row.name}.${wire} is listed twice`);
    if (type === undefined) fail(line, `${row.name}.${wire} has no type`);
    const list = type.endsWith('[]');
    const base = list ? type.slice(0, -2) : type;
    let kind;
    if (SCALARS[base] && !list) kind = base;
    else if (names.get(base) === 'enum' && !list) kind = 'enum';
    else if (names.get(base) === 'row') kind = list ? 'list' : 'row';
    else fail(line, `${row.name}.${wire}: unknown type "${type}" (a scalar, or an enum or row defined above)`);
    for (const f of flags) if (f !== 'null' && f !== 'opt') fail(line, `${row.name}.${wire}: unknown flag "${f}" (null, opt)`);
    row.fields.push({ wire, c: snake(wire), type: base, kind, nullable: flags.includes('null'), opt: flags.includes('opt'), comment });
  });
  if (row !== null) fail(row.line, `${row.name} has no end`);
  return { enums, rows };
}

// ---- C ---------------------------------------------------------------------

const ctype = (t) => `ad_row_${t}_t`;
const unsetable = (f) => f.nullable || f.opt;
// A scalar that may be unset has a has_<name> beside it.
const hasFlag = (f) => unsetable(f) && (f.kind === 'enum' || (SCALARS[f.kind] && !SCALARS[f.kind].ptr));

function cComment(lines, indent = '') {
  if (lines.length === 0) return '';
  if (lines.length === 1 && lines[0].length < 90) return `${indent}/* ${lines[0]} */\n`;
  return `${indent}/*\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function header(s) {
  let h = `/* Generated by scripts/rows.mjs from schema/rows.def: do not edit.
 * The typed rows (issue #79; docs/internals/rows.md). For each enum E:
 * ad_row_E_t, AD_ROW_E_COUNT, ad_row_E_names[] (the one string table: the
 * wire words, in the constants' order), AD_ROW_E_CHOICES (the same words as
 * one string, "a,b,c", for the field checks), ad_row_E_name() (NULL out of range)
 * and ad_row_E_parse() (0, or AD_EINVAL for a word not in the table). For
 * each row R: ad_row_R_t, whose strings, json_t and nested rows it owns;
 * ad_row_R_encode() (a new object with the wire names: a field unset is
 * null, or left out when it is opt), ad_row_R_decode() (0, or AD_EINVAL with
 * err naming the field: "runs[2].status: unknown value \\"x\\"") and
 * ad_row_R_cleanup() (frees what it owns and zeroes it); AD_ROW_R_FIELDS, its
 * number of fields (a family that fills one holds it in a _Static_assert, so
 * a field added to the schema stops the build there). Any thread. */
#ifndef AD_ROWS_H
#define AD_ROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

`;
  for (const e of s.enums) {
    const E = upper(e.name);
    h += cComment(e.doc);
    h += `typedef enum {\n${e.values.map((v) => `    AD_ROW_${E}_${upper(v)},`).join('\n')}\n} ${ctype(e.name)};\n`;
    h += `#define AD_ROW_${E}_COUNT ${e.values.length}\n`;
    h += `/* the words joined by commas, as ad_field_enum() takes them */\n#define AD_ROW_${E}_CHOICES "${e.values.join(',')}"\n`;
    h += `extern const char *const ad_row_${e.name}_names[AD_ROW_${E}_COUNT];\n`;
    h += `const char *ad_row_${e.name}_name(${ctype(e.name)} v);\n`;
    h += `int ad_row_${e.name}_parse(const char *s, ${ctype(e.name)} *out);\n\n`;
  }
  for (const r of s.rows) {
    h += cComment(r.doc);
    h += `typedef struct ad_row_${r.name} {\n`;
    for (const f of r.fields) {
      let decl;
      if (f.kind === 'enum') decl = `${ctype(f.type)} ${f.c};`;
      else if (f.kind === 'row') decl = `struct ad_row_${f.type} *${f.c};`;
      else if (f.kind === 'list') decl = `struct ad_row_${f.type} *${f.c};`;
      else decl = `${SCALARS[f.kind].c}${f.c};`;
      const notes = [];
      if (f.kind === 'time') notes.push('ms since the epoch');
      if (f.nullable) notes.push('may be null');
      if (f.opt) notes.push('opt');
      if (f.comment) notes.push(f.comment);
      h += `    ${decl}${notes.length ? ` /* ${f.wire}: ${notes.join('; ')} */` : ` /* ${f.wire} */`}\n`;
      if (f.kind === 'list') h += `    size_t n_${f.c};\n`;
      if (hasFlag(f)) h += `    bool has_${f.c};\n`;
    }
    h += `} ${ctype(r.name)};\n`;
    h += `/* its fields in the schema (a store family that maps columns to it holds this) */\n`;
    h += `#define AD_ROW_${upper(r.name)}_FIELDS ${r.fields.length}\n`;
    h += `json_t *ad_row_${r.name}_encode(const ${ctype(r.name)} *r);\n`;
    h += `int ad_row_${r.name}_decode(const json_t *j, ${ctype(r.name)} *out, char *err, size_t errsz);\n`;
    h += `void ad_row_${r.name}_cleanup(${ctype(r.name)} *r);\n\n`;
  }
  return h + '#endif\n';
}

// The flags a field's decode passes (an opt field may be null too).
const flagsOf = (f) => (f.opt ? 'MAY_NULL | MAY_MISS' : f.nullable ? 'MAY_NULL' : '0');

function source(s) {
  let c = `/* Generated by scripts/rows.mjs from schema/rows.def: do not edit. */
#include "rows.h"

#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field's flags: it may be null (1), absent (2). */
#define MAY_NULL 1
#define MAY_MISS 2

/* Writes "path: why" into err; AD_EINVAL. */
static int bad(char *err, size_t errsz, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(char *err, size_t errsz, const char *path, const char *fmt, ...)
{
    if (err != NULL && errsz > 0) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(err, errsz, "%s: %s", path, why);
    }
    return AD_EINVAL;
}

/* The path of a field below prefix ("" at the top). */
static void sub_path(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, prefix[0] != '\\0' ? "." : "", key);
}

/* 1 when v holds a value to read, 0 when it is unset (absent or null, as
 * flags allow), AD_EINVAL when it may not be. */
static int present(const json_t *v, int flags, const char *path, char *err, size_t errsz)
{
    if (v == NULL) {
        return (flags & MAY_MISS) ? 0 : bad(err, errsz, path, "missing");
    }
    if (json_is_null(v)) {
        return (flags & MAY_NULL) ? 0 : bad(err, errsz, path, "is null");
    }
    return 1;
}

static int get_string(const json_t *v, int flags, const char *path, char **out, char *err,
                      size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_string(v)) {
        return bad(err, errsz, path, "not a string");
    }
    *out = ad_xstrdup(json_string_value(v));
    return 1;
}

static int get_int(const json_t *v, int flags, const char *path, int64_t *out, char *err,
                   size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_integer(v)) {
        return bad(err, errsz, path, "not an integer");
    }
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static int get_number(const json_t *v, int flags, const char *path, double *out, char *err,
                      size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_number(v)) {
        return bad(err, errsz, path, "not a number");
    }
    *out = json_number_value(v);
    return 1;
}

static int get_bool(const json_t *v, int flags, const char *path, bool *out, char *err,
                    size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_boolean(v)) {
        return bad(err, errsz, path, "not a boolean");
    }
    *out = json_is_true(v);
    return 1;
}

static int get_time(const json_t *v, int flags, const char *path, int64_t *out, char *err,
                    size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_string(v) || ad_time_parse(json_string_value(v), out) != 0) {
        return bad(err, errsz, path, "not an RFC 3339 time");
    }
    return 1;
}

static int get_json(const json_t *v, int flags, const char *path, json_t **out, char *err,
                    size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    *out = json_incref((json_t *)v);
    return 1;
}

static int get_strings(const json_t *v, int flags, const char *path, json_t **out, char *err,
                       size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_array(v)) {
        return bad(err, errsz, path, "not an array");
    }
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            return bad(err, errsz, path, "item %zu is not a string", i);
        }
    }
    *out = json_incref((json_t *)v);
    return 1;
}

/* The enum's value for the word v; the words are the table's. */
static int get_enum(const json_t *v, int flags, const char *path, const char *const *names,
                    size_t n, int *out, char *err, size_t errsz)
{
    int rc = present(v, flags, path, err, errsz);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_string(v)) {
        return bad(err, errsz, path, "not a string");
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], json_string_value(v)) == 0) {
            *out = (int)i;
            return 1;
        }
    }
    return bad(err, errsz, path, "unknown value \\"%.64s\\"", json_string_value(v));
}

static int find_enum(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static json_t *str_json(const char *s)
{
    json_t *v = json_string(s != NULL ? s : "");
    return v != NULL ? v : json_string(""); /* not UTF-8: the row's bytes are not text */
}

static json_t *time_json(int64_t ms)
{
    char t[AD_TIME_MAX];
    ad_time_format(ms, t);
    return json_string(t);
}

static json_t *enum_json(const char *name)
{
    return name != NULL ? json_string(name) : json_null();
}

static json_t *ref_json(json_t *v)
{
    return v != NULL ? json_incref(v) : json_null();
}

`;
  for (const e of s.enums) {
    const E = upper(e.name);
    const T = ctype(e.name);
    c += `const char *const ad_row_${e.name}_names[AD_ROW_${E}_COUNT] = {\n`;
    c += e.values.map((v) => `    [AD_ROW_${E}_${upper(v)}] = "${v}",`).join('\n') + '\n};\n\n';
    c += `const char *ad_row_${e.name}_name(${T} v)\n{\n    return (unsigned)v < AD_ROW_${E}_COUNT ? ad_row_${e.name}_names[v] : NULL;\n}\n\n`;
    c += `int ad_row_${e.name}_parse(const char *s, ${T} *out)\n{\n`;
    c += `    int i = find_enum(s, ad_row_${e.name}_names, AD_ROW_${E}_COUNT);\n`;
    c += `    if (i < 0) {\n        return AD_EINVAL;\n    }\n    *out = (${T})i;\n    return 0;\n}\n\n`;
  }
  // Forward declarations: a row's decode may call a nested row's.
  for (const r of s.rows) {
    c += `static int decode_${r.name}(const json_t *j, ${ctype(r.name)} *out, const char *path, char *err, size_t errsz);\n`;
  }
  c += '\n';
  for (const r of s.rows) c += rowCode(r);
  return c;
}

function rowCode(r) {
  const T = ctype(r.name);
  let enc = `json_t *ad_row_${r.name}_encode(const ${T} *r)\n{\n    json_t *o = json_object();\n`;
  let dec = `static int decode_${r.name}(const json_t *j, ${T} *out, const char *path, char *err, size_t errsz)\n{\n`;
  dec += `    if (!json_is_object(j)) {\n        return bad(err, errsz, path[0] != '\\0' ? path : "row", "not an object");\n    }\n`;
  dec += `    char p[256];\n    int rc = 0;\n`;
  let clean = `void ad_row_${r.name}_cleanup(${T} *r)\n{\n    if (r == NULL) {\n        return;\n    }\n`;
  for (const f of r.fields) {
    const k = `"${f.wire}"`;
    const x = `r->${f.c}`;
    // encode
    let val;
    let set;
    switch (f.kind) {
      case 'id':
      case 'string':
        val = `str_json(${x})`;
        set = `${x} != NULL`;
        break;
      case 'time':
        val = `time_json(${x})`;
        break;
      case 'int':
        val = `json_integer((json_int_t)${x})`;
        break;
      case 'number':
        val = `json_real(${x})`;
        break;
      case 'bool':
        val = `json_boolean(${x})`;
        break;
      case 'json':
      case 'strings':
        val = f.kind === 'strings' && !unsetable(f) ? `${x} != NULL ? json_incref(${x}) : json_array()` : `ref_json(${x})`;
        set = `${x} != NULL`;
        break;
      case 'enum':
        val = `enum_json(ad_row_${f.type}_name(${x}))`;
        break;
      case 'row':
        val = `${x} != NULL ? ad_row_${f.type}_encode(${x}) : json_null()`;
        set = `${x} != NULL`;
        break;
      case 'list':
        val = null;
        set = `${x} != NULL || r->n_${f.c} > 0`;
        break;
    }
    if (hasFlag(f)) set = `r->has_${f.c}`;
    if (f.kind === 'list') {
      const body = `json_t *a = json_array();\n        for (size_t i = 0; i < r->n_${f.c}; i++) {\n            json_array_append_new(a, ad_row_${f.type}_encode(&${x}[i]));\n        }\n        json_object_set_new(o, ${k}, a);`;
      if (f.opt) enc += `    if (${set}) {\n        ${body}\n    }\n`;
      else enc += `    {\n        ${body}\n    }\n`;
    } else if (f.opt && !f.nullable) {
      enc += `    if (${set}) {\n        json_object_set_new(o, ${k}, ${val});\n    }\n`;
    } else if (f.nullable && set) {
      enc += `    json_object_set_new(o, ${k}, ${set} ? ${val} : json_null());\n`;
    } else {
      enc += `    json_object_set_new(o, ${k}, ${val});\n`;
    }
    // decode
    const fl = flagsOf(f);
    dec += `    sub_path(p, sizeof(p), path, ${k});\n`;
    const v = `json_object_get(j, ${k})`;
    const has = hasFlag(f) ? `out->has_${f.c} = rc == 1;\n` : '';
    switch (f.kind) {
      case 'id':
      case 'string':
        dec += `    rc = get_string(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'time':
        dec += `    rc = get_time(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'int':
        dec += `    rc = get_int(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'number':
        dec += `    rc = get_number(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'bool':
        dec += `    rc = get_bool(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'json':
        dec += `    rc = get_json(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'strings':
        dec += `    rc = get_strings(${v}, ${fl}, p, &out->${f.c}, err, errsz);\n`;
        break;
      case 'enum': {
        const E = upper(f.type);
        dec += `    {\n        int e = 0;\n        rc = get_enum(${v}, ${fl}, p, ad_row_${f.type}_names, AD_ROW_${E}_COUNT, &e, err, errsz);\n        out->${f.c} = (${ctype(f.type)})e;\n    }\n`;
        break;
      }
      case 'row':
        dec += `    rc = present(${v}, ${fl}, p, err, errsz);\n`;
        dec += `    if (rc == 1) {\n        out->${f.c} = ad_xcalloc(1, sizeof(*out->${f.c}));\n        rc = decode_${f.type}(${v}, out->${f.c}, p, err, errsz);\n        rc = rc == 0 ? 1 : rc;\n    }\n`;
        break;
      case 'list':
        dec += `    rc = present(${v}, ${fl}, p, err, errsz);\n`;
        dec += `    if (rc == 1 && !json_is_array(${v})) {\n        rc = bad(err, errsz, p, "not an array");\n    }\n`;
        dec += `    if (rc == 1) {\n        const json_t *a = ${v};\n        out->${f.c} = ad_xcalloc(json_array_size(a) + 1, sizeof(*out->${f.c}));\n`;
        dec += `        for (size_t i = 0; i < json_array_size(a) && rc == 1; i++) {\n            char q[300];\n            snprintf(q, sizeof(q), "%s[%zu]", p, i);\n`;
        dec += `            rc = decode_${f.type}(json_array_get(a, i), &out->${f.c}[i], q, err, errsz);\n            rc = rc == 0 ? 1 : rc;\n            out->n_${f.c} = i + 1;\n        }\n    }\n`;
        break;
    }
    if (has) dec += `    ${has}`;
    dec += `    if (rc < 0) {\n        return rc;\n    }\n`;
    // cleanup
    switch (f.kind) {
      case 'id':
      case 'string':
        clean += `    free(${x});\n`;
        break;
      case 'json':
      case 'strings':
        clean += `    json_decref(${x});\n`;
        break;
      case 'row':
        clean += `    ad_row_${f.type}_cleanup(${x});\n    free(${x});\n`;
        break;
      case 'list':
        clean += `    for (size_t i = 0; i < r->n_${f.c}; i++) {\n        ad_row_${f.type}_cleanup(&${x}[i]);\n    }\n    free(${x});\n`;
        break;
      default:
        break;
    }
  }
  enc += '    return o;\n}\n\n';
  dec += '    return 0;\n}\n\n';
  clean += '    memset(r, 0, sizeof(*r));\n}\n\n';
  const pub =
    `int ad_row_${r.name}_decode(const json_t *j, ${T} *out, char *err, size_t errsz)\n{\n` +
    `    memset(out, 0, sizeof(*out));\n    int rc = decode_${r.name}(j, out, "", err, errsz);\n` +
    `    if (rc != 0) {\n        ad_row_${r.name}_cleanup(out);\n    }\n    return rc;\n}\n\n`;
  return enc + dec + pub + clean;
}

// ---- TypeScript --------------------------------------------------------------

function tsDoc(lines, indent = '') {
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function typescript(s) {
  let t = `// Generated by scripts/rows.mjs from schema/rows.def: do not edit (make rows-ts
// writes it again; make rows-check fails when it differs). The rows as the
// API answers them and the events carry them (docs/internals/rows.md).
`;
  for (const e of s.enums) {
    const P = pascal(e.name);
    t += `\n${tsDoc(e.doc)}export type ${P} = ${e.values.map((v) => `'${v}'`).join(' | ')};\n`;
    t += `export const ${P}Values: readonly ${P}[] = [${e.values.map((v) => `'${v}'`).join(', ')}];\n`;
  }
  for (const r of s.rows) {
    t += `\n${tsDoc(r.doc)}export interface ${pascal(r.name)}Row {\n`;
    for (const f of r.fields) {
      let ty;
      if (f.kind === 'enum') ty = pascal(f.type);
      else if (f.kind === 'row') ty = `${pascal(f.type)}Row`;
      else if (f.kind === 'list') ty = `${pascal(f.type)}Row[]`;
      else ty = SCALARS[f.kind].ts;
      if ((f.nullable || f.opt) && ty !== 'unknown') ty += ' | null';
      const notes = [];
      if (f.kind === 'time') notes.push('RFC 3339');
      if (f.comment) notes.push(f.comment);
      t += `  ${f.wire}${f.opt ? '?' : ''}: ${ty};${notes.length ? ` // ${notes.join('; ')}` : ''}\n`;
    }
    t += '}\n';
  }
  return t;
}

// ---- main ----------------------------------------------------------------------

function writeIfChanged(file, text) {
  let old = null;
  try {
    old = fs.readFileSync(file, 'utf8');
  } catch (_) {
    /* not there yet */
  }
  if (old !== text) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file + '.tmp', text);
    fs.renameSync(file + '.tmp', file);
  }
}

const schema = parse(fs.readFileSync(SCHEMA, 'utf8'));
const [cmd, arg] = process.argv.slice(2);
if (cmd === 'c' && arg) {
  writeIfChanged(path.join(arg, 'rows.h'), header(schema));
  writeIfChanged(path.join(arg, 'rows.c'), source(schema));
} else if (cmd === 'ts') {
  writeIfChanged(arg ? path.resolve(arg) : TS_FILE, typescript(schema));
} else if (cmd === 'check') {
  let have = '';
  try {
    have = fs.readFileSync(TS_FILE, 'utf8');
  } catch (_) {
    /* missing: differs */
  }
  if (have !== typescript(schema)) {
    console.error('rows-check: web/src/rows.ts is not what schema/rows.def makes: run make rows-ts and commit it');
    process.exit(1);
  }
  console.log('rows-check: web/src/rows.ts matches schema/rows.def');
} else {
  console.error('usage: node scripts/rows.mjs c DIR | ts [FILE] | check');
  process.exit(2);
}
