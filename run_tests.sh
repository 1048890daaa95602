#!/usr/bin/env bash
# Run the whole test suite: lint, types, then pytest (tests start their own clouds).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
for f in scripts/test.d/*.sh; do
    [[ -e "$f" ]] && bash "$f"
done
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest --durations=40 "$@"
