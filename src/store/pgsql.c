/* SPDX-License-Identifier: MIT */
/*
 * The SQLite migrations (src/store/migrations, NNNN_name.sql) as PostgreSQL
 * statements (issue #39). Pure text work, no libpq: pg.c runs the result.
 * Each dialect difference is handled in one place, listed in
 * docs/operations.md ("PostgreSQL"):
 *  - types, by word: INTEGER -> BIGINT (times are 64-bit milliseconds),
 *    REAL -> DOUBLE PRECISION, BLOB -> BYTEA; INTEGER PRIMARY KEY (a rowid
 *    alias, with or without AUTOINCREMENT) -> an identity column;
 *    WITHOUT ROWID goes;
 *  - MAX(a, b) and MIN(a, b), SQLite's scalar forms -> GREATEST, LEAST;
 *  - INSERT OR IGNORE -> INSERT ... ON CONFLICT DO NOTHING;
 *  - json_valid() in CHECKs, and SUM() of a comparison (SQLite's are 0 or
 *    1): a function and an aggregate of those names (ad_store_pg_prelude);
 *  - PRAGMA statements go (they tune SQLite's connection);
 *  - CREATE TRIGGER: its PL/pgSQL version, written in pgtrig.c (a trigger
 *    without one is refused); DROP TRIGGER names the trigger's table;
 *  - the migrations that widen a CHECK by editing SQLite's stored schema
 *    (writable_schema), search's FTS5 index, and the planner statistics
 *    only PostgreSQL has, are replaced whole, in overrides[] below.
 * Ownership: the caller's buffer receives the text; nothing is kept.
 */
#include "store/store_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Functions SQLite has that the migrations' CHECKs call. Run before the
 * migrations on every `db migrate`, inside its transaction. */
