/* SPDX-License-Identifier: MIT */
/*
 * Search (issue #76, migration 2950): a request's words checked and made
 * into each engine's query, the ranked read on the thread pool, and each
 * hit's snippet with its matches as ranges. The index itself is the
 * migration's (triggers on SQLite, a generated column on PostgreSQL); the
 * route is src/api/search.c's.
 *
 * A read is two steps on one pool connection: the page of hits (filters,
 * org scope, rank and order in one statement, the cheap columns only),
 * then a snippet per hit (snippet() or ts_headline() on that one row), so
 * the snippets' cost is a page's, never the matches'.
 */
#include "store/table.h"
#include "tables/search.h"

#include <stdlib.h>
#include <string.h>

/* The matches' markers in a snippet: bytes the indexed text never holds
 * (the migration reads them as blanks), so none comes from the content. */
#define MARK_ON '\x01'
#define MARK_OFF '\x02'
#define SNIPPET_TOKENS "16"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ad_search_req(const char *q, const char *agent, const char *worktree, const char *since,
                  const char *limit, const char *offset, const char *org, ad_search_req_t *out,
                  ad_field_err_t *e)
{
    memset(out, 0, sizeof(*out));
    out->limit = AD_SEARCH_LIMIT_DEFAULT;
    size_t n = q != NULL ? strlen(q) : 0;
    if (n == 0) {
        return ad_field_fail(e, "q", "is required");
    }
    if (n > AD_SEARCH_Q_MAX) {
        return ad_field_fail(e, "q", "is too long (at most %d bytes)", AD_SEARCH_Q_MAX);
    }
    if (!ad_utf8_valid(q, n)) {
        return ad_field_fail(e, "q", "is not valid UTF-8");
    }
    size_t m = 0, w = 0;
    int words = 0;
    for (size_t i = 0; i < n;) {
        if (is_blank(q[i])) {
            i++;
            continue;
        }
        if (++words > AD_SEARCH_WORDS_MAX) {
            return ad_field_fail(e, "q", "has more than %d words", AD_SEARCH_WORDS_MAX);
        }
        /* one word: a quoted FTS5 string, its quotes doubled */
        if (words > 1) {
            out->match[m++] = ' ';
            out->words[w++] = ' ';
        }
        out->match[m++] = '"';
        for (; i < n && !is_blank(q[i]); i++) {
            if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f) {
                return ad_field_fail(e, "q", "holds a control character");
            }
            if (q[i] == '"') {
                out->match[m++] = '"';
            }
            out->match[m++] = q[i];
            out->words[w++] = q[i];
        }
        out->match[m++] = '"';
    }
    if (words == 0) {
        return ad_field_fail(e, "q", "has no words");
    }
    const char *ids[] = {agent, worktree, org};
    char *dst[] = {out->agent, out->worktree, out->org};
    static const char *const names[] = {"agent", "worktree", "org"};
    for (size_t k = 0; k < AD_ARRAY_LEN(ids); k++) {
        if (ids[k] != NULL && strlen(ids[k]) >= AD_ID_MAX) {
            return ad_field_fail(e, names[k], "is not an id");
        }
        snprintf(dst[k], AD_ID_MAX, "%s", ids[k] != NULL ? ids[k] : "");
    }
    if (since != NULL && since[0] != '\0' && ad_time_param(since, &out->since) != 0) {
        return ad_field_fail(e, "since", "must be an RFC 3339 time or milliseconds");
    }
    bool has = false;
    int64_t v = 0;
    if (ad_field_query_int(limit, "limit", 1, AD_SEARCH_LIMIT_MAX, &has, &v, e) != 0) {
        return AD_EINVAL;
    }
    out->limit = has ? (int)v : AD_SEARCH_LIMIT_DEFAULT;
    has = false;
    if (ad_field_query_int(offset, "offset", 0, AD_SEARCH_OFFSET_MAX, &has, &v, e) != 0) {
        return AD_EINVAL;
    }
    out->offset = has ? (int)v : 0;
    return 0;
}

/* ---- the read ---------------------------------------------------------------------- */

