#!/usr/bin/env bash
# Install and start the all-in-one ministack cloud. Safe to run again: keeps existing data.
set -euo pipefail
cd "$(dirname "$0")"
started=$(date +%s)
scripts/install.sh
for f in scripts/stack.d/*.sh; do
    [[ -e "$f" ]] && bash "$f"
done
.venv/bin/ministack init
.venv/bin/ministack up
.venv/bin/ministack seed
.venv/bin/python - <<'PY'
from ministack.config import load
from ministack.server import enabled_services

settings = load()
if "dashboard" in enabled_services(settings):
    print(f"dashboard: {settings.endpoint('dashboard')}")
PY
echo "stack.sh finished in $(( $(date +%s) - started ))s"
cat <<'MSG'

Try it:
  source <state dir>/openrc          # the path printed above; or: export OS_CLOUD=ministack
  .venv/bin/openstack token issue
  .venv/bin/ministack status
Stop with ./unstack.sh; start again with ./stack.sh or .venv/bin/ministack up.
MSG