const char ad_store_pg_prelude[] =
    "CREATE OR REPLACE FUNCTION json_valid(t text) RETURNS boolean LANGUAGE plpgsql "
    "IMMUTABLE STRICT AS $$ BEGIN PERFORM t::jsonb; RETURN true; "
    "EXCEPTION WHEN others THEN RETURN false; END $$;\n"
    /* SUM(a = b): SQLite's comparisons are 0 or 1 */
    "CREATE OR REPLACE FUNCTION ad_bool_add(bigint, boolean) RETURNS bigint LANGUAGE sql "
    "IMMUTABLE AS 'SELECT $1 + CASE WHEN $2 THEN 1 ELSE 0 END';\n"
    "CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = ad_bool_add, STYPE = bigint, "
    "INITCOND = '0');\n"
    /* SQLite's functions the store's statements call (db_pg.c) */
    "CREATE OR REPLACE FUNCTION json_extract(t text, p text) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS 'SELECT t::jsonb #>> string_to_array(substr(p, 3), ''.'')';\n"
    /* SQLite's names of a JSON value's type (a number: integer or real) */
    "CREATE OR REPLACE FUNCTION json_type(t text, p text) RETURNS text LANGUAGE sql IMMUTABLE "
    "AS 'SELECT CASE jsonb_typeof(v) WHEN ''number'' THEN CASE WHEN v::text ~ ''[.eE]'' THEN "
    "''real'' ELSE ''integer'' END WHEN ''string'' THEN ''text'' WHEN ''boolean'' THEN v::text "
    "ELSE jsonb_typeof(v) END FROM (SELECT t::jsonb #> string_to_array(substr(p, 3), ''.'') "
    "AS v) x';\n"
    "CREATE OR REPLACE FUNCTION ifnull(anyelement, anyelement) RETURNS anyelement LANGUAGE sql "
    "IMMUTABLE AS 'SELECT COALESCE($1, $2)';\n"
    "CREATE OR REPLACE FUNCTION unicode(text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS "
    "'SELECT ascii($1)';\n"
    "CREATE OR REPLACE FUNCTION json(t text) RETURNS json LANGUAGE sql IMMUTABLE AS "
    "'SELECT t::json';\n"
    "CREATE OR REPLACE FUNCTION json_set(d text, p text, v json) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS 'SELECT jsonb_set(d::jsonb, string_to_array(substr(p, 3), ''.''), "
    "v::jsonb)::text';\n"
    /* a value that is not json() is a JSON string, as SQLite takes it */
    "CREATE OR REPLACE FUNCTION json_set(d text, p text, v text) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS 'SELECT jsonb_set(d::jsonb, string_to_array(substr(p, 3), ''.''), "
    "to_jsonb(v))::text';\n"
    "CREATE OR REPLACE FUNCTION json_set(d text, p text, v json, q text, w json) RETURNS text "
    "LANGUAGE sql IMMUTABLE AS 'SELECT json_set(json_set(d, p, v), q, w)';\n"
    "CREATE OR REPLACE FUNCTION json_remove(d text, p text) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS 'SELECT (d::jsonb #- string_to_array(substr(p, 3), ''.''))::text';\n"
    /* SQLite's json_patch: RFC 7396's merge patch (null removes a key) */
    "CREATE OR REPLACE FUNCTION ad_merge_patch(t jsonb, p jsonb) RETURNS jsonb LANGUAGE plpgsql "
    "IMMUTABLE AS $$ DECLARE k text; v jsonb; r jsonb; BEGIN "
    "IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN RETURN p; END IF; "
    "r := CASE WHEN jsonb_typeof(t) = 'object' THEN t ELSE '{}'::jsonb END; "
    "FOR k, v IN SELECT * FROM jsonb_each(p) LOOP "
    "IF jsonb_typeof(v) = 'null' THEN r := r - k; "
    "ELSE r := jsonb_set(r, ARRAY[k], ad_merge_patch(r -> k, v)); END IF; END LOOP; "
    "RETURN r; END $$;\n"
    "CREATE OR REPLACE FUNCTION json_patch(t text, p text) RETURNS text LANGUAGE sql IMMUTABLE "
    "STRICT AS 'SELECT ad_merge_patch(t::jsonb, p::jsonb)::text';\n"
    "CREATE OR REPLACE AGGREGATE total(double precision) (SFUNC = float8pl, STYPE = "
    "double precision, INITCOND = '0');\n"
    /* SQLite's json_each over text (a run's tags): key, value (scalars as
     * text), type in SQLite's names; PostgreSQL's own json_each(json) stays */
    "CREATE OR REPLACE FUNCTION json_each(t text) RETURNS TABLE (key text, value text, type "
    "text) LANGUAGE sql IMMUTABLE AS $$ SELECT k, CASE WHEN jsonb_typeof(v) IN ('object', "
    "'array') THEN v::text ELSE v #>> '{}' END, CASE jsonb_typeof(v) WHEN 'string' THEN 'text' "
    "WHEN 'boolean' THEN v::text WHEN 'number' THEN CASE WHEN v::text ~ '^-?[0-9]+$' THEN "
    "'integer' ELSE 'real' END ELSE jsonb_typeof(v) END FROM (SELECT (n - 1)::text AS k, e AS v "
    "FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t::jsonb) = 'array' THEN t::jsonb ELSE "
    "'[]' END) WITH ORDINALITY AS x(e, n) UNION ALL SELECT o.key, o.value FROM "
    "jsonb_each(CASE WHEN jsonb_typeof(t::jsonb) = 'object' THEN t::jsonb ELSE '{}' END) o) s $$";

/* Migrations PostgreSQL runs in its own words. Those whose SQLite text
 * edits sqlite_schema (a CHECK widened in place): PostgreSQL drops and
 * re-adds the column's CHECK, named as PostgreSQL names an unnamed column
 * CHECK (<table>_<column>_check); search's index; planner statistics. */
