/* SPDX-License-Identifier: MIT */
/*
 * The floor of row P1 (bench/planes.js): what the REST routes do to
 * PostgreSQL, done straight from libpq on one connection, for SECONDS.
 *   read:  the agent's row by id (as GET /api/agents/:id reads it)
 *   write: the agent renamed, one transaction a statement (as PATCH
 *          /api/agents/:id {name} commits it)
 * Prepared once, every value bound. Prints "ops N seconds S backend_cpu C":
 * C is the CPU seconds its server backend spent meanwhile (read from
 * /proc/<pg_backend_pid()>/stat: the server runs on this machine, and the
 * backend ends with the connection, before a caller could read it). Its
 * own CPU the caller reads from /proc.
 * Usage: pg_loop CONNINFO AGENT_ID SECONDS read|write
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* utime+stime of pid, in seconds (0 when it cannot be read). */
static double cpu_of(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return 0;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "read") != 0 && strcmp(argv[4], "write") != 0)) {
        fputs("usage: pg_loop CONNINFO AGENT_ID SECONDS read|write\n", stderr);
        return 2;
    }
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_loop: %s", PQerrorMessage(c));
        return 1;
    }
    int reading = strcmp(argv[4], "read") == 0;
    const char *sql = reading ? "SELECT * FROM agents WHERE id = $1"
                              : "UPDATE agents SET name = $1, updated_at = $2 WHERE id = $3";
    PGresult *r = PQprepare(c, "q", sql, reading ? 1 : 3, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "pg_loop: prepare: %s", PQerrorMessage(c));
        return 1;
    }
    PQclear(r);
    long backend = PQbackendPID(c);
    double b0 = cpu_of(backend);
    double secs = strtod(argv[3], NULL), t0 = now_s(), t = t0;
    long ops = 0;
    char name[32], at[32];
    while (t - t0 < secs) {
        for (int i = 0; i < 100; i++, ops++) {
            snprintf(name, sizeof(name), "bench-%ld", ops);
            snprintf(at, sizeof(at), "%lld", (long long)(t * 1000));
            const char *read_vals[1] = {argv[2]};
            const char *write_vals[3] = {name, at, argv[2]};
            r = PQexecPrepared(c, "q", reading ? 1 : 3, reading ? read_vals : write_vals, NULL,
                               NULL, 0);
            ExecStatusType st = PQresultStatus(r);
            if (st != (reading ? PGRES_TUPLES_OK : PGRES_COMMAND_OK) ||
                (reading && PQntuples(r) != 1)) {
                fprintf(stderr, "pg_loop: %s", PQerrorMessage(c));
                return 1;
            }
            PQclear(r);
        }
        t = now_s();
    }
    printf("ops %ld seconds %.3f backend_cpu %.3f\n", ops, t - t0, cpu_of(backend) - b0);
    PQfinish(c);
    return 0;
}
