"""Where an image's data is: one location per store, kept in the image row's `location` text.

The text is a JSON object {store id: location} in the order the copies were made (the first is
where the data was uploaded); a plain location written before there were several stores is
read as the filesystem store's. `stores` in the image's view lists the keys (Glance multi-store).
"""

from __future__ import annotations

import orjson

FILE = "file"


def parse(raw: str | None) -> dict[str, str]:
    """{store id: location} of a row's `location` column (empty when the image has no data)."""
    if not raw:
        return {}
    if not raw.startswith("{"):
        return {FILE: raw}
    found: dict[str, str] = orjson.loads(raw)
    return found


def dump(found: dict[str, str]) -> str | None:
    """The column's text for these locations (None when there are none)."""
    return orjson.dumps(found).decode() if found else None


def pick(found: dict[str, str], default: str) -> tuple[str, str] | None:
    """The (store id, location) to read from: the default store's copy, else the first."""
    if default in found:
        return default, found[default]
    for store_id, location in found.items():
        return store_id, location
    return None
