/* SPDX-License-Identifier: MIT */
/*
 * Each agent's share of the machine, read on the pool: a run with a
 * cgroup is measured from it (cpu.stat, memory.stat: one read each); a run
 * without one from /proc, summing the processes of its session (the
 * supervisor starts every tree with setsid, so the leader's pid is the
 * session id). Finding every member means knowing every process's
 * session: that full scan runs every AD_HEALTH_SCAN_EVERY samples and
 * reads the stat of the processes the last one did not see (and of all,
 * every AD_HEALTH_REREAD_EVERY scans). A tree new since the last sample
 * is found from its leader down, through each member's children file
 * (what it costs is the tree's size, not the machine's). In between only
 * the members found are read. A member the walk cannot see (a child of a
 * thread other than its process's first, one whose parent died) is found
 * by the next full scan.
 */
#include "health/health_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool proc_stat(const ad_health_agents_t *a, pid_t pid, pid_t *session, uint64_t *ticks,
                      uint64_t *rss_pages, char *buf, size_t bufsz)
{
    char f[64];
    snprintf(f, sizeof(f), "%s/%d/stat", a->proc, (int)pid);
    return ad_health_read_file(f, buf, bufsz) > 0 &&
           ad_health_parse_pid_stat(buf, session, ticks, rss_pages);
}

/* The pids a file lists (a children file: "12 13 ", cgroup.procs: a line
 * each), at most max, copied out so that buf can be read into again. */
static size_t read_pids(const char *path, pid_t *out, size_t max, char *buf, size_t bufsz)
{
    size_t n = 0;
    if (ad_health_read_file(path, buf, bufsz) <= 0) {
        return 0;
    }
    for (char *c = buf; *c != '\0' && n < max;) {
        char *end;
        long pid = strtol(c, &end, 10); /* (skips the blank or newline before it) */
        if (end == c) {
            break;
        }
        out[n++] = (pid_t)pid;
        c = end;
    }
    return n;
}

static bool wanted(const ad_health_target_t *t, size_t n, pid_t session)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].cgroup[0] == '\0' && t[i].pid == session) {
            return true;
        }
    }
    return false;
}

static int by_pid(const void *x, const void *y)
{
    pid_t a = ((const ad_health_seen_t *)x)->pid, b = ((const ad_health_seen_t *)y)->pid;
    return a < b ? -1 : a > b;
}

/* The session the last scan had for pid, if it saw it. */
static bool seen_session(const ad_health_agents_t *a, pid_t pid, pid_t *session)
{
    ad_health_seen_t key = {pid, 0};
    const ad_health_seen_t *s =
        a->seen != NULL ? bsearch(&key, a->seen, a->nseen, sizeof(key), by_pid) : NULL;
    if (s != NULL) {
        *session = s->session;
    }
    return s != NULL;
}

/* Every process of /proc whose session is one of the trees without a
 * cgroup becomes a member. Only the pids the last scan did not see are
 * read (a readdir of /proc, then a stat a new process). */
static void scan(ad_health_agents_t *a, const ad_health_target_t *t, size_t n, char *buf,
                 size_t bufsz)
{
    a->nmembers = 0;
    a->since_scan = 0;
    bool reread = a->scans++ % AD_HEALTH_REREAD_EVERY == 0;
    DIR *d = opendir(a->proc);
    if (d == NULL) {
        return;
    }
    ad_health_seen_t *next = NULL;
    size_t nnext = 0, cap = 0;
    bool sorted = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        pid_t session;
        uint64_t ticks, rss;
        /* (a tree's leader is read always: its setsid may have come after
           the last scan saw it) */
        if ((reread || wanted(t, n, pid) || !seen_session(a, pid, &session)) &&
            !proc_stat(a, pid, &session, &ticks, &rss, buf, bufsz)) {
            continue; /* gone already */
        }
        if (wanted(t, n, session) && a->nmembers < AD_HEALTH_MAX_MEMBERS) {
            a->members[a->nmembers++] = (ad_health_member_t){pid, session};
        }
        if (nnext == cap && cap < AD_HEALTH_MAX_SEEN) {
            cap = cap == 0 ? 1024 : cap * 2;
            next = ad_xrealloc(next, cap * sizeof(*next));
        }
        if (nnext < cap) {
            sorted = sorted && (nnext == 0 || next[nnext - 1].pid < pid);
            next[nnext++] = (ad_health_seen_t){pid, session};
        }
    }
    closedir(d);
    if (!sorted) {
        qsort(next, nnext, sizeof(*next), by_pid); /* (/proc lists pids in order) */
    }
    free(a->seen);
    a->seen = next;
    a->nseen = nnext;
}

