#!/usr/bin/env bash
# chunkstat must find every chunk of a tree in the same tree (nothing new, all reused), for
# fixed and content-defined chunking, and count the tree's bytes exactly.
#   chunkstat-check.sh CHUNKSTAT DIR
set -euo pipefail
cs=$1 dir=$2
bytes=$(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
for mode in "--fixed 4096" "--cdc 1024" "--fixed 1048576"; do
	# shellcheck disable=SC2086
	out=$("$cs" $mode "$dir" "$dir")
	echo "$mode: $out"
	first=$(sed -n 1p <<<"$out")
	second=$(sed -n 2p <<<"$out")
	[[ $first == *" bytes=$bytes "* ]] || { echo "FAIL: bytes of the tree"; exit 1; }
	[[ $second == *" new_bytes=0 "* ]] || { echo "FAIL: chunks of a tree new to itself"; exit 1; }
	[[ $first != *" unique_bytes=0 "* ]] || { echo "FAIL: no chunks"; exit 1; }
done
# and two different trees share nothing but what they share
out=$("$cs" --fixed 4096 "$dir/index" "$dir/layer")
[[ $(sed -n 2p <<<"$out") != *" new_bytes=0 "* ]] || { echo "FAIL: unrelated trees"; exit 1; }
echo ok
