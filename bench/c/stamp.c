/* SPDX-License-Identifier: MIT */
/*
 * SP1's agent: prints "stamp <CLOCK_MONOTONIC ns>" as the first thing it
 * does after its exec (the clock node's process.hrtime reads), then waits
 * for a signal. The driver sets the stamp against the time it sent the
 * start. `stamp --exit` prints and exits (RT1's routine runs end on their
 * own: bench/routines.js).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("stamp %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "--exit") == 0) {
        return 0;
    }
    for (;;) {
        pause();
    }
}
