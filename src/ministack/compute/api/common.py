"""What compute's API handlers share: the service objects, the caller, the microversion,
Nova's time formats, links, and input checks with Nova's error wording."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ministack.common import errors, policy
from ministack.common.auth import Auth, require_auth
from ministack.common.db import Database
from ministack.compute.api.microversion import MIN_VERSION, Version
from ministack.compute.policies import RULES
from ministack.config import Settings
from ministack.placement.client import PlacementClient

MAX_NAME = 255
MAX_METADATA_ITEMS = 128
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


@dataclass
class Api:
    """The objects the compute API works with (app.state.api)."""

    settings: Settings
    db: Database
    bus: Any
    placement: PlacementClient
    images: Any


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def version(request: Request) -> Version:
    v: Version = request.scope.get("state", {}).get("microversion", MIN_VERSION)
    return v


async def caller(request: Request, action: str, project_id: str | None = None) -> Auth:
    """Authenticate, then authorize policy rule `action` (its default in compute/policies.py)
    on the project (the caller's own by default). 401/403 otherwise."""
    auth = await require_auth(request)
    target = {
        "project_id": project_id if project_id is not None else auth.project_id,
        "user_id": auth.user_id,
    }
    policy.authorize(RULES, auth, action, target)
    return auth


def iso(when: dt.datetime | None) -> str | None:
    """Nova's resource timestamps: 2026-01-01T00:00:00Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def iso_micro(when: dt.datetime | None) -> str | None:
    """Nova's event and usage timestamps: 2026-01-01T00:00:00.000000."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") if when else None


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def links(request: Request, collection: str, ident: str) -> list[dict[str, str]]:
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{ident}"},
    ]


def body_of(data: dict[str, Any], key: str) -> dict[str, Any]:
    """data[key] as an object; 400 in Nova's words otherwise."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {key}. Value: {value}. "
            f"'{key}' is a required property"
            if value is None
            else f"Invalid input for field/attribute {key}. Value: {value}. "
            f"{value!r} is not of type 'object'"
        )
    return value


def check_name(value: Any, field: str = "name", required: bool = True) -> str | None:
    """A Nova name: 1-255 printable characters, no leading/trailing whitespace."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            "A non-empty string without leading or trailing whitespace is required."
        )
    if len(value) > MAX_NAME:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value[:20]}... "
            f"is too long (more than {MAX_NAME} characters)."
        )
    return value


def check_metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    """Metadata: string keys of [a-zA-Z0-9-_:. ]{1,255} and string values ≤ 255."""
    if not isinstance(value, dict):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. Must be an object."
        )
    for key, item in value.items():
        if not METADATA_KEY.match(key):
            raise errors.BadRequest(
                f"Invalid input for field/attribute {field}. Value: {key}. Keys must be 1-255 "
                "characters of letters, digits and - _ : . or space."
            )
        if not isinstance(item, str) or len(item) > 255:
            raise errors.BadRequest(
                f"Invalid input for field/attribute {field}. Value: {item}. Values must be "
                "strings of at most 255 characters."
            )
    return dict(value)


def int_field(value: Any, field: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """An integer (or integer string) in range; 400 naming the field otherwise."""
    try:
        if isinstance(value, bool | float):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. An integer is required."
        ) from None
    if not minimum <= number <= maximum:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"Must be between {minimum} and {maximum}."
        )
    return number
