#!/usr/bin/env bash
# Run one bats file; exit 77 (meson: SKIP) with the reason when it cannot run here.
#   run-bats.sh FILE.bats
set -u
[ "$(id -u)" = 0 ] || { echo "skip: integration tests need root"; exit 77; }
command -v bats >/dev/null || { echo "skip: bats not installed"; exit 77; }
exec bats --tap "$1"
