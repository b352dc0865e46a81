#!/bin/sh
# Every subsystem (a folder of src/) has a unit test file of its own,
# tests/unit/test-<subsystem>-<topic>.c (or test-<subsystem>.c), unless it
# is named below as having no logic of its own, with the reason (issue
# #79). A new folder without one fails `make unit`: write the test of its
# parsers, checks and state machines, or, when it truly only wires other
# subsystems together, add it here and say so in its docs/internals page.
# Run from the repository's top folder.

# Logic-free subsystems, one "name: reason" a line.
LOGIC_FREE='
search: its one route: the query checked and read by src/tables/search.c (test-tables-search.c), the org of its filters by src/auth/route.c; e2e search.test.js
'

# Whether subsystem $1 has a test file.
tested() {
    for f in "tests/unit/test-$1-"*.c "tests/unit/test-$1.c"; do
        [ -e "$f" ] && return 0
    done
    return 1
}

missing=""
for dir in src/*/; do
    sub=$(basename "$dir")
    if tested "$sub"; then
        continue
    fi
    if printf '%s\n' "$LOGIC_FREE" | grep -q "^$sub:"; then
        continue
    fi
    missing="$missing $sub"
done
if [ -n "$missing" ]; then
    echo "unit coverage: no tests/unit/test-<subsystem>-*.c for:$missing"
    echo "  write one, or name the subsystem as logic-free in tests/unit/coverage.sh"
    exit 1
fi
# A logic-free entry for a folder that is gone, or that has a test now, is stale.
printf '%s\n' "$LOGIC_FREE" | sed -n 's/^\([a-z0-9_]*\):.*/\1/p' | while read -r sub; do
    if [ ! -d "src/$sub" ] || tested "$sub"; then
        echo "unit coverage: $sub is listed as logic-free but is gone or has a test; drop it"
        exit 1
    fi
done