static bool known(const ad_health_agents_t *a, pid_t leader)
{
    for (size_t k = 0; k < a->nprev; k++) {
        if (a->prev[k].leader == leader) {
            return true;
        }
    }
    return false;
}

/* A tree new since the last sample: its leader and, breadth first, every
 * child still in its session. The members array is the walk's queue. */
static void adopt(ad_health_agents_t *a, pid_t leader, char *buf, size_t bufsz)
{
    size_t keep = 0;
    for (size_t m = 0; m < a->nmembers; m++) {
        if (a->members[m].leader != leader) {
            a->members[keep++] = a->members[m]; /* (left from before it went) */
        }
    }
    a->nmembers = keep;
    pid_t session;
    uint64_t ticks, rss;
    if (a->nmembers >= AD_HEALTH_MAX_MEMBERS ||
        !proc_stat(a, leader, &session, &ticks, &rss, buf, bufsz) || session != leader) {
        return;
    }
    size_t from = a->nmembers;
    a->members[a->nmembers++] = (ad_health_member_t){leader, leader};
    pid_t kids[512];
    for (size_t q = from; q < a->nmembers; q++) {
        char f[96];
        pid_t p = a->members[q].pid;
        snprintf(f, sizeof(f), "%s/%d/task/%d/children", a->proc, (int)p, (int)p);
        size_t nk = read_pids(f, kids, AD_ARRAY_LEN(kids), buf, bufsz);
        for (size_t i = 0; i < nk && a->nmembers < AD_HEALTH_MAX_MEMBERS; i++) {
            if (kids[i] > 0 && proc_stat(a, kids[i], &session, &ticks, &rss, buf, bufsz) &&
                session == leader) {
                a->members[a->nmembers++] = (ad_health_member_t){kids[i], leader};
            }
        }
    }
}

/* Sums the members of each tree into its agent; members that are gone
 * are dropped. cpu gets ticks. */
static void sum_members(ad_health_agents_t *a, const ad_health_target_t *t, size_t n, uint64_t *cpu,
                        ad_health_sample_t *s, char *buf, size_t bufsz)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t keep = 0;
    for (size_t m = 0; m < a->nmembers; m++) {
        ad_health_member_t mb = a->members[m];
        pid_t session;
        uint64_t ticks, rss;
        if (!proc_stat(a, mb.pid, &session, &ticks, &rss, buf, bufsz) || session != mb.leader) {
            continue; /* gone, or the pid was reused */
        }
        a->members[keep++] = mb;
        for (size_t i = 0; i < n; i++) {
            if (t[i].cgroup[0] == '\0' && t[i].pid == mb.leader) {
                cpu[i] += ticks;
                s->agents[i].rss_bytes += rss * (uint64_t)(page > 0 ? page : 4096);
                s->agents[i].nprocs++;
            }
        }
    }
    a->nmembers = keep;
}

/* A cgroup: CPU from cpu.stat (always there in v2); memory from
 * memory.stat when the memory controller is on, else the RSS of the
 * members cgroup.procs lists. */
static void read_cgroup(const ad_health_agents_t *a, const ad_health_target_t *t, uint64_t *cpu,
                        ad_health_agent_t *ag, char *buf, size_t bufsz)
{
    char f[1100];
    snprintf(f, sizeof(f), "%s/cpu.stat", t->cgroup);
    if (ad_health_read_file(f, buf, bufsz) > 0) {
        ad_health_parse_cpustat(buf, cpu);
    }
    snprintf(f, sizeof(f), "%s/memory.stat", t->cgroup);
    bool have_mem =
        ad_health_read_file(f, buf, bufsz) > 0 && ad_health_parse_memstat(buf, &ag->rss_bytes);
    snprintf(f, sizeof(f), "%s/cgroup.procs", t->cgroup);
    pid_t pids[256];
    size_t n = read_pids(f, pids, AD_ARRAY_LEN(pids), buf, bufsz);
    if (n == 0) {
        return;
    }
    ag->nprocs = (unsigned)n;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n && !have_mem; i++) {
        pid_t session;
        uint64_t ticks, rss;
        if (proc_stat(a, pids[i], &session, &ticks, &rss, buf, bufsz)) {
            ag->rss_bytes += rss * (uint64_t)(page > 0 ? page : 4096);
        }
    }
}