/* What every step filters on: the org, the agent, the worktree, since. */
#define FILTERS                                                                                    \
    "(?2 = '' OR a.org_id = ?2) AND (?3 = '' OR m.agent_id = ?3) AND (?4 = '' OR "                 \
    "a.worktree_id = ?4) AND m.created_at >= ?5"
/* The window: the AD_SEARCH_WINDOW-th newest match that passes the
 * filters (?6: its offset), its rowid on SQLite, its time on PostgreSQL;
 * no row when fewer match. Newest first is the order both indexes give
 * cheaply (an FTS5 doclist is in rowid order), ranking is not: BM25 reads
 * each match's sizes, 6 s for a word in 980,000 messages of 1M. */
static const char bound_sqlite[] =
    "SELECT f.rowid FROM search_fts AS f JOIN messages AS m ON m.rowid = f.rowid JOIN agents AS "
    "a ON a.id = m.agent_id WHERE f.search_fts MATCH ?1 AND " FILTERS " ORDER BY f.rowid DESC "
    "LIMIT 1 OFFSET ?6";
static const char bound_pg[] =
    "SELECT m.created_at FROM messages AS m JOIN agents AS a ON a.id = m.agent_id WHERE "
    "m.search_tsv @@ plainto_tsquery('simple', ?1) AND " FILTERS " ORDER BY m.created_at DESC "
    "LIMIT 1 OFFSET ?6";
/* The page of hits within the window (?8: its bound), one more than the
 * limit, to know whether more follow. Columns: rowid (SQLite's;
 * PostgreSQL's is the id again), id, agent_id, agent's name, worktree_id,
 * run_id, role, tool_name, created_at, rank. */
static const char hits_sqlite[] =
    "SELECT m.rowid, m.id, m.agent_id, a.name, a.worktree_id, m.run_id, m.role, m.tool_name, "
    "m.created_at, -f.rank FROM search_fts AS f JOIN messages AS m ON m.rowid = f.rowid "
    "JOIN agents AS a ON a.id = m.agent_id WHERE f.search_fts MATCH ?1 AND f.rowid >= ?8 "
    "AND " FILTERS " ORDER BY f.rank, m.created_at DESC, m.id LIMIT ?6 OFFSET ?7";
static const char hits_pg[] =
    "SELECT m.id, m.id, m.agent_id, a.name, a.worktree_id, m.run_id, m.role, m.tool_name, "
    "m.created_at, ts_rank(m.search_tsv, plainto_tsquery('simple', ?1)) AS score "
    "FROM messages AS m JOIN agents AS a ON a.id = m.agent_id WHERE m.search_tsv @@ "
    "plainto_tsquery('simple', ?1) AND m.created_at >= ?8 AND " FILTERS " ORDER BY score DESC, "
    "m.created_at DESC, m.id LIMIT ?6 OFFSET ?7";
/* One hit's snippets: the text's, the call's, the output's (each with the
 * markers around its matches, none when that part does not match). */
static const char snip_sqlite[] =
    "SELECT snippet(search_fts, 0, char(1), char(2), '…', " SNIPPET_TOKENS "), "
    "snippet(search_fts, 1, char(1), char(2), '…', " SNIPPET_TOKENS "), "
    "snippet(search_fts, 2, char(1), char(2), '…', " SNIPPET_TOKENS ") FROM search_fts "
    "WHERE search_fts MATCH ?1 AND rowid = ?2";
/* PostgreSQL's: the three texts read once (bounded, markers as blanks),
 * each headlined when it matches. */
static const char snip_pg[] =
    "SELECT CASE WHEN to_tsvector('simple', t.b) @@ q.q THEN ts_headline('simple', t.b, q.q, "
    "f.f) ELSE '' END, CASE WHEN to_tsvector('simple', t.c) @@ q.q THEN ts_headline('simple', "
    "t.c, q.q, f.f) ELSE '' END, CASE WHEN to_tsvector('simple', t.o) @@ q.q THEN "
    "ts_headline('simple', t.o, q.q, f.f) ELSE '' END FROM (SELECT translate(left(content, "
    "32768), chr(1) || chr(2), '  ') AS b, translate(left(coalesce(tool_name, '') || ' ' || "
    "coalesce(tool_input, ''), 32768), chr(1) || chr(2), '  ') AS c, "
    "translate(left(coalesce(tool_output, ''), 32768), chr(1) || chr(2), '  ') AS o FROM "
    "messages WHERE id = ?2) AS t, (SELECT plainto_tsquery('simple', ?1) AS q) AS q, (SELECT "
    "'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=24, MinWords=8, "
    "ShortWord=0, MaxFragments=1, FragmentDelimiter=\"…\"' AS f) AS f";

