/* SPDX-License-Identifier: MIT */
/*
 * The records of the CLIs' session files, read as untrusted lines
 * (docs/sessions.md). Claude Code: records of type user and assistant
 * with cwd, gitBranch, timestamp and an Anthropic message (reference
 * agent-protocols.md A.8); sidechain and meta records are left out, and
 * the messages are made by the claude output parser (src/agent), which
 * reads the same message objects from stream-json. Codex: session_meta
 * {id, cwd, git.branch} and response_item messages (input_text,
 * output_text). Gemini CLI: a chat's header {sessionId, startTime} and its
 * user and gemini messages. Any other line, or one that does not parse, is
 * skipped.
 */
#include "sessfile/sessfile.h"

#include "agent/agent.h"

#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A copy of s cut to at most max bytes on a UTF-8 boundary. */
static char *cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = ad_utf8_valid_prefix(s, max);
    }
    return ad_xstrndup(s, n);
}

static void copy_str(char *dst, size_t dstsz, const char *s)
{
    if (s != NULL && strlen(s) < dstsz) {
        memcpy(dst, s, strlen(s) + 1);
    }
}

/* The text of a message's content: a string, or its first text block. */
static const char *content_text(const json_t *content, const char *block_type)
{
    if (json_is_string(content)) {
        return json_string_value(content);
    }
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b)
    {
        const char *t = jstr(b, "type");
        if (t != NULL && strcmp(t, block_type) == 0 && jstr(b, "text") != NULL) {
            return jstr(b, "text");
        }
    }
    return NULL;
}

/* Text the CLI puts in as a user message that the user did not write. */
static bool injected(const char *text)
{
    return strncmp(text, "<environment_context>", 21) == 0 ||
           strncmp(text, "<user_instructions>", 19) == 0 ||
           strncmp(text, "<system-reminder>", 17) == 0 || strncmp(text, "# AGENTS.md", 11) == 0 ||
           strncmp(text, "<session_context>", 17) == 0;
}

static void preview(ad_sess_info_t *s, const char *role, const char *text, const char *ts)
{
    if (text == NULL || text[0] == '\0' || injected(text)) {
        return;
    }
    if (s->first == NULL && strcmp(role, "user") == 0) {
        s->first = cut(text, AD_SESS_PREVIEW_MAX);
    }
    free(s->last);
    s->last = cut(text, AD_SESS_PREVIEW_MAX);
    int64_t ms;
    if (ts != NULL && ad_time_parse(ts, &ms) == 0 && ms > s->last_ms) {
        s->last_ms = ms;
    }
}

static void note_time(ad_sess_info_t *s, const char *ts)
{
    int64_t ms;
    if (ts != NULL && ad_time_parse(ts, &ms) == 0 && (s->started_ms == 0 || ms < s->started_ms)) {
        s->started_ms = ms;
    }
}

/* A Claude record that is part of the conversation: user or assistant,
 * not a subagent's (sidechain) or the CLI's own (meta). */
static bool claude_turn(const json_t *o)
{
    const char *type = jstr(o, "type");
    return type != NULL && (strcmp(type, "user") == 0 || strcmp(type, "assistant") == 0) &&
           !json_is_true(json_object_get(o, "isSidechain")) &&
           !json_is_true(json_object_get(o, "isMeta")) &&
           json_is_object(json_object_get(o, "message"));
}

static void claude_summary(ad_sess_info_t *s, const json_t *o)
{
    if (!claude_turn(o)) {
        return;
    }
    ad_sess_set_cwd(s, jstr(o, "cwd"));
    copy_str(s->branch, sizeof(s->branch), jstr(o, "gitBranch"));
    note_time(s, jstr(o, "timestamp"));
    json_t *msg = json_object_get(o, "message");
    preview(s, jstr(o, "type"), content_text(json_object_get(msg, "content"), "text"),
            jstr(o, "timestamp"));
}

static void codex_summary(ad_sess_info_t *s, const json_t *o)
{
    const char *type = jstr(o, "type");
    json_t *p = json_object_get(o, "payload");
    if (type == NULL || !json_is_object(p)) {
        return;
    }
    if (strcmp(type, "session_meta") == 0) {
        ad_sess_set_cwd(s, jstr(p, "cwd"));
        copy_str(s->branch, sizeof(s->branch), jstr(json_object_get(p, "git"), "branch"));
        note_time(s, jstr(p, "timestamp"));
        return;
    }
    const char *role = jstr(p, "role");
    if (strcmp(type, "response_item") != 0 || role == NULL || jstr(p, "type") == NULL ||
        strcmp(jstr(p, "type"), "message") != 0) {
        return;
    }
    bool user = strcmp(role, "user") == 0;
    const char *text =
        content_text(json_object_get(p, "content"), user ? "input_text" : "output_text");
    if (user || strcmp(role, "assistant") == 0) {
        preview(s, role, text, jstr(o, "timestamp"));
    }
}

