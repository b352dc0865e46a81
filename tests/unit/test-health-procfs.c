/* SPDX-License-Identifier: MIT */
/* Tests for src/health: the /proc and cgroup parsers on files recorded
 * from real machines (tests/fixtures/health), the CPU temperature probe on
 * recorded sysfs trees, per-agent accounting over a made-up /proc, the
 * score, the history's tiers and ranges, and the Prometheus writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health/health_int.h"

#define FIX "tests/fixtures/health/"

static char text[65536];

static const char *fixture(const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), FIX "%s", name);
    assert_true(ad_health_read_file(p, text, sizeof(text)) > 0);
    return text;
}

static void stat_deltas_give_busy_percent(void **state)
{
    AD_UNUSED(state);
    ad_cpu_times_t a, b, ca[4], cb[4];
    assert_int_equal(ad_health_parse_stat(fixture("stat.1"), &a, ca, 4), 2);
    assert_int_equal(ad_health_parse_stat(fixture("stat.2"), &b, cb, 4), 2);
    /* stat.1 -> stat.2: user +1, system +1, idle +199 */
    assert_int_equal(b.busy - a.busy, 2);
    assert_int_equal(b.total - a.total, 201);
    assert_true(fabs(ad_health_cpu_pct(&a, &b) - 200.0 / 201.0) < 1e-9);
    assert_true(ad_health_cpu_pct(&ca[0], &cb[0]) == 0); /* cpu0 only idled */
    /* backwards counters (a CPU went offline) say nothing, not nonsense */
    assert_true(ad_health_cpu_pct(&b, &a) == 0);
    /* guest time is taken out of user */
    ad_cpu_times_t g;
    assert_int_equal(ad_health_parse_stat("cpu  100 0 0 100 0 0 0 0 40 0\n", &g, NULL, 0), 0);
    assert_int_equal(g.busy, 100);
    assert_int_equal(ad_health_parse_stat("intr 1 2 3\n", &g, NULL, 0), -1);
}

static void meminfo_load_and_pid_stat(void **state)
{
    AD_UNUSED(state);
    uint64_t total, avail, st, sf;
    assert_true(ad_health_parse_meminfo(fixture("meminfo"), &total, &avail, &st, &sf));
    assert_int_equal(total, 24684092ULL * 1024);
    assert_true(avail > 0 && avail <= total);
    uint64_t avail_new = avail;
    /* before Linux 3.14: MemFree + Buffers + Cached */
    assert_true(ad_health_parse_meminfo(fixture("meminfo.old"), &total, &avail, &st, &sf));
    assert_true(avail > 0 && avail != avail_new);
    assert_false(ad_health_parse_meminfo("Nothing: 1 kB\n", &total, &avail, &st, &sf));

    double load[3];
    assert_true(ad_health_parse_loadavg(fixture("loadavg"), load));
    assert_true(fabs(load[0] - 1.50) < 1e-9 && fabs(load[2] - 1.85) < 1e-9);
    assert_false(ad_health_parse_loadavg("", load));

    pid_t session;
    uint64_t ticks, rss;
    assert_true(ad_health_parse_pid_stat(fixture("pid-stat.odd"), &session, &ticks, &rss));
    assert_int_equal(session, 4242);
    assert_int_equal(ticks, 375);
    assert_int_equal(rss, 3000);
    assert_true(ad_health_parse_pid_stat(fixture("pid-stat.plain"), &session, &ticks, &rss));
    assert_int_equal(session, 25341);
    assert_int_equal(rss, 419);
    assert_false(ad_health_parse_pid_stat("12 (cut", &session, &ticks, &rss));

    uint64_t v;
    assert_true(ad_health_parse_memstat(fixture("memory.stat"), &v));
    assert_int_equal(v, 73728000ULL + 20971520ULL);
    assert_true(ad_health_parse_cpustat(fixture("cpu.stat"), &v));
    assert_int_equal(v, 10410010899ULL);
    assert_false(ad_health_parse_cpustat("user_usec 5\n", &v));
}

static void temperature_sensor_is_the_cpu_package(void **state)
{
    AD_UNUSED(state);
    char path[512], label[128];
    assert_true(ad_health_temp_probe(FIX "sys", path, sizeof(path), label, sizeof(label)));
    assert_string_equal(path, FIX "sys/class/hwmon/hwmon1/temp1_input");
    assert_string_equal(label, "coretemp Package id 0");
    assert_true(ad_health_temp_probe(FIX "sys-zone", path, sizeof(path), label, sizeof(label)));
    assert_string_equal(path, FIX "sys-zone/class/thermal/thermal_zone1/temp");
    assert_false(ad_health_temp_probe(FIX "nowhere", path, sizeof(path), label, sizeof(label)));
    assert_string_equal(path, "");
}

