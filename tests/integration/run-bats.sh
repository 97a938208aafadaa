#!/usr/bin/env bash
# Run one bats file for meson (TAP). Integration tests need root: without it, exit 77 (skip).
# Suites take a machine-wide lock: containers, cgroups and mounts are host-global, and two
# checkouts testing at once must not see each other's containers.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root"
	exit 77
fi
command -v bats >/dev/null || { echo "bats is not installed"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
# flock holds the lock and runs bats without the lock's fd (-o): a process a test leaves
# behind can not keep the machine locked, nor hold an fd that a test of fds would see.
exec flock -o /run/lock/brisk-integration.lock bats --tap "$@"