/* Gemini's records: a header {sessionId, startTime}, then messages {type:
 * user or gemini, content: text or [{text}], timestamp}; "$set" lines
 * (the CLI's own updates) are skipped. The role, or NULL. */
static const char *gemini_role(const json_t *o)
{
    const char *type = jstr(o, "type");
    return type == NULL                  ? NULL
           : strcmp(type, "user") == 0   ? "user"
           : strcmp(type, "gemini") == 0 ? "assistant"
                                         : NULL;
}

static const char *gemini_text(const json_t *o)
{
    json_t *c = json_object_get(o, "content");
    return json_is_string(c) ? json_string_value(c) : jstr(json_array_get(c, 0), "text");
}

/* Whether stem (a chat file's "<time>-<id8>") ends with the first 8
 * characters of id: the file is that chat's. */
static bool gemini_id_of_stem(const char *stem, const char *id)
{
    size_t n = strlen(stem);
    return n > 9 && strlen(id) > 8 && stem[n - 9] == '-' && memcmp(stem + n - 8, id, 8) == 0;
}

static void gemini_summary(ad_sess_info_t *s, const json_t *o)
{
    const char *role = gemini_role(o);
    /* the header's sessionId is what --resume takes: it names the session
     * when the file's name agrees with it */
    const char *sid = jstr(o, "sessionId");
    if (sid != NULL && ad_sess_id_check(sid, NULL) == 0 && gemini_id_of_stem(s->id, sid)) {
        snprintf(s->id, sizeof(s->id), "%s", sid);
    }
    note_time(s, jstr(o, "startTime"));
    if (role != NULL) {
        preview(s, role, gemini_text(o), jstr(o, "timestamp"));
    }
}

void ad_sess_summary_line(ad_sess_info_t *s, const char *line, size_t len)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    if (json_is_object(o)) {
        if (s->tool == AD_SESS_CLAUDE) {
            claude_summary(s, o);
        } else if (s->tool == AD_SESS_CODEX) {
            codex_summary(s, o);
        } else {
            gemini_summary(s, o);
        }
    }
    json_decref(o);
}

/* ---- messages --------------------------------------------------------------------- */

struct ad_sess_msgs {
    ad_sess_tool_t tool;
    ad_parser_t *parser; /* Claude: the output parser reads the records */
    ad_recs_t recs;
    json_t *list; /* at most 2 x AD_SESS_MESSAGES_MAX, cut at the end */
};

ad_sess_msgs_t *ad_sess_msgs_new(ad_sess_tool_t tool)
{
    ad_sess_msgs_t *m = ad_xcalloc(1, sizeof(*m));
    m->tool = tool;
    m->list = json_array();
    if (tool == AD_SESS_CLAUDE) {
        m->parser = ad_parser_new(AD_EXEC_CLAUDE);
    }
    ad_recs_init(&m->recs);
    return m;
}

static json_t *cut_json(const char *s)
{
    char *c = cut(s, AD_SESS_TEXT_MAX);
    json_t *j = json_string(c); /* NULL for text that is not UTF-8 */
    free(c);
    return j != NULL ? j : json_string("");
}

static void push(ad_sess_msgs_t *m, json_t *msg)
{
    if (json_array_size(m->list) >= 2 * AD_SESS_MESSAGES_MAX) {
        /* keep the last half: the newest messages are the ones wanted */
        json_t *keep = json_array();
        for (size_t i = AD_SESS_MESSAGES_MAX; i < json_array_size(m->list); i++) {
            json_array_append(keep, json_array_get(m->list, i));
        }
        json_decref(m->list);
        m->list = keep;
    }
    json_array_append_new(m->list, msg);
}

/* A tool call's result written over the call it answers (the last few). */
static bool tool_result_over_call(ad_sess_msgs_t *m, const ad_rec_t *r, json_t *msg)
{
    size_t n = json_array_size(m->list);
    for (size_t k = 0; k < 64 && k < n; k++) {
        json_t *old = json_array_get(m->list, n - 1 - k);
        if (r->tool_id != NULL && json_is_false(json_object_get(old, "isComplete")) &&
            jstr(old, "toolId") != NULL && strcmp(jstr(old, "toolId"), r->tool_id) == 0) {
            json_object_set_new(msg, "createdAt", json_incref(json_object_get(old, "createdAt")));
            json_array_set_new(m->list, n - 1 - k, msg);
            return true;
        }
    }
    return false;
}

