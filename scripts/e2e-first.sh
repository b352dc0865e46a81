#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the e2e files given, the longest first:
#   sh scripts/e2e-first.sh DIR FILE...
# node --test starts its files in the order of their paths, whatever order
# they are given in. A pass that starts one of its longest files last ends
# on it alone, with the other cores idle: a fresh clone's make check spent
# its SQLite pass's last three minutes at 21-70 % idle that way, planes and
# sessions-external-nodes (115 s and 79 s) among the last files started.
# So each file named in LONG below is linked from DIR, under a name that
# sorts by its place in LONG, and printed first; the others follow as
# given. DIR's path must sort before the files' own (build/ before tests/).
# A link changes nothing else: node runs a file by its real path.
#
# LONG: the files that took longest in a fresh clone's make check (their
# tests' time summed, either pass), longest first. A stale list costs only
# time; measure again when a file grows past the last one named.
LONG="planes sessions-external-nodes codex-app sessions-external runs-gemini hold
planes-fence goals nodes-runs planes-terminal claude-approvals runs-codex"
set -eu
dir=$1
shift
rm -rf "$dir"
mkdir -p "$dir"
i=10
for name in $LONG; do
	for f in "$@"; do
		if [ "$(basename "$f")" = "$name.test.js" ]; then
			ln -s "$(realpath "$f")" "$dir/$i-$name.test.js"
			echo "$dir/$i-$name.test.js"
			i=$((i + 1))
		fi
	done
done
for f in "$@"; do
	case " $(echo $LONG) " in
	*" $(basename "$f" .test.js) "*) ;;
	*) echo "$f" ;;
	esac
done