/* CPU percent from the previous reading of the same tree. */
static void cpu_from_prev(const ad_health_agents_t *a, ad_health_prev_t *now, ad_health_agent_t *ag)
{
    for (size_t k = 0; k < a->nprev; k++) {
        const ad_health_prev_t *p = &a->prev[k];
        if (p->leader != now->leader || p->cgroup != now->cgroup || now->ns <= p->ns) {
            continue;
        }
        ag->has_cpu = true;
        if (now->cpu < p->cpu) {
            ag->cpu_pct = 0; /* a member left with its time: unknown, shown as idle */
            return;
        }
        double usec = (double)(now->cpu - p->cpu);
        if (!now->cgroup) {
            long hz = sysconf(_SC_CLK_TCK);
            usec = usec * 1e6 / (double)(hz > 0 ? hz : 100);
        }
        ag->cpu_pct = usec * 1000.0 * 100.0 / (double)(now->ns - p->ns);
        return;
    }
}

void ad_health_agents_read(ad_health_agents_t *a, const ad_health_target_t *t, size_t n,
                           ad_health_sample_t *s, char *buf, size_t bufsz)
{
    uint64_t *cpu = a->cpu;
    if (n > AD_HEALTH_MAX_AGENTS) {
        n = AD_HEALTH_MAX_AGENTS;
    }
    bool any_proc = false;
    for (size_t i = 0; i < n; i++) {
        any_proc = any_proc || t[i].cgroup[0] == '\0';
        cpu[i] = 0;
        ad_health_agent_t *ag = &s->agents[i];
        memset(ag, 0, sizeof(*ag));
        memcpy(ag->agent_id, t[i].agent_id, sizeof(ag->agent_id));
        memcpy(ag->run_id, t[i].run_id, sizeof(ag->run_id));
        memcpy(ag->org, t[i].org, sizeof(ag->org));
        ag->pid = t[i].pid;
        ag->cgroup = t[i].cgroup[0] != '\0';
        if (ag->cgroup) {
            read_cgroup(a, &t[i], &cpu[i], ag, buf, bufsz);
        }
    }
    if (any_proc) {
        if (a->since_scan >= AD_HEALTH_SCAN_EVERY) {
            scan(a, t, n, buf, bufsz);
        } else {
            for (size_t i = 0; i < n; i++) {
                if (t[i].cgroup[0] == '\0' && !known(a, t[i].pid)) {
                    adopt(a, t[i].pid, buf, bufsz);
                }
            }
        }
        a->since_scan++;
        sum_members(a, t, n, cpu, s, buf, bufsz);
    } else {
        a->nmembers = 0;
    }
    int64_t now = (int64_t)ad_mono_ns();
    ad_health_prev_t *next = a->next;
    for (size_t i = 0; i < n; i++) {
        next[i] = (ad_health_prev_t){t[i].pid, now, cpu[i], t[i].cgroup[0] != '\0'};
        cpu_from_prev(a, &next[i], &s->agents[i]);
    }
    memcpy(a->prev, next, n * sizeof(next[0]));
    a->nprev = n;
    s->nagents = n;
}

int ad_health_agent_of(const ad_health_agents_t *a, const ad_health_target_t *t, size_t n,
                       unsigned pid, char *buf, size_t bufsz)
{
    pid_t session;
    uint64_t ticks, rss;
    if (proc_stat(a, (pid_t)pid, &session, &ticks, &rss, buf, bufsz)) {
        for (size_t i = 0; i < n; i++) {
            if (t[i].pid == session) {
                return (int)i;
            }
        }
    }
    /* A member that left the session is still in its tree's cgroup. */
    char f[64];
    snprintf(f, sizeof(f), "%s/%u/cgroup", a->proc, pid);
    if (ad_health_read_file(f, buf, bufsz) <= 0) {
        return -1;
    }
    const char *line = strstr(buf, "0::");
    if (line == NULL) {
        return -1;
    }
    line += 3;
    size_t len = strcspn(line, "\n");
    for (size_t i = 0; i < n; i++) {
        size_t cl = strlen(t[i].cgroup);
        if (len > 1 && cl >= len && memcmp(t[i].cgroup + cl - len, line, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void ad_health_agents_cleanup(ad_health_agents_t *a)
{
    free(a->seen);
    a->seen = NULL;
    a->nseen = 0;
}
