#!/bin/sh
# Prints agentd's version, one line, in a form Debian takes as an upstream
# version: from `git describe` of the newest v<N>... tag ("v1.2.0-7-gabc1234"
# becomes "1.2.0+7.gabc1234"), else 0.1.0 with the commit count and hash;
# ".dirty" when the tree has uncommitted changes. Outside git (a tarball from
# `make dist`), the VERSION file it carries; else 0.1.0.
set -eu
cd "$(dirname "$0")/.."
if git rev-parse --git-dir >/dev/null 2>&1; then
    dirty=""
    if ! git diff --quiet HEAD -- 2>/dev/null; then dirty=".dirty"; fi
    if d=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
        d=${d#v}
        case "$d" in
        *-*-g*) tail=${d#*-}; d="${d%%-*}+$(echo "$tail" | tr '-' '.')" ;;
        esac
        echo "$d$dirty"
    else
        echo "0.1.0+$(git rev-list --count HEAD).g$(git rev-parse --short=7 HEAD)$dirty"
    fi
elif [ -f VERSION ]; then
    head -n 1 VERSION
else
    echo 0.1.0
fi
