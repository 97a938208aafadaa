#!/usr/bin/env bash
# Every C file tracked by git is formatted as .clang-format says (clang-format 14, as in Debian 12).
# Usage: check-format.sh SOURCE_ROOT
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
cf=$(command -v clang-format-14 || command -v clang-format) || { echo "clang-format not installed"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
[ ${#files[@]} -gt 0 ] || { echo "no C files"; exit 0; }
if ! "$cf" --dry-run --Werror "${files[@]}" 2>/tmp/brisk-format.$$; then
	grep -E '^[^ ].*(warning|error):' /tmp/brisk-format.$$ | head -20
	rm -f /tmp/brisk-format.$$
	echo "run: clang-format -i <file> (or ninja -C build clang-format)"
	exit 1
fi
rm -f /tmp/brisk-format.$$
echo "format: ${#files[@]} files ok"
