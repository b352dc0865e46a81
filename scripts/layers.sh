#!/bin/sh
# Prints which subsystem links against which (from nm over the objects of
# build/<mode>/obj/src/<subsystem>/) and fails when they form a cycle: the
# subsystems must stay layers (CONTRIBUTING.md, "Layers"). Usage: scripts/layers.sh OBJDIR
set -eu
obj=${1:?usage: layers.sh build/<mode>/obj/src}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only objects whose source still exists: a file moved to another subsystem
# leaves its old object behind in a build dir, and that must not count.
for d in "$obj"/*/; do
    sub=$(basename "$d")
    objs=""
    for o in "$d"*.o; do
        [ -f "src/$sub/$(basename "$o" .o).c" ] && objs="$objs $o"
    done
    [ -n "$objs" ] || continue
    # shellcheck disable=SC2086 # the list is of paths without spaces
    nm -g --defined-only $objs 2>/dev/null | awk -v s="$sub" 'NF==3 && $2 ~ /[TDBRC]/ {print $3, s}' >>"$tmp/defs"
    # shellcheck disable=SC2086
    nm -u $objs 2>/dev/null | awk -v s="$sub" 'NF>=2 {print $NF, s}' >>"$tmp/uses"
done
sort -u "$tmp/defs" >"$tmp/defs.s"
sort -u "$tmp/uses" >"$tmp/uses.s"
# edges "user provider", between different subsystems
join "$tmp/uses.s" "$tmp/defs.s" | awk '$2 != $3 {print $2, $3}' | sort -u >"$tmp/edges"
echo "layers: subsystem -> what it links against"
awk '{a[$1] = a[$1] " " $2} END {for (k in a) print "  " k ":" a[k]}' "$tmp/edges" | sort
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/cycle"; then
    echo "layers: link cycle between subsystems:" >&2
    cat "$tmp/cycle" >&2
    exit 1
fi
echo "layers: no cycle"
