#!/bin/sh
# Runs libFuzzer harnesses, JOBS at a time (make fuzz, make fuzz-smoke):
#   sh scripts/fuzz-run.sh DIR SECONDS JOBS NAME...
# DIR is the build's fuzz folder (DIR/fuzz-NAME is the harness); seeds come
# from tests/fuzz/corpus/NAME, what a harness finds goes to DIR/artifacts-NAME.
# Each harness's log is DIR/fuzz-NAME.log; a failing one has its last 50
# lines shown. Prints each harness's executed units, then one summary line,
# and exits 1 if any harness failed.
set -u
dir=$1 secs=$2 jobs=$3
shift 3
run_one() {
    n=$1
    mkdir -p "$dir/corpus-$n" "$dir/artifacts-$n" &&
        cp tests/fuzz/corpus/"$n"/* "$dir/corpus-$n/" &&
        "$dir/fuzz-$n" -max_total_time="$secs" -max_len=16384 -timeout=10 \
            -rss_limit_mb=1024 -print_final_stats=1 \
            -artifact_prefix="$dir/artifacts-$n/" \
            "$dir/corpus-$n" "tests/fuzz/corpus/$n" 2>"$dir/fuzz-$n.log"
}
passed=0 failed=0 names=""
# A batch of JOBS harnesses at a time: each runs for the same SECONDS, so
# batches keep the cores busy without a job pool.
while [ $# -gt 0 ]; do
    batch=""
    i=0
    while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
        echo "fuzz: $1 for ${secs}s"
        run_one "$1" &
        batch="$batch $1:$!"
        i=$((i + 1))
        shift
    done
    for entry in $batch; do
        n=${entry%%:*} pid=${entry#*:}
        if wait "$pid"; then
            passed=$((passed + 1))
            grep -E '^stat::number_of_executed_units' "$dir/fuzz-$n.log" | sed "s/^/fuzz: $n /"
        else
            failed=$((failed + 1)) names="$names $n"
            echo "fuzz: $n FAILED (last 50 lines of $dir/fuzz-$n.log):"
            tail -50 "$dir/fuzz-$n.log"
        fi
    done
done
echo "fuzz: $passed passed, $failed failed${names:+ (failed:$names)}"
[ "$failed" -eq 0 ]
