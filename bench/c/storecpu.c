/* SPDX-License-Identifier: MIT */
/*
 * Row F2 of bench/README.md (issue #38): the CPU one list of the API costs
 * in the store, without HTTP, wrk or the kernel's sockets in the way. Opens
 * a data dir's database through the store (as agentd does: its read
 * connection, its statements) and calls one list's text writer many times,
 * each into a fresh buffer as a request would, timing each call by the
 * thread's CPU clock. The minimum and the quartiles are steadier than a
 * server's CPU a request on a shared machine, so two builds can be told
 * apart by a few percent. Linked against libagentd.a.
 *
 * Usage: storecpu DB LIST [CALLS]
 *   LIST: usage-daily | usage-monthly | agents | agents-100
 *   CALLS: how many (default 200)
 * Prints one line: the answer's bytes, then min, p25 and median ms a call.
 * AGENTD_STORECPU_DUMP=1 writes the first answer to stdout (to compare two
 * builds' bytes).
 */
#include "store/store.h"
#include "tables/agents.h"
#include "tables/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CALLS_MAX 100000
#define ANSWER_MAX (64u << 20)

static double thread_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One call of the list named list into b: 0 or the store's error; -1 for
 * a list this tool does not know. */
static int call(ad_store_t *st, const char *list, ad_buf_t *b)
{
    ad_store_agent_query_t q = {.org = ""};
    if (strcmp(list, "usage-daily") == 0) {
        return ad_store_usage_agents_text(st, "daily", ad_wall_ms(), "", b);
    }
    if (strcmp(list, "usage-monthly") == 0) {
        return ad_store_usage_agents_text(st, "monthly", ad_wall_ms(), "", b);
    }
    if (strcmp(list, "agents") == 0) {
        return ad_store_agent_list_text(st, &q, NULL, NULL, b);
    }
    if (strcmp(list, "agents-100") == 0) {
        q.limit = 100;
        return ad_store_agent_list_text(st, &q, NULL, NULL, b);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: storecpu DB usage-daily|usage-monthly|agents|agents-100 [CALLS]\n");
        return 2;
    }
    long calls = argc == 4 ? strtol(argv[3], NULL, 10) : 200;
    if (calls < 1 || calls > CALLS_MAX) {
        fprintf(stderr, "storecpu: CALLS must be 1 to %d\n", CALLS_MAX);
        return 2;
    }
    if (access(argv[1], R_OK) != 0) { /* the store would make a new one */
        fprintf(stderr, "storecpu: no database %s\n", argv[1]);
        return 1;
    }
    ad_log_set_level(AD_LOG_WARN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = argv[1]};
    char err[256];
    if (ad_store_open(&loop, &o, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "storecpu: %s\n", err);
        return 1;
    }
    double *ms = calloc((size_t)calls, sizeof(*ms));
    size_t bytes = 0;
    int rc = ms != NULL ? 0 : AD_ENOMEM;
    for (long i = 0; i < calls && rc == 0; i++) {
        ad_buf_t b;
        ad_buf_init(&b, ANSWER_MAX);
        double t0 = thread_ms();
        rc = call(st, argv[2], &b);
        ms[i] = thread_ms() - t0;
        bytes = b.len;
        if (rc == 0 && i == 0 && getenv("AGENTD_STORECPU_DUMP") != NULL) {
            fwrite(b.data, 1, b.len, stdout);
        }
        ad_buf_cleanup(&b);
    }
    if (rc == -1) {
        fprintf(stderr, "storecpu: no list %s\n", argv[2]);
    } else if (rc != 0) {
        fprintf(stderr, "storecpu: %s: %s\n", argv[2], ad_errname(rc));
    } else {
        qsort(ms, (size_t)calls, sizeof(*ms), by_value);
        fprintf(stderr, "%s: %zu bytes, min %.3f p25 %.3f median %.3f ms a call (%ld calls)\n",
                argv[2], bytes, ms[0], ms[calls / 4], ms[calls / 2], calls);
    }
    free(ms);
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc == 0 ? 0 : 1;
}
