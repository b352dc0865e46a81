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
# (Parameter expansion, not basename; and nm run twice over all of them,
# each line with its file's name: a run of nm costs 0.3 s, as it loads
# the LTO plug-in, and two per subsystem made the script take 15-20 s.)
for o in "$obj"/*/*.o; do
    name=${o##*/}
    sub=${o%/*}
    sub=${sub##*/}
    if [ -f "src/$sub/${name%.o}.c" ]; then echo "$o"; fi
done >"$tmp/objs"
if [ -s "$tmp/objs" ]; then
    # lines "path/<subsystem>/<file>.o:[value] type name"
    xargs nm -A -g --defined-only <"$tmp/objs" 2>/dev/null |
        awk 'NF==3 && $2 ~ /[TDBRC]/ {n = split($1, p, "/"); print $3, p[n - 1]}' >"$tmp/defs"
    xargs nm -A -u <"$tmp/objs" 2>/dev/null |
        awk 'NF>=2 {n = split($1, p, "/"); print $NF, p[n - 1]}' >"$tmp/uses"
else
    : >"$tmp/defs"
    : >"$tmp/uses"
fi
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