static const struct {
    const char *name;
    const char *sql;
} overrides[] = {
    {"2000_agent_stopped.sql",
     "ALTER TABLE agents DROP CONSTRAINT agents_status_check;\n"
     "ALTER TABLE agents ADD CONSTRAINT agents_status_check CHECK (status IN ('running', "
     "'waiting', 'error', 'finished', 'idle', 'paused', 'stopped'));\n"},
    {"2310_run_degraded.sql",
     "ALTER TABLE runs DROP CONSTRAINT runs_status_check;\n"
     "ALTER TABLE runs ADD CONSTRAINT runs_status_check CHECK (status IN ('running', "
     "'succeeded', 'failed', 'stopped', 'lost', 'degraded'));\n"},
    {"2450_acp_executor.sql",
     "ALTER TABLE agents DROP CONSTRAINT agents_executor_check;\n"
     "ALTER TABLE agents ADD CONSTRAINT agents_executor_check CHECK (executor IN ('claude', "
     "'codex', 'gemini', 'command', 'acp'));\n"},
    {"2930_agent_suspended.sql",
     "ALTER TABLE agents DROP CONSTRAINT agents_status_check;\n"
     "ALTER TABLE agents ADD CONSTRAINT agents_status_check CHECK (status IN ('running', "
     "'waiting', 'error', 'finished', 'idle', 'paused', 'stopped', 'suspended'));\n"},
    /* search (issue #76): FTS5 is SQLite's; PostgreSQL's full-text search is
     * a generated tsvector column (the same three texts and bounds, weighted
     * A, B, C for the bm25 weights) under a GIN index (src/tables/search.c) */
    {"2950_search.sql",
     "ALTER TABLE messages ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ("
     "setweight(to_tsvector('simple', left(content, 32768)), 'A') || "
     "setweight(to_tsvector('simple', left(coalesce(tool_name, '') || ' ' || "
     "coalesce(tool_input, ''), 32768)), 'B') || "
     "setweight(to_tsvector('simple', left(coalesce(tool_output, ''), 32768)), 'C')) STORED;\n"
     "CREATE INDEX messages_search ON messages USING GIN (search_tsv);\n"},
    /* a run fixes its agent: the transcript's page plan (src/tables/messages.c);
     * ANALYZE builds them now, autovacuum keeps them */
    {"3080_messages_run_stats.sql",
     "CREATE STATISTICS messages_run_agent (dependencies) ON agent_id, run_id FROM messages;\n"
     "ANALYZE messages;\n"},
};

/* Word rewrites, longest first where one starts another. */
static const struct {
    const char *from; /* words separated by single spaces, any case */
    const char *to;
} words[] = {
    {"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
    {"INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
    {"INTEGER", "BIGINT"},
    {"REAL", "DOUBLE PRECISION"},
    {"BLOB", "BYTEA"},
    {"WITHOUT ROWID", ""},
    {"INSERT OR IGNORE", "INSERT"},
    {"BEGIN IMMEDIATE", "BEGIN"}, /* the writer's; PostgreSQL's writers do not wait to begin */
    /* SQLite's JSON builders: the same JSON (PostgreSQL's has blanks after the
     * colons and commas) */
    {"json_object", "json_build_object"},
    {"json_array", "json_build_array"},
    {"json_group_array", "json_agg"},
};

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Length of s matched by the words of seq (any case, any run of blanks
 * between them, a whole word at the end), or 0. */
static size_t words_at(const char *s, const char *seq)
{
    const char *p = s;
    const char *q = seq;
    while (*q != '\0') {
        size_t wl = strcspn(q, " ");
        if (strncasecmp(p, q, wl) != 0 || ident_char(p[wl])) {
            return 0;
        }
        p += wl;
        q += wl;
        if (*q == ' ') {
            q++;
            if (!isspace((unsigned char)*p)) {
                return 0;
            }
            while (isspace((unsigned char)*p)) {
                p++;
            }
        }
    }
    return (size_t)(p - s);
}

/* Skips a '…' literal (or "…" identifier) starting at s; returns the end. */
static const char *quoted_end(const char *s)
{
    char q = *s++;
    while (*s != '\0') {
        if (*s == q) {
            if (s[1] != q) {
                return s + 1;
            }
            s++;
        }
        s++;
    }
    return s;
}

/* Whether the parenthesis at p holds a comma at its top level: MAX(a, b). */
static bool two_args(const char *p)
{
    int depth = 0;
    for (; *p != '\0'; p++) {
        if (*p == '\'' || *p == '"') {
            p = quoted_end(p) - 1;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth == 0) {
                return false;
            }
        } else if (*p == ',' && depth == 1) {
            return true;
        }
    }
    return false;
}

/* One statement (no comments, no trailing ';') rewritten into out. */
static int rewrite(const char *s, size_t n, ad_buf_t *out)
{
    bool or_ignore = false;
    size_t i = 0;
    int e = 0;
    while (e == 0 && i < n) {
        char c = s[i];
        if (c == '\'' || c == '"') {
            size_t end = (size_t)(quoted_end(s + i) - s);
            e = ad_buf_append(out, s + i, (end > n ? n : end) - i);
            i = end;
            continue;
        }
        if (!ident_char(c) || (i > 0 && ident_char(s[i - 1]))) {
            e = ad_buf_putc(out, c);
            i++;
            continue;
        }
        size_t hint = words_at(s + i, "INDEXED BY");
        if (hint > 0 && i + hint < n) {
            /* SQLite's index hint (INDEXED BY name): PostgreSQL's planner picks */
            i += hint;
            while (i < n && isspace((unsigned char)s[i])) {
                i++;
            }
            while (i < n && ident_char(s[i])) {
                i++;
            }
            continue;
        }
        bool done = false;
        for (size_t w = 0; w < AD_ARRAY_LEN(words) && !done; w++) {
            size_t m = words_at(s + i, words[w].from);
            if (m > 0 && i + m <= n) {
                e = ad_buf_puts(out, words[w].to);
                or_ignore |= strcmp(words[w].from, "INSERT OR IGNORE") == 0;
                i += m;
                done = true;
            }
        }
        if (done) {
            continue;
        }
        size_t wl = 0;
        while (i + wl < n && ident_char(s[i + wl])) {
            wl++;
        }
        if (wl == 3 && (strncasecmp(s + i, "MAX", 3) == 0 || strncasecmp(s + i, "MIN", 3) == 0) &&
            s[i + 3] == '(' && two_args(s + i + 3)) {
            e = ad_buf_puts(out, toupper((unsigned char)s[i + 1]) == 'A' ? "GREATEST" : "LEAST");
        } else {
            e = ad_buf_append(out, s + i, wl);
        }
        i += wl;
    }
    if (e == 0 && or_ignore) {
        e = ad_buf_puts(out, " ON CONFLICT DO NOTHING");
    }
    return e == 0 ? ad_buf_puts(out, ";\n") : e;
}

/* Whether the statement's first words are seq. */
static bool starts(const char *s, const char *seq)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    return words_at(s, seq) > 0;
}

