#!/usr/bin/env bash
# Run one bats file for meson (TAP). Integration tests need root: without it, exit 77 (skip).
set -u
if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root"
	exit 77
fi
command -v bats >/dev/null || { echo "bats is not installed"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
exec bats --tap "$@"
