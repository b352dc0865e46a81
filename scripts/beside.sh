#!/bin/sh
# Runs a second suite beside the rest of `make check`:
#   sh scripts/beside.sh LOG 'BACKGROUND COMMAND' FOREGROUND COMMAND...
# The background command's output goes to LOG (so the two runners' lines do
# not interleave); the foreground command runs as usual. Then this waits for
# the background command, prints LOG whole (its runner's summary last), and
# fails when either failed. Interrupted, it stops the background command
# too. `make check` runs the unit tests, the fuzz smoke and tsan's suites
# this way beside the SQLite e2e suite, and the PostgreSQL pass beside the
# browser and copy suites: each
# foreground leaves a core idle much of the time (docs/operations.md,
# "PostgreSQL"). A line before the log says how long each took, to see whether the
# two still overlap well. When a side failed and BESIDE_FAILURES names a
# folder, the failed tests the suites wrote there (Makefile, TAP_FAILED) are
# printed again last: the log printed after a failing foreground would
# otherwise push its failures out of a short tail.
set -u
log=$1 bg=$2
shift 2
mkdir -p "$(dirname "$log")"
t0=$(date +%s)
rm -f "$log.end"
sh -c "$bg; rc=\$?; date +%s >'$log.end'; exit \$rc" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM HUP
"$@"
fg=$?
fgend=$(date +%s)
echo "beside: waiting for '$bg' (its output below, kept in $log)"
wait "$pid"
bgrc=$?
trap - INT TERM HUP
bgend=$(cat "$log.end" 2>/dev/null || date +%s)
rm -f "$log.end"
echo "beside: '$bg' took $((bgend - t0)) s; '$*' took $((fgend - t0)) s"
cat "$log"
if [ "$bgrc" -ne 0 ]; then echo "beside: '$bg' failed (exit $bgrc)"; fi
if [ "$fg" -ne 0 ]; then echo "beside: '$*' failed (exit $fg; its output above the log)"; fi
if [ "$fg" -ne 0 ] || [ "$bgrc" -ne 0 ]; then
	for f in "${BESIDE_FAILURES:-/nonexistent}"/*.txt; do
		[ -f "$f" ] && { echo "beside: again, from $f:"; cat "$f"; }
	done
fi
[ "$fg" -eq 0 ] && [ "$bgrc" -eq 0 ]