static void write_stat(const char *dir, int pid, int session, int ticks, int rss)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%d", dir, pid);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/%d/stat", dir, pid);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%d (p q) S 1 %d %d 0 -1 0 0 0 0 0 %d 0 0 0 20 0 1 0 1 1 %d 0\n", pid, session,
            session, ticks, rss);
    fclose(f);
}

/* What /proc/<pid>/task/<pid>/children says: "101 102 ". */
static void write_children(const char *dir, int pid, const char *kids)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%d/task", dir, pid);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/%d/task/%d", dir, pid, pid);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/%d/task/%d/children", dir, pid, pid);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(kids, f);
    fclose(f);
}

static void agents_are_summed_by_session(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_stat(dir, 100, 100, 10, 100); /* the leader */
    write_stat(dir, 101, 100, 20, 50);  /* its child */
    write_children(dir, 100, "101 ");
    write_stat(dir, 200, 200, 99, 999); /* someone else */
    static ad_health_agents_t a;
    static ad_health_sample_t s;
    memset(&a, 0, sizeof(a));
    a.proc = dir;
    ad_health_target_t t = {.agent_id = "ag_1", .org = "org_default", .pid = 100};
    ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    assert_int_equal(s.nagents, 1);
    assert_int_equal(s.agents[0].nprocs, 2);
    assert_int_equal(s.agents[0].rss_bytes, 150 * (uint64_t)sysconf(_SC_PAGESIZE));
    assert_false(s.agents[0].has_cpu); /* one reading is no rate */
    usleep(20000);
    write_stat(dir, 101, 100, 30, 50);
    ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    assert_true(s.agents[0].has_cpu);
    assert_true(s.agents[0].cpu_pct > 0);
    /* a GPU process is mapped to its agent by session */
    assert_int_equal(ad_health_agent_of(&a, &t, 1, 101, text, sizeof(text)), 0);
    assert_int_equal(ad_health_agent_of(&a, &t, 1, 200, text, sizeof(text)), -1);
    ad_health_agents_cleanup(&a);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A new tree is found from its leader down, without reading the rest of
 * /proc: its children's children count at once, a child that left the
 * session does not, and a member no children file names (its parent
 * died) only at the next full scan. */
static void a_new_tree_is_walked_from_its_leader(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_stat(dir, 300, 300, 1, 10);
    write_children(dir, 300, "301 302 ");
    write_stat(dir, 301, 300, 1, 20);
    write_children(dir, 301, "303 ");
    write_stat(dir, 303, 300, 1, 40);  /* a grandchild */
    write_stat(dir, 302, 302, 1, 999); /* its own session (setsid): not the tree's */
    write_stat(dir, 304, 300, 1, 80);  /* an orphan of the session */
    static ad_health_agents_t a;
    static ad_health_sample_t s;
    memset(&a, 0, sizeof(a));
    a.proc = dir;
    ad_health_target_t t = {.agent_id = "ag_2", .org = "org_default", .pid = 300};
    ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    assert_int_equal(s.agents[0].nprocs, 3);
    assert_int_equal(s.agents[0].rss_bytes, 70 * (uint64_t)sysconf(_SC_PAGESIZE));
    /* the walk read no stat of a process outside the tree (304's is unread:
       the full scan is what finds it) */
    for (unsigned i = 1; i < AD_HEALTH_SCAN_EVERY; i++) {
        ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
        assert_int_equal(s.agents[0].nprocs, 3);
    }
    ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    assert_int_equal(s.agents[0].nprocs, 4);
    assert_int_equal(s.agents[0].rss_bytes, 150 * (uint64_t)sysconf(_SC_PAGESIZE));
    /* a leader that is not its session's is no tree */
    ad_health_target_t bad = {.agent_id = "ag_3", .org = "org_default", .pid = 301};
    ad_health_agents_cleanup(&a);
    memset(&a, 0, sizeof(a));
    a.proc = dir;
    ad_health_agents_read(&a, &bad, 1, &s, text, sizeof(text));
    assert_int_equal(s.agents[0].nprocs, 0);
    ad_health_agents_cleanup(&a);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A full scan reads only the processes the last one did not see: a
 * process's session is kept from that read (here one rewritten behind its
 * back stays as first read) until the scan that reads them all again. A
 * new process is read at the next scan, and a tree's leader at every one. */
static void a_full_scan_reads_only_new_processes(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_stat(dir, 400, 400, 1, 10);
    write_stat(dir, 401, 999, 1, 20); /* another session's, at the first scan */
    static ad_health_agents_t a;
    static ad_health_sample_t s;
    memset(&a, 0, sizeof(a));
    a.proc = dir;
    ad_health_target_t t = {.agent_id = "ag_5", .org = "org_default", .pid = 400};
    /* the first full scan (the sixth read) reads every process */
    for (unsigned i = 0; i <= AD_HEALTH_SCAN_EVERY; i++) {
        ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    }
    assert_int_equal(s.agents[0].nprocs, 1);
    write_stat(dir, 401, 400, 1, 20);
    write_stat(dir, 402, 400, 1, 40); /* a new one */
    for (unsigned scan = 1; scan <= AD_HEALTH_REREAD_EVERY; scan++) {
        for (unsigned i = 0; i < AD_HEALTH_SCAN_EVERY; i++) {
            ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
        }
        /* 402 from the next scan on; 401 only from the one that reads all */
        assert_int_equal(s.agents[0].nprocs, scan < AD_HEALTH_REREAD_EVERY ? 2 : 3);
    }
    ad_health_agents_cleanup(&a);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The same walk on this machine's /proc: a session leader with a child
 * and a grandchild is three processes at its first sample. */
static void a_real_tree_is_walked_at_its_first_sample(void **state)
{
    AD_UNUSED(state);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t leader = fork();
    assert_true(leader >= 0);
    if (leader == 0) {
        setsid();
        for (int i = 0; i < 2; i++) { /* a child, and its child */
            pid_t k = fork();
            if (k < 0) {
                _exit(1);
            }
            if (k > 0) {
                break;
            }
        }
        if (write(ready[1], "x", 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    char c[3];
    size_t got = 0;
    while (got < 3) { /* each of the three says it is there */
        ssize_t n = read(ready[0], c + got, sizeof(c) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    static ad_health_agents_t a;
    static ad_health_sample_t s;
    memset(&a, 0, sizeof(a));
    a.proc = "/proc";
    ad_health_target_t t = {.agent_id = "ag_4", .org = "org_default", .pid = leader};
    ad_health_agents_read(&a, &t, 1, &s, text, sizeof(text));
    unsigned n = s.agents[0].nprocs;
    ad_health_agents_cleanup(&a);
    kill(-leader, SIGKILL);
    waitpid(leader, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    assert_int_equal(n, 3);
    assert_true(s.agents[0].rss_bytes > 0);
}

static void score_drops_with_reasons(void **state)
{
    AD_UNUSED(state);
    static ad_health_sample_t s;
    memset(&s, 0, sizeof(s));
    ad_health_thresholds_t t;
    ad_health_thresholds_default(&t);
    s.has_cpu = true;
    s.cpu_pct = 95;
    s.gpu_available = true;
    s.ngpu = 1;
    s.gpus[0].has_temp = true;
    s.gpus[0].temp_c = 85;
    s.gpus[0].has_power = false; /* unknown costs nothing */
    ad_health_score(&s, &t);
    assert_int_equal(s.score, 100 - 20 - 15);
    assert_int_equal(s.nreasons, 2);
    assert_string_equal(s.reasons[0].code, "gpu_temperature");
    assert_string_equal(s.reasons[1].code, "cpu_utilization");
    assert_non_null(strstr(s.reasons[0].message, "85"));
    t.cpu_util_pct = 99;
    t.gpu_temp_c = 90;
    ad_health_score(&s, &t);
    assert_int_equal(s.score, 100);
    assert_int_equal(s.nreasons, 0);
}

static void history_keeps_tiers_and_spikes(void **state)
{
    AD_UNUSED(state);
    static ad_health_history_t h;
    static ad_health_sample_t s;
    memset(&s, 0, sizeof(s));
    ad_health_history_init(&h);
    int64_t t0 = 1700000000000;
    for (int i = 0; i < 7200; i++) {
        s.ts_ms = t0 + i * 1000LL;
        s.has_cpu = true;
        s.cpu_pct = i % 60 == 30 ? 100 : 10; /* one spike a minute */
        ad_health_history_add(&h, &s);
    }
    int64_t now = t0 + 7200 * 1000LL;
    json_t *v = ad_health_history_view(&h, now, 3600);
    assert_int_equal(json_integer_value(json_object_get(v, "stepSec")), 1);
    size_t n = json_array_size(json_object_get(v, "t"));
    assert_true(n >= 3599 && n <= 3600);
    assert_null(json_object_get(v, "max"));
    json_decref(v);
    v = ad_health_history_view(&h, now, 6 * 3600);
    assert_int_equal(json_integer_value(json_object_get(v, "stepSec")), 10);
    json_t *avg = json_object_get(json_object_get(v, "series"), "cpu");
    json_t *max = json_object_get(json_object_get(v, "max"), "cpu");
    size_t spikes = 0;
    for (size_t i = 0; i < json_array_size(max); i++) {
        double m = json_real_value(json_array_get(max, i));
        double a = json_real_value(json_array_get(avg, i));
        assert_true(m >= a);
        spikes += m == 100;
    }
    assert_true(spikes >= 119); /* every minute's spike survives the 10 s buckets */
    json_decref(v);
    v = ad_health_history_view(&h, now, 7 * 86400);
    assert_int_equal(json_integer_value(json_object_get(v, "stepSec")), 600);
    json_decref(v);
    ad_health_history_cleanup(&h);

    int64_t sec;
    const char *why;
    assert_int_equal(ad_health_range_parse("5m", &sec, &why), 0);
    assert_int_equal(sec, 300);
    assert_int_equal(ad_health_range_parse("7d", &sec, &why), 0);
    assert_int_equal(ad_health_range_parse("3600", &sec, &why), 0);
    assert_int_equal(sec, 3600);
    assert_int_equal(ad_health_range_parse("all", &sec, &why), 0);
    assert_int_equal(sec, AD_HEALTH_RANGE_ALL);
    const char *bad[] = {"",    "0",   "8d", "5x", "-1h", "1h30m", "9s", "99999999999999999999d",
                         "All", "alll"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        assert_int_equal(ad_health_range_parse(bad[i], &sec, &why), AD_EINVAL);
    }
}

static void prometheus_text(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 1 << 20);
    assert_int_equal(ad_prom_family(&b, "x_total", "counter", "a \\ help\nline"), 0);
    assert_int_equal(ad_prom_sample(&b, "x_total", 3, "route", "/a\"b\\c\nd", NULL), 0);
    double bounds[] = {0.001, 0.01};
    uint64_t counts[] = {2, 3, 1};
    assert_int_equal(ad_prom_family(&b, "h_seconds", "histogram", "h"), 0);
    assert_int_equal(ad_prom_histogram(&b, "h_seconds", bounds, counts, 2, 0.5, NULL, NULL), 0);
    assert_string_equal(b.data, "# HELP x_total a \\\\ help\\nline\n"
                                "# TYPE x_total counter\n"
                                "x_total{route=\"/a\\\"b\\\\c\\nd\"} 3\n"
                                "# HELP h_seconds h\n"
                                "# TYPE h_seconds histogram\n"
                                "h_seconds_bucket{le=\"0.001\"} 2\n"
                                "h_seconds_bucket{le=\"0.01\"} 5\n"
                                "h_seconds_bucket{le=\"+Inf\"} 6\n"
                                "h_seconds_sum 0.5\n"
                                "h_seconds_count 6\n");
    ad_buf_reset(&b);
    assert_int_equal(ad_prom_sample(&b, "g", NAN, NULL), 0);
    assert_int_equal(ad_prom_sample(&b, "g", INFINITY, NULL), 0);
    assert_int_equal(ad_prom_sample(&b, "g", 0.25, NULL), 0);
    assert_string_equal(b.data, "g NaN\ng +Inf\ng 0.25\n");
    ad_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stat_deltas_give_busy_percent),
        cmocka_unit_test(meminfo_load_and_pid_stat),
        cmocka_unit_test(temperature_sensor_is_the_cpu_package),
        cmocka_unit_test(agents_are_summed_by_session),
        cmocka_unit_test(a_new_tree_is_walked_from_its_leader),
        cmocka_unit_test(a_real_tree_is_walked_at_its_first_sample),
        cmocka_unit_test(a_full_scan_reads_only_new_processes),
        cmocka_unit_test(score_drops_with_reasons),
        cmocka_unit_test(history_keeps_tiers_and_spikes),
        cmocka_unit_test(prometheus_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