typedef struct {
    ad_search_req_t req;
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} search_t;

/* Appends the snippet s (markers in it) to o as snippet and highlights. */
static void put_snippet(json_t *o, const char *s)
{
    ad_buf_t text;
    ad_buf_init(&text, 1u << 20);
    json_t *ranges = json_array();
    size_t u16 = 0, start = 0;
    bool on = false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == MARK_ON || *p == MARK_OFF) {
            if (*p == MARK_ON && !on) {
                start = u16;
            } else if (*p == MARK_OFF && on && u16 > start) {
                json_array_append_new(ranges,
                                      json_pack("[II]", (json_int_t)start, (json_int_t)u16));
            }
            on = *p == MARK_ON;
            continue;
        }
        if (ad_buf_putc(&text, (char)*p) != 0) {
            break; /* a snippet is a few dozen words: never near the cap */
        }
        /* a UTF-8 lead byte starts a code unit, two for four-byte sequences */
        if ((*p & 0xc0) != 0x80) {
            u16 += *p >= 0xf0 ? 2 : 1;
        }
    }
    /* the stored text is UTF-8 and a snippet is cut at words; were it not,
     * the hit keeps an empty snippet rather than losing the key */
    json_t *str = json_stringn(text.data != NULL ? text.data : "", text.len);
    json_object_set_new(o, "snippet", str != NULL ? str : json_string(""));
    json_object_set_new(o, "highlights", ranges);
    ad_buf_cleanup(&text);
}

static bool marked(const char *s)
{
    return s != NULL && strchr(s, MARK_ON) != NULL;
}

/* The snippet of hit o (kind and snippet set): the output's when the
 * output matches (a tool output), else the call's (a tool call), else the
 * text's. */
static int add_snippet(ad_db_t *db, ad_db_stmt_t *s, const char *match, json_t *o, int64_t rowid,
                       const char *id, bool tool)
{
    ad_db_reset(s);
    ad_db_bind_text(s, 1, match, -1, AD_DB_STATIC);
    if (ad_db_is_pg(db)) {
        ad_db_bind_text(s, 2, id, -1, AD_DB_TRANSIENT);
    } else {
        ad_db_bind_int64(s, 2, rowid);
    }
    int rc = ad_db_step(s);
    if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    const char *part[3] = {"", "", ""};
    for (int i = 0; rc == AD_DB_ROW && i < 3; i++) {
        const char *t = (const char *)ad_db_column_text(s, i);
        part[i] = t != NULL ? t : "";
    }
    const char *kind = "message";
    const char *text = part[0];
    if (tool && marked(part[2])) {
        kind = "tool_output";
        text = part[2];
    } else if (tool && (marked(part[1]) || !marked(part[0]))) {
        kind = "tool_call";
        text = part[1];
    }
    json_object_set_new(o, "kind", json_string(kind));
    put_snippet(o, text);
    return 0;
}

static json_t *hit_json(ad_db_stmt_t *h)
{
    static const char *const keys[] = {"messageId",  "agentId", "agentName",
                                       "worktreeId", "runId",   "role"};
    json_t *o = json_object();
    for (int i = 0; i < 6; i++) {
        const char *t = (const char *)ad_db_column_text(h, i + 1);
        json_object_set_new(o, keys[i], t != NULL ? json_string(t) : json_null());
    }
    const char *tool = (const char *)ad_db_column_text(h, 7);
    json_object_set_new(o, "toolName", tool != NULL ? json_string(tool) : json_null());
    char at[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(h, 8), at);
    json_object_set_new(o, "createdAt", json_string(at));
    json_object_set_new(o, "rank", json_real(ad_db_column_double(h, 9)));
    return o;
}

