"""Where the dashboard finds its pinned front-end libraries (installed from npm, not in git).

`scripts/install-dashboard-assets.sh` runs ``npm ci`` on ``dashboard/assets/package-lock.json``
into ``<python prefix>/share/ministack-dashboard`` (or ``[dashboard] assets_dir``); the
dashboard serves the files it needs from there under ``/static/vendor/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ministack.config import Settings

# URL name under /static/vendor/ -> path inside node_modules
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "xterm.js": "@xterm/xterm/lib/xterm.js",
    "xterm.css": "@xterm/xterm/css/xterm.css",
}


class AssetsMissing(RuntimeError):
    """The front-end libraries were not installed."""


def assets_dir(settings: Settings) -> Path:
    configured = settings.dashboard.assets_dir
    return Path(configured) if configured else Path(sys.prefix) / "share/ministack-dashboard"


def vendor_files(settings: Settings) -> dict[str, Path]:
    """Each served vendor file and where it is; AssetsMissing says how to install them."""
    modules = assets_dir(settings) / "node_modules"
    found = {name: modules / rel for name, rel in VENDOR_FILES.items()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise AssetsMissing(
            f"the dashboard's front-end libraries are not installed ({', '.join(missing)} "
            "missing): run scripts/install-dashboard-assets.sh (needs npm), or set "
            "MINISTACK_DASHBOARD_ASSETS_DIR (dashboard.assets_dir)"
        )
    return found
