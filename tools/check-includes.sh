#!/usr/bin/env bash
# Module boundaries: code outside a module includes only its public header
# (<module>/<module>.h); its "*-internal.h" headers are for that module and its tests; common/
# includes no module at all. One grep over the tree, one awk over its matches.
# Usage: check-includes.sh SOURCE_ROOT
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
dirs=()
for d in common runtime imagefs snapshot gpu snapshotter tools tests; do [ -d "$d" ] && dirs+=("$d"); done
grep -rnE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<](runtime|imagefs|snapshot|gpu)/' \
	"${dirs[@]}" |
	awk -F: '
	{
		file = $1
		owner = file; sub(/\/.*/, "", owner)
		line = $0; sub(/^[^:]*:[^:]*:/, "", line)
		match(line, /["<][^">]*[">]/)
		inc = substr(line, RSTART + 1, RLENGTH - 2)
		mod = inc; sub(/\/.*/, "", mod)
		if (owner == mod) next
		if (owner == "common") { print file ": common/ must not include \x27" inc "\x27"; bad = 1; next }
		if (inc == mod "/" mod ".h") next
		if (owner == "tests" && inc ~ ("^" mod "/[a-z-]+-internal\\.h$")) next
		print file ": includes \x27" inc "\x27 (only \x27" mod "/" mod ".h\x27 is public)"
		bad = 1
	}
	END { exit bad }'
r=$?
[ $r = 0 ] && echo "include boundaries: ok"
exit $r
