#!/bin/sh
# SPDX-License-Identifier: MIT
# DL1, the developer's loop (issue #80): a fresh clone's `make run`, timed
# from the command to the dashboard's URL on its output, then the daemon
# stopped and the clone removed. Prints the wall time, the build's CPU
# (user+sys of everything make ran before serve, from /proc/<make>/stat's
# cutime+cstime) and the load average before and after, since on a shared
# machine the wall time is the machine's as much as the build's.
# Usage: bench/devloop.sh [REPO [REV]]   (default: this checkout, its committed HEAD)
# The compiler is DEVLOOP_CC (default `cc`: no ccache, the honest figure);
# DEVLOOP_CC="ccache cc" measures a warm cache instead.
set -eu
repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/agentd-devloop.XXXXXX")
log=$tmp/make-run.log
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -TERM -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

git clone -q "$repo" "$tmp/src"
if [ -n "${2:-}" ]; then git -C "$tmp/src" checkout -q "$2"; fi
rev=$(git -C "$tmp/src" rev-parse --short HEAD)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s.%N)
# Its own process group (setsid), so the stop reaches make, serve and all.
cd "$tmp/src"
CC=${DEVLOOP_CC:-cc} setsid make run PORT=0 DATA="$tmp/data" > "$log" 2>&1 &
pid=$!
deadline=$(($(date +%s) + ${DEVLOOP_TIMEOUT:-900}))
until grep -q '^agentd listening on http://' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then tail -30 "$log" >&2; echo "devloop: make run ended before the URL" >&2; exit 1; fi
    if [ "$(date +%s)" -gt "$deadline" ]; then echo "devloop: no URL within ${DEVLOOP_TIMEOUT:-900} s" >&2; exit 1; fi
    sleep 0.1
done
t1=$(date +%s.%N)
tick=$(getconf CLK_TCK)
cpu=$(awk -v t="$tick" '{ sub(/^.*\) /, ""); printf "%.1f", ($14 + $15) / t }' "/proc/$pid/stat")
load1=$(cut -d' ' -f1-3 /proc/loadavg)
url=$(grep -m1 '^agentd listening on http://' "$log" | sed 's/^agentd listening on //')
printf 'DL1 fresh clone of %s, `make run` to the dashboard URL (%s), CC=%s: %.1f s wall, build CPU %s s (user+sys), %s cores, load average %s -> %s\n' \
    "$rev" "$url" "${DEVLOOP_CC:-cc}" "$(echo "$t1 - $t0" | bc)" "$cpu" "$(nproc)" "$load0" "$load1"
