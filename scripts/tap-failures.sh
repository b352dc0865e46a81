#!/bin/sh
# Prints the failed tests of node's TAP files, each with its location and
# error, so that a failure shows again at the end of a long log:
#   sh scripts/tap-failures.sh MAX FILE...
# A test whose only failure is its subtests' is left out (they are shown),
# and so are node's own stack frames. Each failure is cut at 16 lines, the
# whole at MAX: a run where every test failed still ends in a page, not in
# a flood that hides which test failed first.
max=$1
shift
awk -v max="$max" '
function flush() {
	if (n > 0 && !parent && shown < max) {
		for (i = 1; i <= n && shown < max; i++) { print lines[i]; shown++ }
		if (cut) { print "      (" cut " more lines cut)"; shown++ }
	}
	n = 0; cut = 0; parent = 0; inblock = 0
}
/^ *not ok [0-9]+ / { flush(); inblock = 1; lines[++n] = FILENAME ": " $0; next }
inblock && /^ *\.\.\.$/ { flush(); next }
inblock && /^ *(ok|not ok) [0-9]+ / { flush(); next }
inblock {
	if ($0 ~ /failureType: .subtestsFailed./) parent = 1
	if ($0 ~ /^ *(duration_ms|code|name|operator):/ || $0 ~ /\(node:/) next
	if (n < 16) lines[++n] = $0; else cut++
}
END { flush() }
' "$@"
