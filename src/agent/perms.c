/* SPDX-License-Identifier: MIT */
/*
 * Permission entries of an agent (issue #14): the seed words read, write
 * and execute, mapped to Claude Code's tools, and Claude Code's own tool
 * rules ("Bash", "Bash(git log *)", "mcp__server__tool"), checked so that
 * a typo is a 422 naming the entry rather than a rule that allows nothing
 * (tool names are case-sensitive: `--allowedTools read` allows nothing);
 * whether the entries already allow a tool (an approval a write token may
 * give), and an agent definition's tools, prompt and model applied to a new
 * agent.
 */
#include "agent/agent_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *word;
    const char *tools;
} words[] = {
    {"read", "Read,Glob,Grep"},
    {"write", "Edit,Write,NotebookEdit"},
    {"execute", "Bash"},
};

const char *ad_permission_tools(const char *entry)
{
    for (size_t i = 0; i < AD_ARRAY_LEN(words); i++) {
        if (strcmp(entry, words[i].word) == 0) {
            return words[i].tools;
        }
    }
    return entry;
}

/* A tool name: a capital letter then letters, digits and '_', or an MCP
 * tool mcp__server[__tool] (letters, digits, '_' and '-'). Its length. */
static size_t tool_name_len(const char *s)
{
    size_t n = 0;
    if (strncmp(s, "mcp__", 5) == 0) {
        n = 5;
        while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-') {
            n++;
        }
        return n > 5 ? n : 0;
    }
    if (!isupper((unsigned char)s[0])) {
        return 0;
    }
    while (isalnum((unsigned char)s[n]) || s[n] == '_') {
        n++;
    }
    return n;
}

int ad_permission_check(const char *entry, char *why, size_t whysz)
{
    size_t len = entry != NULL ? strlen(entry) : 0;
    if (len == 0 || len > 128) {
        snprintf(why, whysz, "must be 1 to 128 bytes");
        return AD_EINVAL;
    }
    if (strcmp(ad_permission_tools(entry), entry) != 0) {
        return 0;
    }
    size_t n = tool_name_len(entry);
    if (n == 0 || n > 64) {
        snprintf(why, whysz,
                 "not read, write, execute or a Claude Code tool rule such as Bash, Edit or "
                 "Bash(git log *) (tool names start with a capital letter)");
        return AD_EINVAL;
    }
    if (entry[n] == '\0') {
        return 0;
    }
    if (entry[n] != '(' || entry[len - 1] != ')' || len - n < 3) {
        snprintf(why, whysz, "a rule's argument goes in parentheses after the tool: Tool(args)");
        return AD_EINVAL;
    }
    for (size_t i = n + 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)entry[i];
        if (c < 0x20 || c == 0x7f || c == ',' || c == '(' || c == ')') {
            snprintf(why, whysz,
                     "a rule's argument may not hold control characters, ',' or "
                     "parentheses");
            return AD_EINVAL;
        }
    }
    return 0;
}

/* A definition's front matter and body for a Claude Code agent: the body is
 * the prompt the CLI appends (systemPrompt), model (not "inherit") and
 * tools (those that are valid permission rules) fill what the request left
 * out. body is changed in place. */
void ad_agent_def_apply(json_t *body, const json_t *def)
{
    const char *sp = json_string_value(json_object_get(def, "systemPrompt")),
               *model = json_string_value(json_object_get(def, "model"));
    if (json_object_get(body, "systemPrompt") == NULL && sp != NULL && sp[0] != '\0') {
        json_object_set_new(body, "systemPrompt", json_string(sp));
    }
    if (json_object_get(body, "model") == NULL && model != NULL && strcmp(model, "inherit") != 0) {
        json_object_set_new(body, "model", json_string(model));
    }
    json_t *tools = json_object_get(def, "tools");
    if (json_object_get(body, "permissions") == NULL && json_array_size(tools) > 0) {
        json_t *perms = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
            char why[200];
            if (json_array_size(perms) < 64 &&
                ad_permission_check(json_string_value(t), why, sizeof(why)) == 0) {
                json_array_append(perms, t);
            }
        }
        json_object_set_new(body, "permissions", perms);
    }
}

bool ad_permissions_allow(const json_t *perms, const char *tool)
{
    size_t i, tl = tool != NULL ? strlen(tool) : 0;
    json_t *v;
    json_array_foreach((json_t *)perms, i, v)
    {
        const char *e = json_string_value(v);
        if (e != NULL && tl > 0 && strcmp(e, tool) == 0) {
            return true; /* the word itself: an ACP approval's tool is one */
        }
        const char *tools = e != NULL ? ad_permission_tools(e) : NULL;
        for (const char *p = tools; tl > 0 && p != NULL && *p != '\0';) {
            size_t n = strcspn(p, ",");
            if (n == tl && strncmp(p, tool, tl) == 0) {
                return true;
            }
            p += n + (p[n] == ',');
        }
    }
    return false;
}
