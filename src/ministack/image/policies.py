"""The image service's policy defaults: rule name → check string, as Glance's defaults
(glance/policies/image.py) mapped onto personas (common/policy.py).

Glance's read rules also let image members and public/community/shared images through; that
part is visibility, decided by `ImageCore.visible` (404 when not visible). The role part is
here, checked on the caller's own project: reading needs reader, downloading and every write
need member. Which API call uses which rule follows Glance's API layer: stage, import, tags
and PATCH are `modify_image`; PUT /file is `upload_image`.
"""

from __future__ import annotations

from typing import Final

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.common.policy import ADMIN, PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

RULES: Final[dict[str, str]] = {
    "add_image": PROJECT_MEMBER_OR_ADMIN,
    "delete_image": PROJECT_MEMBER_OR_ADMIN,
    "get_image": PROJECT_READER_OR_ADMIN,
    "get_images": PROJECT_READER_OR_ADMIN,
    "modify_image": PROJECT_MEMBER_OR_ADMIN,
    "publicize_image": ADMIN,
    "communitize_image": PROJECT_MEMBER_OR_ADMIN,
    "download_image": PROJECT_MEMBER_OR_ADMIN,
    "upload_image": PROJECT_MEMBER_OR_ADMIN,
    "add_member": PROJECT_MEMBER_OR_ADMIN,
    "delete_member": PROJECT_MEMBER_OR_ADMIN,
    "get_member": PROJECT_READER_OR_ADMIN,
    "get_members": PROJECT_READER_OR_ADMIN,
    "modify_member": PROJECT_MEMBER_OR_ADMIN,
    "copy_image": ADMIN,
    "deactivate": PROJECT_MEMBER_OR_ADMIN,
    "reactivate": PROJECT_MEMBER_OR_ADMIN,
    # tasks: admin only, as Glance's tasks_api_access
    "tasks_api_access": ADMIN,
    # metadata definitions: admin manages them; a reader reads (visibility decides which)
    "get_metadef_namespaces": PROJECT_READER_OR_ADMIN,
    "get_metadef_namespace": PROJECT_READER_OR_ADMIN,
    "add_metadef_namespace": ADMIN,
    "modify_metadef_namespace": ADMIN,
    "delete_metadef_namespace": ADMIN,
    "list_metadef_resource_types": PROJECT_READER_OR_ADMIN,
    "add_metadef_resource_type_association": ADMIN,
    "remove_metadef_resource_type_association": ADMIN,
    "add_metadef_tags": ADMIN,
    **{
        rule: check
        for kind in ("object", "property", "tag")
        for rule, check in (
            (f"get_metadef_{kind}s", PROJECT_READER_OR_ADMIN),
            (f"get_metadef_{kind}", PROJECT_READER_OR_ADMIN),
            (f"add_metadef_{kind}", ADMIN),
            (f"modify_metadef_{kind}", ADMIN),
            (f"delete_metadef_{kind}", ADMIN),
        )
    },
}


def authorize(auth: Auth, action: str, project_id: str | None) -> None:
    """403 naming `image:<action>` unless its default allows the caller on `project_id`."""
    policy.enforce(auth, f"image:{action}", RULES[action], {"project_id": project_id})
