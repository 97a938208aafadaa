#!/usr/bin/env bash
# Tests that can fail: in a bats test, a negated command ('! grep ...') that is not the test's
# last command never fails it (bash's set -e ignores '!'). Each such line must be the last of
# its block, or be written as 'if CMD; then ...; return 1; fi' (or 'run ! CMD').
# Usage: check-bats.sh SOURCE_ROOT
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
mapfile -t files < <(git ls-files '*.bats' 2>/dev/null || find tests -name '*.bats')
[ ${#files[@]} -gt 0 ] || { echo "no bats files"; exit 0; }
awk '
	# a negated command, then (after blank lines and comments) anything but the closing brace
	pending && !/^[[:space:]]*(#.*)?$/ {
		if (!/^[[:space:]]*}/) { print pending; bad = 1 }
		pending = ""
	}
	# a statement of its own: not a condition (if/while, a line ending in then/do) nor a
	# part of a list or pipeline that goes on over lines
	/^[[:space:]]+! / && !/\|\|/ && !/(then|do|&&|\||\\)[[:space:]]*$/ && !cont {
		pending = FILENAME ":" FNR ": " $0
	}
	!/^[[:space:]]*(#.*)?$/ { cont = /(\|\||&&|\||\\|[[:space:]]if|[[:space:]]while)[[:space:]]*$/ }
	END { exit bad }' "${files[@]}"
r=$?
[ $r = 0 ] && echo "bats negations: ok (${#files[@]} files)"
exit $r