static void claude_messages(ad_sess_msgs_t *m, const json_t *o, const char *line, size_t len)
{
    ad_recs_clear(&m->recs);
    ad_parser_feed(m->parser, line, len, 0, &m->recs);
    const char *ts = jstr(o, "timestamp");
    for (size_t i = 0; i < m->recs.n; i++) {
        const ad_rec_t *r = &m->recs.v[i];
        if (r->type != AD_REC_MESSAGE ||
            (r->role == AD_ROLE_USER && (r->text == NULL || injected(r->text)))) {
            continue;
        }
        json_t *msg = json_pack("{s:s, s:o, s:b, s:b, s:s?}", "role", ad_role_name(r->role),
                                "content", cut_json(r->text != NULL ? r->text : ""), "isComplete",
                                r->is_complete, "isError", r->is_error, "createdAt", ts);
        if (r->tool_name != NULL) {
            json_object_set_new(msg, "toolName", cut_json(r->tool_name));
        }
        if (r->tool_id != NULL) {
            json_object_set_new(msg, "toolId", cut_json(r->tool_id));
        }
        if (r->json != NULL) {
            char *in = json_dumps(r->json, JSON_COMPACT);
            json_object_set_new(msg, "toolInput", cut_json(in != NULL ? in : "{}"));
            free(in);
        }
        if (r->tool_output != NULL) {
            json_object_set_new(msg, "toolOutput", cut_json(r->tool_output));
        }
        if (r->role != AD_ROLE_TOOL || !r->is_complete || !tool_result_over_call(m, r, msg)) {
            push(m, msg);
        }
    }
}

static void codex_messages(ad_sess_msgs_t *m, const json_t *o)
{
    json_t *p = json_object_get(o, "payload");
    const char *type = jstr(o, "type"), *role = jstr(p, "role");
    if (type == NULL || strcmp(type, "response_item") != 0 || role == NULL ||
        jstr(p, "type") == NULL || strcmp(jstr(p, "type"), "message") != 0) {
        return;
    }
    bool user = strcmp(role, "user") == 0;
    if (!user && strcmp(role, "assistant") != 0) {
        return;
    }
    const char *text =
        content_text(json_object_get(p, "content"), user ? "input_text" : "output_text");
    if (text == NULL || injected(text)) {
        return;
    }
    push(m, json_pack("{s:s, s:o, s:b, s:b, s:s?}", "role", role, "content", cut_json(text),
                      "isComplete", 1, "isError", 0, "createdAt", jstr(o, "timestamp")));
}

static void gemini_messages(ad_sess_msgs_t *m, const json_t *o)
{
    const char *role = gemini_role(o), *text = gemini_text(o);
    if (role != NULL && text != NULL && !injected(text)) {
        push(m, json_pack("{s:s, s:o, s:b, s:b, s:s?}", "role", role, "content", cut_json(text),
                          "isComplete", 1, "isError", 0, "createdAt", jstr(o, "timestamp")));
    }
}

void ad_sess_msgs_line(void *ud, const char *line, size_t len)
{
    ad_sess_msgs_t *m = ud;
    json_t *o = json_loadb(line, len, 0, NULL);
    if (json_is_object(o)) {
        if (m->tool == AD_SESS_CLAUDE) {
            if (claude_turn(o)) {
                claude_messages(m, o, line, len);
            }
        } else if (m->tool == AD_SESS_CODEX) {
            codex_messages(m, o);
        } else {
            gemini_messages(m, o);
        }
    }
    json_decref(o);
}

json_t *ad_sess_msgs_take(ad_sess_msgs_t *m)
{
    json_t *out = m->list;
    size_t n = json_array_size(out);
    if (n > AD_SESS_MESSAGES_MAX) {
        json_t *keep = json_array();
        for (size_t i = n - AD_SESS_MESSAGES_MAX; i < n; i++) {
            json_array_append(keep, json_array_get(out, i));
        }
        json_decref(out);
        out = keep;
    }
    size_t i;
    json_t *msg;
    json_array_foreach(out, i, msg)
    {
        json_object_del(msg, "toolId");
    }
    if (m->parser != NULL) {
        ad_parser_free(m->parser);
    }
    ad_recs_cleanup(&m->recs);
    free(m);
    return out;
}
