/* SPDX-License-Identifier: MIT */
/*
 * The runner's side of an ACP run (src/agent's "ACP"): the protocol begun
 * once the process is up, the lines the parser builds written to the
 * agent, user messages as prompts, stop as session/cancel first, the
 * agent's fs requests served below the worktree (opened beneath it: a
 * path that leaves it by a symlink is refused by the kernel, by name by
 * the parser; terminals are acp_term.c's), the user's decisions carried
 * out, and a protocol fault turned into the run's error.
 *
 * Threads: loop thread only. The fs requests are served on it: a file is
 * at most AD_RUN_ACP_FILE_MAX bytes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "run/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AD_RUN_ACP_FILE_MAX (4u << 20)

/* Writes a built line (taken; NULL: nothing) to the agent. */
static void write_line(ad_run_t *run, char *line)
{
    if (line != NULL && run->proc != NULL) {
        (void)ad_proc_write(run->proc, line, strlen(line));
    }
    free(line);
}

static void setup_of(ad_run_t *run, const ad_agent_spec_t *spec, const char *prompt,
                     ad_acp_setup_t *s)
{
    memset(s, 0, sizeof(*s));
    s->cwd = run->cwd;
    s->session_id = spec->session_id;
    s->prompt = prompt;
    s->mode = spec->mode;
    s->permissions = spec->permissions;
    s->npermissions = spec->npermissions;
    s->client_version = AD_VERSION;
    s->line_max = (size_t)run->r->cfg->max_line_bytes;
    s->no_fs_read = spec->acp_agent != NULL && strcmp(spec->acp_agent, "gemini") == 0;
}

void ad_run_acp_begin(ad_run_t *run, const ad_agent_spec_t *spec, const char *prompt)
{
    ad_acp_setup_t s;
    setup_of(run, spec, prompt, &s);
    size_t len = 0;
    write_line(run, ad_acp_begin(run->parser, &s, &len));
}

void ad_run_acp_resume(ad_run_t *run, const ad_agent_spec_t *spec, bool in_turn)
{
    ad_acp_setup_t s;
    setup_of(run, spec, NULL, &s);
    s.in_turn = in_turn;
    ad_acp_resume(run->parser, &s);
}

int ad_run_acp_prompt(ad_run_t *run, const char *content)
{
    char *line = NULL;
    size_t len = 0;
    int rc = ad_acp_prompt(run->parser, content, &line, &len);
    if (rc == 0 && line != NULL) {
        rc = ad_proc_write(run->proc, line, len);
    }
    free(line);
    return rc;
}

void ad_run_acp_cancel(ad_run_t *run)
{
    size_t len = 0;
    write_line(run, ad_acp_cancel(run->parser, &len));
}