/* Binds the query and the filters, ?1 to ?5. */
static void bind_filters(ad_db_stmt_t *s, const ad_search_req_t *r, bool pg)
{
    ad_db_bind_text(s, 1, pg ? r->words : r->match, -1, AD_DB_STATIC);
    ad_db_bind_text(s, 2, r->org, -1, AD_DB_STATIC);
    ad_db_bind_text(s, 3, r->agent, -1, AD_DB_STATIC);
    ad_db_bind_text(s, 4, r->worktree, -1, AD_DB_STATIC);
    ad_db_bind_int64(s, 5, r->since);
}

/* The window's bound into *bound (0: every match is in it). */
static int window_bound(ad_db_t *db, const ad_search_req_t *r, bool pg, int64_t *bound)
{
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db, pg ? bound_pg : bound_sqlite, -1, &s, NULL);
    if (rc != AD_DB_OK) {
        ad_db_finalize(s);
        int e = ad_store_rc(db, rc);
        return e != 0 ? e : AD_EINTERNAL;
    }
    bind_filters(s, r, pg);
    /* the page must fit: a deep offset widens the window */
    int64_t window = AD_SEARCH_WINDOW;
    if (window < (int64_t)r->offset + r->limit + 1) {
        window = (int64_t)r->offset + r->limit + 1;
    }
    ad_db_bind_int64(s, 6, window - 1);
    rc = ad_db_step(s);
    *bound = rc == AD_DB_ROW ? ad_db_column_int64(s, 0) : 0;
    ad_db_finalize(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static int search_read(ad_db_t *db, void *ctx)
{
    search_t *q = ctx;
    const ad_search_req_t *r = &q->req;
    bool pg = ad_db_is_pg(db);
    int64_t bound = 0;
    int e = window_bound(db, r, pg, &bound);
    if (e != 0) {
        return e;
    }
    ad_db_stmt_t *h = NULL, *s = NULL;
    int rc = ad_db_prepare_v2(db, pg ? hits_pg : hits_sqlite, -1, &h, NULL);
    if (rc == AD_DB_OK) {
        rc = ad_db_prepare_v2(db, pg ? snip_pg : snip_sqlite, -1, &s, NULL);
    }
    if (rc != AD_DB_OK) {
        e = ad_store_rc(db, rc);
        ad_db_finalize(h);
        ad_db_finalize(s);
        return e != 0 ? e : AD_EINTERNAL;
    }
    bind_filters(h, r, pg);
    ad_db_bind_int64(h, 6, r->limit + 1);
    ad_db_bind_int64(h, 7, r->offset);
    ad_db_bind_int64(h, 8, bound);
    json_t *results = json_array();
    bool more = false;
    while (e == 0 && (rc = ad_db_step(h)) == AD_DB_ROW) {
        if ((int)json_array_size(results) == r->limit) {
            more = true;
            break;
        }
        json_t *o = hit_json(h);
        bool tool = ad_db_column_type(h, 7) != AD_DB_NULL;
        e = add_snippet(db, s, pg ? r->words : r->match, o, pg ? 0 : ad_db_column_int64(h, 0),
                        json_string_value(json_object_get(o, "messageId")), tool);
        json_array_append_new(results, o);
    }
    if (e == 0 && rc != AD_DB_ROW && rc != AD_DB_DONE) {
        e = ad_store_rc(db, rc);
    }
    ad_db_finalize(h);
    ad_db_finalize(s);
    if (e != 0) {
        json_decref(results);
        return e;
    }
    q->out = json_pack("{s:o, s:o}", "results", results, "nextOffset",
                       more ? json_integer(r->offset + r->limit) : json_null());
    return 0;
}

static void search_done(int rc, void *ctx)
{
    search_t *q = ctx;
    q->cb(rc, rc == 0 ? q->out : NULL, q->ud);
    json_decref(q->out);
    free(q);
}

void ad_store_search(ad_store_t *st, const ad_search_req_t *req, ad_store_result_cb cb, void *ud)
{
    search_t *q = ad_xcalloc(1, sizeof(*q));
    q->req = *req;
    q->cb = cb;
    q->ud = ud;
    ad_store_read_async(st, search_read, search_done, q);
}
