#!/usr/bin/env bash
# Module boundaries: code outside a module includes only its public header
# (<module>/<module>.h); "<module>-internal.h" is for that module and its tests.
# Usage: check-includes.sh SOURCE_ROOT
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
bad=0
modules=(runtime imagefs snapshot gpu)
while IFS= read -r -d '' f; do
	owner=${f%%/*}
	while IFS= read -r line; do
		# bash's own regex: a sed per line takes tens of seconds on a loaded machine
		re='^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*)[">]'
		[[ $line =~ $re ]] || continue
		inc=${BASH_REMATCH[1]}
		for m in "${modules[@]}"; do
			case "$inc" in
			"$m"/*)
				[ "$owner" = "$m" ] && continue
				if [ "$inc" = "$m/$m.h" ]; then continue; fi
				if [ "$owner" = tests ] && [ "$inc" = "$m/$m-internal.h" ]; then continue; fi
				echo "$f: includes '$inc' (only '$m/$m.h' is public)"
				bad=1
				;;
			esac
		done
		# common/ knows nothing of the other modules
		if [ "$owner" = common ]; then
			for m in "${modules[@]}"; do
				case "$inc" in "$m"/*) echo "$f: common/ must not include '$inc'"; bad=1 ;; esac
			done
		fi
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
done < <(find common runtime imagefs snapshot gpu tools tests -name '*.[ch]' -print0 2>/dev/null)
[ $bad = 0 ] && echo "include boundaries: ok"
exit $bad
