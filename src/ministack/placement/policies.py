"""Placement's policy defaults: rule name → check string, as Placement's defaults
(placement/policies/*): admin or the service role everywhere, and a project's reader may
also read its own total usages.
"""

from __future__ import annotations

from typing import Final

from ministack.common.policy import PROJECT_READER_OR_SERVICE_OR_ADMIN, SERVICE_OR_ADMIN

RULES: Final[dict[str, str]] = {
    "placement:resource_providers:list": SERVICE_OR_ADMIN,
    "placement:resource_providers:show": SERVICE_OR_ADMIN,
    "placement:resource_providers:inventories:list": SERVICE_OR_ADMIN,
    "placement:resource_providers:inventories:show": SERVICE_OR_ADMIN,
    "placement:resource_providers:usages": SERVICE_OR_ADMIN,
    "placement:allocations:list": SERVICE_OR_ADMIN,
    "placement:allocations:delete": SERVICE_OR_ADMIN,
    "placement:resource_classes:list": SERVICE_OR_ADMIN,
    "placement:usages": PROJECT_READER_OR_SERVICE_OR_ADMIN,
}
