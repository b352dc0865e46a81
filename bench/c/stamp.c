/* SPDX-License-Identifier: MIT */
/*
 * SP1's agent: prints "stamp <CLOCK_MONOTONIC ns>" as the first thing it
 * does after its exec (the clock node's process.hrtime reads), then waits
 * for a signal. The driver sets the stamp against the time it sent the
 * start.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("stamp %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    fflush(stdout);
    for (;;) {
        pause();
    }
}
