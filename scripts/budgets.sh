#!/bin/sh
# Size budgets (issue #79; CONTRIBUTING.md, "Size budgets"): no C file of src/
# over 900 lines, no header over 600, no function over 100. Prints each
# offender and a summary line; fails on an offender the allowlist does not
# name, on one that grew past the size the allowlist gives it, and on an
# allowlist line that names no offender any more (the list only shrinks).
# Usage: sh scripts/budgets.sh [ROOT [ALLOWLIST]] (defaults: . and
# ROOT/scripts/budgets.allow; the files are ROOT/src/**/*.c and *.h).
#
# A function is counted from its signature line to its closing brace, both
# included. Our clang-format style (BreakBeforeBraces: Linux) puts a
# function's opening brace alone in column 0, its closing brace in column 0,
# and its signature's first line in column 0 with any continuation lines
# indented; nothing else in a formatted file has a "{" alone in column 0.
# The signature is the nearest line above the "{" that starts in column 0.
#
# The allowlist: one offender a line, "PATH MAX REASON" for a file or
# "PATH:FUNCTION MAX REASON" for a function, MAX being the size it may not
# pass; a line starting with "#" is a comment.
set -eu
root=${1:-.}
allow=${2:-$root/scripts/budgets.allow}
shown=${2:-scripts/budgets.allow}
MAX_C=900
MAX_H=600
MAX_FN=100

files=$(cd "$root" && find src -name '*.c' -o -name '*.h' | LC_ALL=C sort)
[ -n "$files" ] || {
    echo "budgets: no C files under $root/src" >&2
    exit 1
}

# One line per measured thing: "file PATH LINES LIMIT" and
# "fn PATH:NAME LINES LIMIT FIRSTLINE".
measure() {
    cd "$root"
    # shellcheck disable=SC2086
    awk -v max_c=$MAX_C -v max_h=$MAX_H '
        # __attribute__((...)) before or after the return type, parentheses balanced.
        function strip_attributes(s,    i, depth, c, out) {
            while ((i = index(s, "__attribute__")) > 0) {
                out = substr(s, 1, i - 1)
                s = substr(s, i + length("__attribute__"))
                depth = 0
                while (s != "") {
                    c = substr(s, 1, 1)
                    s = substr(s, 2)
                    if (c == "(") depth++
                    else if (c == ")" && --depth == 0) break
                }
                s = out s
            }
            return s
        }
        FNR == 1 {
            if (prev != "") print "file", prev, lines, (prev ~ /\.h$/ ? max_h : max_c)
            prev = FILENAME; lines = 0; start = 0
        }
        { lines++; text[FNR] = $0 }
        /^\{[ \t]*$/ {
            s = FNR - 1
            while (s > 0 && text[s] ~ /^[ \t]/) s--
            sig = ""
            for (i = s; i < FNR; i++) sig = sig " " text[i]
            name = "?"
            sig = strip_attributes(sig)
            if (match(sig, /[A-Za-z_][A-Za-z0-9_]*\(/)) name = substr(sig, RSTART, RLENGTH - 1)
            start = s
            next
        }
        /^\}/ && start > 0 {
            print "fn", FILENAME ":" name, FNR - start + 1, "-", start
            start = 0
        }
        END { if (prev != "") print "file", prev, lines, (prev ~ /\.h$/ ? max_h : max_c) }
    ' $files
}

measure | awk -v max_fn=$MAX_FN -v allow="$allow" -v shown="$shown" '
    BEGIN {
        while ((getline l < allow) > 0) {
            if (l ~ /^[ \t]*(#|$)/) continue
            split(l, f, /[ \t]+/)
            key = f[1]
            if (key in amax) { print "budgets: " shown ": " key " listed twice"; bad++ }
            amax[key] = f[2] + 0
            r = l
            sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]*/, "", r)
            areason[key] = r
            used[key] = 0
        }
    }
    {
        kind = $1; key = $2; n = $3 + 0
        limit = (kind == "fn") ? max_fn : $4 + 0
        where = key
        if (kind == "fn") { split(key, kp, ":"); where = kp[1] ":" $5 " " kp[2] "()" }
        if (n <= limit) next
        offenders++
        if (key in amax) {
            used[key] = 1
            if (n > amax[key]) {
                printf "budgets: %s: %d lines, over %d and over the %d the allowlist gives it: shrink it\n", where, n, limit, amax[key]
                bad++
            } else {
                printf "budgets: %s: %d lines, over %d (allowed: %s)\n", where, n, limit, areason[key]
                allowed++
            }
        } else {
            printf "budgets: %s: %d lines, over %d: split it (CONTRIBUTING.md, \"Size budgets\")\n", where, n, limit
            bad++
        }
    }
    END {
        for (key in used) if (!used[key]) {
            printf "budgets: %s: in %s but within budget now: remove its line (the list only shrinks)\n", key, shown
            bad++
        }
        printf "budgets: %d over budget, %d of them allowed in %s, %d problem(s) (files: .c %d, .h %d lines; functions %d)\n", \
            offenders, allowed, shown, bad, '"$MAX_C"', '"$MAX_H"', max_fn
        exit bad > 0
    }
'