void ad_run_acp_fault(ad_run_t *run, const ad_rec_t *rec)
{
    const char *why = rec->text != NULL ? rec->text : "ACP agent broke the protocol";
    ad_log(AD_LOG_WARN, "runner", "acp fault agent=%s: %s", run->agent_id, why);
    run->had_error = true;
    snprintf(run->reason, sizeof(run->reason), "%s", why);
    ad_rec_t note = {.type = AD_REC_MESSAGE, .role = AD_ROLE_SYSTEM, .is_complete = true};
    json_t *ev = ad_run_queue_message(run, "system", why, strlen(why), &note, NULL);
    ad_run_publish(run->r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
    ad_store_status_reason_t reason;
    ad_status_reason_set(&reason, "protocol_error", run->run_id, "ACP protocol error: %s", why);
    ad_run_set_status(run, NULL, AD_AGENT_STATUS_ERROR, &reason, NULL, NULL);
    /* Nothing it says is believed any more: its input closes and it is
     * ended (the run fails with the reason above, not as stopped). */
    if (run->proc != NULL && ad_proc_alive(run->proc)) {
        ad_proc_close_stdin(run->proc);
        (void)ad_proc_signal(run->proc, SIGTERM);
    }
}

void ad_run_acp_say(ad_run_t *run, const char *text)
{
    ad_run_publish(run->r, &run->topics, "agent_output",
                   json_pack("{s:s, s:s, s:s, s:s, s:b}", "agentId", run->agent_id, "runId",
                             run->run_id, "stream", "system", "content", text, "isComplete", 1));
}

/* ---- fs requests ------------------------------------------------------------ */

/* ACP's code for a missing file, which agents take as "a new file". */
#define ACP_NOT_FOUND (-32002)
#define ACP_NOT_FOUND_MSG "Resource not found"

static void reply(ad_run_t *run, const ad_rec_t *rec, json_t *result, const char *error)
{
    size_t len = 0;
    bool missing = error != NULL && strcmp(error, ACP_NOT_FOUND_MSG) == 0;
    write_line(run, ad_acp_reply(run->parser, rec->tool_id, result,
                                 missing ? ACP_NOT_FOUND : -32000, error, &len));
}

/* Refused by the kernel: tell the user too, as for a path refused by name. */
static const char *open_error(ad_run_t *run, const ad_rec_t *rec, int err)
{
    if (err != EXDEV && err != ELOOP) {
        return err == ENOENT ? ACP_NOT_FOUND_MSG : "the file cannot be opened";
    }
    char text[400];
    snprintf(text, sizeof(text),
             "refused: the agent asked for %.200s, which leads outside its "
             "worktree",
             rec->text);
    ad_run_acp_say(run, text);
    return "path is outside the worktree";
}

/* The sandbox hides the data dir from the agent even in a worktree that
 * holds it, so agentd does not serve it either (a symlink in the worktree
 * may lead there). An fd whose path cannot be read counts as inside. */
bool ad_run_acp_in_data_dir(const ad_run_t *run, int fd)
{
    char link[64], path[PATH_MAX], data[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0 || realpath(run->r->cfg->data_dir, data) == NULL) {
        return n <= 0;
    }
    path[n] = '\0';
    size_t dl = strlen(data);
    return strncmp(path, data, dl) == 0 && (path[dl] == '/' || path[dl] == '\0');
}

/* Lines [line, line+limit) of text (1-based; 0 limit: to the end). */
static json_t *lines_of(const char *text, size_t n, int64_t line, int64_t limit)
{
    size_t a = 0;
    for (int64_t l = 1; l < line && a < n; a++) {
        l += text[a] == '\n';
    }
    size_t b = a;
    for (int64_t k = 0; b < n && (limit <= 0 || k < limit); b++) {
        if (text[b] == '\n' && ++k == limit) {
            b++;
            break;
        }
    }
    return json_stringn(text + a, b - a);
}

static void read_file(ad_run_t *run, const ad_rec_t *rec)
{
    int fd = ad_open_beneath(run->cwd, rec->text, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0 && ad_run_acp_in_data_dir(run, fd)) {
        close(fd);
        fd = -1;
        errno = EXDEV;
    }
    if (fd < 0) {
        reply(run, rec, NULL, open_error(run, rec, errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > AD_RUN_ACP_FILE_MAX) {
        close(fd);
        reply(run, rec, NULL, "not a regular file of at most 4 MiB");
        return;
    }
    char *buf = ad_xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    json_int_t line = json_integer_value(json_object_get(rec->json, "line"));
    json_int_t limit = json_integer_value(json_object_get(rec->json, "limit"));
    json_t *content = n >= 0 ? lines_of(buf, (size_t)n, line > 0 ? line : 1, limit) : NULL;
    free(buf);
    if (content == NULL) {
        reply(run, rec, NULL, n < 0 ? "the file cannot be read" : "the file is not UTF-8 text");
        return;
    }
    reply(run, rec, json_pack("{s:o}", "content", content), NULL);
}

/* The folder rel is in, opened beneath the worktree, and rel's last name. */
static int parent_of(const ad_run_t *run, const char *rel, const char **base)
{
    const char *slash = strrchr(rel, '/');
    *base = slash != NULL ? slash + 1 : rel;
    if (slash == NULL) {
        return open(run->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    char *dir = ad_xstrndup(rel, (size_t)(slash - rel));
    int fd = ad_open_beneath(run->cwd, dir, O_PATH | O_DIRECTORY);
    free(dir);
    return fd;
}

static void write_file(ad_run_t *run, const ad_rec_t *rec)
{
    json_t *content = json_object_get(rec->json, "content");
    const char *base = NULL;
    int dfd = parent_of(run, rec->text, &base);
    if (dfd >= 0 && ad_run_acp_in_data_dir(run, dfd)) {
        close(dfd);
        dfd = -1;
        errno = EXDEV;
    }
    if (dfd < 0 || base[0] == '\0' || strcmp(base, ".") == 0) {
        int e = dfd < 0 ? errno : EINVAL;
        if (dfd >= 0) {
            close(dfd);
        }
        reply(run, rec, NULL, open_error(run, rec, e));
        return;
    }
    /* the last name is never followed: a symlink there is refused */
    int fd =
        openat(dfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        reply(run, rec, NULL, open_error(run, rec, e == ELOOP ? EXDEV : e));
        return;
    }
    size_t n = json_string_length(content);
    size_t w = ad_write_all(fd, json_string_value(content), n);
    close(fd);
    reply(run, rec, w == n ? json_object() : NULL, w == n ? NULL : "the file cannot be written");
}

void ad_run_acp_request(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->subtype == NULL || rec->text == NULL || run->cwd == NULL) {
        reply(run, rec, NULL, "not served");
    } else if (strncmp(rec->subtype, "terminal/", 9) == 0) {
        ad_run_acp_terminal(run, rec);
    } else if (strcmp(rec->subtype, "fs/read_text_file") == 0) {
        read_file(run, rec);
    } else if (strcmp(rec->subtype, "fs/write_text_file") == 0) {
        write_file(run, rec);
    } else {
        reply(run, rec, NULL, "not served");
    }
}

void ad_run_acp_apply(ad_run_t *run, const ad_recs_t *recs)
{
    for (size_t i = 0; i < recs->n; i++) {
        const ad_rec_t *rec = &recs->v[i];
        if (rec->type == AD_REC_WRITE) {
            write_line(run, ad_xstrdup(rec->text));
        } else if (rec->type == AD_REC_REQUEST) {
            ad_run_acp_request(run, rec);
        } else if (rec->type == AD_REC_NOTICE && rec->text != NULL) {
            ad_run_acp_say(run, rec->text);
        }
    }
}
