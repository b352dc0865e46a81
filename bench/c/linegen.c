/* SPDX-License-Identifier: MIT */
/*
 * The agent of scenario W4: prints COUNT lines at a fixed RATE per second,
 * open loop. Each line carries the time it was meant to be written
 * (CLOCK_MONOTONIC ns), so a late write shows up as latency rather than as
 * a slower rate: "bench <i> <intended_ns>". Bounded by COUNT. MODE
 * "metric" (scenario M4) prints training points instead, the intended time
 * as the value: {"type":"metric","name":"reward","step":<i>,"value":<ns>}.
 * TAG (scenario F1: one of 1,000 agents) goes at the end of each plain
 * line, "bench <i> <intended_ns> <tag>", so a reader knows whose it is.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: linegen RATE COUNT [START_DELAY_MS [MODE [TAG]]]\n", stderr);
        return 2;
    }
    long rate = strtol(argv[1], NULL, 10), count = strtol(argv[2], NULL, 10);
    long delay_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    int metric = argc > 4 && strcmp(argv[4], "metric") == 0;
    long tag = argc > 5 ? strtol(argv[5], NULL, 10) : -1;
    if (rate < 1 || rate > 1000000 || count < 0 || count > 100000000 || delay_ms < 0 ||
        delay_ms > 600000 || tag < -1 || tag > 1000000) {
        fputs("linegen: bad arguments\n", stderr);
        return 2;
    }
    int64_t start = mono_ns() + (int64_t)delay_ms * 1000000, step = 1000000000 / rate;
    char line[128];
    for (long i = 0; i < count; i++) {
        int64_t due = start + i * step;
        int64_t now = mono_ns();
        if (due > now) {
            struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
            }
        }
        int n = metric
                    ? snprintf(
                          line, sizeof(line),
                          "{\"type\":\"metric\",\"name\":\"reward\",\"step\":%ld,\"value\":%lld}\n",
                          i, (long long)due)
                : tag >= 0
                    ? snprintf(line, sizeof(line), "bench %ld %lld %ld\n", i, (long long)due, tag)
                    : snprintf(line, sizeof(line), "bench %ld %lld\n", i, (long long)due);
        if (write(1, line, (size_t)n) != n) {
            return 1;
        }
    }
    return 0;
}
