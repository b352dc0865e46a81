#!/bin/sh
# Prints which subsystem links against which (from nm over the objects of
# build/<mode>/obj/src/<subsystem>/) and fails when they form a cycle: the
# subsystems must stay layers (CONTRIBUTING.md, "Layers"). Then checks who
# uses src/compat (the rule at the end). Usage: scripts/layers.sh OBJDIR
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

# The compatibility edge (docs/internals/compat.md, issue #79): the seeds'
# dialects are translated in src/compat, which only the edges that choose
# a client's dialect may use (by link or by #include), and which itself
# uses only what is below all of them.
compat_users="api live cluster monitor"
compat_uses="core bus health"
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
bad=0
while read -r user provider; do
    if [ "$provider" = compat ] && ! in_list "$user" "$compat_users"; then
        echo "layers: $user links against compat (only: $compat_users)" >&2
        bad=1
    fi
    if [ "$user" = compat ] && ! in_list "$provider" "$compat_uses"; then
        echo "layers: compat links against $provider (only: $compat_uses)" >&2
        bad=1
    fi
done <"$tmp/edges"
for f in src/*.c src/*/*.c src/*/*.h; do
    [ -f "$f" ] || continue
    sub=${f#src/}
    case $sub in */*) sub=${sub%%/*} ;; *) sub=main ;; esac
    for inc in $(sed -n 's|^#include "\([a-z0-9_]*\)/.*|\1|p' "$f" | sort -u); do
        if [ "$inc" = compat ] && [ "$sub" != compat ] && ! in_list "$sub" "$compat_users"; then
            echo "layers: $f includes compat (only: $compat_users)" >&2
            bad=1
        elif [ "$sub" = compat ] && [ "$inc" != compat ] && ! in_list "$inc" "$compat_uses"; then
            echo "layers: $f includes $inc (compat uses only: $compat_uses)" >&2
            bad=1
        fi
    done
done
[ "$bad" -eq 0 ] || exit 1
echo "layers: compat used by $compat_users only, and uses $compat_uses only"
