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
 * Threads: loop thread only. The fs requests are served on it (src/core's
 * textfile: a file is at most AD_TEXTFILE_MAX bytes); a run on a worker
 * node has them served by its node, where its worktree is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "run/features.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    s->cwd = ad_run_agent_cwd(run);
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
    run->turn.had_error = true;
    snprintf(run->turn.reason, sizeof(run->turn.reason), "%s", why);
    ad_rec_t note = {.type = AD_REC_MESSAGE, .role = AD_ROLE_SYSTEM, .is_complete = true};
    json_t *ev = ad_run_queue_message(run, "system", why, strlen(why), &note, NULL);
    ad_run_publish(run->r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
    ad_store_status_reason_t reason;
    ad_status_reason_set(&reason, "protocol_error", run->run_id, "ACP protocol error: %s", why);
    ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_ERROR, &reason, NULL, NULL);
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

static void reply_to(ad_run_t *run, const char *tool_id, json_t *result, const char *error,
                     bool missing)
{
    size_t len = 0;
    write_line(run, ad_acp_reply(run->parser, tool_id, result, missing ? ACP_NOT_FOUND : -32000,
                                 error, &len));
}

static void reply(ad_run_t *run, const ad_rec_t *rec, json_t *result, const char *error)
{
    bool missing = error != NULL && strcmp(error, AD_TEXTFILE_NOT_FOUND) == 0;
    reply_to(run, rec->tool_id, result, error, missing);
}

/* A path refused by the kernel as a way out: the user is told too, as for
 * one refused by name. */
static void say_outside(ad_run_t *run, const char *rel)
{
    char text[400];
    snprintf(text, sizeof(text),
             "refused: the agent asked for %.200s, which leads outside its "
             "worktree",
             rel);
    ad_run_acp_say(run, text);
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

static bool refuse_data_dir(int fd, void *ud)
{
    return ad_run_acp_in_data_dir(ud, fd);
}

/* The answer for err (0: result), the user told of a way out. */
static void served(ad_run_t *run, const ad_rec_t *rec, json_t *result, int err)
{
    if (err == EXDEV || err == ELOOP) {
        say_outside(run, rec->text);
    }
    reply(run, rec, err == 0 ? result : NULL, ad_textfile_why(err));
    if (err != 0) {
        json_decref(result);
    }
}

static void read_file(ad_run_t *run, const ad_rec_t *rec)
{
    json_int_t line = json_integer_value(json_object_get(rec->json, "line"));
    json_int_t limit = json_integer_value(json_object_get(rec->json, "limit"));
    json_t *content = NULL;
    int err = ad_textfile_read(run->cwd, rec->text, line, limit, refuse_data_dir, run, &content);
    served(run, rec, err == 0 ? json_pack("{s:o}", "content", content) : NULL, err);
}

static void write_file(ad_run_t *run, const ad_rec_t *rec)
{
    json_t *content = json_object_get(rec->json, "content");
    int err = ad_textfile_write(run->cwd, rec->text, json_string_value(content),
                                json_string_length(content), refuse_data_dir, run);
    served(run, rec, err == 0 ? json_object() : NULL, err);
}

/* ---- on a worker node: served there (src/node/nodefs.c) ------------------------------- */

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX], run_id[AD_ID_MAX];
    char *tool_id; /* the request's id, as JSON */
    char rel[600];
    bool write;
} remote_fs_t;

static void remote_done(json_t *content, const char *why, bool not_found, void *ud)
{
    remote_fs_t *c = ud;
    ad_run_t *run = ad_run_find(c->r, c->agent_id);
    if (run != NULL && strcmp(run->run_id, c->run_id) != 0) {
        run = NULL; /* the run that asked has ended: nobody to answer */
    }
    if (run != NULL && why != NULL) {
        if (strcmp(why, ad_textfile_why(EXDEV)) == 0) {
            say_outside(run, c->rel);
        }
        reply_to(run, c->tool_id, NULL, why, not_found);
    } else if (run != NULL) {
        reply_to(run, c->tool_id, c->write ? json_object() : json_pack("{s:O}", "content", content),
                 NULL, false);
    }
    free(c->tool_id);
    free(c);
}

