#!/usr/bin/env bash
# Time ./stack.sh from a fresh clone (no .venv) and again when already installed, against
# `python3 -m venv` alone (the baseline, same run). Uses its own state dir and HOME so an
# existing cloud is untouched; the services' standard ports must be free.
# Target (issue 2): under 3 minutes fresh, under 15 seconds when installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'cd /; (cd "$work/ministack" && ./unstack.sh >/dev/null 2>&1) || true; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/ministack"
cd "$work/ministack"
export MINISTACK_DEFAULT_STATE_DIR="$work/state" HOME="$work/home"
t0=$(date +%s.%N); python3 -m venv "$work/baseline-venv"; t1=$(date +%s.%N)
./stack.sh > "$work/fresh.log" 2>&1; t2=$(date +%s.%N)
./unstack.sh > /dev/null
./stack.sh > "$work/again.log" 2>&1; t3=$(date +%s.%N)
.venv/bin/openstack --os-cloud ministack token issue -f value -c id > /dev/null
printf 'baseline python3 -m venv       %6.1f s\n' "$(echo "$t1 - $t0" | bc)"
printf 'stack.sh, fresh clone          %6.1f s\n' "$(echo "$t2 - $t1" | bc)"
printf 'stack.sh, already installed    %6.1f s\n' "$(echo "$t3 - $t2" | bc)"
