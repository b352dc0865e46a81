#!/bin/sh
# src/api holds HTTP only (CONTRIBUTING.md, "Layers"; issue #30): fails when a
# file of src/api passes MAX_FILE lines, or, given MAX_TOTAL, when all of
# src/api (cat src/api/*.c src/api/*.h | wc -l) passes it. Usage:
# scripts/api-size.sh MAX_FILE [MAX_TOTAL]
set -eu
max_file=${1:?usage: api-size.sh MAX_FILE [MAX_TOTAL]}
max_total=${2:-}
bad=0
for f in src/api/*.c src/api/*.h; do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$max_file" ]; then
        echo "api-size: $f has $n lines, over $max_file: move what is not HTTP into its subsystem (CONTRIBUTING.md), or split the file by route group" >&2
        bad=1
    fi
done
total=$(cat src/api/*.c src/api/*.h | wc -l)
if [ -n "$max_total" ] && [ "$total" -gt "$max_total" ]; then
    echo "api-size: src/api has $total lines, over $max_total: move validation, shaping and engines into their subsystems (docs/internals/api.md, \"What is left in src/api\")" >&2
    bad=1
fi
[ "$bad" -eq 0 ] || exit 1
echo "api-size: ok ($total lines in src/api, no file over $max_file${max_total:+, at most $max_total in all})"