/* A trigger statement (CREATE TRIGGER or DROP TRIGGER) as PostgreSQL's. */
static int trigger(const char *migration, const char *s, bool create, ad_buf_t *out, char *err,
                   size_t errsz)
{
    s += words_at(s, create ? "CREATE TRIGGER" : "DROP TRIGGER");
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t skip = words_at(s, create ? "IF NOT EXISTS" : "IF EXISTS");
    s += skip;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    char tname[64];
    size_t n = 0;
    while (ident_char(s[n]) && n + 1 < sizeof(tname)) {
        tname[n] = s[n];
        n++;
    }
    tname[n] = '\0';
    const ad_store_pg_trigger_t *t = ad_store_pg_trigger(create ? migration : NULL, tname);
    if (t == NULL) {
        snprintf(err, errsz,
                 "migration %s: trigger %s has no PostgreSQL version (src/store/pgtrig.c)",
                 migration, tname);
        return AD_EINTERNAL;
    }
    if (create) {
        return ad_store_pg_trigger_sql(t, out);
    }
    return ad_buf_printf(out, "DROP TRIGGER IF EXISTS %s ON %s;\n", t->name, t->table);
}

int ad_store_pg_translate(const char *name, const char *sql, ad_buf_t *out, char *err, size_t errsz)
{
    err[0] = '\0';
    for (size_t k = 0; k < AD_ARRAY_LEN(overrides); k++) {
        if (strcmp(overrides[k].name, name) == 0) {
            return ad_buf_puts(out, overrides[k].sql);
        }
    }
    /* The statement being read, comments left out. */
    ad_buf_t st;
    ad_buf_init(&st, 1u << 20);
    int e = 0;
    int depth = 0; /* BEGIN/CASE ... END in a trigger */
    const char *p = sql;
    while (e == 0 && *p != '\0') {
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end != NULL ? end + 2 : p + strlen(p);
            continue;
        }
        if (*p == '\'' || *p == '"') {
            const char *end = quoted_end(p);
            e = ad_buf_append(&st, p, (size_t)(end - p));
            p = end;
            continue;
        }
        if (ident_char(*p) && (st.len == 0 || !ident_char(st.data[st.len - 1]))) {
            size_t wl = 0;
            while (ident_char(p[wl])) {
                wl++;
            }
            if ((wl == 5 && strncasecmp(p, "BEGIN", 5) == 0) ||
                (wl == 4 && strncasecmp(p, "CASE", 4) == 0)) {
                depth++;
            } else if (wl == 3 && strncasecmp(p, "END", 3) == 0 && depth > 0) {
                depth--;
            }
            e = ad_buf_append(&st, p, wl);
            p += wl;
            continue;
        }
        if (*p != ';' || (depth > 0 && starts(st.data != NULL ? st.data : "", "CREATE TRIGGER"))) {
            e = ad_buf_putc(&st, *p++);
            continue;
        }
        p++;
        depth = 0;
        const char *s = st.data != NULL ? st.data : "";
        size_t lead = strspn(s, " \t\r\n");
        if (starts(s, "CREATE TRIGGER") || starts(s, "DROP TRIGGER")) {
            e = trigger(name, s + lead, starts(s, "CREATE"), out, err, errsz);
        } else if (starts(s, "PRAGMA")) {
            /* SQLite's connection settings: nothing to carry over */
        } else if (lead < st.len) {
            e = rewrite(s + lead, st.len - lead, out);
        }
        ad_buf_reset(&st);
    }
    if (e == 0 && st.len > strspn(st.data, " \t\r\n")) {
        if (starts(st.data, "CREATE TRIGGER")) {
            snprintf(err, errsz, "migration %s: a trigger has no END", name);
            e = AD_EINTERNAL;
        } else {
            size_t lead = strspn(st.data, " \t\r\n");
            e = rewrite(st.data + lead, st.len - lead, out);
        }
    }
    if (e != 0 && err[0] == '\0') {
        snprintf(err, errsz, "migration %s is too long to translate", name);
    }
    ad_buf_cleanup(&st);
    return e;
}

