"""The volume service's policy defaults: rule name → check string, as Cinder's defaults
(cinder/policies/*.py, 2023.x: project reader reads, project member writes, admin for
force-delete, types, quotas updates, services and admin actions) mapped onto personas
(common/policy.py)."""

from __future__ import annotations

from typing import Final

from ministack.common.policy import (
    ADMIN,
    ANY,
    PROJECT_MEMBER_OR_ADMIN,
    PROJECT_READER_OR_ADMIN,
)

READ = PROJECT_READER_OR_ADMIN
WRITE = PROJECT_MEMBER_OR_ADMIN

RULES: Final[dict[str, str]] = {
    # volumes
    "volume:create": WRITE,
    "volume:create_from_image": WRITE,
    "volume:get": READ,
    "volume:get_all": READ,
    "volume:update": WRITE,
    "volume:delete": WRITE,
    "volume:force_delete": ADMIN,
    "volume:extend": WRITE,
    "volume:extend_attached_volume": WRITE,
    "volume:update_readonly_flag": WRITE,
    "volume_extension:volume_actions:upload_image": WRITE,
    "volume_extension:volume_actions:upload_public": ADMIN,
    "volume:get_volume_metadata": READ,
    "volume:update_volume_metadata": WRITE,
    "volume:delete_volume_metadata": WRITE,
    "volume_extension:volume_image_metadata:show": READ,
    "volume_extension:volume_image_metadata:set": WRITE,
    "volume_extension:volume_image_metadata:remove": WRITE,
    "volume_extension:volume_admin_actions:reset_status": ADMIN,
    "volume_extension:volume_admin_actions:force_detach": ADMIN,
    "volume_extension:volume_host_attribute": ADMIN,
    "volume_extension:volume_mig_status_attribute": ADMIN,
    "volume_extension:volume_actions:reserve": WRITE,
    "volume_extension:volume_actions:unreserve": WRITE,
    "volume:reimage": WRITE,  # an available or error volume
    "volume:reimage_reserved": WRITE,  # a reserved one (a server's rebuild)
    # volume types
    "volume_extension:types_manage": ADMIN,
    "volume_extension:type_get": READ,
    "volume_extension:type_get_all": READ,
    "volume_extension:types_extra_specs:index": READ,
    "volume_extension:types_extra_specs:show": READ,
    "volume_extension:types_extra_specs:create": ADMIN,
    "volume_extension:types_extra_specs:update": ADMIN,
    "volume_extension:types_extra_specs:delete": ADMIN,
    "volume_extension:volume_type_access:get_all_for_type": ADMIN,
    "volume_extension:volume_type_access:addProjectAccess": ADMIN,
    "volume_extension:volume_type_access:removeProjectAccess": ADMIN,
    # snapshots
    "volume:create_snapshot": WRITE,
    "volume:get_snapshot": READ,
    "volume:get_all_snapshots": READ,
    "volume:update_snapshot": WRITE,
    "volume:delete_snapshot": WRITE,
    "volume:get_snapshot_metadata": READ,
    "volume:update_snapshot_metadata": WRITE,
    "volume:delete_snapshot_metadata": WRITE,
    "volume_extension:snapshot_admin_actions:reset_status": ADMIN,
    "volume_extension:snapshot_admin_actions:force_delete": ADMIN,
    # attachments (Nova calls these with the user's token)
    "volume:attachment_create": WRITE,
    "volume:attachment_update": WRITE,
    "volume:attachment_delete": WRITE,
    "volume:attachment_complete": WRITE,
    "volume:attachment_get": READ,
    "volume:attachment_get_all": READ,
    # transfers (accept: any project member of the receiving project)
    "volume:create_transfer": WRITE,
    "volume:accept_transfer": WRITE,
    "volume:delete_transfer": WRITE,
    "volume:get_transfer": READ,
    "volume:get_all_transfers": READ,
    # user messages
    "message:get_all": READ,
    "message:get": READ,
    "message:delete": WRITE,
    # quotas, limits, zones, services
    "volume_extension:quotas:show": READ,
    "volume_extension:quotas:update": ADMIN,
    "volume_extension:quotas:delete": ADMIN,
    "limits_extension:used_limits": READ,
    "volume_extension:availability_zone_list": ANY,
    "volume_extension:services:index": ADMIN,
    "volume_extension:services:update": ADMIN,
}
