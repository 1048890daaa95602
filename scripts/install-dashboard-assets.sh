#!/usr/bin/env bash
# Install the dashboard's pinned front-end libraries from the npm registry into
# .venv/share/ministack-dashboard (outside the repository; the dashboard serves them from
# there). The versions and integrity hashes are in src/ministack/dashboard/assets/
# package.json and package-lock.json. Idempotent: skipped when the lock file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/ministack/dashboard/assets
dest=${MINISTACK_DASHBOARD_ASSETS_DIR:-.venv/share/ministack-dashboard}
if ! command -v npm >/dev/null; then
    echo "install-dashboard-assets.sh: npm is missing (apt-get install npm)" >&2
    exit 1
fi
mkdir -p "$dest"
if cmp -s "$src/package-lock.json" "$dest/package-lock.json" && [[ -d "$dest/node_modules" ]]; then
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
echo "installing dashboard assets into $dest"
(cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