/* ---- the store's statements (db_pg.c) -------------------------------------------- */

/* The length of the identifier at s when it mixes cases (an alias such as
 * `AS createdAt`, the JSON key of a row), else 0. PostgreSQL folds unquoted
 * names to lower case, so such a name is quoted, at its alias and wherever
 * the statement names it again; keywords, types and the schema's names are
 * one case. */
static size_t mixed_case(const char *s, size_t n)
{
    bool lower = false, upper = false;
    size_t wl = 0;
    while (wl < n && ident_char(s[wl])) {
        lower |= islower((unsigned char)s[wl]) != 0;
        upper |= isupper((unsigned char)s[wl]) != 0;
        wl++;
    }
    return lower && upper ? wl : 0;
}

int ad_store_pg_statement(const char *sql, size_t n, ad_buf_t *out, int *nparams)
{
    ad_buf_t tmp;
    ad_buf_init(&tmp, 1u << 20);
    int e = 0, next = 1, top = 0;
    size_t i = 0;
    while (e == 0 && i < n && sql[i] != '\0') {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            size_t end = (size_t)(quoted_end(sql + i) - sql);
            e = ad_buf_append(&tmp, sql + i, (end > n ? n : end) - i);
            i = end;
            continue;
        }
        if (ident_char(c) && !isdigit((unsigned char)c) && (i == 0 || !ident_char(sql[i - 1]))) {
            size_t wl = mixed_case(sql + i, n - i);
            if (wl > 0) {
                e = ad_buf_printf(&tmp, "\"%.*s\"", (int)wl, sql + i);
                i += wl;
                continue;
            }
        }
        if (c != '?') {
            e = ad_buf_putc(&tmp, c);
            i++;
            continue;
        }
        /* ?NNN, or ? as SQLite numbers it: one past the highest so far. */
        i++;
        int num = 0;
        size_t d = 0;
        while (i + d < n && isdigit((unsigned char)sql[i + d]) && d < 4) {
            num = num * 10 + (sql[i + d] - '0');
            d++;
        }
        if (d == 0) {
            num = next;
        }
        i += d;
        if (num < 1 || num > 999) {
            e = AD_EINVAL;
            break;
        }
        top = num > top ? num : top;
        next = top + 1;
        e = ad_buf_printf(&tmp, "$%d", num);
    }
    /* A trailing ';' (and blanks) would end the rewrite's statement twice. */
    size_t len = tmp.len;
    while (e == 0 && len > 0 &&
           (tmp.data[len - 1] == ';' || isspace((unsigned char)tmp.data[len - 1]))) {
        len--;
    }
    if (e == 0 && len < tmp.len) {
        ad_buf_truncate(&tmp, len);
    }
    if (e == 0) {
        size_t at = out->len;
        e = rewrite(tmp.data != NULL ? tmp.data : "", tmp.len, out);
        if (e == 0 && out->len >= at + 2) {
            ad_buf_truncate(out, out->len - 2); /* rewrite's ";\n" */
        }
    }
    ad_buf_cleanup(&tmp);
    *nparams = top;
    return e;
}
