#!/bin/sh
# src/store is the engine under the table families (src/tables; issue #79,
# docs/internals/store.md): fails when src/store/store.h passes MAX_HEADER
# lines, when all of src/store (cat src/store/*.c src/store/*.h | wc -l)
# passes MAX_TOTAL, or, given MAX_FILE, when one of its files passes that.
# Usage: scripts/store-size.sh MAX_HEADER MAX_TOTAL [MAX_FILE]
set -eu
max_header=${1:?usage: store-size.sh MAX_HEADER MAX_TOTAL [MAX_FILE]}
max_total=${2:?usage: store-size.sh MAX_HEADER MAX_TOTAL [MAX_FILE]}
max_file=${3:-}
bad=0
header=$(wc -l <src/store/store.h)
if [ "$header" -gt "$max_header" ]; then
    echo "store-size: src/store/store.h has $header lines, over $max_header: a table family's operations go in its own header under src/tables (docs/internals/tables.md)" >&2
    bad=1
fi
total=$(cat src/store/*.c src/store/*.h | wc -l)
if [ "$total" -gt "$max_total" ]; then
    echo "store-size: src/store has $total lines, over $max_total: the engine only; a table family's code goes under src/tables (docs/internals/tables.md)" >&2
    bad=1
fi
if [ -n "$max_file" ]; then
    for f in src/store/*.c src/store/*.h; do
        n=$(wc -l <"$f")
        if [ "$n" -gt "$max_file" ]; then
            echo "store-size: $f has $n lines, over $max_file: split it into coherent files" >&2
            bad=1
        fi
    done
fi
[ "$bad" -eq 0 ] || exit 1
echo "store-size: ok (src/store/store.h $header lines of at most $max_header, src/store $total of at most $max_total${max_file:+, no file over $max_file})"
