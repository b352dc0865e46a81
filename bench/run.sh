#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the agentd benchmarks against the peers (bench/driver.js) and leaves
# nothing behind: every server and generator the driver started is recorded
# in bench/results/.pids and killed on exit, even after Ctrl-C or a crash.
# Usage: bench/run.sh [--quick] [--only H1,H2,F2,H3,E1,W1,W2,R1,W4,M4,HD1,S1,M1,M2,D1,N,P1,P2,RT1,RT2,F1,B1]
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/results bench/bin
PIDS=bench/results/.pids

cleanup() {
    if [ -f "$PIDS" ]; then
        while read -r pid; do
            [ -n "$pid" ] || continue
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        done < "$PIDS"
        rm -f "$PIDS"
    fi
}
DRIVER=""
trap cleanup EXIT
# The driver runs in the background so a signal reaches this trap at once;
# the trap stops the driver (which stops its servers), then sweeps the pid file.
trap 'if [ -n "$DRIVER" ]; then kill -TERM "$DRIVER" 2>/dev/null; wait "$DRIVER" 2>/dev/null; fi; cleanup; exit 130' INT TERM HUP

# W1 holds 10,000 client and 10,000 server sockets at once.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The bare-SQLite loop, the W4 line generator, HD1's holder probe, the
# W2/R1 fan-out load generator and E1's append generator (jansson reads
# their parameters), and SP1's agent (stamp: the time of its exec).
for prog in sqlite_loop linegen holdlat fanout append stamp; do
    if [ ! -x "bench/bin/$prog" ] || [ "bench/c/$prog.c" -nt "bench/bin/$prog" ]; then
        cc -std=gnu11 -O2 -Wall -Wextra -o "bench/bin/$prog" "bench/c/$prog.c" \
            $(pkg-config --cflags --libs sqlite3 jansson)
    fi
done

if [ ! -d bench/node_modules ]; then
    echo "bench: bench/node_modules missing; run 'make bench-deps'" >&2
    exit 1
fi
node bench/driver.js "$@" &
DRIVER=$!
rc=0
wait "$DRIVER" || rc=$?
DRIVER=""
exit "$rc"
