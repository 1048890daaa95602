#!/usr/bin/env bash
# Stop the all-in-one ministack cloud (its data stays; ./stack.sh starts it again).
set -euo pipefail
cd "$(dirname "$0")"
if [[ -x .venv/bin/ministack ]]; then
    .venv/bin/ministack down "$@"
fi
