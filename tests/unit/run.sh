#!/bin/sh
# Runs each unit test binary and prints one summary line over all of them.
passed=0
failed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
