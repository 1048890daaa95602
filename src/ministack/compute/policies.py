"""Compute's policy defaults: rule name → check string, as Nova's defaults (nova/policies/*).

The one place compute decides who may do what; handlers name a rule (`api/common.caller`).
"""

from __future__ import annotations

from typing import Final

from ministack.common.policy import (
    ADMIN,
    ADMIN_OR_OWNER,
    ANY,
    PROJECT_MEMBER_OR_ADMIN,
    PROJECT_READER_OR_ADMIN,
    SERVICE_OR_ADMIN,
)

RULES: Final[dict[str, str]] = {
    # servers
    "os_compute_api:servers:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:show:flavor-extra-specs": PROJECT_READER_OR_ADMIN,
    "compute:server:topology:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:servers:create": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:update": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:delete": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:start": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:stop": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:reboot": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:rebuild": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:resize": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:confirm_resize": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:revert_resize": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:servers:create_image": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-pause-server:pause": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-pause-server:unpause": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-suspend-server:suspend": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-suspend-server:resume": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-lock-server:lock": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-lock-server:unlock": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-console-output": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-remote-consoles": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:list": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:create": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-attach-interfaces:delete": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-instance-actions:list": PROJECT_READER_OR_ADMIN,
    "os_compute_api:server-metadata:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:server-metadata:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:server-metadata:update": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:server-metadata:delete": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-external-events:create": SERVICE_OR_ADMIN,
    # server groups
    "os_compute_api:os-server-groups:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-groups:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-groups:create": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-groups:delete": PROJECT_MEMBER_OR_ADMIN,
    # flavors
    "os_compute_api:flavors:index": ANY,
    "os_compute_api:flavors:show": ANY,
    "os_compute_api:os-flavor-manage:create": ADMIN,
    "os_compute_api:os-flavor-manage:delete": ADMIN,
    "os_compute_api:os-flavor-manage:update": ADMIN,
    "os_compute_api:os-flavor-extra-specs:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-flavor-extra-specs:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-flavor-extra-specs:create": ADMIN,
    "os_compute_api:os-flavor-extra-specs:update": ADMIN,
    "os_compute_api:os-flavor-extra-specs:delete": ADMIN,
    "os_compute_api:os-flavor-access": ADMIN,
    "os_compute_api:os-flavor-access:add_tenant_access": ADMIN,
    # key pairs: the caller's own, or any user's for an admin
    "os_compute_api:os-keypairs:index": ADMIN_OR_OWNER,
    "os_compute_api:os-keypairs:create": ADMIN_OR_OWNER,
    "os_compute_api:os-keypairs:show": ADMIN_OR_OWNER,
    "os_compute_api:os-keypairs:delete": ADMIN_OR_OWNER,
    # quotas and limits
    "os_compute_api:limits": ANY,
    "os_compute_api:os-quota-sets:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-quota-sets:defaults": ANY,
    "os_compute_api:os-quota-sets:update": ADMIN,
    "os_compute_api:os-quota-sets:delete": ADMIN,
    "os_compute_api:os-quota-class-sets:show": ADMIN,
    "os_compute_api:os-quota-class-sets:update": ADMIN,
    # usage and audit
    "os_compute_api:os-simple-tenant-usage:list": ADMIN,
    "os_compute_api:os-simple-tenant-usage:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-instance-usage-audit-log:list": ADMIN,
    "os_compute_api:os-instance-usage-audit-log:show": ADMIN,
    # server tags (2.26)
    "os_compute_api:os-server-tags:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-tags:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-server-tags:update": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:update_all": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:delete": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-server-tags:delete_all": PROJECT_MEMBER_OR_ADMIN,
    # volume attachments
    "os_compute_api:os-volumes-attachments:index": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-volumes-attachments:show": PROJECT_READER_OR_ADMIN,
    "os_compute_api:os-volumes-attachments:create": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-volumes-attachments:update": PROJECT_MEMBER_OR_ADMIN,
    "os_compute_api:os-volumes-attachments:delete": PROJECT_MEMBER_OR_ADMIN,
    # discovery
    "os_compute_api:extensions": ANY,
    # availability zones
    "os_compute_api:os-availability-zone:list": ANY,
    "os_compute_api:os-availability-zone:detail": ADMIN,
    # operators
    "os_compute_api:os-aggregates:index": ADMIN,
    "os_compute_api:os-aggregates:create": ADMIN,
    "os_compute_api:os-aggregates:show": ADMIN,
    "os_compute_api:os-aggregates:update": ADMIN,
    "os_compute_api:os-aggregates:delete": ADMIN,
    "os_compute_api:os-aggregates:action": ADMIN,
    "os_compute_api:os-services:list": ADMIN,
    "os_compute_api:os-services:update": ADMIN,
    "os_compute_api:os-services:delete": ADMIN,
    "os_compute_api:os-hypervisors:list": ADMIN,
    "os_compute_api:os-hypervisors:list-detail": ADMIN,
    "os_compute_api:os-hypervisors:show": ADMIN,
    "os_compute_api:os-hypervisors:statistics": ADMIN,
    "os_compute_api:os-hypervisors:uptime": ADMIN,
    "os_compute_api:os-hypervisors:search": ADMIN,
    "os_compute_api:os-hypervisors:servers": ADMIN,
    "os_compute_api:os-hosts:list": ADMIN,
    "os_compute_api:os-hosts:show": ADMIN,
    "os_compute_api:os-migrations:index": ADMIN,
    "os_compute_api:servers:migrations:index": ADMIN,
    "os_compute_api:os-server-diagnostics": ADMIN,
    "os_compute_api:os-admin-actions:reset_state": ADMIN,
    "os_compute_api:os-console-auth-tokens": ADMIN,
    # ministack's own: the fake driver's test hook
    "ministack:fake-hosts:update": ADMIN,
}