static void remote_file(ad_run_t *run, const ad_rec_t *rec, bool write)
{
    remote_fs_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    snprintf(c->run_id, sizeof(c->run_id), "%s", run->run_id);
    c->tool_id = ad_xstrdup(rec->tool_id);
    snprintf(c->rel, sizeof(c->rel), "%s", rec->text);
    c->write = write;
    json_t *content = json_object_get(rec->json, "content");
    ad_plane_fs_req_t q = {.path = rec->text,
                           .line = json_integer_value(json_object_get(rec->json, "line")),
                           .limit = json_integer_value(json_object_get(rec->json, "limit")),
                           .content = write ? json_string_value(content) : NULL,
                           .content_len = write ? json_string_length(content) : 0};
    (void)ad_plane_fs(run->r->plane, run->run_id, &q, remote_done, c);
}

void ad_run_acp_request(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->subtype == NULL || rec->text == NULL || run->cwd == NULL) {
        reply(run, rec, NULL, "not served");
    } else if (strncmp(rec->subtype, "terminal/", 9) == 0) {
        ad_run_acp_terminal(run, rec);
    } else if (strncmp(rec->subtype, "fs/", 3) == 0 && run->node_id[0] != '\0' &&
               run->r->plane != NULL) {
        /* its files are on its node, not in this copy of the worktree */
        remote_file(run, rec, strcmp(rec->subtype, "fs/write_text_file") == 0);
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

/* ---- the ACP feature's hooks (feature.h; its state is acp_term.c's) ------------------ */

static void acp_input(ad_run_t *run, const ad_run_start_t *s, const char *prompt)
{
    if (s->spec.executor == AD_EXEC_ACP) {
        ad_run_acp_begin(run, &s->spec, prompt);
    }
}

static void acp_started(ad_run_t *run, ad_run_start_t *s)
{
    if (s->spec.executor == AD_EXEC_ACP && run->node_id[0] == '\0') {
        /* its terminals run as it does */
        ad_run_term_env_keep(run, &s->sbx, s->env, &s->limits);
    } else if (s->spec.executor == AD_EXEC_ACP) {
        ad_run_node_term_keep(run, s); /* as it does, on its node */
    }
}

/* An ACP run's terminals run in its sandbox, which a restarted daemon
 * builds again as the start did (none can run when it cannot be built). */
static void term_env_again(ad_runner_t *r, ad_run_t *run, const char *agent_id, ad_run_start_t *s)
{
    char err[512];
    ad_run_sandbox_cleanup(&s->sbx);
    if (ad_run_start_sandbox(r, agent_id, s, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "no terminals for a run taken up agent=%s why=\"%s\"",
               agent_id, err);
        return;
    }
    ad_run_start_env(r, s);
    ad_run_term_env_keep(run, &s->sbx, s->env, &s->limits);
}

/* An ACP run on a node taken up: what its terminals run with, built again
 * as the start built it (none can run when it cannot be). */
static void node_term_again(ad_runner_t *r, ad_run_t *run, ad_run_start_t *s)
{
    char err[512];
    json_decref(s->remote_sandbox);
    s->remote_sandbox = NULL;
    if (ad_run_node_sandbox(r, s, run->node_id, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "no terminals for a run taken up agent=%s why=\"%s\"",
               run->agent_id, err);
        return;
    }
    ad_run_start_env(r, s);
    ad_run_node_term_keep(run, s);
}

/* A run taken up: what its terminals run with, built again, and the
 * protocol where it was: a turn is under way unless it ended (waiting on
 * an approval is waiting inside the turn: its prompt's answer comes after
 * it). */
static void acp_attach(ad_run_t *run, ad_run_start_t *s)
{
    if (s->spec.executor != AD_EXEC_ACP) {
        return;
    }
    if (run->node_id[0] == '\0') {
        term_env_again(run->r, run, run->agent_id, s);
    } else {
        node_term_again(run->r, run, s);
    }
    ad_run_acp_resume(run, &s->spec,
                      s->agent.status != AD_ROW_AGENT_STATUS_WAITING ||
                          ad_run_approvals_pending(run) > 0);
}

/* The agent's requests (fs, terminals) and a broken protocol. */
static bool acp_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type == AD_REC_REQUEST) {
        ad_run_acp_request(run, rec);
        return true;
    }
    if (rec->type == AD_REC_FAULT) {
        ad_run_acp_fault(run, rec);
        return true;
    }
    return false;
}

const ad_run_feature_t ad_run_feat_acp = {
    .name = "acp",
    .ctx_size = sizeof(ad_run_acp_t),
    .input = acp_input,
    .started = acp_started,
    .attach = acp_attach,
    .record = acp_record,
    .release = ad_run_acp_terms_end,
    .free = ad_run_acp_free,
};
